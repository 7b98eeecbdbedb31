package collector

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// pkt builds a TCP/UDP packet from src to dst at t seconds.
func pkt(t float64, src, dst string, sport, dport uint16, proto uint8, flags uint8, payload uint32) Packet {
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	k, lo := MakeKey(&s, &d, sport, dport, proto, 0, 0)
	l4 := uint16(8)
	if proto == 6 {
		l4 = 20
	}
	return Packet{
		Timestamp: int64(t * 1e9), Key: k, SrcIsLo: lo,
		IPLen: 20 + uint32(l4) + payload, IPHeaderLen: 20, L4HeaderLen: l4, PayloadLen: payload,
		TCPFlags: flags, TCPWindow: 1000,
	}
}

func TestMakeKeyCanonical(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.2").As16(), netip.MustParseAddr("10.0.0.1").As16()
	k1, lo1 := MakeKey(&a, &b, 1234, 80, 6, 0, 0)
	k2, lo2 := MakeKey(&b, &a, 80, 1234, 6, 0, 0)
	if k1 != k2 || lo1 == lo2 {
		t.Fatalf("keys differ by direction: %v %v", k1, k2)
	}
	if k1.Lo().Addr.String() != "10.0.0.1" || k1.Lo().Port != 80 || !k1.IsIPv4() {
		t.Fatalf("lo endpoint = %v", k1.Lo())
	}
	// Same address: the lower port is Lo.
	k3, lo3 := MakeKey(&a, &a, 9, 7, 17, 0, 0)
	if k3.PortLo != 7 || lo3 {
		t.Fatalf("same-address key = %v lo=%v", k3, lo3)
	}
}

func TestTableTCPLifecycle(t *testing.T) {
	var got []*Flow
	tab := NewTable(TableConfig{Samples: 10}, func(f *Flow) { got = append(got, f) })
	c, s := "192.0.2.1", "198.51.100.7"
	seq := []Packet{
		pkt(0, c, s, 40000, 80, 6, FlagSYN, 0),
		pkt(0.010, s, c, 80, 40000, 6, FlagSYN|FlagACK, 0),
		pkt(0.020, c, s, 40000, 80, 6, FlagACK, 0),
		pkt(0.030, c, s, 40000, 80, 6, FlagACK|FlagPSH, 100),
		pkt(0.040, s, c, 80, 40000, 6, FlagACK|FlagPSH, 1000),
		pkt(0.050, c, s, 40000, 80, 6, FlagACK|FlagFIN, 0),
		pkt(0.060, s, c, 80, 40000, 6, FlagACK|FlagFIN, 0),
		pkt(0.070, c, s, 40000, 80, 6, FlagACK, 0), // last ACK: inside the grace
	}
	for i := range seq {
		tab.Add(&seq[i])
	}
	if len(got) != 0 {
		t.Fatalf("flow emitted before the grace period: %d", len(got))
	}
	// A packet of another flow 3 s later moves the clock past the grace.
	later := pkt(3.1, "203.0.113.5", s, 5353, 53, 17, 0, 40)
	tab.Add(&later)
	if len(got) != 1 {
		t.Fatalf("got %d flows, want 1", len(got))
	}
	f := got[0]
	if f.EndReason != EndFIN || f.Partial {
		t.Errorf("end reason %v partial %v", f.EndReason, f.Partial)
	}
	if f.Src().Addr.String() != c || f.Src().Port != 40000 || f.Dst().Port != 80 {
		t.Errorf("direction: src %v dst %v", f.Src(), f.Dst())
	}
	if f.Fwd.Packets != 5 || f.Bwd.Packets != 3 {
		t.Errorf("packets fwd %d bwd %d, want 5 3", f.Fwd.Packets, f.Bwd.Packets)
	}
	if f.Fwd.PayloadBytes != 100 || f.Bwd.PayloadBytes != 1000 {
		t.Errorf("payload fwd %d bwd %d", f.Fwd.PayloadBytes, f.Bwd.PayloadBytes)
	}
	if f.Duration() != 70e6 {
		t.Errorf("duration %d ns, want 70ms", f.Duration())
	}
	if f.Fwd.FlagCounts[1] != 1 || f.Bwd.FlagCounts[1] != 1 || f.Fwd.FlagCounts[0] != 1 {
		t.Errorf("flag counts fwd %v bwd %v", f.Fwd.FlagCounts, f.Bwd.FlagCounts)
	}
	if len(f.Samples) != 8 || f.Samples[1].Dir != Bwd || f.Samples[7].Offset != 70e6 {
		t.Errorf("samples %+v", f.Samples)
	}
	tab.Flush()
	if len(got) != 2 || got[1].EndReason != EndFlush {
		t.Fatalf("flush: %d flows", len(got))
	}
}

func TestTableSYNACKFirstMeansResponder(t *testing.T) {
	var got []*Flow
	tab := NewTable(TableConfig{}, func(f *Flow) { got = append(got, f) })
	p := pkt(0, "198.51.100.7", "192.0.2.1", 80, 40000, 6, FlagSYN|FlagACK, 0)
	tab.Add(&p)
	tab.Flush()
	if got[0].Src().Addr.String() != "192.0.2.1" || got[0].Bwd.Packets != 1 {
		t.Fatalf("SYN+ACK sender should be the responder: src %v", got[0].Src())
	}
}

