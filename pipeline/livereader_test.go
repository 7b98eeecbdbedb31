package pipeline

import (
	"context"
	"encoding/binary"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/features"
)

// pcapRecord is a classic pcap record (µs timestamps) of an Ethernet
// frame carrying ip.
func pcapRecord(sec int64, usec uint32, ip []byte) []byte {
	frame := append([]byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00}, ip...)
	rec := make([]byte, 16, 16+len(frame))
	binary.LittleEndian.PutUint32(rec[0:], uint32(sec))
	binary.LittleEndian.PutUint32(rec[4:], usec)
	binary.LittleEndian.PutUint32(rec[8:], uint32(len(frame)))
	binary.LittleEndian.PutUint32(rec[12:], uint32(len(frame)))
	return append(rec, frame...)
}

// ipv4 is an IPv4 header (no checksum) from 10.0.0.src to 10.0.0.dst
// before l4.
func ipv4(src, dst byte, proto uint8, l4 []byte) []byte {
	h := []byte{0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0, 10, 0, 0, src, 10, 0, 0, dst}
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(l4)))
	return append(h, l4...)
}

func tcpSeg(sport, dport uint16, flags uint8) []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	b[12], b[13] = 5<<4, flags
	return b
}

type atomicExporter struct{ flows atomic.Uint64 }

func (a *atomicExporter) ExportFlow(*collector.Flow, *features.Row, string) { a.flows.Add(1) }

// TestLiveCountersOnStalledPipe: a replay of standard input whose writer
// sent a few packets and then nothing (tcpdump -w - on a quiet link)
// shows them, the flow they ended and a malformed frame within about a
// second: the counters were published every 64 Ki packets, and finished
// flows reached the exporters only once 256 of them had ended.
func TestLiveCountersOnStalledPipe(t *testing.T) {
	pr, pw := io.Pipe()
	ex := &atomicExporter{}
	p, err := New(Config{Features: features.DefaultConfig(), Workers: 1, Out: &memWriter{}, Exporters: []FlowExporter{ex}, Stdin: pr})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.ReplayFiles(context.Background(), []string{collector.StdinPath}, nil) }()

	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 1) // Ethernet
	const t0 = 1767225600
	var in []byte
	in = append(in, hdr...)
	in = append(in, pcapRecord(t0, 0, ipv4(1, 2, 6, tcpSeg(40000, 80, 0x02)))...)             // SYN
	in = append(in, pcapRecord(t0, 1000, ipv4(2, 1, 6, tcpSeg(80, 40000, 0x04)))...)          // RST: closed
	in = append(in, pcapRecord(t0, 2000, []byte{0x45, 0, 0, 40, 0, 0})...)                    // truncated IP header
	in = append(in, pcapRecord(t0+5, 0, ipv4(3, 4, 17, []byte{0, 53, 0, 53, 0, 8, 0, 0}))...) // ends the closed flow
	if _, err := pw.Write(in); err != nil {
		t.Fatal(err)
	}
	// The writer now sends nothing.
	deadline := time.Now().Add(3 * time.Second)
	for {
		pk, act, fl := p.Live().Packets.Load(), p.Live().ActiveFlows.Load(), ex.flows.Load()
		dec := p.Live().DecodeErrors()["truncated ip header"]
		if pk == 4 && act == 1 && fl == 1 && dec == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("3 s into the stall: %d packets (want 4), %d active flows (want 1), %d flows exported (want 1), %d truncated (want 1)", pk, act, fl, dec)
		}
		time.Sleep(20 * time.Millisecond)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if n := ex.flows.Load(); n != 2 {
		t.Errorf("%d flows exported in all, want 2", n)
	}
}
