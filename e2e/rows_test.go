//go:build linux

package e2e

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/features"
)

// flowPair is one flow as both paths recorded it.
type flowPair struct{ k, p *collector.Flow }

// expect is what the kernel path's row is compared with: the pcap path's
// flow and row, or, for a column the kernel's counter path takes from the
// samples, the flow made of the pcap path's first N packets and its row.
type expect struct {
	f   *collector.Flow
	row *features.Row
	// kf is the kernel path's flow; order the pcap path's samples in
	// the kernel's order (docs/kernel.md: packets of opposite
	// directions microseconds apart can cross).
	kf    *collector.Flow
	order []collector.Sample
}

// rowTolerance is how far the kernel path's feature columns may be from
// the pcap path's, from the run's timestamp differences.
type rowTolerance struct {
	worst time.Duration // largest first/last packet time difference of the run
	gap   time.Duration // allowed difference of a time or gap statistic
}

// colDiff is one column of one flow that differs beyond its tolerance.
type colDiff struct {
	col  string
	key  collector.Key
	k, p string
	why  string
}

// compareFeatureRows fills the feature rows of every flow both paths saw
// (pairs in the pcap path's emission order) and compares them column by
// column, by each column's Basis in the registry: Counted columns exactly,
// Timed ones within tol, window columns exactly with both sides observed
// in the same order (the pcap path's), except where docs/kernel.md says
// why they may differ.
func compareFeatureRows(t testing.TB, pairs []flowPair, kernelOrder []*collector.Flow, tol rowTolerance) {
	t.Helper()
	if len(pairs) == 0 {
		// Every column would pass: a test whose capture saw nothing
		// (tcpdump or the kernel source started late, a filter that
		// matches nothing) must not pass as a comparison.
		t.Errorf("feature rows: no flow seen by both paths, nothing to compare")
		return
	}
	began := time.Now()
	splt := 1
	for _, fp := range pairs {
		splt = max(splt, len(fp.p.Samples))
	}
	x, err := features.New(features.Config{SPLT: splt, Extras: true, Windows: true})
	if err != nil {
		t.Fatalf("features: %v", err)
	}
	cols := x.Columns()
	cmp := make([]func(w *expect, k *features.Row, i int) (bool, string), len(cols))
	for i := range cols {
		c, err := columnComparer(&cols[i], tol)
		if err != nil {
			t.Fatalf("cannot compare the paths on column %q: %v", cols[i].Name, err)
		}
		cmp[i] = c
	}
	// Window features: both sides observed in one order, the pcap path's,
	// each with its own flows (their start, responder, service, state).
	// The order itself is the drain's business, documented to differ at the
	// end of a capture (docs/features.md, Kernel path), which is where
	// every e2e test stops; checked on its own below, informationally.
	wk, wp := features.NewWindows(features.WindowConfig{}), features.NewWindows(features.WindowConfig{})
	edge := spanEdges(pairs, 2*tol.worst)
	sampled := make([]bool, len(cols))
	for i := range cols {
		sampled[i] = fromSamples(&cols[i])
	}
	rk, rp, rn, rs := x.NewRow(), x.NewRow(), x.NewRow(), x.NewRow()
	var diffs []colDiff
	checked, counter, reordered := 0, 0, 0
	for n, fp := range pairs {
		wvk, wvp := wk.Observe(fp.k), wp.Observe(fp.p)
		x.Fill(fp.k, &wvk, rk)
		x.Fill(fp.p, &wvp, rp)
		order, moved := reorderedSamples(fp.k.Samples, fp.p.Samples, tol.gap)
		if !moved {
			order = fp.p.Samples
		}
		full, firstN := &expect{fp.p, rp, fp.k, order}, (*expect)(nil)
		if fp.k.FromCounters {
			counter++
			pn := firstPackets(t, fp.p)
			x.Fill(pn, &wvp, rn)
			pooledShapes(cols, fp.p, pn, rn)
			firstN = &expect{pn, rn, fp.k, order}
		}
		var splt *expect
		if moved {
			// docs/kernel.md: packets of opposite directions
			// microseconds apart, in another order in the kernel's
			// samples: the SPLT columns follow the kernel's order.
			reordered++
			t.Logf("%v: packets in another order in the kernel's samples: %s", fp.p.Key, describeOrder(fp.p.Samples, order))
			ps := *fp.p
			ps.Samples = order
			x.Fill(&ps, &wvp, rs)
			splt = &expect{&ps, rs, fp.k, order}
		}
		for i := range cols {
			c := &cols[i]
			checked++
			if c.Basis == features.SpanWindow && edge[n] {
				// docs/kernel.md: another flow started within the
				// timestamp difference of this one's window edge.
				continue
			}
			w := full
			if firstN != nil && sampled[i] {
				w = firstN
			}
			if splt != nil && c.Group == features.GroupSPLT {
				w = splt
			}
			if ok, why := cmp[i](w, rk, i); !ok {
				if w == firstN {
					why += " (counter path: compared with the first N packets)"
				}
				diffs = append(diffs, colDiff{c.Name, fp.p.Key, cell(c, rk, i), cell(c, w.row, i), why})
			}
		}
	}
	byCol := map[string][]colDiff{}
	var order []string
	for _, d := range diffs {
		if byCol[d.col] == nil {
			order = append(order, d.col)
		}
		byCol[d.col] = append(byCol[d.col], d)
	}
	for _, col := range order {
		ds := byCol[col]
		var ex []string
		for _, d := range ds[:min(len(ds), 3)] {
			ex = append(ex, fmt.Sprintf("%v: kernel %s, pcap %s%s", d.key, d.k, d.p, d.why))
		}
		t.Errorf("feature column %q differs in %d of %d flows: %s", col, len(ds), len(pairs), strings.Join(ex, "; "))
	}
	windowOrderReport(t, x, pairs, kernelOrder)
	t.Logf("feature rows: %d columns of %d flows compared (%d values, %d flows from the kernel's counters, %d with packets of opposite directions reordered) in %v, %d differ beyond tolerance; %d flows' span-window columns skipped at a window edge",
		len(cols), len(pairs), checked, counter, reordered, time.Since(began).Round(time.Microsecond), len(diffs), countTrue(edge))
}

