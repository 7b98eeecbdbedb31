package features

import (
	"math"
	"strconv"
	"time"

	"github.com/flowhawk/flowhawk/collector"
)

// def is a column definition with the code that computes it: keeping the
// name, doc and computation in one literal is what keeps them in step.
type def struct {
	Column
	num func(c *calc) float64
	str func(c *calc, b []byte) []byte
	// block, on the first of a run of numeric columns, computes the
	// blockLen columns of the run at once into num[:blockLen]: one call
	// in place of blockLen indirect calls, sharing what the columns have
	// in common. Each column of the run keeps its num, which
	// TestBlocksMatchColumns checks the block against.
	block    func(c *calc, num []float64)
	blockLen int
}

// withBlock sets fn as the block of the run defs (numeric columns).
func withBlock(defs []def, fn func(c *calc, num []float64)) []def {
	defs[0].block, defs[0].blockLen = fn, len(defs)
	return defs
}

// calc is the per-flow scratch shared by the column functions. It lives in
// Row so Fill does not allocate.
type calc struct {
	f        *collector.Flow
	wv       *WindowValues
	zero     WindowValues
	all      collector.Moments // payload lengths of both directions
	src, dst collector.Endpoint
	durS     float64 // duration in seconds
	state    ConnState
	// fid is the Flow ID text of this Fill, written before the address
	// columns, which copy their part of it rather than format again:
	// fid[:srcEnd] is the source address, fid[dstAt:dstEnd] the
	// destination. nil until appendFlowID runs.
	fid                   []byte
	srcEnd, dstAt, dstEnd int
	// ts caches the timestamp text up to the microseconds of second
	// tsSec, since consecutive flows mostly start in the same second.
	tsSec int64
	ts    []byte
	// latest is the latest sample offset among Samples[:latestN], for
	// spltGap, which the columns call in sample order.
	latest  int64
	latestN int
}

func (c *calc) init(f *collector.Flow, wv *WindowValues) {
	c.f = f
	if wv == nil {
		wv = &c.zero
	}
	c.wv = wv
	c.all = f.Fwd.PayloadLen
	c.all.Merge(&f.Bwd.PayloadLen)
	c.src, c.dst = f.Src(), f.Dst()
	c.durS = float64(f.Duration()) / 1e9
	c.state = FlowState(f)
	c.fid = nil
	c.latestN = 0
}

func (c *calc) appendSrc(b []byte) []byte {
	if c.fid != nil {
		return append(b, c.fid[:c.srcEnd]...)
	}
	return c.src.Addr.AppendTo(b)
}

func (c *calc) appendDst(b []byte) []byte {
	if c.fid != nil {
		return append(b, c.fid[c.dstAt:c.dstEnd]...)
	}
	return c.dst.Addr.AppendTo(b)
}

// appendStart appends the flow's start as appendTimestamp does, reusing
// the text up to the seconds when the previous flow of this row started
// in the same second.
func (c *calc) appendStart(b []byte) []byte {
	ns := c.f.Start
	if ns < 0 {
		return appendTimestamp(b, ns)
	}
	sec := ns / 1e9
	if c.ts == nil || sec != c.tsSec {
		c.ts = appendTimestamp(c.ts[:0], sec*1e9)
		c.ts = c.ts[:len(c.ts)-6] // drop the microseconds
		c.tsSec = sec
	}
	b = append(b, c.ts...)
	us := (ns - sec*1e9) / 1000
	for div := int64(100000); div > 0; div /= 10 {
		b = append(b, byte('0'+us/div%10))
	}
	return b
}

// us converts nanoseconds to microseconds, CIC's time unit.
func us(ns float64) float64 { return ns / 1e3 }

// perSecond is n per second of d seconds, 0 when d is 0 (the rate of a
// single instant is undefined; CICFlowMeter wrote Infinity or NaN).
func perSecond(n, d float64) float64 {
	if d <= 0 {
		return 0
	}
	return n / d
}

// ratio is a / b, 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *calc) dir(d Direction) *collector.DirStats {
	if d == Bwd {
		return &c.f.Bwd
	}
	return &c.f.Fwd
}

func (c *calc) urgent() float64 {
	return float64(c.f.Fwd.FlagCounts[5]) + float64(c.f.Bwd.FlagCounts[5])
}

// TimestampLayout is the layout of the Timestamp column: UTC with
// microseconds, which pandas.to_datetime and every CSV tool parse.
const TimestampLayout = "2006-01-02 15:04:05.000000"

// appendTimestamp formats ns as TimestampLayout, by hand because
// time.AppendFormat costs a sixth of Fill.
func appendTimestamp(b []byte, ns int64) []byte {
	t := time.Unix(0, ns).UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	if y < 0 || y > 9999 {
		return t.AppendFormat(b, TimestampLayout)
	}
	b = append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-')
	b = append2(b, int(mo), '-')
	b = append2(b, d, ' ')
	b = append2(b, h, ':')
	b = append2(b, mi, ':')
	b = append2(b, s, '.')
	us := t.Nanosecond() / 1000
	for div := 100000; div > 0; div /= 10 {
		b = append(b, byte('0'+us/div%10))
	}
	return b
}

func append2(b []byte, v int, sep byte) []byte {
	return append(b, byte('0'+v/10), byte('0'+v%10), sep)
}

// appendFlowID writes CIC's Flow ID "srcIP-dstIP-srcPort-dstPort-proto".
func (c *calc) appendFlowID(b []byte) []byte {
	start := len(b)
	b = c.src.Addr.AppendTo(b)
	c.srcEnd = len(b) - start
	b = append(b, '-')
	c.dstAt = len(b) - start
	b = c.dst.Addr.AppendTo(b)
	c.dstEnd = len(b) - start
	b = append(b, '-')
	b = strconv.AppendUint(b, uint64(c.src.Port), 10)
	b = append(b, '-')
	b = strconv.AppendUint(b, uint64(c.dst.Port), 10)
	b = append(b, '-')
	b = strconv.AppendUint(b, uint64(c.f.Key.Proto), 10)
	c.fid = b[start:]
	return b
}

// splt returns sample i (0-based) or nil when the flow has fewer packets.
func (c *calc) splt(i int) *collector.Sample {
	if i < len(c.f.Samples) {
		return &c.f.Samples[i]
	}
	return nil
}

// spltGap is sample i's gap from the latest packet time before it, as
// the Flow IAT columns take gaps: in a capture out of time order an
// earlier packet's gap is 0, and the next one's is counted from the
// latest, so the gaps add up to the duration of the samples.
func spltGap(c *calc, i int) float64 {
	s := c.splt(i)
	if s == nil || i == 0 {
		return 0
	}
	if c.latestN > i || c.latestN == 0 {
		c.latest, c.latestN = c.f.Samples[0].Offset, 1
	}
	for ; c.latestN < i; c.latestN++ {
		c.latest = max(c.latest, c.f.Samples[c.latestN].Offset)
	}
	return us(float64(max(s.Offset-c.latest, 0)))
}

// finite replaces NaN and Inf with 0 (used by readers and tests too).
func finite(v float64) float64 {
	if v != v || math.IsInf(v, 0) {
		return 0
	}
	return v
}
