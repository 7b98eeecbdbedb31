//go:build linux

package collector

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/flowhawk/flowhawk/bpf"
)

// TestSetHigher checks that power sums rebuilt from exact low moments and
// a sample's shape give the sample's skewness and kurtosis and keep the
// exact mean and variance.
func TestSetHigher(t *testing.T) {
	var full, smp Moments
	xs := []float64{1, 2, 2, 3, 3, 3, 4, 4, 5, 9, 12, 40}
	for i, x := range xs {
		full.Add(x)
		if i < 8 {
			smp.Add(x)
		}
	}
	m := Moments{N: full.N, Min: full.Min, Max: full.Max, Shift: full.Shift, Sum: full.Sum, Sum2: full.Sum2}
	setHigher(&m, &smp)
	if math.Abs(m.Mean()-full.Mean()) > 1e-12 || math.Abs(m.Variance()-full.Variance()) > 1e-9 {
		t.Errorf("mean/variance changed: %v/%v, want %v/%v", m.Mean(), m.Variance(), full.Mean(), full.Variance())
	}
	if math.Abs(m.Skewness()-smp.Skewness()) > 1e-9 || math.Abs(m.Kurtosis()-smp.Kurtosis()) > 1e-9 {
		t.Errorf("shape %v/%v, want the sample's %v/%v", m.Skewness(), m.Kurtosis(), smp.Skewness(), smp.Kurtosis())
	}
	// With every observation sampled the rebuild is exact.
	m = Moments{N: full.N, Min: full.Min, Max: full.Max, Shift: full.Shift, Sum: full.Sum, Sum2: full.Sum2}
	setHigher(&m, &full)
	if math.Abs(m.Skewness()-full.Skewness()) > 1e-9 || math.Abs(m.Kurtosis()-full.Kurtosis()) > 1e-9 {
		t.Errorf("full sample: shape %v/%v, want %v/%v", m.Skewness(), m.Kurtosis(), full.Skewness(), full.Kurtosis())
	}
	// Too few samples: no skew, normal tails, and no NaN.
	m = Moments{N: 2, Sum: 3, Sum2: 5}
	setHigher(&m, &Moments{})
	if m.Skewness() != 0 || math.IsNaN(m.Sum3) || math.IsNaN(m.Sum4) {
		t.Errorf("two observations: skew %v sums %v %v", m.Skewness(), m.Sum3, m.Sum4)
	}
}

// TestExtendTo checks that the activity clock extended to the flow's last
// packet splits active and idle periods as Flow.Add would.
func TestExtendTo(t *testing.T) {
	var a, b Flow
	a.reset(1, Key{}, true, 0)
	b.reset(1, Key{}, true, 0)
	p := Packet{SrcIsLo: true}
	for _, ts := range []int64{0, 1e9, 2e9} {
		p.Timestamp = ts
		a.Add(&p, 10)
		b.Add(&p, 10)
	}
	p.Timestamp = 20e9 // 18 s later: an idle period, then a new subflow
	a.Add(&p, 10)
	b.extendTo(20e9, 1, 18e9, 1e9)
	a.finish(EndFlush)
	b.finish(EndFlush)
	if a.Active != b.Active || a.Idle != b.Idle || a.SubflowCount != b.SubflowCount {
		t.Errorf("extendTo: active %+v idle %+v subflows %d; Add: active %+v idle %+v subflows %d",
			b.Active, b.Idle, b.SubflowCount, a.Active, a.Idle, a.SubflowCount)
	}
}

