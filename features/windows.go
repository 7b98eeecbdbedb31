package features

import (
	"encoding/binary"
	"math"
	"net/netip"
	"time"

	"github.com/flowhawk/flowhawk/collector"
)

// WindowValues are the NSL-KDD-style window features of one flow, computed
// by Windows.Observe and passed to Extractor.Fill. Counts are whole
// numbers stored as float64, at least 1 because a flow is in its own
// windows; rates are in [0, 1].
type WindowValues struct {
	// Time window (connections that started in the 2 s up to this one's start).
	Count, SrvCount                           float64
	SErrorRate, SrvSErrorRate                 float64
	RErrorRate, SrvRErrorRate                 float64
	SameSrvRate, DiffSrvRate, SrvDiffHostRate float64
	// Connection window (the last 100 connections, this one included).
	DstHostCount, DstHostSrvCount                  float64
	DstHostSameSrvRate, DstHostDiffSrvRate         float64
	DstHostSameSrcPortRate, DstHostSrvDiffHostRate float64
	DstHostSErrorRate, DstHostSrvSErrorRate        float64
	DstHostRErrorRate, DstHostSrvRErrorRate        float64
}

// DefaultSpan is KDD's time window, the default WindowConfig.Span.
const DefaultSpan = 2 * time.Second

// WindowConfig bounds the windows; zero fields take the defaults.
type WindowConfig struct {
	// Span is the time window (default DefaultSpan).
	Span time.Duration
	// Conns is the connection window (default 100).
	Conns int
	// Horizon is how far behind the latest start observed a connection
	// is still held for the time windows of flows observed after it
	// (default: the flow table's default idle timeout, 120 s, plus Span).
	// A table emits an unanswered SYN an idle timeout after it was sent,
	// so the pipeline sets its table's IdleTimeout plus Span: the flow
	// then still finds the connections that started in the Span before it.
	Horizon time.Duration
	// MaxSpanConns bounds the connections held for the time window
	// (default 1<<17: 11 MB at 85 bytes a connection, about 17 MB with the
	// series' spare room, Horizon's worth at 1,070 flows/s; 1<<18 took a
	// replay of a 4.4 GB capture from 269 to 331 MB, past the 300 MB the
	// pcap path keeps to); when it is reached the earliest-started are
	// dropped and counted in WindowStats.Dropped.
	MaxSpanConns int
}

// DefaultMaxSpanConns is WindowConfig.MaxSpanConns unless set: a replay of
// a multi-gigabyte capture stays under 300 MB with it.
const DefaultMaxSpanConns = 1 << 17

// WindowStats counts what the windows did.
type WindowStats struct {
	Observed uint64
	// Dropped counts connections let go of (or never kept) by the time
	// window's store before Horizon because it held MaxSpanConns.
	Dropped uint64
	// Truncated counts flows whose time window began before the earliest
	// start the store still covered (the flow was observed more than
	// Horizon - Span after the latest start, or after drops): their
	// time-window counts may miss connections.
	Truncated uint64
}

// conn is what the windows remember of one connection.
type conn struct {
	start      int64
	host       addr   // responder address
	srv        uint32 // protocol<<16 | responder port
	sport      uint16 // initiator port
	serr, rerr int32  // serr 1 in a SYN error state, rerr 1 if rejected, else 0: tallies add them
}

// addr is an IP address (As16) as two words, which compare in two
// instructions where a [16]byte comparison may call memequal.
type addr struct{ hi, lo uint64 }

