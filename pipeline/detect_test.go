package pipeline

import (
	"net/netip"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/detect"
	"github.com/flowhawk/flowhawk/features"
)

// udpPacket is a decoded UDP datagram of ipLen bytes.
func udpPacket(ts int64, src, dst string, sport, dport uint16, ipLen uint32) *collector.Packet {
	s, d := collector.Addr16(netip.MustParseAddr(src)), collector.Addr16(netip.MustParseAddr(dst))
	k, lo := collector.MakeKey(&s, &d, sport, dport, 17, 0, 0)
	return &collector.Packet{Timestamp: ts, Key: k, SrcIsLo: lo, IPLen: ipLen, IPHeaderLen: 20, L4HeaderLen: 8, PayloadLen: ipLen - 28}
}

// tcpPacket is a decoded TCP segment without payload.
func tcpPacket(ts int64, src, dst string, sport, dport uint16, flags uint8) *collector.Packet {
	s, d := collector.Addr16(netip.MustParseAddr(src)), collector.Addr16(netip.MustParseAddr(dst))
	k, lo := collector.MakeKey(&s, &d, sport, dport, 6, 0, 0)
	return &collector.Packet{Timestamp: ts, Key: k, SrcIsLo: lo, IPLen: 40, IPHeaderLen: 20, L4HeaderLen: 20, TCPFlags: flags}
}

// TestTopTalkersIdleTimeout: whether a host that sent 1.5 MB in the first
// 30 s of a 60 s window among 13 others is a top talker must not depend on
// --idle-timeout. The table emits its record an idle timeout after its
// end; at the default 120 s it landed in a later window of 2 hosts and
// nothing was raised, at 5 s it alerted. New gives the engine the table's
// timeouts, so with 300 s (more than the engine's own default) it waits
// for the record too. With 25 h the big talker's record comes more than a
// day after its end, which the engine took for its clock going back: it
// restarted the detectors and raised nothing (2026-12-07).
func TestTopTalkersIdleTimeout(t *testing.T) {
	const sec = int64(time.Second)
	t0 := int64(1767225600) * sec // a window boundary
	for _, idle := range []time.Duration{5 * time.Second, 0, 300 * time.Second, 25 * time.Hour} {
		cfg := detect.DefaultConfig()
		cfg.Detect = "toptalkers"
		var alerts []*detect.Alert
		eng, err := detect.New(cfg, func(a *detect.Alert) { alerts = append(alerts, a) })
		if err != nil {
			t.Fatal(err)
		}
		p, err := New(Config{Table: collector.TableConfig{IdleTimeout: idle}, Features: features.DefaultConfig(), Workers: 1, Detect: eng})
		if err != nil {
			t.Fatal(err)
		}
		big := 0
		for ms := int64(0); ms < 700_000; ms += 20 {
			ts := t0 + ms*1e6
			switch {
			case ms >= 1000 && ms < 13000 && ms%1000 == 0:
				// 12 clients and their server, connections reset (the
				// table emits them 2 s later)
				c := netip.AddrFrom4([4]byte{10, 5, 0, byte(ms / 1000)}).String()
				p.Packet(tcpPacket(ts, c, "10.0.0.9", 3000, 80, collector.FlagSYN))
				p.Packet(tcpPacket(ts+1e6, "10.0.0.9", c, 80, 3000, collector.FlagSYN|collector.FlagACK))
				p.Packet(tcpPacket(ts+2e6, c, "10.0.0.9", 3000, 80, collector.FlagRST))
			}
			if ms >= 1000 && big < 1500 {
				p.Packet(udpPacket(ts+3e6, "10.6.0.1", "10.0.0.9", 40000, 5000, 1000))
				big++
			}
			if ms%1000 == 500 { // keeps the clock going, one record at the end
				p.Packet(udpPacket(ts, "10.7.0.1", "10.7.0.2", 7000, 7001, 29))
			}
		}
		if idle > 24*time.Hour { // the link stays up past the idle timeout
			for s := int64(700); s < 26*3600+700; s += 60 {
				p.Packet(udpPacket(t0+s*sec, "10.7.0.1", "10.7.0.2", 7000, 7001, 29))
			}
		}
		if _, err := p.Close(); err != nil {
			t.Fatal(err)
		}
		if len(alerts) != 1 || alerts[0].Src.String() != "10.6.0.1" || alerts[0].Evidence["hosts"] != 14 {
			var got []string
			for _, a := range alerts {
				got = append(got, a.Message)
			}
			t.Errorf("--idle-timeout %v: got %d alerts %q, want one for 10.6.0.1 among 14 hosts", idle, len(alerts), got)
		}
	}
}