// TestScale checks 1-in-N scaling of counters (means unchanged).
func TestScale(t *testing.T) {
	var f Flow
	f.reset(1, Key{}, true, 0)
	p := Packet{SrcIsLo: true, IPLen: 100, PayloadLen: 60, TCPFlags: FlagACK}
	f.Add(&p, 0)
	p.IPLen, p.PayloadLen, p.WrongFragment = 200, 160, true
	f.Add(&p, 0)
	mean := f.Fwd.IPLen.Mean()
	f.scale(10)
	if f.Fwd.Packets != 20 || f.Fwd.Bytes != 3000 || f.Fwd.FlagCounts[4] != 20 || f.Fwd.IPLen.Mean() != mean {
		t.Errorf("scaled: %d packets %d bytes %d acks mean %v", f.Fwd.Packets, f.Fwd.Bytes, f.Fwd.FlagCounts[4], f.Fwd.IPLen.Mean())
	}
	// wrong_fragment counts packets too: it was left unscaled (188 of
	// 1,880 packets, every one a wrong fragment, at 1 in 10).
	if f.WrongFragments != 10 {
		t.Errorf("scaled: %d wrong fragments, want 10", f.WrongFragments)
	}
}

// TestScaleFlagCountsNoWrap checks that a sampled record's flag counts
// are scaled in 64 bits: 3M sampled ACKs at 1 in 2000 are 6e9, which the
// 32-bit counts wrapped to 1,705,032,704 (toFlow path, from the kernel's
// u32 counters, too).
func TestScaleFlagCountsNoWrap(t *testing.T) {
	var f Flow
	f.reset(1, Key{}, true, 0)
	f.Fwd.Packets, f.Fwd.FlagCounts[4] = 3_000_000, 3_000_000
	f.scale(2000)
	if got := uint64(f.Fwd.FlagCounts[4]); got != 6_000_000_000 {
		t.Errorf("scaled ACK count %d, want 6000000000", got)
	}

	var k bpf.FlowhawkFlowKey
	k.AddrLo[10], k.AddrLo[11], k.AddrLo[15] = 0xff, 0xff, 1
	k.AddrHi[10], k.AddrHi[11], k.AddrHi[15] = 0xff, 0xff, 2
	k.PortLo, k.PortHi, k.Proto = 443, 50000, 6
	var v bpf.FlowhawkFlowValue
	v.First, v.Last = 1e9, 1801e9
	ds := &v.Dir[1]
	ds.Packets, ds.Bytes, ds.First, ds.Last = math.MaxUint32, 1500*math.MaxUint32, v.First, v.Last
	ds.FlagCounts[4], ds.IplenMin, ds.IplenMax = math.MaxUint32, 1500, 1500
	s := &KernelSource{cfg: KernelConfig{Samples: 32, SampleRate: 1000}}
	g := s.toFlow(keyOf(&k), &v, EndActive)
	d := g.Fwd
	if g.Bwd.Packets > d.Packets {
		d = g.Bwd
	}
	if want := uint64(math.MaxUint32) * 1000; d.Packets != want || uint64(d.FlagCounts[4]) != want {
		t.Errorf("kernel record 1 in 1000: %d packets, %d ACKs, want %d each", d.Packets, d.FlagCounts[4], want)
	}
}

// TestSortByStart checks the drain order: by start, and flows that
// started at the same time in the order they were drained.
func TestSortByStart(t *testing.T) {
	starts := []int64{30, 10, 20, 10, 30, 10, 5}
	var fl []flowAt
	for i, s := range starts {
		f := &Flow{Start: s, ID: uint64(i)}
		fl = append(fl, flowAt{s, i, f})
	}
	sortByStart(fl)
	want := []uint64{6, 1, 3, 5, 2, 0, 4}
	for i := range fl {
		if fl[i].f.ID != want[i] {
			t.Fatalf("position %d: flow %d (start %d), want flow %d", i, fl[i].f.ID, fl[i].start, want[i])
		}
	}
}

// kernelDirIAT returns what the kernel keeps for a direction's gaps (in
// account: the first gap as reference, the sum of squared distances from
// it in rounded 1.024 us units) as dirIATMoments reads it, beside the
// moments Moments.Add builds from the same gaps.
func kernelDirIAT(gaps []uint64) (kernel, exact Moments) {
	var sum, sq, lo, hi uint64
	ref := gaps[0]
	for i, g := range gaps {
		exact.Add(float64(g))
		sum += g
		d := g - ref
		if g < ref {
			d = ref - g
		}
		q := (d + 512) >> 10
		sq += q * q
		if i == 0 || g < lo {
			lo = g
		}
		hi = max(hi, g)
	}
	return dirIATMoments(uint64(len(gaps)), sum, ref, sq, lo, hi), exact
}

