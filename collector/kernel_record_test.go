//go:build linux

package collector

import (
	"math"
	"math/rand/v2"
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
	b.extendTo(20e9)
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
	p.IPLen, p.PayloadLen = 200, 160
	f.Add(&p, 0)
	mean := f.Fwd.IPLen.Mean()
	f.scale(10)
	if f.Fwd.Packets != 20 || f.Fwd.Bytes != 3000 || f.Fwd.FlagCounts[4] != 20 || f.Fwd.IPLen.Mean() != mean {
		t.Errorf("scaled: %d packets %d bytes %d acks mean %v", f.Fwd.Packets, f.Fwd.Bytes, f.Fwd.FlagCounts[4], f.Fwd.IPLen.Mean())
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