func TestTableRSTAndReuse(t *testing.T) {
	var got []*Flow
	tab := NewTable(TableConfig{}, func(f *Flow) { got = append(got, f) })
	ps := []Packet{
		pkt(0, "10.0.0.1", "10.0.0.2", 1000, 22, 6, FlagSYN, 0),
		pkt(0.001, "10.0.0.2", "10.0.0.1", 22, 1000, 6, FlagRST|FlagACK, 0),
		pkt(0.5, "10.0.0.1", "10.0.0.2", 1000, 22, 6, FlagSYN, 0), // new connection, same key
	}
	for i := range ps {
		tab.Add(&ps[i])
	}
	if len(got) != 1 || got[0].EndReason != EndRST || got[0].Packets() != 2 {
		t.Fatalf("after reuse: %d flows", len(got))
	}
	tab.Flush()
	if len(got) != 2 || got[1].ID <= got[0].ID || got[1].Packets() != 1 {
		t.Fatalf("second flow missing or wrong")
	}
}

func TestTableTimeoutsAndEviction(t *testing.T) {
	var got []*Flow
	cfg := TableConfig{IdleTimeout: 10 * time.Second, ActiveTimeout: 30 * time.Second, MaxFlows: 2}
	tab := NewTable(cfg, func(f *Flow) { got = append(got, f) })
	a := pkt(0, "10.0.0.1", "10.0.0.2", 1, 2, 17, 0, 10)
	b := pkt(1, "10.0.0.3", "10.0.0.4", 1, 2, 17, 0, 10)
	c := pkt(2, "10.0.0.5", "10.0.0.6", 1, 2, 17, 0, 10) // evicts a
	for _, p := range []*Packet{&a, &b, &c} {
		tab.Add(p)
	}
	if len(got) != 1 || got[0].EndReason != EndEvicted || !got[0].Partial || tab.Stats().Evicted != 1 {
		t.Fatalf("eviction: %d flows, stats %+v", len(got), tab.Stats())
	}
	// Keep c alive with packets every 5 s; b goes idle at 11 s.
	for ts := 5.0; ts <= 35; ts += 5 {
		p := pkt(ts, "10.0.0.5", "10.0.0.6", 1, 2, 17, 0, 10)
		tab.Add(&p)
	}
	reasons := map[EndReason]int{}
	for _, f := range got {
		reasons[f.EndReason]++
	}
	if reasons[EndIdle] != 1 || reasons[EndActive] != 1 {
		t.Fatalf("reasons %v", reasons)
	}
	st := tab.Stats()
	if st.Emitted != 3 || st.Active != 1 || st.Created != 4 {
		t.Fatalf("stats %+v", st)
	}
}

func TestMomentsAgainstDirect(t *testing.T) {
	xs := []float64{1, 2, 2, 3, 9, 4, 4, 4}
	var m Moments
	for _, x := range xs {
		m.Add(x)
	}
	mean, variance, g1, g2 := direct(xs)
	near := func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
	if !near(m.Mean(), mean) || !near(m.Variance(), variance) {
		t.Fatalf("mean %v var %v", m.Mean(), m.Variance())
	}
	if !near(m.Skewness(), g1) {
		t.Fatalf("skew %v want %v", m.Skewness(), g1)
	}
	if !near(m.Kurtosis(), g2) {
		t.Fatalf("kurtosis %v want %v", m.Kurtosis(), g2)
	}
	if m.Min != 1 || m.Max != 9 {
		t.Fatalf("min/max %v %v", m.Min, m.Max)
	}
}

// direct returns the mean, sample variance, skewness g1 and excess
// kurtosis g2 of xs by two passes, the accurate way.
func direct(xs []float64) (mean, variance, g1, g2 float64) {
	n := float64(len(xs))
	for _, x := range xs {
		mean += x
	}
	mean /= n
	var m2, m3, m4 float64
	for _, x := range xs {
		d := x - mean
		m2 += d * d / n
		m3 += d * d * d / n
		m4 += d * d * d * d / n
	}
	return mean, m2 * n / (n - 1), m3 / (m2 * math.Sqrt(m2)), m4/(m2*m2) - 3
}

// TestMomentsPeriodicGaps feeds the gaps of a beacon (one a second, a few
// microseconds of jitter, in ns): raw power sums of such values cancel to
// noise in float64 (on a capture of such a beacon the build before the
// shifted sums gave skewness 57.5 and kurtosis -5e7 where the values are
// 0.16 and -0.39).
func TestMomentsPeriodicGaps(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, period := range []float64{1e9, 60e9} {
		xs := make([]float64, 200)
		var m Moments
		for i := range xs {
			xs[i] = period + math.Round(rng.NormFloat64()*3000)
			m.Add(xs[i])
		}
		mean, variance, g1, g2 := direct(xs)
		rel := func(a, b float64) float64 { return math.Abs(a-b) / max(math.Abs(b), 1e-300) }
		if rel(m.Mean(), mean) > 1e-12 || rel(m.Variance(), variance) > 1e-6 ||
			math.Abs(m.Skewness()-g1) > 1e-6 || math.Abs(m.Kurtosis()-g2) > 1e-6 {
			t.Errorf("period %g: mean %v var %v g1 %v g2 %v; want %v %v %v %v",
				period, m.Mean(), m.Variance(), m.Skewness(), m.Kurtosis(), mean, variance, g1, g2)
		}
		var sum float64
		for _, x := range xs {
			sum += x
		}
		if m.Total() != sum {
			t.Errorf("period %g: total %v, want %v", period, m.Total(), sum)
		}
	}
}

