package detect

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/flowhawk/flowhawk/collector"
)

// topTalkers sums, per host and tumbling window, the packets and IP bytes
// it sent, from flow records (each direction to its sender; a record
// counts in the window where it ends). At the end of a window with at
// least TopMinHosts hosts, a host whose bytes or packets exceed
// mean + K·σ of the OTHER hosts (leave-one-out, since one giant talker
// inflates σ so much that with n hosts its own z-score can never pass
// (n-1)/√n) and the absolute floors raises toptalkers.
//
// The flow table hands a record over up to its idle timeout after the
// record ends, so a window is judged only once the packet clock is the
// engine's flow delay past its end: the result does not depend on when
// records arrive. Until then the tallies of every window awaiting
// judgment share one table of MaxHosts entries per such window
// (pendingWindows): bounded by MaxHosts alone, it left each of the four
// windows pending at the defaults a quarter of it.
type topTalkers struct {
	e    *Engine
	size int64
	// open is the start of the oldest window not yet judged: a record
	// that ends before it (one held back past the flow delay) counts in
	// it; judged says it is set (0 is a window of 1970).
	open   int64
	judged bool // open is set: a window was judged
	hosts  *bounded[talkerKey, talker]
	due    []talkerRef // scratch for tick
}

// talkerKey is a host's tally in one window, by the window's start.
type talkerKey struct {
	win int64
	h   addr
}

type talkerRef struct {
	k talkerKey
	t *talker
}

type talker struct {
	packets, bytes uint64
	flows          [4]uint64
	nflows         int
	first, last    int64
}

func newTopTalkers(e *Engine) *topTalkers {
	d := &topTalkers{
		e:     e,
		size:  e.cfg.TopWindow.Nanoseconds(),
		hosts: newBounded[talkerKey](e.cfg.MaxHosts, func(t *talker) uint64 { return t.bytes }),
	}
	d.resize()
	return d
}

// pendingWindows is how many windows hold tallies at once: the one
// records are ending in, and those that ended less than the flow delay
// ago, awaiting judgment.
func (d *topTalkers) pendingWindows() int {
	return int((d.e.flowDelay+d.size-1)/d.size) + 1
}

// resize bounds the tallies at MaxHosts per pending window, so each
// window may hold --detect-max-hosts hosts (the flow delay is set after
// the detector is made).
func (d *topTalkers) resize() { d.hosts.max = d.e.cfg.MaxHosts * d.pendingWindows() }

func (d *topTalkers) flow(f *collector.Flow) {
	win := floorTo(f.End, d.size)
	if d.judged && win < d.open {
		win = d.open // its window was judged already
	}
	src, dst := f.Src(), f.Dst()
	for i, ds := range []*collector.DirStats{&f.Fwd, &f.Bwd} {
		if ds.Packets == 0 {
			continue
		}
		h := src.Addr
		if i == 1 {
			h = dst.Addr
		}
		t := d.hosts.upsert(talkerKey{win, h.As16()})
		t.packets += ds.Packets
		t.bytes += ds.Bytes
		if t.nflows < len(t.flows) {
			t.flows[t.nflows] = f.ID
			t.nflows++
		}
		if t.first == 0 || ds.First < t.first {
			t.first = ds.First
		}
		t.last = max(t.last, ds.Last)
	}
}

// outlier reports whether x exceeds mean + k·σ of the other n-1 values,
// given the sums s1, s2 over all n, and returns the z-score. Raw power
// sums cancel when one value dwarfs the rest (1e9 bytes among hosts of
// 1000: σ came out 0 or 2.6 by summation order), so this only screens
// candidates; leaveOneOut decides.
func outlier(x, s1, s2 float64, n int, k float64) (bool, float64) {
	m := float64(n - 1)
	mean := (s1 - x) / m
	v := (s2-x*x)/m - mean*mean
	sd := math.Sqrt(math.Max(v, 0))
	if sd == 0 {
		return x > mean, math.Inf(1)
	}
	z := (x - mean) / sd
	return z > k, z
}

// maxExact bounds the candidates judged by leaveOneOut per window (each
// costs two passes over the hosts); the rest keep outlier's verdict.
const maxExact = 32

// leaveOneOut returns the z-score of self's value against the mean and
// standard deviation of every other host's, computed in two passes:
// +Inf when the others do not vary and self is above them.
func leaveOneOut(hosts []talkerRef, self *talker, val func(*talker) float64) float64 {
	x := val(self)
	var sum float64
	n := 0
	for _, r := range hosts {
		if r.t != self {
			sum += val(r.t)
			n++
		}
	}
	mean := sum / float64(n)
	var ss float64
	for _, r := range hosts {
		if r.t != self {
			dv := val(r.t) - mean
			ss += dv * dv
		}
	}
	sd := math.Sqrt(ss / float64(n))
	if sd == 0 {
		if x > mean {
			return math.Inf(1)
		}
		return math.NaN()
	}
	return (x - mean) / sd
}

