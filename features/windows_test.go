package features

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/collector"
)

// TestWindowsSYNScan runs five normal HTTP connections to a server, then a
// SYN scan of 150 ports from one source port, half answered by RST, and
// checks the window features of the scan's last probe.
func TestWindowsSYNScan(t *testing.T) {
	scanner := netip.MustParseAddr("10.0.0.66")
	var pkts []collector.Packet
	for i := range 5 {
		base := int64(i) * 10_000
		for _, p := range []pkt{
			{base, true, syn, 40, 0, 1}, {base + 100, false, syn | ack, 40, 0, 1}, {base + 200, true, ack, 20, 0, 1},
			{base + 300, true, psh | ack, 20, 50, 1}, {base + 400, false, psh | ack, 20, 500, 1},
			{base + 500, true, fin | ack, 20, 0, 1}, {base + 600, false, fin | ack, 20, 0, 1}, {base + 700, true, ack, 20, 0, 1},
		} {
			pkts = append(pkts, mkPacket(client, server, uint16(50000+i), 80, 6, p))
		}
	}
	const probes = 150
	for i := range probes {
		base := 100_000 + int64(i)*1000 // one probe per ms
		port := uint16(1000 + i)
		pkts = append(pkts, mkPacket(scanner, server, 61000, port, 6, pkt{base, true, syn, 20, 0, 1024}))
		if i%2 == 1 {
			pkts = append(pkts, mkPacket(scanner, server, 61000, port, 6, pkt{base + 50, false, rst | ack, 20, 0, 0}))
		}
	}
	flows := runTable(t, pkts, 0)
	if len(flows) != 5+probes {
		t.Fatalf("%d flows, want %d", len(flows), 5+probes)
	}
	w := NewWindows(WindowConfig{})
	var vals []WindowValues
	for _, f := range flows {
		vals = append(vals, w.Observe(f))
	}
	// Flush emits in creation order, so the last flow is the last probe.
	last := vals[len(vals)-1]
	if FlowState(flows[len(flows)-1]) != StateREJ {
		t.Fatalf("last probe state %v", FlowState(flows[len(flows)-1]))
	}
	// All 155 flows started within 2 s and go to the same host, the probe
	// itself included: 5 HTTP (SF), 75 S0 probes and 75 REJ probes.
	check := func(name string, got, want float64) {
		t.Helper()
		if !near(got, want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("count", last.Count, 155)
	check("srv_count", last.SrvCount, 1)
	check("serror_rate", last.SErrorRate, 75.0/155)
	check("rerror_rate", last.RErrorRate, 75.0/155)
	check("srv_rerror_rate", last.SrvRErrorRate, 1)
	check("same_srv_rate", last.SameSrvRate, 1.0/155)
	check("diff_srv_rate", last.DiffSrvRate, 154.0/155)
	check("srv_diff_host_rate", last.SrvDiffHostRate, 0)
	// The last 100 flows are all probes (50 S0, 50 REJ) from port 61000.
	check("dst_host_count", last.DstHostCount, 100)
	check("dst_host_srv_count", last.DstHostSrvCount, 1)
	check("dst_host_same_srv_rate", last.DstHostSameSrvRate, 0.01)
	check("dst_host_diff_srv_rate", last.DstHostDiffSrvRate, 0.99)
	check("dst_host_same_src_port_rate", last.DstHostSameSrcPortRate, 1)
	check("dst_host_serror_rate", last.DstHostSErrorRate, 0.5)
	check("dst_host_rerror_rate", last.DstHostRErrorRate, 0.5)
	check("dst_host_srv_rerror_rate", last.DstHostSrvRErrorRate, 1)

	// The fifth HTTP connection sees the four before it and itself: same
	// service, no errors, its own source port only.
	http := vals[4]
	check("http count", http.Count, 5)
	check("http srv_count", http.SrvCount, 5)
	check("http same_srv_rate", http.SameSrvRate, 1)
	check("http serror_rate", http.SErrorRate, 0)
	check("http dst_host_same_src_port_rate", http.DstHostSameSrcPortRate, 0.2)
	check("first count", vals[0].Count, 1)
	check("first dst_host_count", vals[0].DstHostCount, 1)

	// A flow starting 3 s later is alone in its time window; its
	// connection window is itself and the last 99 probes.
	late := mkPacket(client, server, 50100, 80, 6, pkt{3_200_000, true, syn, 40, 0, 1})
	lf := runTable(t, []collector.Packet{late}, 0)
	v := w.Observe(lf[0])
	check("late count", v.Count, 1)
	check("late serror_rate", v.SErrorRate, 1)
	check("late dst_host_count", v.DstHostCount, 100)
	check("late dst_host_srv_count", v.DstHostSrvCount, 1)
	if s := w.Stats(); s.Observed != uint64(len(flows)+1) || s.Dropped != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestWindowsBounded(t *testing.T) {
	w := NewWindows(WindowConfig{Conns: 3, MaxSpanConns: 4})
	var fl collector.Flow
	for i := range 10 {
		p := mkPacket(client, server, uint16(1000+i), 80, 6, pkt{int64(i), true, syn, 40, 0, 1})
		fl = *runTable(t, []collector.Packet{p}, 0)[0]
		v := w.Observe(&fl)
		if want := float64(min(i, 4) + 1); v.Count != want { // up to 4 held, and itself
			t.Errorf("flow %d count %v, want %v", i, v.Count, want)
		}
		if want := float64(min(i+1, 3)); v.DstHostCount != want {
			t.Errorf("flow %d dst_host_count %v, want %v", i, v.DstHostCount, want)
		}
	}
	if s := w.Stats(); s.Dropped != 6 {
		t.Errorf("dropped %d, want 6", s.Dropped)
	}
	if len(w.heap) > 4 || len(w.spanCnt.srv) > 1 || len(w.ringCnt.hostSport) > 3 {
		t.Errorf("state grew: heap %d srv %d sport %d", len(w.heap), len(w.spanCnt.srv), len(w.ringCnt.hostSport))
	}
}

// connPackets appends one connection attempt at us: a SYN, then (drawn
// from rng) a RST (REJ), nothing (S0), or a SYN+ACK and a FIN.
func connPackets(pkts []collector.Packet, rng *rand.Rand, src, dst netip.Addr, sport, dport uint16, proto uint8, us int64) []collector.Packet {
	pkts = append(pkts, mkPacket(src, dst, sport, dport, proto, pkt{us, true, syn, 20, 0, 1}))
	switch rng.IntN(3) {
	case 0:
		pkts = append(pkts, mkPacket(src, dst, sport, dport, proto, pkt{us + 10, false, rst | ack, 20, 0, 0}))
	case 1:
		pkts = append(pkts, mkPacket(src, dst, sport, dport, proto, pkt{us + 10, false, syn | ack, 20, 0, 0}),
			mkPacket(src, dst, sport, dport, proto, pkt{us + 20, true, fin | ack, 20, 0, 0}))
	}
	return pkts
}

// TestWindowsScanMatchesMaps checks that scanning the connection window
// gives the values the per-key tallies give, on random connections among
// a few hosts, services and source ports, partly out of start order.
func TestWindowsScanMatchesMaps(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	hosts := []netip.Addr{server, netip.MustParseAddr("10.0.0.3"), netip.MustParseAddr("10.0.0.4"), netip.MustParseAddr("fd00::5")}
	var pkts []collector.Packet
	for i := range 3000 {
		us := int64(i)*1500 + rng.Int64N(3000)
		dst := hosts[rng.IntN(len(hosts))]
		src := client
		if dst.Is6() {
			src = netip.MustParseAddr("fd00::1")
		}
		sport, dport := uint16(40000+i), uint16(80+rng.IntN(3))
		if rng.IntN(4) == 0 {
			sport = 61000
		}
		proto := uint8(6)
		if rng.IntN(5) == 0 {
			proto = 17
		}
		pkts = connPackets(pkts, rng, src, dst, sport, dport, proto, us)
	}
	flows := runTable(t, pkts, 0)
	for _, conns := range []int{1, 7, 100} {
		scan := NewWindows(WindowConfig{Conns: conns, Span: 100 * time.Millisecond})
		maps := NewWindows(WindowConfig{Conns: conns, Span: 100 * time.Millisecond})
		maps.ringMaps, maps.ringCnt = true, newCounts(conns, true)
		for i, f := range flows {
			if a, b := scan.Observe(f), maps.Observe(f); a != b {
				t.Fatalf("conns %d flow %d: scan %+v, maps %+v", conns, i, a, b)
			}
		}
	}
	if w := NewWindows(WindowConfig{Conns: maxRingScan + 1}); !w.ringMaps || w.ringCnt.hostSport == nil {
		t.Errorf("a window of %d connections is not tallied", maxRingScan+1)
	}
}

// TestWindowsMatchBruteForce checks Observe against the definitions in
// Windows' comment, computed by brute force over every flow observed
// before and the flow itself, on random flows among many hosts and services (so the tallies
// grow and shrink), partly out of start order, with connection windows
// scanned and tallied.
func TestWindowsMatchBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var pkts []collector.Packet
	for i := range 4000 {
		us := int64(i)*300 + rng.Int64N(5000)
		dst := netip.AddrFrom4([4]byte{10, 9, 0, byte(rng.IntN(40))})
		src := client
		if rng.IntN(8) == 0 {
			dst = netip.AddrFrom16([16]byte{0xfd, 15: byte(rng.IntN(6))})
			src = netip.MustParseAddr("fd00::1")
		}
		sport, dport := uint16(20000+i), uint16(rng.IntN(12))
		if rng.IntN(3) == 0 {
			sport = uint16(61000 + rng.IntN(3))
		}
		proto := uint8(6)
		if rng.IntN(4) == 0 {
			proto = 17
		}
		pkts = connPackets(pkts, rng, src, dst, sport, dport, proto, us)
	}
	flows := runTable(t, pkts, 0)
	rng.Shuffle(len(flows), func(i, j int) { // emission order differs from start order
		if j-i < 20 && i-j < 20 {
			flows[i], flows[j] = flows[j], flows[i]
		}
	})
	type seen struct {
		start      int64
		host       netip.Addr
		proto      uint8
		port       uint16
		sport      uint16
		serr, rerr bool
	}
	const span = 50 * time.Millisecond
	for _, conns := range []int{100, maxRingScan + 44} {
		w := NewWindows(WindowConfig{Span: span, Conns: conns})
		var prev []seen
		var latest int64
		for i, f := range flows {
			st := FlowState(f)
			c := seen{f.Start, f.Dst().Addr, f.Key.Proto, f.Dst().Port, f.Src().Port, st.SError(), st.RError()}
			if i == 0 || c.start > latest {
				latest = c.start
			}
			var want WindowValues
			var n, srv, same, serr, rerr, sserr, srerr float64
			for k, p := range append(prev[:len(prev):len(prev)], c) {
				if k < len(prev) && (p.start < latest-int64(span) || p.start > latest) { // f itself always counts
					continue
				}
				if p.host == c.host {
					n++
					serr += b2f(p.serr)
					rerr += b2f(p.rerr)
					same += b2f(p.proto == c.proto && p.port == c.port)
				}
				if p.proto == c.proto && p.port == c.port {
					srv++
					sserr += b2f(p.serr)
					srerr += b2f(p.rerr)
				}
			}
			want.Count, want.SrvCount = n, srv
			want.SErrorRate, want.RErrorRate = div0(serr, n), div0(rerr, n)
			want.SrvSErrorRate, want.SrvRErrorRate = div0(sserr, srv), div0(srerr, srv)
			want.SameSrvRate, want.DiffSrvRate, want.SrvDiffHostRate = div0(same, n), div0(n-same, n), div0(srv-same, srv)
			n, srv, same, serr, rerr, sserr, srerr = 0, 0, 0, 0, 0, 0, 0
			var sp float64
			for _, p := range append(prev[max(0, len(prev)-conns+1):len(prev):len(prev)], c) {
				if p.host == c.host {
					n++
					serr += b2f(p.serr)
					rerr += b2f(p.rerr)
					same += b2f(p.proto == c.proto && p.port == c.port)
					sp += b2f(p.sport == c.sport)
				}
				if p.proto == c.proto && p.port == c.port {
					srv++
					sserr += b2f(p.serr)
					srerr += b2f(p.rerr)
				}
			}
			want.DstHostCount, want.DstHostSrvCount = n, srv
			want.DstHostSameSrvRate, want.DstHostDiffSrvRate = div0(same, n), div0(n-same, n)
			want.DstHostSameSrcPortRate, want.DstHostSrvDiffHostRate = div0(sp, n), div0(srv-same, srv)
			want.DstHostSErrorRate, want.DstHostRErrorRate = div0(serr, n), div0(rerr, n)
			want.DstHostSrvSErrorRate, want.DstHostSrvRErrorRate = div0(sserr, srv), div0(srerr, srv)
			if got := w.Observe(f); got != want {
				t.Fatalf("conns %d flow %d: got %+v, want %+v", conns, i, got, want)
			}
			prev = append(prev, c)
		}
		if w.ringMaps != (conns > maxRingScan) {
			t.Errorf("conns %d: ringMaps %v", conns, w.ringMaps)
		}
	}
}

func div0(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