// TestMomentsMerge merges series with different first observations (so
// different shifts) and checks the result against the series added as one.
func TestMomentsMerge(t *testing.T) {
	a := []float64{1500, 40, 40, 1500, 576, 0}
	b := []float64{0, 0, 1448, 90, 1448}
	var ma, mb, whole, empty Moments
	for _, x := range a {
		ma.Add(x)
		whole.Add(x)
	}
	for _, x := range b {
		mb.Add(x)
		whole.Add(x)
	}
	ma.Merge(&mb)
	ma.Merge(&empty)
	empty.Merge(&mb)
	if ma.N != whole.N || ma.Min != whole.Min || ma.Max != whole.Max || ma.Total() != whole.Total() || ma.SumSquares() != whole.SumSquares() {
		t.Fatalf("merged %+v, whole %+v", ma, whole)
	}
	near := func(x, y float64) bool { return math.Abs(x-y) <= 1e-9*max(1, math.Abs(y)) }
	if !near(ma.Mean(), whole.Mean()) || !near(ma.Variance(), whole.Variance()) ||
		!near(ma.Skewness(), whole.Skewness()) || !near(ma.Kurtosis(), whole.Kurtosis()) {
		t.Fatalf("merged mean/var/g1/g2 %v %v %v %v, whole %v %v %v %v", ma.Mean(), ma.Variance(), ma.Skewness(), ma.Kurtosis(),
			whole.Mean(), whole.Variance(), whole.Skewness(), whole.Kurtosis())
	}
	if empty != mb {
		t.Fatalf("merge into empty: %+v, want %+v", empty, mb)
	}
}

func BenchmarkTableAddExisting(b *testing.B) {
	tab := NewTable(TableConfig{}, func(*Flow) {})
	ps := make([]Packet, 1024)
	for i := range ps {
		ps[i] = pkt(float64(i)*1e-6, "10.0.0.1", "10.0.0.2", uint16(1000+i%256), 80, 6, FlagACK, 100)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := &ps[i%len(ps)]
		p.Timestamp = int64(i)
		tab.Add(p)
	}
}

// TestTableSmallFlowsMatchLiveRecords checks that a flow kept as packet
// records in its entry (and promoted, or built at its end) gives exactly
// the record Flow.Add gives packet by packet: for every flow length around
// the entry's capacity, with packets that do not fit the compact record
// (gaps beyond int32 ns, out-of-order times, a payload not derived from the
// header lengths, a wrong fragment, an ICMP first packet, headers over 255
// bytes, lengths over 65535).
func TestTableSmallFlowsMatchLiveRecords(t *testing.T) {
	c, s := "192.0.2.1", "2001:db8::7"
	c6 := "2001:db8::1"
	for n := 1; n <= smallPackets+3; n++ {
		for variant := range 8 {
			var seq []Packet
			for i := range n {
				ts := 0.001 * float64(i*i+1)
				src, dst, sp, dp := c6, s, uint16(40000), uint16(443)
				if i%2 == 1 {
					src, dst, sp, dp = s, c6, 443, 40000
				}
				p := pkt(ts, src, dst, sp, dp, 6, FlagACK|uint8(i%3)<<3, uint32(100*i))
				switch {
				case variant == 1 && i == n-1:
					p.Timestamp += 3e9 // offset beyond int32 ns
				case variant == 2 && i == n/2:
					p.Timestamp -= 5e6 // before the flow's first packet
				case variant == 3 && i == n-1:
					p.PayloadLen = 7 // not IPLen minus the headers (truncated capture)
				case variant == 4 && i == 0:
					p.WrongFragment = true
				case variant == 6 && i == n-1:
					p.IPHeaderLen, p.IPLen = 300, 300+20+p.PayloadLen // long IPv6 extension chain
				case variant == 7 && i == n/2:
					p.PayloadLen, p.IPLen = 65600, 20+20+65600 // beyond 16 bits
				case variant == 5:
					p.Key, p.SrcIsLo = MakeKey(ptr16(c), ptr16("198.51.100.9"), 0, 0, 1, 0, 0)
					p.ICMPType, p.ICMPCode, p.TCPFlags, p.L4HeaderLen, p.IPLen = 8, 0, 0, 8, 28+uint32(i)
					p.PayloadLen = uint32(i)
				}
				p.TCPWindow = uint16(1000 + i)
				seq = append(seq, p)
			}
			var got []*Flow
			tab := NewTable(TableConfig{Samples: 10}, func(f *Flow) { got = append(got, f) })
			for i := range seq {
				tab.Add(&seq[i])
			}
			tab.Flush()
			if len(got) != 1 {
				t.Fatalf("n=%d variant %d: %d records, want 1", n, variant, len(got))
			}
			want := &Flow{Samples: make([]Sample, 0, 10)}
			want.reset(1, seq[0].Key, seq[0].SrcIsLo, seq[0].Timestamp)
			for i := range seq {
				want.Add(&seq[i], 10)
			}
			want.finish(EndFlush)
			if !reflect.DeepEqual(got[0], want) {
				t.Errorf("n=%d variant %d: record differs from one filled live:\n got %+v\nwant %+v", n, variant, got[0], want)
			}
		}
	}
}