// TestDirIATMomentsAccurate checks the kernel path's per-direction gap
// statistics: a beacon (1 s and 60 s periods, microseconds of jitter),
// whose std the raw (gap >> 10)^2 sums could not resolve at all, and
// bursty gaps of every size.
func TestDirIATMomentsAccurate(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, c := range []struct {
		name string
		gap  func() uint64
		tol  float64 // ns on the std
	}{
		{"beacon 1 s", func() uint64 { return uint64(1e9 + rng.NormFloat64()*3000) }, 300},
		{"beacon 60 s", func() uint64 { return uint64(60e9 + rng.NormFloat64()*20000) }, 300},
		{"bursty", func() uint64 { return uint64(rng.ExpFloat64() * 10e6) }, 0.001 * 10e6},
	} {
		gaps := make([]uint64, 500)
		for i := range gaps {
			gaps[i] = c.gap()
		}
		k, exact := kernelDirIAT(gaps)
		if math.Abs(k.Std()-exact.Std()) > c.tol || math.Abs(k.Mean()-exact.Mean()) > 1e-6*exact.Mean() || k.Total() != exact.Total() {
			t.Errorf("%s: kernel mean %.1f std %.1f, exact %.1f %.1f (tolerance %.0f ns)", c.name, k.Mean(), k.Std(), exact.Mean(), exact.Std(), c.tol)
		}
	}
}

