package detect

import (
	"encoding/binary"
	"net/netip"
	"runtime"
	"strings"
	"testing"

	"github.com/flowhawk/flowhawk/collector"
)

// floodPackets makes a mix in which every packet has a new source: SYNs
// from spoofed sources to one server, data segments and DNS queries with
// random names, so every detector's per-host state is pushed to its
// bound.
func floodPackets(n, hosts int) []collector.Packet {
	ps := make([]collector.Packet, n)
	payload := []byte("GET / HTTP/1.1\r\nHost: example\r\n\r\n")
	for i := range ps {
		var src [4]byte
		binary.BigEndian.PutUint32(src[:], 0x0b000000+uint32(i%hosts)*2654435761)
		ts := t0 + int64(i)*int64(20_000) // 50 kpps
		var p *collector.Packet
		switch i % 8 {
		case 0:
			p = pkt(ts, "0.0.0.0", "10.0.0.53", 40000, 53, 17, 0, dnsQuery(uint16(i), "x"+string(rune('a'+i%26))+"qzj"+string(rune('a'+i/26%26))+"vbnrt.example.com", false, 0))
		case 1, 2:
			p = pkt(ts, "0.0.0.0", "10.0.0.1", uint16(1024+i%60000), 80, 6, collector.FlagACK|collector.FlagPSH, payload)
			p.TCPSeq = uint32(i)
		default:
			p = pkt(ts, "0.0.0.0", "10.0.0.1", uint16(1024+i%60000), 80, 6, collector.FlagSYN, nil)
		}
		// Rewrite the source address in the key (keeping it canonical
		// enough for the detectors: the source is always Lo or Hi as
		// MakeKey decided for 0.0.0.0, i.e. Lo).
		copy(p.Key.AddrLo[12:], src[:])
		ps[i] = *p
	}
	return ps
}

func benchEngine(b *testing.B, detect string, hosts int) {
	const n = 1 << 18
	ps := floodPackets(n, hosts)
	cfg := DefaultConfig()
	cfg.Detect = detect
	var sent int
	e, err := New(cfg, func(*Alert) { sent++ })
	if err != nil {
		b.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := &ps[i%n]
		p.Timestamp = t0 + int64(i)*20_000
		e.OnPacket(p)
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	state := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	b.ReportMetric(float64(max(state, 0)), "state-bytes")
	b.ReportMetric(float64(e.StateSize()), "state-entries")
	runtime.KeepAlive(e)
	runtime.KeepAlive(ps) // the packets are not state: keep them out of the difference
}

// BenchmarkEngineFlood measures the cost per packet and the memory held
// by all detectors under a flood of distinct sources; compare with
// BenchmarkEngineFlood/off (same packets, no detector) run alongside.
func BenchmarkEngineFlood(b *testing.B) {
	b.Run("off", func(b *testing.B) { benchEngine(b, "", 1<<30) })
	b.Run("all", func(b *testing.B) { benchEngine(b, "all", 1<<30) })
}

// BenchmarkEngineSteady is the same mix from 256 hosts: the cost when
// state is hot rather than evicted on every packet.
func BenchmarkEngineSteady(b *testing.B) {
	b.Run("off", func(b *testing.B) { benchEngine(b, "", 256) })
	b.Run("all", func(b *testing.B) { benchEngine(b, "all", 256) })
}

// TestFloodStateBounded checks that state stays under the configured
// bounds while 300k distinct sources pass (a unit test of the benchmark's
// claim).
func TestFloodStateBounded(t *testing.T) {
	ps := floodPackets(300_000, 1<<30)
	cfg := DefaultConfig()
	cfg.Detect = "all"
	cfg.MaxHosts = 1 << 12
	cfg.SeqMaxTrack = 1 << 12
	e, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	peak := 0
	for i := range ps {
		ps[i].Timestamp = t0 + int64(i)*200 // all within one window
		e.OnPacket(&ps[i])
		if i%10000 == 0 {
			peak = max(peak, e.StateSize())
		}
	}
	e.Close()
	// portscan, synflood, dns, toptalkers hosts + seq segments + causes
	// + two generations of pending handshakes.
	bound := 4*cfg.MaxHosts + cfg.SeqMaxTrack + cfg.MaxHosts + 2*cfg.MaxHosts + e.sf.srcs.max + e.ps.vals.max + e.dns.names.max
	t.Logf("peak state entries %d (bound %d); evicted portscan %d, dns %d", peak, bound, e.ps.hosts.Evicted, e.dns.hosts.Evicted)
	if peak > bound || e.ps.hosts.Evicted == 0 {
		t.Errorf("state %d over bound %d or nothing evicted", peak, bound)
	}
	// The overflows are reported: as losses (metrics) and in the summary.
	l := e.Losses()
	if l["portscan_hosts_evicted"] != e.ps.hosts.Evicted || l["dns_hosts_evicted"] != e.dns.hosts.Evicted || l["handshakes_unpaired"] == 0 {
		t.Errorf("losses %v", l)
	}
	var sum strings.Builder
	e.Summary(&sum)
	if !strings.Contains(sum.String(), "Detector state at its bounds") || !strings.Contains(sum.String(), "handshakes_unpaired") {
		t.Errorf("summary does not report the overflows:\n%s", sum.String())
	}
}

// TestSynFloodSourcesBounded spreads a spoofed flood over 1,000
// destinations, 400 sources each, in one window: the distinct sources
// synflood keeps stay within its budget over all destinations (they were
// bounded per destination only, 65,536 for each of --detect-max-hosts),
// and a destination flooded after the budget ran out is still raised, its
// sources marked saturated.
func TestSynFloodSourcesBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Detect = "synflood"
	var alerts []*Alert
	e, err := New(cfg, func(a *Alert) { alerts = append(alerts, a) })
	if err != nil {
		t.Fatal(err)
	}
	ts := t0
	syn := func(src, dst uint32, dport uint16) {
		var s, d [4]byte
		binary.BigEndian.PutUint32(s[:], src)
		binary.BigEndian.PutUint32(d[:], dst)
		p := pkt(ts, netip.AddrFrom4(s).String(), netip.AddrFrom4(d).String(), uint16(1024+src%60000), dport, 6, collector.FlagSYN, nil)
		e.OnPacket(p)
		ts += 1000
	}
	for i := range uint32(400_000) {
		syn(0x0b000000+i, 0x0a000000+i%1000, 80)
	}
	if used := e.sf.srcs.used; used > e.sf.srcs.max || used < e.sf.srcs.max/2 {
		t.Errorf("synflood keeps %d distinct sources, want at most its budget %d (and most of it used)", used, e.sf.srcs.max)
	}
	// A late flood to a new destination, on spread ports: with the budget
	// spent it keeps no sources, yet is not taken for a one-source scan.
	for i := range uint32(5_000) {
		syn(0x0c000000+i, 0x0a0f0f0f, uint16(1000+i%4000))
	}
	e.Close()
	raised := false
	for _, a := range alerts {
		if a.Dst == netip.MustParseAddr("10.15.15.15") {
			raised = a.Evidence["sources_saturated"] == true
		}
	}
	if !raised {
		t.Errorf("the flood to 10.15.15.15 after the budget ran out: not raised with sources_saturated (%d alerts)", len(alerts))
	}
}