func ptr16(s string) *[16]byte {
	a := netip.MustParseAddr(s).As16()
	return &a
}

// TestTableCompactEntriesMatchFullRecords drives two tables with the same
// random packets: one keeps short flows as packet records in their entries
// (the default), the other gives every flow its full record from the first
// packet. Timeouts, FIN/RST closes, key reuse, out-of-order times, evictions
// of a small table and the final flush must give the same records in the
// same order.
func TestTableCompactEntriesMatchFullRecords(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	cfg := TableConfig{IdleTimeout: time.Second, ActiveTimeout: 20 * time.Second, CloseGrace: time.Second, MaxFlows: 150, Samples: 10}
	tp := newTablePair(cfg)
	hosts := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "2001:db8::1", "2001:db8::2"}
	flagSets := []uint8{0, FlagSYN, FlagSYN | FlagACK, FlagACK, FlagACK | FlagPSH, FlagFIN | FlagACK, FlagRST, FlagRST | FlagACK}
	ts := 0.0
	for range 60_000 {
		ts += rng.ExpFloat64() * 0.005
		at := ts
		if rng.IntN(50) == 0 {
			at -= rng.Float64() * 0.5 // a late packet from another capture queue
		}
		a, b := hosts[rng.IntN(len(hosts))], hosts[rng.IntN(len(hosts))]
		proto := []uint8{6, 6, 17, 1}[rng.IntN(4)]
		sp, dp := uint16(1000+rng.IntN(10)), uint16([]int{53, 80, 443}[rng.IntN(3)])
		if proto == 1 {
			sp, dp = 0, 0
		}
		if rng.IntN(2) == 0 {
			a, b, sp, dp = b, a, dp, sp
		}
		var flags uint8
		if proto == 6 {
			flags = flagSets[rng.IntN(len(flagSets))]
		}
		p := pkt(at, a, b, sp, dp, proto, flags, uint32(rng.IntN(1400)))
		if proto == 1 {
			p.ICMPType, p.L4HeaderLen, p.IPLen = uint8(rng.IntN(2)*8), 8, 28+p.PayloadLen
		}
		p.TCPWindow = uint16(rng.IntN(65536))
		p.WrongFragment = rng.IntN(200) == 0
		tp.add(p)
	}
	tp.flushAndCompare(t)
	cs, fs := tp.compact.Stats(), tp.full.Stats()
	if cs.PeakBytes >= fs.PeakBytes {
		t.Errorf("compact entries peaked at %d bytes, full records at %d: want less", cs.PeakBytes, fs.PeakBytes)
	}
	cs.PeakBytes, fs.PeakBytes = 0, 0 // the one thing that should differ
	if cs != fs {
		t.Fatalf("stats differ: %+v vs %+v", cs, fs)
	}
	if cs.Evicted == 0 || cs.Ended[EndFIN]+cs.Ended[EndRST] == 0 || cs.Ended[EndIdle] == 0 {
		t.Fatalf("the traffic did not exercise evictions, closes and timeouts: %+v", cs)
	}
	t.Logf("%d records, %+v", len(tp.got), cs)
}

// tablePair runs the default table beside one that builds every flow's
// full record from its first packet (small = 0), on the same packets.
type tablePair struct {
	compact, full *Table
	got, want     []*Flow
}

func newTablePair(cfg TableConfig) *tablePair {
	tp := &tablePair{}
	tp.compact = NewTable(cfg, func(f *Flow) { tp.got = append(tp.got, f) })
	tp.full = NewTable(cfg, func(f *Flow) { tp.want = append(tp.want, f) })
	tp.full.small = 0
	return tp
}

func (tp *tablePair) add(p Packet) {
	q := p
	tp.compact.Add(&p)
	tp.full.Add(&q)
}

// flushAndCompare ends every flow and fails t unless both tables emitted
// the same records in the same order.
func (tp *tablePair) flushAndCompare(t testing.TB) {
	t.Helper()
	tp.compact.Flush()
	tp.full.Flush()
	if len(tp.got) != len(tp.want) {
		t.Fatalf("compact table emitted %d records, full-record table %d", len(tp.got), len(tp.want))
	}
	for i := range tp.got {
		if !reflect.DeepEqual(tp.got[i], tp.want[i]) {
			t.Fatalf("record %d differs:\n got %+v\nwant %+v", i, tp.got[i], tp.want[i])
		}
	}
}

