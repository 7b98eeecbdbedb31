package features

import (
	"cmp"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
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
	if s := w.Stats(); s.Observed != uint64(len(flows)+1) || s.Dropped != 0 || s.Truncated != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestWindowsBounded(t *testing.T) {
	w := NewWindows(WindowConfig{Conns: 3, MaxSpanConns: 4})
	var fl collector.Flow
	for i := range 10 { // one flow a millisecond, the cutoff's quantum
		p := mkPacket(client, server, uint16(1000+i), 80, 6, pkt{int64(i) * 1000, true, syn, 40, 0, 1})
		fl = *runTable(t, []collector.Packet{p}, 0)[0]
		v := w.Observe(&fl)
		if want := float64(min(i+1, 4)); v.Count != want {
			t.Errorf("flow %d count %v, want %v", i, v.Count, want)
		}
		if want := float64(min(i+1, 3)); v.DstHostCount != want {
			t.Errorf("flow %d dst_host_count %v, want %v", i, v.DstHostCount, want)
		}
	}
	if s := w.Stats(); s.Dropped != 6 {
		t.Errorf("dropped %d, want 6", s.Dropped)
	}
	if hs := w.hosts[addrOf(server)]; w.held > 4 || len(w.srvs) > 1 || hs.main.len() > 8 || w.ringCnt.len() > 4*3 {
		t.Errorf("state grew: held %d srv %d host series %d tallies %d", w.held, len(w.srvs), hs.main.len(), w.ringCnt.len())
	}
	checkStore(t, w)
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

// TestTallyMatchesScan checks the connection window's tallies against a
// scan of the window, on random connections among a few hosts, services
// and source ports (so keys collide in the table and entries move back
// on removal), with windows from 1 connection to more than the default,
// and that the table is empty once every connection has left.
func TestTallyMatchesScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	hosts := []addr{addrOf(server), addrOf(netip.MustParseAddr("10.0.0.3")), addrOf(netip.MustParseAddr("10.0.0.4")), addrOf(netip.MustParseAddr("fd00::5")), {}}
	for _, conns := range []int{1, 7, 100, 300} {
		tl := newTally(conns)
		var ring []conn
		for i := range 20000 {
			c := conn{host: hosts[rng.IntN(len(hosts))], srv: uint32(6+11*rng.IntN(2))<<16 | uint32(80+rng.IntN(40)), sport: uint16(61000 + rng.IntN(30)), serr: int32(rng.IntN(2))}
			c.rerr = 1 - c.serr
			if len(ring) == conns {
				tl.window(&ring[0], -1)
				ring = ring[1:]
			}
			ring = append(ring, c)
			h, s, same, sport := tl.window(&c, 1)
			wh, ws, wsame, wsport := scanWindow(ring, &c)
			if h != wh || s != ws || same != wsame || sport != wsport {
				t.Fatalf("conns %d conn %d: tally %v %v %d %d, scan %v %v %d %d", conns, i, h, s, same, sport, wh, ws, wsame, wsport)
			}
		}
		for i := range ring {
			tl.window(&ring[i], -1)
		}
		if n := tl.len(); n != 0 {
			t.Errorf("conns %d: %d keys left in an empty window", conns, n)
		}
	}
}

// scanWindow tallies the connections of ring as the tally does for c.
func scanWindow(ring []conn, c *conn) (h, s agg, same, sport int32) {
	for i := range ring {
		r := &ring[i]
		if r.srv == c.srv {
			s = s.plus(agg{1, r.serr, r.rerr})
		}
		if r.host == c.host {
			h = h.plus(agg{1, r.serr, r.rerr})
			same += b2i(r.srv == c.srv)
			sport += b2i(r.sport == c.sport)
		}
	}
	return h, s, same, sport
}

// TestWindowsMatchBruteForce checks Observe against the definitions in
// Windows' comment, computed by brute force over every flow observed
// before, on random flows among many hosts and services (so the series
// grow, merge and empty) emitted out of start order as a flow table emits
// them: most soon after they start, some much later (as at an idle
// timeout), a few so late that their time window is truncated; with
// connection windows scanned and tallied, and with and without drops.
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
		if src == client && rng.IntN(10) == 0 {
			// ICMP of several KDD services (ecr_i, urp_i, eco_i, tim_i,
			// oth_i), which have no ports to tell them apart.
			p := mkPacket(src, dst, 0, 0, 1, pkt{us, true, 0, 20, 0, 1})
			p.ICMPType = []uint8{0, 3, 8, 13, 11}[rng.IntN(5)]
			pkts = append(pkts, p)
			continue
		}
		pkts = connPackets(pkts, rng, src, dst, sport, dport, proto, us)
	}
	flows := runTable(t, pkts, 0)
	const span, horizon = 50 * time.Millisecond, 200 * time.Millisecond
	emitAt := make(map[*collector.Flow]int64, len(flows))
	for _, f := range flows {
		var d time.Duration
		switch r := rng.IntN(20); {
		case r < 14:
			d = time.Duration(rng.Int64N(int64(3 * time.Millisecond)))
		case r < 18:
			d = time.Duration(rng.Int64N(int64(150 * time.Millisecond)))
		default:
			d = 100*time.Millisecond + time.Duration(rng.Int64N(int64(time.Second)))
		}
		emitAt[f] = f.Start + int64(d)
	}
	slices.SortStableFunc(flows, func(a, b *collector.Flow) int { return cmp.Compare(emitAt[a], emitAt[b]) })
	for _, tc := range []struct {
		conns, maxSpan int
		horizon        time.Duration
	}{{100, 0, horizon}, {300, 0, horizon}, {100, 150, horizon}, {100, 0, time.Second}} {
		cfg := WindowConfig{Span: span, Horizon: tc.horizon, Conns: tc.conns, MaxSpanConns: tc.maxSpan}
		dropped, truncated := matchBruteForce(t, flows, cfg)
		// The data must exercise what the test is for.
		if truncated == 0 || tc.maxSpan > 0 && dropped == 0 || tc.maxSpan == 0 && dropped != 0 {
			t.Errorf("%+v: dropped %d truncated %d", tc, dropped, truncated)
		}
	}
}

