package pcapgen_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/collector/pcapgen"
)

func TestWriteDeterministicAndDecodable(t *testing.T) {
	cfg := pcapgen.Config{Seed: 42, Packets: 50_000, Flows: 5_000}
	var a, b bytes.Buffer
	sa, err := pcapgen.Write(&a, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pcapgen.Write(&b, cfg); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("same config, different bytes")
	}
	if sa.Packets != cfg.Packets || sa.Flows < cfg.Flows*8/10 || sa.Flows > cfg.Flows*12/10 || sa.TCPFlows == 0 || sa.UDPFlows == 0 {
		t.Fatalf("stats %+v", sa)
	}
	src, err := collector.NewPcapSource(bytes.NewReader(a.Bytes()), "gen.pcap", collector.PcapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[collector.Key]bool{}
	var p collector.Packet
	last := int64(0)
	for {
		if err := src.NextPacket(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if p.Timestamp < last {
			t.Fatalf("time goes back: %d < %d", p.Timestamp, last)
		}
		last = p.Timestamp
		keys[p.Key] = true
	}
	st := src.Stats()
	if st.Frames != uint64(cfg.Packets) || st.IPPackets != st.Frames || st.Malformed != 0 || int64(st.Bytes) != sa.Bytes {
		t.Fatalf("source stats %+v", st)
	}
	// Each generated flow has its own 5-tuple (clients are unique per flow).
	if len(keys) != sa.Flows {
		t.Errorf("%d distinct keys, generator says %d flows", len(keys), sa.Flows)
	}
	var c bytes.Buffer
	cfg.Seed = 43
	pcapgen.Write(&c, cfg)
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Error("different seeds, same bytes")
	}
}