// TestTableFlushOrderAfterReuse checks that Flush emits in creation order
// when freed entries were reused out of address order, across slabs, with
// closed flows among them, and that the table works again afterwards.
func TestTableFlushOrderAfterReuse(t *testing.T) {
	var got []*Flow
	tab := NewTable(TableConfig{IdleTimeout: 10 * time.Second}, func(f *Flow) { got = append(got, f) })
	addr := func(i int) string { return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String() }
	const n = 3*entrySlab + 7
	for i := range n {
		p := pkt(0, addr(i), "192.168.0.1", 1000, 53, 17, 0, 10)
		tab.Add(&p)
	}
	// Keep every third flow alive; the others go idle and free their
	// entries, which the next flows reuse out of address order.
	for i := 0; i < n; i += 3 {
		p := pkt(8, addr(i), "192.168.0.1", 1000, 53, 17, 0, 10)
		tab.Add(&p)
	}
	for i := range n {
		p := pkt(15, addr(n+i), "192.168.0.2", 1000, 53, 17, 0, 10)
		tab.Add(&p)
		if i%5 == 0 { // some closed by RST, emitted by Flush with their reason
			p := pkt(15, addr(n+i), "192.168.0.2", 1001, 80, 6, FlagRST, 0)
			tab.Add(&p)
		}
	}
	emitted := len(got)
	active := tab.Stats().Active
	tab.Flush()
	if len(got)-emitted != active || tab.Stats().Active != 0 {
		t.Fatalf("flush emitted %d of %d active flows, %d left", len(got)-emitted, active, tab.Stats().Active)
	}
	var rst int
	for i := emitted + 1; i < len(got); i++ {
		if got[i].ID <= got[i-1].ID {
			t.Fatalf("flush order: id %d after %d", got[i].ID, got[i-1].ID)
		}
		if got[i].EndReason == EndRST {
			rst++
		}
	}
	if rst == 0 {
		t.Fatal("no RST-closed flow in the flush")
	}
	// The emptied table takes the same keys again as new flows.
	got = got[:0]
	for i := range 10 {
		p := pkt(20, addr(i), "192.168.0.1", 1000, 53, 17, 0, 10)
		tab.Add(&p)
		tab.Add(&p)
	}
	if st := tab.Stats(); st.Active != 10 || len(got) != 0 {
		t.Fatalf("after flush: %d active, %d emitted", st.Active, len(got))
	}
	tab.Flush()
	if len(got) != 10 || got[0].Packets() != 2 {
		t.Fatalf("second flush: %d flows", len(got))
	}
}

// TestTableMaxBytes sends flows of 1 to 20 packets through a table bounded
// by MaxBytes: the estimated memory must never exceed the bound, every
// packet must still be in exactly one record, and evictions are counted.
func TestTableMaxBytes(t *testing.T) {
	cfg := DefaultTableConfig()
	cfg.MaxBytes = 100*EntryBytes + 10*RecordBytes(cfg.Samples)
	var emitted []*Flow
	tab := NewTable(cfg, func(f *Flow) { emitted = append(emitted, f) })
	rng := rand.New(rand.NewPCG(7, 7))
	const flows = 3000
	sent := 0
	for i := 0; i < flows; i++ {
		n := 1 + rng.IntN(20)
		src := fmt.Sprintf("10.1.%d.%d", i/250, i%250+1)
		for j := 0; j < n; j++ {
			// Flows interleave: a packet of a random earlier flow now and then.
			p := pkt(float64(sent)*1e-4, src, "10.9.9.9", 40000, 443, 17, 0, uint32(rng.IntN(1200)))
			if j > 0 && rng.IntN(3) == 0 {
				k := rng.IntN(i + 1)
				p = pkt(float64(sent)*1e-4, fmt.Sprintf("10.1.%d.%d", k/250, k%250+1), "10.9.9.9", 40000, 443, 17, 0, 100)
			}
			tab.Add(&p)
			sent++
			if st := tab.Stats(); st.Bytes > cfg.MaxBytes {
				t.Fatalf("after packet %d: %d bytes held, bound %d", sent, st.Bytes, cfg.MaxBytes)
			}
		}
	}
	tab.Flush()
	st := tab.Stats()
	var got uint64
	for _, f := range emitted {
		got += f.Packets()
	}
	if got != uint64(sent) || st.Packets != uint64(sent) {
		t.Errorf("records hold %d packets, table counted %d, sent %d", got, st.Packets, sent)
	}
	if st.Evicted == 0 || st.Evicted != st.Ended[EndEvicted] || st.PeakBytes > cfg.MaxBytes || st.Bytes != 0 {
		t.Errorf("stats %+v: want evictions, peak within %d bytes, nothing held after flush", st, cfg.MaxBytes)
	}
	if max := int(cfg.MaxBytes / EntryBytes); st.PeakSize > max {
		t.Errorf("peak %d flows, the bound allows %d entries", st.PeakSize, max)
	}

	// A bound below one flow's cost still works: the table holds the one
	// flow it is filling and evicts every other.
	cfg.MaxBytes = 1
	emitted = nil
	tab = NewTable(cfg, func(f *Flow) { emitted = append(emitted, f) })
	for i := 0; i < 50; i++ {
		p := pkt(float64(i)*1e-3, "10.1.0.1", "10.9.9.9", uint16(40000+i%3), 443, 17, 0, 10)
		tab.Add(&p)
		if tab.Stats().Active != 1 {
			t.Fatalf("packet %d: %d flows held with a 1-byte bound, want 1", i, tab.Stats().Active)
		}
	}
	tab.Flush()
	if len(emitted) != 50 {
		t.Errorf("%d records from 50 packets alternating over 3 keys with room for one flow, want 50", len(emitted))
	}
}