// kernelFlowIAT accounts packets (time, side) as account_pkt does for the
// flow-level gaps: each direction sums the gaps its packets end, keeps the
// first as reference and sums squared distances from it in rounded
// 1.024 us units; the flow's first packet ends no gap.
func kernelFlowIAT(ts []uint64, sides []int) (v bpf.FlowhawkFlowValue, exact Moments) {
	v.FirstSide = uint8(sides[0])
	v.First, v.Last = ts[0], ts[0]
	v.Dir[sides[0]].Packets = 1
	for i := 1; i < len(ts); i++ {
		ds := &v.Dir[sides[i]]
		var gap uint64
		if ts[i] > v.Last {
			gap = ts[i] - v.Last
		}
		exact.Add(float64(gap))
		if ds.Packets == b2u(uint8(sides[i]) == v.FirstSide) {
			ds.FlowIatRef = gap
		}
		d := max(gap, ds.FlowIatRef) - min(gap, ds.FlowIatRef)
		q := (d + 512) >> 10
		ds.FlowIatSq += q * q
		ds.FlowIatSum += gap
		if i == 1 || gap < v.IatMin {
			v.IatMin = gap
		}
		v.IatMax = max(v.IatMax, gap)
		v.Last = max(v.Last, ts[i])
		ds.Packets++
	}
	return v, exact
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// TestFlowIATMomentsAccurate checks the kernel path's flow-level gap
// statistics, merged from the two directions' sums: a request/response
// beacon (a request every second, the answer 300 us later, microseconds of
// jitter), whose flow gaps alternate between two sizes, one-way traffic
// with bursts, and a one-way beacon (std under 1 us). The old (gap >> 10)^2 sums were 1e12 ns^2 a gap off.
func TestFlowIATMomentsAccurate(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var ts []uint64
	var sides []int
	now := uint64(1e12)
	for range 300 {
		now += 1e9 + uint64(rng.IntN(4000))
		ts, sides = append(ts, now), append(sides, 0)
		ts, sides = append(ts, now+300_000+uint64(rng.IntN(2000))), append(sides, 1)
	}
	var bts []uint64
	var bsides []int
	now = 5e12
	for range 500 {
		now += uint64(rng.ExpFloat64() * 2e6)
		if rng.IntN(10) == 0 {
			now += 3e9 // idle
		}
		bts, bsides = append(bts, now), append(bsides, 1)
	}
	var ots []uint64
	var osides []int
	now = 9e12
	for range 200 {
		now += 1e9 + uint64(rng.IntN(3000))
		ots, osides = append(ots, now), append(osides, 0)
	}
	for _, c := range []struct {
		name  string
		ts    []uint64
		sides []int
	}{{"beacon", ts, sides}, {"bursts", bts, bsides}, {"one-way beacon", ots, osides}} {
		v, exact := kernelFlowIAT(c.ts, c.sides)
		m := flowIATMoments(&v)
		if m.N != exact.N || m.Min != exact.Min || m.Max != exact.Max || math.Abs(m.Mean()-exact.Mean()) > 1e-6*exact.Mean() {
			t.Errorf("%s: n/min/max/mean %d/%v/%v/%v, want %d/%v/%v/%v", c.name, m.N, m.Min, m.Max, m.Mean(), exact.N, exact.Min, exact.Max, exact.Mean())
		}
		if d := math.Abs(m.Std() - exact.Std()); d > 300 {
			t.Errorf("%s: std %.1f ns, want %.1f (off by %.1f ns)", c.name, m.Std(), exact.Std(), d)
		}
		t.Logf("%s: std %.1f ns, exact %.1f", c.name, m.Std(), exact.Std())
	}
}

// TestSampledInitiator checks the initiator of sampled TCP flows whose SYN
// was sampled out (a capture audit found 9 of 30 such curl flows recorded
// from the server): the ports decide, a seen SYN keeps the kernel's side.
func TestSampledInitiator(t *testing.T) {
	var v bpf.FlowhawkFlowValue
	for _, c := range []struct {
		lo, hi uint16
		proto  uint8
		kernel bool
		syn    bool
		want   bool
	}{
		{80, 40000, 6, true, false, false},    // kernel saw the server first
		{443, 2000, 6, true, false, false},    // well-known against other
		{5000, 40000, 6, true, false, false},  // ephemeral hi initiated
		{40000, 50000, 6, true, false, true},  // both ephemeral: kernel's
		{8000, 40000, 6, false, false, false}, // already right
		{1000, 40000, 6, true, true, true},    // a SYN was seen: kernel's
		{53, 40000, 17, true, false, true},    // not TCP: kernel's
	} {
		k := Key{PortLo: c.lo, PortHi: c.hi, Proto: c.proto}
		v.Dir[0].FlagCounts[1], v.Dir[1].FlagCounts[1] = 0, 0
		if c.syn {
			v.Dir[1].FlagCounts[1] = 1
		}
		if got := sampledInitiator(&k, &v, c.kernel); got != c.want {
			t.Errorf("ports %d/%d proto %d kernel lo-initiates %v syn %v: %v, want %v", c.lo, c.hi, c.proto, c.kernel, c.syn, got, c.want)
		}
	}
}

// kernelOneWay returns what the kernel keeps for a one-way flow of
// 100-byte packets at times ts (monotonic ns) and the first n of them as
// ring-buffer samples, for toFlow's counter path.
func kernelOneWay(ts []uint64, n int) (bpf.FlowhawkFlowValue, []pendingSample) {
	var v bpf.FlowhawkFlowValue
	v.First, v.Last = ts[0], ts[len(ts)-1]
	d := &v.Dir[0]
	d.First, d.Last = v.First, v.Last
	for i, t := range ts {
		d.Packets++
		d.Bytes += 100
		d.IplenSq += 100 * 100
		d.IpHdrBytes += 20
		d.L4HdrBytes += 8
		d.PayloadBytes += 72
		d.PayloadSq += 72 * 72
		d.DataPackets++
		if i > 0 {
			gap := t - ts[i-1]
			if i == 1 || gap < v.IatMin {
				v.IatMin = gap
			}
			v.IatMax = max(v.IatMax, gap)
			d.FlowIatSum += gap
		}
	}
	d.PayloadMin, d.PayloadMax, d.IplenMin, d.IplenMax, d.MinL4Hdr, d.InitWindow = 72, 72, 100, 100, 8, -1
	v.Dir[1].InitWindow = -1
	var ps []pendingSample
	for _, t := range ts[:n] {
		ps = append(ps, pendingSample{Ts: t, FlowFirst: ts[0], IPLen: 100, PayloadLen: 72, IPHdrLen: 20, L4HdrLen: 8})
	}
	return v, ps
}

// TestCounterPathActivity checks the subflow count and the active and
// idle periods of flows longer than the samples against Flow.Add over
// every packet. The gaps after the samples are unknown, but the kernel's
// largest flow gap bounds them: a download of 10 s at a steady rate has
// no gap over 1 s and is one subflow and one active period (the counter
// path made it two subflows and an idle period of the 9.4 s after its
// 32nd packet, so Subflow Fwd Packets was half the pcap path's); a beacon
// every 2 s (10 s) has a subflow (an idle period) per gap.
func TestCounterPathActivity(t *testing.T) {
	const s32 = 32
	steps := func(n int, first uint64, gap func(i int) uint64) []uint64 {
		ts := []uint64{first}
		for i := 1; i < n; i++ {
			ts = append(ts, ts[i-1]+gap(i))
		}
		return ts
	}
	for _, c := range []struct {
		name  string
		ts    []uint64
		exact bool // Active and Idle exactly as Flow.Add; else only their counts and totals
	}{
		{"steady 10 s", steps(500, 1e9, func(int) uint64 { return 20e6 }), true},
		{"steady 3 s", steps(150, 1e9, func(int) uint64 { return 20e6 }), true},
		{"beacon 2 s", steps(100, 1e9, func(i int) uint64 { return 2e9 + uint64(i%7)*1000 }), true},
		{"beacon 10 s", steps(60, 1e9, func(i int) uint64 { return 10e9 + uint64(i%5)*1000 }), false}, // idle periods of their mean length
		{"one late packet", steps(33, 1e9, func(i int) uint64 {
			if i == 32 {
				return 30e9
			}
			return 1e6
		}), true},
		{"burst, 30 s pause, burst", steps(80, 1e9, func(i int) uint64 {
			if i == 40 {
				return 30e9
			}
			return 1e6
		}), false},
		{"pause in the samples", steps(300, 1e9, func(i int) uint64 {
			if i == 10 {
				return 8e9
			}
			return 10e6
		}), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, ps := kernelOneWay(c.ts, s32)
			var k bpf.FlowhawkFlowKey
			k.AddrLo[15], k.AddrHi[15], k.PortLo, k.PortHi, k.Proto = 1, 2, 4000, 9, 17
			key := keyOf(&k)
			s := &KernelSource{cfg: KernelConfig{Samples: s32}, pending: map[Key][]pendingSample{key: ps}}
			got := s.toFlow(key, &v, EndFlush)
			var want Flow
			want.reset(0, key, true, s.wall(c.ts[0]))
			for _, ts := range c.ts {
				want.Add(&Packet{Timestamp: s.wall(ts), SrcIsLo: true, IPLen: 100, PayloadLen: 72, IPHeaderLen: 20, L4HeaderLen: 8}, s32)
			}
			want.finish(EndFlush)
			if got.Fwd.Packets != uint64(len(c.ts)) || got.SubflowCount != want.SubflowCount {
				t.Errorf("%d packets, %d subflows; Flow.Add: %d subflows", got.Fwd.Packets, got.SubflowCount, want.SubflowCount)
			}
			same := func(a, b Moments) bool {
				if !c.exact {
					return a.N == b.N && math.Abs(a.Total()-b.Total()) < 1000 // ns the division rounds off
				}
				return a.N == b.N && a.Min == b.Min && a.Max == b.Max && math.Abs(a.Total()-b.Total()) < 1
			}
			if !same(got.Active, want.Active) || !same(got.Idle, want.Idle) {
				t.Errorf("active %d periods (min %v max %v total %v), idle %d (min %v max %v total %v); Flow.Add: active %d (%v %v %v), idle %d (%v %v %v)",
					got.Active.N, got.Active.Min, got.Active.Max, got.Active.Total(), got.Idle.N, got.Idle.Min, got.Idle.Max, got.Idle.Total(),
					want.Active.N, want.Active.Min, want.Active.Max, want.Active.Total(), want.Idle.N, want.Idle.Min, want.Idle.Max, want.Idle.Total())
			}
		})
	}
}