// matchBruteForce observes flows in their order with cfg and checks every
// value against the definitions in Windows' comment, computed by brute
// force; it returns the drops and truncated windows, also checked.
func matchBruteForce(t *testing.T, flows []*collector.Flow, cfg WindowConfig) (dropped, truncated uint64) {
	t.Helper()
	type seen struct {
		start      int64
		host       netip.Addr
		proto      uint8
		port       uint16
		svc        string // KDD service: ICMP flows differ by it alone
		sport      uint16
		serr, rerr bool
	}
	w := NewWindows(cfg)
	w.minSweep = 100 // sweep often
	span, horizon, maxSpan, conns := int64(cmp.Or(cfg.Span, DefaultSpan)), int64(cfg.Horizon), cfg.MaxSpanConns, cmp.Or(cfg.Conns, 100)
	if horizon == 0 {
		horizon = int64(120*time.Second) + span
	}
	quantum := max(int64(time.Millisecond), horizon>>17)
	var prev, held []seen
	latest, cutoff := int64(math.MinInt64), int64(math.MinInt64)
	for i, f := range flows {
		st := FlowState(f)
		c := seen{f.Start, f.Dst().Addr, f.Key.Proto, f.Dst().Port, Service(f), f.Src().Port, st.SError(), st.RError()}
		latest = max(latest, c.start)
		cutoff = max(cutoff, floorDiv(latest-horizon, quantum)*quantum)
		keepFrom := func() {
			held = slices.DeleteFunc(held, func(p seen) bool { return p.start < cutoff })
		}
		keepFrom()
		keep := c.start >= cutoff
		for keep && maxSpan > 0 && len(held) >= maxSpan {
			first := slices.MinFunc(held, func(a, b seen) int { return cmp.Compare(a.start, b.start) }).start
			cutoff = (floorDiv(first, quantum) + 1) * quantum
			n := len(held)
			keepFrom()
			dropped += uint64(n - len(held))
			if keep = c.start >= cutoff; !keep {
				dropped++
			}
		}
		if c.start-span < cutoff {
			truncated++
		}
		var want WindowValues
		var n, srv, same, serr, rerr, sserr, srerr float64
		for _, p := range append(held, c) {
			if p.start < c.start-span || p.start > c.start {
				continue
			}
			if p.host == c.host {
				n++
				serr += b2f(p.serr)
				rerr += b2f(p.rerr)
				same += b2f(p.proto == c.proto && p.port == c.port && p.svc == c.svc)
			}
			if p.proto == c.proto && p.port == c.port && p.svc == c.svc {
				srv++
				sserr += b2f(p.serr)
				srerr += b2f(p.rerr)
			}
		}
		want.Count, want.SrvCount = n, srv
		want.SErrorRate, want.RErrorRate = div0(serr, n), div0(rerr, n)
		want.SrvSErrorRate, want.SrvRErrorRate = div0(sserr, srv), div0(srerr, srv)
		want.SameSrvRate, want.DiffSrvRate, want.SrvDiffHostRate = div0(same, n), div0(n-same, n), div0(srv-same, srv)
		if keep {
			held = append(held, c)
		}
		prev = append(prev, c)
		n, srv, same, serr, rerr, sserr, srerr = 0, 0, 0, 0, 0, 0, 0
		var sp float64
		for _, p := range prev[max(0, len(prev)-conns):] {
			if p.host == c.host {
				n++
				serr += b2f(p.serr)
				rerr += b2f(p.rerr)
				same += b2f(p.proto == c.proto && p.port == c.port && p.svc == c.svc)
				sp += b2f(p.sport == c.sport)
			}
			if p.proto == c.proto && p.port == c.port && p.svc == c.svc {
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
			t.Fatalf("%+v flow %d: got %+v, want %+v", cfg, i, got, want)
		}
		if w.held != len(held) {
			t.Fatalf("%+v flow %d: %d held, want %d", cfg, i, w.held, len(held))
		}
		if i%500 == 0 {
			checkStore(t, w)
		}
	}
	checkStore(t, w)
	if s := w.Stats(); s.Dropped != dropped || s.Truncated != truncated || s.Observed != uint64(len(flows)) {
		t.Errorf("%+v: stats %+v, want dropped %d truncated %d", cfg, s, dropped, truncated)
	}
	if n := w.ringCnt.len(); n > 4*min(len(flows), conns) {
		t.Errorf("%+v: %d tallies for a window of %d connections", cfg, n, conns)
	}
	return dropped, truncated
}

// checkStore checks that the host series, the service series and the
// series per service of hot hosts hold, at or after the cutoff, the
// flows counted as held, and that the host series read services right.
func checkStore(t *testing.T, w *Windows) {
	t.Helper()
	cutoff := w.cut * w.quantum
	live := func(s *series) int {
		n := 0
		for _, r := range []*run{&s.main, s.late} {
			if r != nil {
				for _, x := range r.e[r.head:] {
					n += int(b2i(x.start >= cutoff))
				}
			}
		}
		return n
	}
	var hosts, pairs, srvs int
	for _, s := range w.hosts {
		n := live(&s)
		hosts += n
		if s.pairs != nil {
			m := 0
			for _, p := range s.pairs {
				m += live(p)
			}
			if m != n {
				t.Fatalf("hot host: %d flows in its series per service, %d in its series", m, n)
			}
			pairs += m
		}
	}
	for _, s := range w.srvs {
		srvs += live(&s)
	}
	if hosts != w.held || srvs != w.held {
		t.Fatalf("%d flows held, %d in the host series, %d in the service series", w.held, hosts, srvs)
	}
}

// TestSeriesMatchesList checks a host series against a plain list under
// random additions (in start order, slightly and far out of it, so late
// runs fill and merge), cutoffs, prunes and range counts, with windows
// that keep it cold (services read from its window) and that make it hot
// (series per service).
func TestSeriesMatchesList(t *testing.T) {
	for _, width := range []int64{150, 4000} {
		rng := rand.New(rand.NewPCG(7, uint64(width)))
		var s series
		var list []ent // own errors, not running totals
		var now, cutoff int64
		count := func(lo, hi int64, srv uint32) (a agg, same int32) {
			for _, p := range list {
				if p.start >= max(lo, cutoff) && p.start <= hi {
					a = a.plus(agg{1, int32(p.serr), int32(p.rerr)})
					same += b2i(p.srv == srv)
				}
			}
			return a, same
		}
		for i := range 20000 {
			now += rng.Int64N(10)
			x := ent{start: now, srv: uint32(rng.IntN(4))}
			switch r := rng.IntN(10); {
			case r < 2:
				x.start -= rng.Int64N(40)
			case r < 4:
				x.start -= rng.Int64N(3000)
			}
			switch rng.IntN(3) {
			case 0:
				x.serr = 1
			case 1:
				x.rerr = 1
			}
			if x.start >= cutoff {
				lo := max(x.start-rng.Int64N(width), cutoff)
				wa, wn := count(lo, x.start, x.srv)
				if a, n := s.observe(lo, x, cutoff, true); a != wa || n != wn {
					t.Fatalf("width %d step %d: observe [%d, %d] = %+v %d, want %+v %d", width, i, lo, x.start, a, n, wa, wn)
				}
				list = append(list, x)
			}
			if rng.IntN(50) == 0 {
				cutoff = max(cutoff, now-2000-rng.Int64N(3000))
				list = slices.DeleteFunc(list, func(p ent) bool { return p.start < cutoff })
				if rng.IntN(3) == 0 {
					s.prune(cutoff)
				}
			}
			lo := max(now-rng.Int64N(width), cutoff)
			hi := lo + rng.Int64N(width)
			srv := uint32(rng.IntN(4))
			wa, wn := count(lo, hi, srv)
			if a, n := s.count(lo, hi, srv, true); a != wa || n != wn {
				t.Fatalf("width %d step %d: count [%d, %d] = %+v %d, want %+v %d", width, i, lo, hi, a, n, wa, wn)
			}
		}
		if s.late == nil || (s.pairs != nil) != (width > hotHost*10) {
			t.Fatalf("width %d: late %v, pairs %v: the test does not reach what it is for", width, s.late != nil, s.pairs != nil)
		}
	}
}

// TestWindowsLateSYNFlood replays a SYN flood through a flow table with
// the default 120 s idle timeout: the unanswered SYNs are emitted 120 s
// after they were sent, after the HTTP connections that started around
// them. Each SYN's time window must still be the 2 s before its own start,
// with the flood and the HTTP connections of that time in it, as NSL-KDD's
// neptune rows have (count in the hundreds, serror_rate near 1).
func TestWindowsLateSYNFlood(t *testing.T) {
	victim := netip.MustParseAddr("10.7.0.80")
	var pkts []collector.Packet
	for i := range 400 { // an HTTP client every 0.5 s for 200 s
		base := 100_000_000 + int64(i)*500_000
		cli := netip.AddrFrom4([4]byte{10, 7, 1, byte(i%200 + 1)})
		for _, p := range []pkt{
			{base, true, syn, 40, 0, 1}, {base + 1000, false, syn | ack, 40, 0, 1}, {base + 2000, true, ack, 20, 0, 1},
			{base + 3000, true, psh | ack, 20, 18, 1}, {base + 4000, false, fin | psh | ack, 20, 19, 1},
			{base + 5000, true, fin | ack, 20, 0, 1}, {base + 6000, false, ack, 20, 0, 1},
		} {
			pkts = append(pkts, mkPacket(cli, victim, uint16(20000+i), 80, 6, p))
		}
	}
	const syns = 500 // spoofed SYNs between 150 and 151 s
	for i := range syns {
		src := netip.AddrFrom4([4]byte{10, 8, byte(i / 250), byte(i%250 + 1)})
		pkts = append(pkts, mkPacket(src, victim, uint16(1024+i), 80, 6, pkt{150_000_000 + int64(i)*2000, true, syn, 40, 0, 1}))
	}
	slices.SortStableFunc(pkts, func(a, b collector.Packet) int { return cmp.Compare(a.Timestamp, b.Timestamp) })
	flows := runTable(t, pkts, 0)
	w := NewWindows(WindowConfig{})
	var flood []WindowValues
	var lastHTTP int64
	for _, f := range flows {
		v := w.Observe(f)
		if FlowState(f) != StateS0 {
			lastHTTP = max(lastHTTP, f.Start)
			continue
		}
		if lastHTTP < f.Start+100*int64(time.Second) {
			t.Fatalf("SYN at %d observed before the HTTP connections 100 s later: not emitted late", f.Start)
		}
		flood = append(flood, v)
	}
	if len(flood) != syns {
		t.Fatalf("%d S0 flows, want %d", len(flood), syns)
	}
	check := func(name string, got, want float64) {
		t.Helper()
		if !near(got, want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	// The first SYN (150 s): itself and the HTTP connections of 148, 148.5,
	// 149, 149.5 and 150 s. The last (150.998 s): the 500 SYNs and the HTTP
	// connections of 149, 149.5, 150 and 150.5 s.
	first, last := flood[0], flood[syns-1]
	check("first count", first.Count, 6)
	check("first serror_rate", first.SErrorRate, 1.0/6)
	check("last count", last.Count, syns+4)
	check("last srv_count", last.SrvCount, syns+4)
	check("last serror_rate", last.SErrorRate, syns/(syns+4.0))
	check("last srv_serror_rate", last.SrvSErrorRate, syns/(syns+4.0))
	check("last same_srv_rate", last.SameSrvRate, 1)
	check("last dst_host_serror_rate", last.DstHostSErrorRate, 1)
	var hundreds int
	for _, v := range flood {
		if v.Count >= 100 && v.SErrorRate > 0.95 {
			hundreds++
		}
	}
	if hundreds < 400 {
		t.Errorf("%d of %d flood SYNs have count >= 100 and serror_rate > 0.95", hundreds, syns)
	}
	if s := w.Stats(); s.Truncated != 0 || s.Dropped != 0 {
		t.Errorf("stats %+v", s)
	}
	// Every value, through the late runs and their merges.
	matchBruteForce(t, flows, WindowConfig{})
}

func div0(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// TestWindowsMatchBruteForceHotHosts is TestWindowsMatchBruteForce on
// three hosts, so that host series pass hotHost and split by service
// (makePairs), which the spread-out hosts of that test never reach.
func TestWindowsMatchBruteForceHotHosts(t *testing.T) {
	for seed := range uint64(3) {
		rng := rand.New(rand.NewPCG(seed, 99))
		var pkts []collector.Packet
		for i := range 6000 {
			us := int64(i)*100 + rng.Int64N(2000)
			dst := netip.AddrFrom4([4]byte{10, 9, 0, byte(rng.IntN(3))})
			sport, dport := uint16(20000+i), uint16(rng.IntN(5))
			if rng.IntN(3) == 0 {
				sport = uint16(61000 + rng.IntN(3))
			}
			proto := uint8(6)
			if rng.IntN(4) == 0 {
				proto = 17
			}
			pkts = connPackets(pkts, rng, client, dst, sport, dport, proto, us)
		}
		flows := runTable(t, pkts, 0)
		emitAt := make(map[*collector.Flow]int64, len(flows))
		for _, f := range flows {
			d := time.Duration(rng.Int64N(int64(3 * time.Millisecond)))
			if rng.IntN(5) == 0 {
				d = time.Duration(rng.Int64N(int64(time.Second)))
			}
			emitAt[f] = f.Start + int64(d)
		}
		slices.SortStableFunc(flows, func(a, b *collector.Flow) int { return cmp.Compare(emitAt[a], emitAt[b]) })
		const span, horizon = 50 * time.Millisecond, 200 * time.Millisecond
		// The data must reach what the test is for: series split by service.
		w := NewWindows(WindowConfig{Span: span, Horizon: horizon})
		split := false
		for _, f := range flows {
			w.Observe(f)
			for _, s := range w.hosts {
				split = split || s.pairs != nil
			}
		}
		if !split {
			t.Fatalf("seed %d: no host series was split by service", seed)
		}
		for _, cfg := range []WindowConfig{{Span: span, Horizon: horizon}, {Span: span, Horizon: horizon, MaxSpanConns: 300}, {Span: span, Horizon: time.Second}} {
			matchBruteForce(t, flows, cfg)
		}
	}
}