// TestActiveTimeoutKeepsDirection checks that the record going on with a
// flow the active timeout cut keeps its direction when the responder sends
// its first packet: it used to turn around (and lose a label written for
// the initiator), where CICFlowMeter keeps the source and destination.
func TestActiveTimeoutKeepsDirection(t *testing.T) {
	var got []*Flow
	tab := NewTable(TableConfig{IdleTimeout: time.Minute, ActiveTimeout: 10 * time.Second}, func(f *Flow) { got = append(got, f) })
	for _, p := range []Packet{
		pkt(0, "10.0.0.9", "10.0.0.1", 40000, 80, 17, 0, 10), // the client (hi) starts
		pkt(5, "10.0.0.1", "10.0.0.9", 80, 40000, 17, 0, 10),
		pkt(11, "10.0.0.1", "10.0.0.9", 80, 40000, 17, 0, 10), // cut; the server sends first
		pkt(12, "10.0.0.9", "10.0.0.1", 40000, 80, 17, 0, 10),
	} {
		tab.Add(&p)
	}
	tab.Flush()
	if len(got) != 2 || got[0].EndReason != EndActive {
		t.Fatalf("%d records, want the active-timeout cut and the rest", len(got))
	}
	for i, f := range got {
		if f.FwdIsLo || f.Fwd.Packets != 1 || f.Bwd.Packets != 1 {
			t.Errorf("record %d: fwd is lo %v, %d fwd and %d bwd packets; want the client (hi) forward, 1 and 1", i, f.FwdIsLo, f.Fwd.Packets, f.Bwd.Packets)
		}
	}
}

// TestTableRestart checks that a table restarted for a capture older than
// the previous one runs its idle timeouts on the new capture's time: two
// bursts an idle timeout apart stay two flows, where the old clock (the
// previous file's, later) kept them one until the flush.
func TestTableRestart(t *testing.T) {
	var got []*Flow
	tab := NewTable(TableConfig{IdleTimeout: 10 * time.Second}, func(f *Flow) { got = append(got, f) })
	p := pkt(1000, "10.0.0.1", "10.0.0.2", 1, 2, 17, 0, 10)
	tab.Add(&p)
	tab.Restart()
	for _, ts := range []float64{0, 1, 30, 31} {
		p := pkt(ts, "10.0.0.3", "10.0.0.4", 1, 2, 17, 0, 10)
		tab.Add(&p)
	}
	tab.Flush()
	if len(got) != 3 || got[1].EndReason != EndIdle || got[1].Packets() != 2 || got[2].Packets() != 2 {
		t.Fatalf("%d records; want the first file's, then two of two packets (the first ended idle)", len(got))
	}
}

// TestSampleOffsetsFromStart checks that every sample's Offset is its
// packet time minus the flow's Start when a packet older than the first
// comes later (a capture out of time order moves Start back): the
// samples before it were left relative to the old Start.
func TestSampleOffsetsFromStart(t *testing.T) {
	var got []*Flow
	tab := NewTable(TableConfig{Samples: 10}, func(f *Flow) { got = append(got, f) })
	c, s := "192.0.2.1", "198.51.100.7"
	times := []float64{100.010, 100.000, 100.004, 100.012}
	for _, ts := range times {
		p := pkt(ts, c, s, 40000, 53, 17, 0, 10)
		tab.Add(&p)
	}
	tab.Flush()
	if len(got) != 1 {
		t.Fatalf("got %d flows, want 1", len(got))
	}
	f := got[0]
	if f.Start != int64(100.000*1e9) || len(f.Samples) != len(times) {
		t.Fatalf("Start %d, %d samples", f.Start, len(f.Samples))
	}
	for i, ts := range times {
		if at := f.Start + f.Samples[i].Offset; at != int64(ts*1e9) {
			t.Errorf("sample %d: Start+Offset = %d, want %d", i+1, at, int64(ts*1e9))
		}
	}
}

