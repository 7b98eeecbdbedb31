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

// TestIATMomentsUnbiased feeds iatMoments what the kernel keeps for 2,000
// gaps of 100 ms +- 1 ms: their sum, and the sum of (gap >> 10)^2. Without
// the truncation's loss added back the std came out 17 % low.
func TestIATMomentsUnbiased(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var exact Moments
	var sum, sq, lo, hi uint64
	for i := 0; i < 2000; i++ {
		g := uint64(100e6 + rng.IntN(2e6) - 1e6)
		exact.Add(float64(g))
		sum += g
		sq += (g >> 10) * (g >> 10)
		if i == 0 || g < lo {
			lo = g
		}
		hi = max(hi, g)
	}
	m := iatMoments(2000, sum, sq, lo, hi)
	if m.Mean() != exact.Mean() || m.Min != exact.Min || m.Max != exact.Max {
		t.Errorf("mean/min/max %v/%v/%v, want %v/%v/%v", m.Mean(), m.Min, m.Max, exact.Mean(), exact.Min, exact.Max)
	}
	if rel := math.Abs(m.Std()-exact.Std()) / exact.Std(); rel > 0.02 {
		t.Errorf("std %v, want %v (off by %.1f %%)", m.Std(), exact.Std(), 100*rel)
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