// TestCounterPathICMPType checks that a record built from the kernel's
// counters (an ICMP flow longer than the samples) keeps the ICMP type and
// code of its first packet, which name the flow's NSL-KDD service: a
// ping of 20 echoes (40 packets) was eco_i from replay and ecr_i (type 0)
// from the kernel path, an IPv6 one oth_i.
func TestCounterPathICMPType(t *testing.T) {
	ts := make([]uint64, 40)
	for i := range ts {
		ts[i] = 1e9 + uint64(i)*10e6
	}
	// The entry keeps the first packet's type and code (an echo request,
	// 8/0); the samples alternate requests and replies. With every
	// sample lost (a flood that filled the ring buffer), the entry's type
	// still names the service: before the entry kept it, the record said
	// 0/0, an echo reply (ecr_i).
	for _, n := range []int{32, 0} {
		v, ps := kernelOneWay(ts, n)
		v.IcmpType, v.IcmpCode = 8, 0
		for i := range ps {
			ps[i].ICMPType, ps[i].ICMPCode = 8, 0
			if i%2 == 1 {
				ps[i].ICMPType = 0 // the replies
			}
		}
		if n == 0 {
			v.SamplesLost = 32
		}
		var k bpf.FlowhawkFlowKey
		k.AddrLo[15], k.AddrHi[15], k.Proto = 1, 2, 1
		key := keyOf(&k)
		s := &KernelSource{cfg: KernelConfig{Samples: 32}, pending: map[Key][]pendingSample{key: ps}}
		f := s.toFlow(key, &v, EndFlush)
		if f.ICMPType != 8 || f.ICMPCode != 0 {
			t.Errorf("counter-path record with %d samples: ICMP type %d code %d, want the first packet's 8/0", n, f.ICMPType, f.ICMPCode)
		}
	}
}