// TestTableIdleAfterLatePacket checks the idle timeout of a flow whose
// packet came in late (a fragment held for its first fragment, a merged
// capture out of time order): such a flow sits in the table behind flows
// seen after it in capture order but more recently in packet time, so the
// idle expiry, which stops at the first flow still live, does not reach
// it. Its next packet after more than the idle timeout joined it anyway,
// and at the end of the input it ended as flush, not idle.
func TestTableIdleAfterLatePacket(t *testing.T) {
	var got []*Flow
	tab := NewTable(TableConfig{IdleTimeout: 10 * time.Second}, func(f *Flow) { got = append(got, f) })
	for _, p := range []Packet{
		pkt(100, "10.0.0.1", "10.0.0.2", 1, 2, 17, 0, 10),
		pkt(1, "10.0.0.3", "10.0.0.4", 0, 0, 17, 0, 10), // late: 99 s older than the clock
		pkt(105, "10.0.0.11", "10.0.0.12", 1, 2, 17, 0, 10),
		pkt(106, "10.0.0.3", "10.0.0.4", 0, 0, 17, 0, 10), // 105 s after the late one
		pkt(107, "10.0.0.5", "10.0.0.6", 0, 0, 17, 0, 10),
		pkt(2, "10.0.0.5", "10.0.0.6", 0, 0, 17, 0, 10), // late, in a flow still live
		pkt(108, "10.0.0.7", "10.0.0.8", 0, 0, 17, 0, 10),
		pkt(3, "10.0.0.9", "10.0.0.10", 0, 0, 17, 0, 10), // late, and nothing after it
	} {
		tab.Add(&p)
	}
	tab.Flush()
	type rec struct {
		src    string
		n      uint64
		reason EndReason
	}
	var recs []rec
	for _, f := range got {
		recs = append(recs, rec{f.Src().Addr.String(), f.Packets(), f.EndReason})
	}
	want := []rec{
		{"10.0.0.3", 1, EndIdle},  // ended when its key's next packet came
		{"10.0.0.1", 1, EndFlush}, // the rest in order of creation
		{"10.0.0.11", 1, EndFlush},
		{"10.0.0.3", 1, EndFlush},
		{"10.0.0.5", 2, EndFlush}, // its late packet is older, not a gap
		{"10.0.0.7", 1, EndFlush},
		{"10.0.0.9", 1, EndIdle}, // 105 s older than the clock at the end
	}
	if !reflect.DeepEqual(recs, want) {
		t.Fatalf("records\n got %v\nwant %v", recs, want)
	}
}

// TestTableActiveTimeoutSparesClosedFlow checks that the last ACK of a
// connection closed by FIN/FIN just before its active timeout counts in its
// record within the close grace, as for any closed flow: the active timeout
// cut it instead, so the record said active and partial (to be continued)
// for a connection that was over, and the ACK became a flow of its own.
func TestTableActiveTimeoutSparesClosedFlow(t *testing.T) {
	var got []*Flow
	tab := NewTable(TableConfig{ActiveTimeout: 5 * time.Second}, func(f *Flow) { got = append(got, f) })
	c, s := "192.0.2.1", "198.51.100.7"
	for _, p := range []Packet{
		pkt(0, c, s, 40000, 80, 6, FlagSYN, 0),
		pkt(0.1, s, c, 80, 40000, 6, FlagSYN|FlagACK, 0),
		pkt(0.2, c, s, 40000, 80, 6, FlagACK, 0),
		pkt(4.8, c, s, 40000, 80, 6, FlagACK|FlagFIN, 0),
		pkt(4.9, s, c, 80, 40000, 6, FlagACK|FlagFIN, 0),
		pkt(5.1, c, s, 40000, 80, 6, FlagACK, 0), // the last ACK, in the grace
	} {
		tab.Add(&p)
	}
	tab.Flush()
	if len(got) != 1 || got[0].EndReason != EndFIN || got[0].Partial || got[0].Packets() != 6 {
		for _, f := range got {
			t.Logf("record: %d packets, end %v, partial %v", f.Packets(), f.EndReason, f.Partial)
		}
		t.Fatalf("%d records; want one of 6 packets ended by FIN, not partial", len(got))
	}
}

// TestTableLaggingClockKeepsFlows checks a merged capture whose second
// interface's clock lags the first's by more than the idle timeout: its
// flows are older than the table's clock at every packet, but their own
// packets come close together, so they stay whole records.
func TestTableLaggingClockKeepsFlows(t *testing.T) {
	var got []*Flow
	tab := NewTable(TableConfig{IdleTimeout: 10 * time.Second}, func(f *Flow) { got = append(got, f) })
	for _, p := range []Packet{
		pkt(1000, "10.0.0.1", "10.0.0.2", 1, 2, 17, 0, 10),
		pkt(1, "10.0.0.3", "10.0.0.4", 1, 2, 17, 0, 10),
		pkt(1.5, "10.0.0.4", "10.0.0.3", 2, 1, 17, 0, 10),
		pkt(2, "10.0.0.3", "10.0.0.4", 1, 2, 17, 0, 10),
	} {
		tab.Add(&p)
	}
	tab.Flush()
	if len(got) != 2 || got[1].Packets() != 3 {
		t.Fatalf("%d records; want the first interface's and one of 3 packets", len(got))
	}

	// The leading interface busy too: the lagging flow was at the head of
	// the open list whenever the other had the latest packet, and expire
	// ended it at the next one (five records of one packet), as it ended
	// a lagging connection closed by FINs before its last ACK.
	got = got[:0]
	tab = NewTable(TableConfig{IdleTimeout: 10 * time.Second}, func(f *Flow) { got = append(got, f) })
	for i := range 15 {
		s := float64(i)
		p := pkt(1000+s, "10.0.0.1", "10.0.0.2", 1, 2, 17, 0, 10) // leading
		tab.Add(&p)
		if i%3 == 0 {
			p := pkt(1+s, "10.0.0.3", "10.0.0.4", 1, 2, 17, 0, 10) // lagging, 3 s apart
			tab.Add(&p)
		}
		if i >= 10 && i < 13 { // a lagging TCP close: FIN, FIN, then the last ACK
			flags := []uint8{FlagFIN | FlagACK, FlagFIN | FlagACK, FlagACK}[i-10]
			src, dst := "10.0.0.5", "10.0.0.6"
			if i == 11 {
				src, dst = dst, src
			}
			p := pkt(1+s/100, src, dst, 40000, 80, 6, flags, 0)
			if i == 11 {
				p = pkt(1+s/100, src, dst, 80, 40000, 6, flags, 0)
			}
			tab.Add(&p)
		}
	}
	tab.Flush()
	var lag, tcp []*Flow
	for _, f := range got {
		switch f.Src().Addr.String() {
		case "10.0.0.3":
			lag = append(lag, f)
		case "10.0.0.5":
			tcp = append(tcp, f)
		}
	}
	if len(lag) != 1 || lag[0].Packets() != 5 {
		t.Errorf("lagging flow: %d records, want one of 5 packets", len(lag))
	}
	if len(tcp) != 1 || tcp[0].Packets() != 3 || tcp[0].EndReason != EndFIN {
		t.Errorf("lagging TCP close: %d records, want one of 3 packets ended by FIN", len(tcp))
	}
}