func addrOf(a netip.Addr) addr {
	b := a.As16()
	return addr{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

type agg struct{ n, serr, rerr int32 }

func rate(a, b int32) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Windows computes the NSL-KDD time and connection window features. It is
// stateful and order dependent: call Observe once per flow, in flow
// emission order, from one goroutine (the one that receives the flow
// table's output), then hand the result to the worker that calls Fill.
//
// Definitions:
//
//   - The time window of a flow that started at s is the flow itself and
//     every flow observed before it whose start lies in [s - Span, s]:
//     anchored at the flow's own start, so a flow emitted long after it
//     started (an unanswered SYN, at the idle timeout) still counts the
//     connections that started just before it. Flows observed later do
//     not count, even if they started earlier: a flow is known once the
//     table emits it.
//   - Observed flows are held while they started no earlier than the
//     cutoff: the start of the millisecond (quantum, see NewWindows) that
//     holds latest - Horizon, latest being the latest start observed.
//     When MaxSpanConns are held, the cutoff moves past the earliest
//     millisecond held, dropping its flows. A time window that reaches
//     before the cutoff counts only what is held (WindowStats.Truncated).
//   - The connection window of a flow is the last Conns flows observed,
//     the flow itself included.
//   - Counts include the flow, as NSL-KDD's do, so they are at least 1.
//   - Same host means the same responder address; same service means the
//     same protocol and responder port; serror means the flow's state
//     (FlowState, final when it was emitted) is a SYN error (ConnState.SError),
//     rerror that it is a rejection (ConnState.RError).
//
// Memory is bounded: a ring of Conns flows and its per-key tallies; series by start, per host (split by service
// for a host with a busy window) and per service, of at most MaxSpanConns
// flows held plus those behind the cutoff not let go of yet (see
// minSweep); and counts of the held flows per quantum of start time.
type Windows struct {
	span, horizon int64
	maxHeld       int
	latest        int64   // latest start observed
	quantum       int64   // time unit of the cutoff
	cut           int64   // the cutoff in quanta
	held          int     // flows held: the sum of perQ
	perQ          []int32 // flows held by quantum of start, a ring from cut
	sinceSweep    int
	minSweep      int
	hosts         keyed[addr]
	srvs          keyed[uint32]
	ring          []conn
	ringNext      int
	ringLen       int
	ringCnt       tally
	stats         WindowStats
}

// NewWindows returns empty windows. The cutoff moves in quanta of 1 ms,
// or of Horizon / 2^17 when that is longer, so its ring of counts stays
// under 512 KB.
func NewWindows(cfg WindowConfig) *Windows {
	if cfg.Span <= 0 {
		cfg.Span = DefaultSpan
	}
	if cfg.Conns <= 0 {
		cfg.Conns = 100
	}
	if cfg.Horizon <= 0 {
		cfg.Horizon = collector.DefaultTableConfig().IdleTimeout + cfg.Span
	}
	cfg.Horizon = max(cfg.Horizon, cfg.Span)
	if cfg.MaxSpanConns <= 0 {
		cfg.MaxSpanConns = DefaultMaxSpanConns
	}
	q := max(int64(time.Millisecond), int64(cfg.Horizon)>>17)
	w := &Windows{
		span:     int64(cfg.Span),
		horizon:  int64(cfg.Horizon),
		maxHeld:  cfg.MaxSpanConns,
		latest:   math.MinInt64,
		quantum:  q,
		cut:      math.MinInt64,
		perQ:     make([]int32, int64(cfg.Horizon)/q+2),
		minSweep: minSweep,
		hosts:    make(keyed[addr], 64),
		srvs:     make(keyed[uint32], 64),
		ring:     make([]conn, cfg.Conns),
		ringCnt:  newTally(cfg.Conns),
	}
	return w
}

// Stats returns the counters so far.
func (w *Windows) Stats() WindowStats { return w.stats }

// Observe adds f to the windows and returns its window features.
func (w *Windows) Observe(f *collector.Flow) WindowValues {
	w.stats.Observed++
	st := FlowState(f)
	dst := f.Dst()
	c := conn{start: f.Start, host: addrOf(dst.Addr), srv: serviceKey(f), sport: f.Src().Port, serr: b2i(st.SError()), rerr: b2i(st.RError())}
	w.latest = max(w.latest, c.start)
	w.moveCut(floorDiv(w.latest-w.horizon, w.quantum))
	q := floorDiv(c.start, w.quantum)
	keep := q >= w.cut
	for keep && w.held >= w.maxHeld {
		first := w.cut
		for w.perQ[w.slot(first)] == 0 {
			first++
		}
		w.stats.Dropped += uint64(w.perQ[w.slot(first)])
		w.moveCut(first + 1)
		if keep = q >= w.cut; !keep {
			w.stats.Dropped++
		}
	}
	cutoff := w.cut * w.quantum
	lo := c.start - w.span
	if lo < cutoff {
		w.stats.Truncated++
		lo = cutoff
	}
	if w.sinceSweep++; w.sinceSweep >= max(w.minSweep, len(w.hosts)+len(w.srvs)) {
		w.hosts.sweep(cutoff)
		w.srvs.sweep(cutoff)
		w.sinceSweep = 0
	}

	// The time window: the held flows of f's host and service that
	// started in [lo, f.start], then f itself.
	h, s := agg{1, c.serr, c.rerr}, agg{1, c.serr, c.rerr}
	var same int32
	if keep {
		w.perQ[w.slot(q)]++
		w.held++
		x := ent{c.start, uint32(c.serr), uint32(c.rerr), c.srv}
		hs := w.hosts[c.host]
		a, n := hs.observe(lo, x, cutoff, true)
		w.hosts[c.host] = hs
		ss := w.srvs[c.srv]
		b, _ := ss.observe(lo, x, cutoff, false)
		w.srvs[c.srv] = ss
		h, s, same = h.plus(a), s.plus(b), n
	} else {
		if hs, ok := w.hosts[c.host]; ok {
			a, n := hs.count(lo, c.start, c.srv, true)
			h, same = h.plus(a), n
		}
		if ss, ok := w.srvs[c.srv]; ok {
			b, _ := ss.count(lo, c.start, 0, false)
			s = s.plus(b)
		}
	}
	same++
	var v WindowValues
	v.Count, v.SrvCount = float64(h.n), float64(s.n)
	v.SErrorRate, v.RErrorRate = rate(h.serr, h.n), rate(h.rerr, h.n)
	v.SrvSErrorRate, v.SrvRErrorRate = rate(s.serr, s.n), rate(s.rerr, s.n)
	v.SameSrvRate, v.DiffSrvRate = rate(same, h.n), rate(h.n-same, h.n)
	v.SrvDiffHostRate = rate(s.n-same, s.n)

	// The connection window: add f, dropping the oldest, then tally.
	if w.ringLen == len(w.ring) {
		w.ringCnt.window(&w.ring[w.ringNext], -1)
	} else {
		w.ringLen++
	}
	w.ring[w.ringNext] = c
	w.ringNext = (w.ringNext + 1) % len(w.ring)
	h, s, same, sport := w.ringCnt.window(&c, 1)
	v.DstHostCount, v.DstHostSrvCount = float64(h.n), float64(s.n)
	v.DstHostSameSrvRate, v.DstHostDiffSrvRate = rate(same, h.n), rate(h.n-same, h.n)
	v.DstHostSameSrcPortRate = rate(sport, h.n)
	v.DstHostSrvDiffHostRate = rate(s.n-same, s.n)
	v.DstHostSErrorRate, v.DstHostRErrorRate = rate(h.serr, h.n), rate(h.rerr, h.n)
	v.DstHostSrvSErrorRate, v.DstHostSrvRErrorRate = rate(s.serr, s.n), rate(s.rerr, s.n)
	return v
}

// serviceKey is a flow's service for the windows: its protocol and
// responder port, or for ICMP and ICMPv6 (whose flows have no ports) its
// KDD service (eco_i, ecr_i, urp_i, ...), so echo requests, replies and
// unreachables are not one service as they would be by port.
func serviceKey(f *collector.Flow) uint32 {
	switch p := f.Key.Proto; p {
	case 1, 58:
		return uint32(p)<<16 | uint32(icmpServiceID(f.ICMPType, p == 58))
	default:
		return uint32(p)<<16 | uint32(f.Dst().Port)
	}
}

func (a agg) plus(b agg) agg { return agg{a.n + b.n, a.serr + b.serr, a.rerr + b.rerr} }

// minSweep is the fewest observations between two sweeps of the series:
// a sweep visits every series, so it runs once per as many observations
// as there are series, and the entries it lets go of are at most those
// that fell behind the cutoff since the last.
const minSweep = 1 << 16

// moveCut moves the cutoff forward to quantum c, letting go of the counts
// behind it.
func (w *Windows) moveCut(c int64) {
	if c <= w.cut {
		return
	}
	if w.held == 0 || c-w.cut >= int64(len(w.perQ)) {
		clear(w.perQ)
		w.held = 0
	} else {
		for q := w.cut; q < c; q++ {
			w.held -= int(w.perQ[w.slot(q)])
			w.perQ[w.slot(q)] = 0
		}
	}
	w.cut = c
}

// slot is quantum q's index in perQ.
func (w *Windows) slot(q int64) int {
	n := int64(len(w.perQ))
	return int((q%n + n) % n)
}

// floorDiv is a / b rounded down, for a of any sign and b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}
