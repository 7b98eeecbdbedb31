package detect

import (
	"errors"
	"io"
	"net/netip"
	"testing"

	"github.com/flowhawk/flowhawk/collector"
)

// collect is a sink that keeps alerts.
type collect struct{ alerts []*Alert }

func (c *collect) sink(a *Alert) { c.alerts = append(c.alerts, a) }

func (c *collect) rules() map[string]int {
	m := map[string]int{}
	for _, a := range c.alerts {
		m[a.Rule]++
	}
	return m
}

// replay runs a capture through collector.OpenPcap, a flow table and an
// engine, the way `flowhawk replay --detect` does.
func replay(t testing.TB, path string, cfg Config) (*Engine, *collect) {
	t.Helper()
	c := &collect{}
	e, err := New(cfg, c.sink)
	if err != nil {
		t.Fatal(err)
	}
	src, err := collector.OpenPcap(path, collector.PcapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	tab := collector.NewTable(collector.DefaultTableConfig(), e.OnFlow)
	var p collector.Packet
	for {
		err := src.NextPacket(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		e.OnPacket(&p)
		tab.Add(&p)
	}
	tab.Flush()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return e, c
}

func allOn() Config {
	c := DefaultConfig()
	c.Detect = "all"
	return c
}

// pkt builds a decoded packet from src to dst.
func pkt(ts int64, src, dst string, sport, dport uint16, proto uint8, flags uint8, payload []byte) *collector.Packet {
	s, d := collector.Addr16(netip.MustParseAddr(src)), collector.Addr16(netip.MustParseAddr(dst))
	k, lo := collector.MakeKey(&s, &d, sport, dport, proto, 0, 0)
	hdr := uint16(20)
	if proto == 17 {
		hdr = 8
	}
	return &collector.Packet{
		Timestamp: ts, Key: k, SrcIsLo: lo, IPLen: 20 + uint32(hdr) + uint32(len(payload)), IPHeaderLen: 20,
		L4HeaderLen: hdr, PayloadLen: uint32(len(payload)), TCPFlags: flags, Payload: payload,
	}
}

// testFlow builds a one-packet-each-way flow record.
func testFlow(id uint64, src, dst string, sport, dport uint16, proto uint8, ts int64) *collector.Flow {
	f := &collector.Flow{ID: id}
	p := pkt(ts, src, dst, sport, dport, proto, collector.FlagSYN, nil)
	f.Key, f.FwdIsLo, f.Start, f.End = p.Key, p.SrcIsLo, ts, ts
	f.Fwd.InitWindow, f.Bwd.InitWindow = -1, -1
	f.Add(p, 0)
	return f
}