// TestCounterPathLostSamplesNoSPLT checks that a record whose first-packet
// samples the ring buffer partly lost has no Samples (the SPLT columns):
// the survivors are not the flow's first packets, and a capture with a
// full ring wrote a curl flow's request as packet 1 (134 bytes) where
// tcpdump's file has its SYN (60 bytes), and SYN-ACKs as a backward first
// packet.
func TestCounterPathLostSamplesNoSPLT(t *testing.T) {
	ts := make([]uint64, 10)
	for i := range ts {
		ts[i] = 1e9 + uint64(i)*1e6
	}
	var k bpf.FlowhawkFlowKey
	k.AddrLo[15], k.AddrHi[15], k.Proto = 1, 2, 17
	key := keyOf(&k)
	for _, lost := range [][]int{{0}, {3}, {0, 1, 2}} {
		v, ps := kernelOneWay(ts, len(ts))
		var kept []pendingSample
		for i := range ps {
			if !slices.Contains(lost, i) {
				kept = append(kept, ps[i])
			}
		}
		v.SamplesSent, v.SamplesLost = uint32(len(kept)), uint32(len(lost))
		s := &KernelSource{cfg: KernelConfig{Samples: 32}, pending: map[Key][]pendingSample{key: kept}}
		f := s.toFlow(key, &v, EndFlush)
		if f.Fwd.Packets != 10 {
			t.Fatalf("samples %v lost: %d packets, want the counters' 10", lost, f.Fwd.Packets)
		}
		if len(f.Samples) != 0 {
			t.Errorf("samples %v lost: record has %d samples, want none (they are not the first packets)", lost, len(f.Samples))
		}
	}
}