func talkerBytes(t *talker) float64   { return float64(t.bytes) }
func talkerPackets(t *talker) float64 { return float64(t.packets) }

// tick judges the windows whose records can no longer arrive: those that
// ended at least the flow delay before prev, the packet clock before the
// input being handled (whose own packet may still end older flows in the
// table), or every window when final.
func (d *topTalkers) tick(prev int64, final bool) {
	cutoff := int64(math.MaxInt64)
	if !final {
		cutoff = floorTo(prev-d.e.flowDelay, d.size) // windows starting before it have ended
		if d.judged && cutoff <= d.open {
			return
		}
		d.open, d.judged = cutoff, true
	}
	d.due = d.due[:0]
	for k, t := range d.hosts.m {
		if k.win < cutoff {
			d.due = append(d.due, talkerRef{k, t})
		}
	}
	if len(d.due) == 0 {
		return
	}
	// By window, then host: the sums and the alerts do not depend on the
	// map's order.
	slices.SortFunc(d.due, func(a, b talkerRef) int {
		if c := cmp.Compare(a.k.win, b.k.win); c != 0 {
			return c
		}
		return slices.Compare(a.k.h[:], b.k.h[:])
	})
	var out []*Alert
	for i := 0; i < len(d.due); {
		j := i + 1
		for j < len(d.due) && d.due[j].k.win == d.due[i].k.win {
			j++
		}
		out = d.judge(d.due[i:j], out)
		i = j
	}
	for _, r := range d.due {
		d.hosts.remove(r.k)
	}
	clear(d.due)
	d.e.raiseAll(out)
}

// judge appends the alerts of one window's hosts to out.
func (d *topTalkers) judge(hosts []talkerRef, out []*Alert) []*Alert {
	c := &d.e.cfg
	n := len(hosts)
	if n < max(c.TopMinHosts, 2) {
		return out
	}
	var b1, b2, p1, p2 float64
	for _, r := range hosts {
		b, p := float64(r.t.bytes), float64(r.t.packets)
		b1, b2, p1, p2 = b1+b, b2+b*b, p1+p, p2+p*p
	}
	// Screen with the sums at half the threshold, then judge the largest
	// candidates exactly.
	type cand struct {
		h      addr
		t      *talker
		zb, zp float64
	}
	var cands []cand
	for _, r := range hosts {
		t := r.t
		ob, zb := outlier(float64(t.bytes), b1, b2, n, c.TopK/2)
		op, zp := outlier(float64(t.packets), p1, p2, n, c.TopK/2)
		if ob && t.bytes >= c.TopMinBytes || op && t.packets >= c.TopMinPackets {
			cands = append(cands, cand{r.k.h, t, zb, zp})
		}
	}
	slices.SortStableFunc(cands, func(a, b cand) int { return cmp.Compare(b.t.bytes, a.t.bytes) })
	for i, cd := range cands {
		t, zb, zp := cd.t, cd.zb, cd.zp
		if i < maxExact {
			zb, zp = leaveOneOut(hosts, t, talkerBytes), leaveOneOut(hosts, t, talkerPackets)
		}
		// Also at least twice the others' mean: alike hosts (cameras at
		// one bit rate, replicas) have a tiny spread, over which a host
		// 2 % above them scored z 59 ("far above the other 29 hosts").
		mb, mp := (b1-float64(t.bytes))/float64(n-1), (p1-float64(t.packets))/float64(n-1)
		ob := zb > c.TopK && t.bytes >= c.TopMinBytes && float64(t.bytes) >= minTalkerRatio*mb
		op := zp > c.TopK && t.packets >= c.TopMinPackets && float64(t.packets) >= minTalkerRatio*mp
		if !ob && !op {
			continue
		}
		a := &Alert{
			Time: t.last, First: t.first, Last: t.last, Detector: TopTalkers, Rule: "toptalkers", Severity: SevLow,
			Src: toNetip(cd.h), FlowIDs: append([]uint64(nil), t.flows[:t.nflows]...),
		}
		a.Message = fmt.Sprintf("%s sent %d bytes in %d packets in %v, far above the other %d hosts", a.Src, t.bytes, t.packets, c.TopWindow, n-1)
		a.Evidence = map[string]any{
			"window_s": c.TopWindow.Seconds(), "bytes": t.bytes, "packets": t.packets, "hosts": n, "k": c.TopK,
			"z_bytes": zscore(zb), "z_packets": zscore(zp),
			"mean_bytes_others": round3(mb),
		}
		out = append(out, a)
	}
	return out
}

// minTalkerRatio is how many times the other hosts' mean a top talker
// sends at least, whatever its z-score.
const minTalkerRatio = 2

// zscore keeps the evidence JSON encodable: an infinite z-score (the other
// hosts all sent the same, so no spread) is null, where a sentinel of -1
// read as a talker below the mean.
func zscore(x float64) any {
	if math.IsInf(x, 0) || math.IsNaN(x) {
		return nil
	}
	return round3(x)
}