// windowOrderReport logs how many flows would get other window values if
// the kernel path's own emission order fed its windows: that order
// differs from the table's at the end of a capture by design.
func windowOrderReport(t testing.TB, x *features.Extractor, pairs []flowPair, kernelOrder []*collector.Flow) {
	t.Helper()
	wp := features.NewWindows(features.WindowConfig{})
	want := make(map[collector.Key]features.WindowValues, len(pairs))
	for _, fp := range pairs {
		want[fp.p.Key] = wp.Observe(fp.p)
	}
	wk := features.NewWindows(features.WindowConfig{})
	differ := 0
	for _, f := range kernelOrder {
		wv := wk.Observe(f)
		if w, ok := want[f.Key]; ok && w != wv {
			differ++
		}
	}
	t.Logf("window features in each path's own emission order: %d of %d flows differ", differ, len(pairs))
}

func countTrue(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

// spanEdges marks the flows whose time window may hold another flow on
// one path and not on the other: a flow observed before it whose start
// (pcap) lies within eps of either end of its window, [start - Span,
// start]. Each path's starts are within half of eps of the other's.
func spanEdges(pairs []flowPair, eps time.Duration) []bool {
	edge := make([]bool, len(pairs))
	span := int64(features.DefaultSpan)
	e := int64(eps)
	for i := range pairs {
		s := pairs[i].p.Start
		for j := range pairs[:i] {
			sj := pairs[j].p.Start
			if abs64(sj-(s-span)) <= e || abs64(sj-s) <= e {
				edge[i] = true
				break
			}
		}
	}
	return edge
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func cell(c *features.Column, r *features.Row, i int) string {
	if c.Kind == features.String {
		return fmt.Sprintf("%q", r.Text(i))
	}
	return fmt.Sprintf("%v", r.Num[i])
}

// columnComparer decides from a column's registry definition how the two
// paths are compared on it; an error means the definition does not say,
// and the test stops rather than skip the column.
func columnComparer(c *features.Column, tol rowTolerance) (func(w *expect, k *features.Row, i int) (bool, string), error) {
	switch c.Basis {
	case features.Counted, features.SpanWindow, features.ConnWindow:
		if c.Kind == features.String {
			return func(w *expect, k *features.Row, i int) (bool, string) {
				return string(k.Str[i]) == string(w.row.Str[i]), ""
			}, nil
		}
		if shapeStat(c.Formula) != nil {
			// The counter path rebuilds third and fourth power sums from
			// a shape (collector's setHigher): the central moments taken
			// back from them cancel to about 1e-13 of the values.
			return func(w *expect, k *features.Row, i int) (bool, string) {
				a, b := k.Num[i], w.row.Num[i]
				return math.Abs(a-b) <= 1e-6*max(1, math.Abs(b)), ""
			}, nil
		}
		return func(w *expect, k *features.Row, i int) (bool, string) {
			return sameFloat(k.Num[i], w.row.Num[i]), ""
		}, nil
	case features.Timed:
	default:
		return nil, fmt.Errorf("basis %v", c.Basis)
	}
	gapUS := float64(tol.gap) / 1e3
	switch {
	case c.Kind == features.String:
		// The start time, written to the microsecond.
		const layout = "2006-01-02 15:04:05.000000"
		lim := tol.worst + time.Microsecond
		return func(w *expect, k *features.Row, i int) (bool, string) {
			tk, err1 := time.Parse(layout, k.Text(i))
			tp, err2 := time.Parse(layout, w.row.Text(i))
			if err1 != nil || err2 != nil {
				return false, fmt.Sprintf(" (unparsable: %v, %v)", err1, err2)
			}
			d := tk.Sub(tp).Abs()
			return d <= lim, fmt.Sprintf(" (%v apart, tolerance %v)", d, lim)
		}, nil
	case c.Unit == "us":
		return within(gapUS), nil
	case c.Unit == "s":
		return within(gapUS / 1e6), nil
	case strings.HasSuffix(c.Unit, "/s"):
		base, err := rateBase(c, tol)
		if err != nil {
			return nil, err
		}
		// v = count / T with the count exact and T within d: the
		// kernel's value lies in [v T/(T+d), v T/(T-d)].
		return func(w *expect, k *features.Row, i int) (bool, string) {
			Ti, di := base(w.f)
			T, d := float64(Ti), float64(di)
			vk, vp := k.Num[i], w.row.Num[i]
			if T <= d {
				return true, "" // the time base is within the tolerance of 0: any rate
			}
			lim := math.Abs(vp)*d/(T-d) + 1e-9*math.Abs(vp)
			return math.Abs(vk-vp) <= lim, fmt.Sprintf(" (time base %v, tolerance %.6g)", time.Duration(T), lim)
		}, nil
	case c.Unit == "":
		return gapShapeComparer(c, tol)
	}
	return nil, fmt.Errorf("timed column with unit %q: no tolerance for it", c.Unit)
}

// reorderedSamples reports whether the kernel's samples k are the pcap
// path's p in another order in which each direction keeps its own order
// and only packets of opposite directions at most eps apart in p have
// crossed, and returns p in k's order. TC egress stamps a packet before
// tcpdump's tap, once for all the segments of a GSO packet, and TC
// ingress after the tap, so packets of the two directions that close can
// come in either order (docs/kernel.md).
func reorderedSamples(k, p []collector.Sample, eps time.Duration) ([]collector.Sample, bool) {
	if len(k) != len(p) {
		return nil, false
	}
	var byDir [2][]int // p's indexes of each direction, in order
	for j := range p {
		byDir[p[j].Dir&1] = append(byDir[p[j].Dir&1], j)
	}
	perm := make([]int, len(k))
	for i := range k {
		d := k[i].Dir & 1
		if len(byDir[d]) == 0 {
			return nil, false
		}
		j := byDir[d][0]
		byDir[d] = byDir[d][1:]
		a, b := &k[i], &p[j]
		if a.Len != b.Len || a.Payload != b.Payload || a.Flags != b.Flags {
			return nil, false
		}
		perm[i] = j
	}
	moved := false
	for i := range perm {
		for i2 := i + 1; i2 < len(perm); i2++ {
			if perm[i] < perm[i2] {
				continue
			}
			// Crossed (of opposite directions, since each direction
			// keeps its order): they must be close in tcpdump's time.
			if abs64(p[perm[i]].Offset-p[perm[i2]].Offset) > int64(eps) {
				return nil, false
			}
			moved = true
		}
	}
	if !moved {
		return nil, false
	}
	out := make([]collector.Sample, len(k))
	for i, j := range perm {
		out[i] = p[j]
	}
	return out, true
}

// describeOrder names the stretch of p that order has in another order:
// lengths, directions and tcpdump's offsets, from the first packet that
// differs to the last.
func describeOrder(p, order []collector.Sample) string {
	lo, hi := -1, -1
	for i := range p {
		if p[i] != order[i] {
			if lo < 0 {
				lo = i
			}
			hi = i
		}
	}
	if lo < 0 {
		return "none"
	}
	one := func(s collector.Sample) string {
		d := ">"
		if s.Dir == collector.Bwd {
			d = "<"
		}
		return fmt.Sprintf("%s%d@%v", d, s.Len, time.Duration(s.Offset))
	}
	var a, b []string
	for i := lo; i <= hi; i++ {
		a = append(a, one(p[i]))
		b = append(b, one(order[i]))
	}
	return fmt.Sprintf("packets %d-%d tcpdump [%s], kernel [%s]", lo+1, hi+1, strings.Join(a, " "), strings.Join(b, " "))
}

// fromSamples reports whether the kernel's counter path takes a column
// from the flow's samples rather than its counters (docs/kernel.md, What
// the kernel keeps): skewness and kurtosis, and the bulk transfers.
func fromSamples(c *features.Column) bool {
	return shapeStat(c.Formula) != nil || strings.Contains(c.Formula, "bulk_")
}

// shapeStat returns the statistic of a skewness or kurtosis column, nil
// for other formulas.
func shapeStat(formula string) func(m *collector.Moments) float64 {
	switch formula {
	case "m3 / m2^1.5":
		return (*collector.Moments).Skewness
	case "m4 / m2^2 - 3":
		return (*collector.Moments).Kurtosis
	}
	return nil
}

// firstPackets rebuilds, with a flow table, the flow made of the pcap
// path's first N packets (its samples): what the kernel's counter path
// computes its sample-derived columns from.
func firstPackets(t testing.TB, p *collector.Flow) *collector.Flow {
	t.Helper()
	var out []*collector.Flow
	cfg := collector.DefaultTableConfig()
	cfg.Samples = len(p.Samples)
	tab := collector.NewTable(cfg, func(f *collector.Flow) { out = append(out, f) })
	for _, s := range p.Samples {
		pk := collector.Packet{Timestamp: p.Start + s.Offset, Key: p.Key, SrcIsLo: (s.Dir == collector.Fwd) == p.FwdIsLo,
			IPLen: s.Len, PayloadLen: s.Payload, TCPFlags: s.Flags}
		tab.Add(&pk)
	}
	tab.Flush()
	if len(out) != 1 || out[0].FwdIsLo != p.FwdIsLo {
		t.Fatalf("%v: the first %d packets make %d flows", p.Key, len(p.Samples), len(out))
	}
	return out[0]
}

// pooledShapes sets, in rn, the skewness and kurtosis of the payload
// lengths of both directions as the kernel's counter path has them: each
// direction's exact count, mean and variance with the shape of its first
// N packets (pn), pooled. The flow-level series of gaps is not pooled: the
// kernel's flow IAT takes its shape from the first N packets directly.
func pooledShapes(cols []features.Column, p, pn *collector.Flow, rn *features.Row) {
	type dirMoments struct{ n, mean, m2, m3, m4 float64 }
	var ds []dirMoments
	for _, d := range [][2]*collector.DirStats{{&p.Fwd, &pn.Fwd}, {&p.Bwd, &pn.Bwd}} {
		m, smp := &d[0].PayloadLen, &d[1].PayloadLen
		if m.N == 0 {
			continue
		}
		n := float64(m.N)
		mean := m.Mean()
		m2 := max(m.SumSquares()/n-mean*mean, 0)
		var g1, g2 float64
		if smp.N >= 3 {
			g1, g2 = smp.Skewness(), smp.Kurtosis()
		}
		ds = append(ds, dirMoments{n, mean, m2, g1 * m2 * math.Sqrt(m2), (g2 + 3) * m2 * m2})
	}
	var n, mean float64
	for _, d := range ds {
		n += d.n
		mean += d.n * d.mean
	}
	var M2, M3, M4 float64
	if n > 0 {
		mean /= n
		for _, d := range ds {
			e := d.mean - mean
			M2 += d.n * (d.m2 + e*e) / n
			M3 += d.n * (d.m3 + 3*e*d.m2 + e*e*e) / n
			M4 += d.n * (d.m4 + 4*e*d.m3 + 6*e*e*d.m2 + e*e*e*e) / n
		}
	}
	flat := M2 <= 1e-12*max(1, mean*mean+M2)
	for i := range cols {
		c := &cols[i]
		if c.Basis != features.Counted || c.Dir != features.Flow || shapeStat(c.Formula) == nil {
			continue
		}
		v := 0.0
		switch {
		case flat:
		case c.Formula == "m3 / m2^1.5" && n >= 3:
			v = M3 / (M2 * math.Sqrt(M2))
		case c.Formula == "m4 / m2^2 - 3" && n >= 4:
			v = M4/(M2*M2) - 3
		}
		rn.Num[i] = v
	}
}

func within(lim float64) func(w *expect, k *features.Row, i int) (bool, string) {
	return func(w *expect, k *features.Row, i int) (bool, string) {
		return math.Abs(k.Num[i]-w.row.Num[i]) <= lim, fmt.Sprintf(" (tolerance %.6g)", lim)
	}
}

// sameFloat is equality up to float64 rounding of sums taken in another
// order (the kernel's sums against the table's).
func sameFloat(a, b float64) bool {
	if a == b {
		return true
	}
	return math.Abs(a-b) <= 1e-9*max(math.Abs(a), math.Abs(b))
}

// rateBase returns, from a rate column's formula, the time it divides by
// and how far the kernel path's may be from it: the flow's duration is
// the difference of two times each within the run's largest first/last
// difference; the bulk time is a sum of one span per bulk, each within
// the tolerance of a gap.
func rateBase(c *features.Column, tol rowTolerance) (func(f *collector.Flow) (time.Duration, time.Duration), error) {
	switch {
	case strings.HasSuffix(c.Formula, "/ bulk_duration"):
		return func(f *collector.Flow) (time.Duration, time.Duration) {
			ds := dirOf(f, c.Dir)
			return time.Duration(ds.BulkDuration), time.Duration(ds.BulkCount) * tol.gap
		}, nil
	case strings.HasSuffix(c.Formula, "/ duration"):
		return func(f *collector.Flow) (time.Duration, time.Duration) {
			return time.Duration(f.Duration()), 2*tol.worst + time.Microsecond
		}, nil
	}
	return nil, fmt.Errorf("rate formula %q: no time base known", c.Formula)
}

func dirOf(f *collector.Flow, d features.Direction) *collector.DirStats {
	if d == features.Bwd {
		return &f.Bwd
	}
	return &f.Fwd
}

// gapShapeComparer compares the skewness or kurtosis of a series of gaps
// (Timed, dimensionless). The shape of gaps microseconds long moves far
// when each moves by microseconds, so rather than bound the statistic the
// comparison checks what it is made of: each gap of the kernel's samples
// within the gap tolerance of the pcap path's (in the kernel's order),
// and, where the kernel's value describes exactly its samples (every
// packet sampled, or the counter path's first N packets), that value is
// the statistic of those gaps. A replayed flow with more packets than
// samples (a GSO sample stands for several) gets the first check only.
func gapShapeComparer(c *features.Column, tol rowTolerance) (func(w *expect, k *features.Row, i int) (bool, string), error) {
	stat := shapeStat(c.Formula)
	if stat == nil {
		return nil, fmt.Errorf("dimensionless timed column with formula %q: not a known shape statistic", c.Formula)
	}
	lim := float64(tol.gap)
	return func(w *expect, k *features.Row, i int) (bool, string) {
		gk, gp := sampleGaps(w.kf.Samples, c.Dir), sampleGaps(w.order, c.Dir)
		if len(gk) != len(gp) {
			return false, fmt.Sprintf(" (%d gaps in the kernel's samples, %d in the pcap path's)", len(gk), len(gp))
		}
		for j := range gk {
			if math.Abs(gk[j]-gp[j]) > lim {
				return false, fmt.Sprintf(" (gap %d of the samples: kernel %v, pcap %v, tolerance %v)", j+1, time.Duration(gk[j]), time.Duration(gp[j]), tol.gap)
			}
		}
		if w.kf.FromCounters || w.kf.Packets() == uint64(len(w.kf.Samples)) {
			want := shapeOf(gk, stat)
			return math.Abs(k.Num[i]-want) <= 1e-6*max(1, math.Abs(want)), fmt.Sprintf(" (the kernel's sample gaps give %.6g)", want)
		}
		return true, ""
	}, nil
}

// sampleGaps returns the gaps a Flow.Add of the samples gives: between
// consecutive packets of the direction d (all packets for features.Flow),
// each from the latest earlier time, 0 when older.
func sampleGaps(s []collector.Sample, d features.Direction) []float64 {
	var gaps []float64
	var latest int64
	seen := false
	for _, x := range s {
		if d == features.Fwd && x.Dir != collector.Fwd || d == features.Bwd && x.Dir != collector.Bwd {
			continue
		}
		if seen {
			gaps = append(gaps, float64(max(x.Offset-latest, 0)))
		}
		if !seen || x.Offset > latest {
			latest = x.Offset
		}
		seen = true
	}
	return gaps
}

func shapeOf(xs []float64, stat func(*collector.Moments) float64) float64 {
	var m collector.Moments
	for _, v := range xs {
		m.Add(v)
	}
	if v := stat(&m); v-v == 0 {
		return v
	}
	return 0
}

// TestRowComparisonExceptions checks, without root, the exceptions
// compareFeatureRows makes: packets of opposite directions close in time
// in another order, and a flow at a window edge; that it makes no more;
// and that it fails when there is nothing to compare.
func TestRowComparisonExceptions(t *testing.T) {
	s := func(off int64, dir collector.Dir, l uint32) collector.Sample {
		return collector.Sample{Offset: off, Len: l, Dir: dir}
	}
	fwd, bwd := collector.Fwd, collector.Bwd
	p := []collector.Sample{s(0, fwd, 60), s(100e3, fwd, 52), s(100e3+3e3, bwd, 52)}
	k := []collector.Sample{p[0], p[2], p[1]}
	if got, ok := reorderedSamples(k, p, 10*time.Microsecond); !ok || got[1] != p[2] || got[2] != p[1] {
		t.Errorf("3 us apart, opposite directions: swap not allowed (%v %v)", got, ok)
	}
	if _, ok := reorderedSamples(k, p, time.Microsecond); ok {
		t.Errorf("3 us apart with 1 us of tolerance: swap allowed")
	}
	if _, ok := reorderedSamples(p, p, time.Microsecond); ok {
		t.Errorf("same order reported as reordered")
	}
	q := []collector.Sample{p[0], p[1], s(100e3+3e3, fwd, 40)}
	if _, ok := reorderedSamples([]collector.Sample{q[0], q[2], q[1]}, q, time.Millisecond); ok {
		t.Errorf("two packets of one direction reordered: allowed")
	}
	// An ACK before the three segments of a GSO packet in tcpdump's file,
	// after them in the kernel's samples (TC egress stamps the GSO packet
	// once, before its segments reach tcpdump's tap).
	g := []collector.Sample{s(0, fwd, 60), s(50e3, fwd, 52), s(52e3, bwd, 1500), s(53e3, bwd, 1500), s(54e3, bwd, 1252), s(90e3, fwd, 40)}
	gk := []collector.Sample{g[0], g[2], g[3], g[4], g[1], g[5]}
	if got, ok := reorderedSamples(gk, g, 10*time.Microsecond); !ok || !slices.Equal(got, gk) {
		t.Errorf("ACK after a GSO packet's segments: not allowed (%v %v)", got, ok)
	}
	if _, ok := reorderedSamples(gk, g, 3*time.Microsecond); ok {
		t.Errorf("ACK 4 us from the last segment it crossed, 3 us of tolerance: allowed")
	}
	bad := []collector.Sample{g[0], g[2], g[3], g[4], g[5], g[1]}
	if _, ok := reorderedSamples(bad, g, 10*time.Microsecond); ok {
		t.Errorf("one direction's packets in another order: allowed")
	}
	var rec failRecorder
	compareFeatureRows(&rec, nil, nil, rowTolerance{gap: time.Millisecond})
	if len(rec.errs) == 0 {
		t.Errorf("no flows to compare: passed")
	}
	f := func(start int64) flowPair { return flowPair{p: &collector.Flow{Start: start}} }
	span := int64(features.DefaultSpan)
	got := spanEdges([]flowPair{f(0), f(span + 50e3), f(span + 500e3), f(span + 500e3 + 20e3)}, 100*time.Microsecond)
	if want := []bool{false, true, false, true}; !slices.Equal(got, want) {
		t.Errorf("window edges %v, want %v", got, want)
	}
}

// failRecorder is a testing.TB that records errors, to check what
// compareFeatureRows reports.
type failRecorder struct {
	testing.TB
	errs []string
}

func (r *failRecorder) Helper()                   {}
func (r *failRecorder) Logf(string, ...any)       {}
func (r *failRecorder) Errorf(f string, a ...any) { r.errs = append(r.errs, fmt.Sprintf(f, a...)) }
func (r *failRecorder) Fatalf(f string, a ...any) {
	r.errs = append(r.errs, fmt.Sprintf(f, a...))
	runtime.Goexit()
}