// TestCounterPathGSOSamplesFirstN checks that a record built from the
// kernel's counters takes its sample-derived values (payload skewness and
// kurtosis, bulk transfers) from its first N wire packets when a sample is
// a GSO/GRO packet of several segments: they took every segment of the
// first N samples, so the e2e downloads' Bwd Avg Packets/Bulk was 21 to 42
// where the same first 32 packets of tcpdump's file give 15 to 21, and
// changed with how the stack batched the segments.
func TestCounterPathGSOSamplesFirstN(t *testing.T) {
	const n = 4
	ts := make([]uint64, 20)
	for i := range ts {
		ts[i] = 1e9 + uint64(i)*1e6
	}
	v, _ := kernelOneWay(ts, 0)
	// Counters of 20 packets, half of 72 and half of 1000 payload bytes:
	// the record's mean and variance come from them, its shape from the
	// samples.
	d := &v.Dir[0]
	d.PayloadBytes, d.PayloadSq, d.PayloadMax = 10*(72+1000), 10*(72*72+1000*1000), 1000
	// Samples: one packet, a GSO packet of 3 segments (1000, 1000, 500
	// bytes of payload), two more: 6 wire packets in 4 samples.
	pay := []uint32{72, 2500, 300, 72}
	var ps []pendingSample
	for i, pl := range pay {
		p := pendingSample{Ts: ts[i], FlowFirst: ts[0], IPLen: pl + 28, PayloadLen: pl, IPHdrLen: 20, L4HdrLen: 8}
		if pl == 2500 {
			p.Segs, p.MSS = 3, 1000
		}
		ps = append(ps, p)
	}
	var k bpf.FlowhawkFlowKey
	k.AddrLo[15], k.AddrHi[15], k.PortLo, k.PortHi, k.Proto = 1, 2, 4000, 9, 17
	key := keyOf(&k)
	s := &KernelSource{cfg: KernelConfig{Samples: n}, pending: map[Key][]pendingSample{key: ps}}
	got := s.toFlow(key, &v, EndFlush)
	if !got.FromCounters {
		t.Fatalf("record of 20 packets from %d samples not marked as built from the counters", n)
	}
	// The first n wire packets, as the pcap path's table samples them.
	var want Flow
	want.reset(0, key, true, s.wall(ts[0]))
	for i, pl := range []uint32{72, 1000, 1000, 500} {
		at := ts[min(i, 1)]
		want.Add(&Packet{Timestamp: s.wall(at), SrcIsLo: true, IPLen: pl + 28, PayloadLen: pl, IPHeaderLen: 20, L4HeaderLen: 8}, n)
	}
	var smp Moments
	for _, x := range want.Samples {
		smp.Add(float64(x.Payload))
	}
	if g, w := got.Fwd.PayloadLen.Skewness(), smp.Skewness(); math.Abs(g-w) > 1e-9 {
		t.Errorf("payload skewness %v, want %v, that of the first %d packets", g, w, n)
	}
	if g, w := got.Fwd.PayloadLen.Kurtosis(), smp.Kurtosis(); math.Abs(g-w) > 1e-9 {
		t.Errorf("payload kurtosis %v, want %v, that of the first %d packets", g, w, n)
	}
	if got.Fwd.BulkCount != want.Fwd.BulkCount || got.Fwd.BulkPackets != want.Fwd.BulkPackets || got.Fwd.BulkBytes != want.Fwd.BulkBytes {
		t.Errorf("bulk %d runs of %d packets, %d bytes; want the first %d packets' %d, %d, %d",
			got.Fwd.BulkCount, got.Fwd.BulkPackets, got.Fwd.BulkBytes, n, want.Fwd.BulkCount, want.Fwd.BulkPackets, want.Fwd.BulkBytes)
	}
	if len(got.Samples) != n || got.Samples[3].Payload != 500 {
		t.Errorf("samples %+v, want the first %d wire packets", got.Samples, n)
	}
}