// TestActiveCutKeepsFINs checks that a FIN pair the active timeout falls
// between still closes the flow: the continuation record ends as FIN, and
// a new connection on the same ports afterwards is a record of its own,
// not part of an open tail.
func TestActiveCutKeepsFINs(t *testing.T) {
	var got []*Flow
	tab := NewTable(TableConfig{IdleTimeout: time.Minute, ActiveTimeout: 10 * time.Second}, func(f *Flow) { got = append(got, f) })
	c, s := "192.0.2.1", "198.51.100.7"
	conn := func(t0 float64) []Packet {
		return []Packet{
			pkt(t0, c, s, 40000, 80, 6, FlagSYN, 0),
			pkt(t0+0.01, s, c, 80, 40000, 6, FlagSYN|FlagACK, 0),
			pkt(t0+0.02, c, s, 40000, 80, 6, FlagACK, 0),
		}
	}
	seq := conn(0)
	seq = append(seq,
		pkt(9.99, c, s, 40000, 80, 6, FlagACK|FlagFIN, 0),  // client FIN before the cut
		pkt(10.01, s, c, 80, 40000, 6, FlagACK|FlagFIN, 0), // server FIN after it
		pkt(10.02, c, s, 40000, 80, 6, FlagACK, 0))
	seq = append(seq, conn(15)...)
	for i := range seq {
		tab.Add(&seq[i])
	}
	tab.Flush()
	var reasons []EndReason
	var pk []uint64
	for _, f := range got {
		reasons = append(reasons, f.EndReason)
		pk = append(pk, f.Packets())
	}
	if want := []EndReason{EndActive, EndFIN, EndFlush}; !reflect.DeepEqual(reasons, want) || !reflect.DeepEqual(pk, []uint64{4, 2, 3}) {
		t.Fatalf("records end %v with %v packets; want %v with [4 2 3]", reasons, pk, want)
	}
	if f := got[2]; f.Src().Addr.String() != c || f.Fwd.FlagCounts[1] != 1 {
		t.Errorf("new connection: src %v, %d fwd SYNs; want the client, 1", f.Src(), f.Fwd.FlagCounts[1])
	}
}

// TestTableClockBack checks a record whose time lies more than a day
// ahead of the records around it (a corrupt timestamp): the flows before
// it, the record itself and the flows after it are separate records, none
// spans the jump, and idle timeouts run again on the later packets' time
// (the table's clock does not stay at the far-off time).
func TestTableClockBack(t *testing.T) {
	var got []*Flow
	tab := NewTable(TableConfig{IdleTimeout: 10 * time.Second}, func(f *Flow) { got = append(got, f) })
	day := 86400.0
	for _, ts := range []float64{0, 1, 10 * day, 2, 3, 40, 41} {
		p := pkt(ts, "10.0.0.1", "10.0.0.2", 1000, 53, 17, 0, 10)
		tab.Add(&p)
	}
	if len(got) != 3 {
		t.Fatalf("%d records before the flush; want 3 (before the jump, the jump, the 2-3 s burst ended idle at 40 s)", len(got))
	}
	tab.Flush()
	want := []struct {
		packets uint64
		reason  EndReason
	}{{2, EndIdle}, {1, EndIdle}, {2, EndIdle}, {2, EndFlush}}
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i, w := range want {
		f := got[i]
		if f.Packets() != w.packets || f.EndReason != w.reason || f.End-f.Start > int64(2*time.Second) {
			t.Errorf("record %d: %d packets, end %v, %v long; want %d, %v, at most 1 s", i, f.Packets(), f.EndReason, time.Duration(f.End-f.Start), w.packets, w.reason)
		}
	}
}
