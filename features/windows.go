package features

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/flowhawk/flowhawk/collector"
)

// WindowValues are the NSL-KDD-style window features of one flow, computed
// by Windows.Observe and passed to Extractor.Fill. Counts are whole
// numbers stored as float64, at least 1 because a flow is in its own
// windows; rates are in [0, 1].
type WindowValues struct {
	// Time window (connections that started in the last 2 s, this one included).
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

// WindowConfig bounds the windows; zero fields take the KDD defaults.
type WindowConfig struct {
	// Span is the time window (default 2 s).
	Span time.Duration
	// Conns is the connection window (default 100).
	Conns int
	// MaxSpanConns bounds the connections held for the time window
	// (default 65536); when a burst exceeds it the earliest-started are
	// dropped and counted in WindowStats.Dropped.
	MaxSpanConns int
}

// WindowStats counts what the windows did.
type WindowStats struct {
	Observed uint64
	// Dropped counts connections that left the time window early because
	// it held MaxSpanConns connections.
	Dropped uint64
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

type hostSrv struct {
	host addr
	srv  uint32
}

type hostPort struct {
	host addr
	port uint16
}

// counts keeps per-key tallies of the connections in one window, so a
// lookup costs a few map reads whatever the window size. hostSport is nil
// for the time window, which has no same-source-port feature.
type counts struct {
	host      map[addr]agg
	srv       map[uint32]agg
	hostSrv   map[hostSrv]int32
	hostSport map[hostPort]int32
}

func newCounts(n int, sport bool) counts {
	c := counts{host: make(map[addr]agg, n), srv: make(map[uint32]agg, n), hostSrv: make(map[hostSrv]int32, n)}
	if sport {
		c.hostSport = make(map[hostPort]int32, n)
	}
	return c
}

func bump(a agg, c *conn, d int32) agg {
	a.n += d
	a.serr += d * c.serr
	a.rerr += d * c.rerr
	return a
}

func (t *counts) add(c *conn, d int32) {
	if a := bump(t.host[c.host], c, d); a.n == 0 {
		delete(t.host, c.host)
	} else {
		t.host[c.host] = a
	}
	if a := bump(t.srv[c.srv], c, d); a.n == 0 {
		delete(t.srv, c.srv)
	} else {
		t.srv[c.srv] = a
	}
	hs := hostSrv{c.host, c.srv}
	if n := t.hostSrv[hs] + d; n == 0 {
		delete(t.hostSrv, hs)
	} else {
		t.hostSrv[hs] = n
	}
	if t.hostSport == nil {
		return
	}
	hp := hostPort{c.host, c.sport}
	if n := t.hostSport[hp] + d; n == 0 {
		delete(t.hostSport, hp)
	} else {
		t.hostSport[hp] = n
	}
}

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
// Definitions (W is the latest flow start observed so far, this flow's
// included; for flows emitted in start order W is this flow's start):
//
//   - The time window of a flow is the flow itself and every flow observed
//     before it whose start lies in [W - Span, W]. Flows emitted later do
//     not count, even if they started earlier: a flow is known once the
//     table emits it.
//   - The connection window of a flow is the last Conns flows observed,
//     the flow itself included.
//   - Counts include the flow, as NSL-KDD's do, so they are at least 1.
//   - Same host means the same responder address; same service means the
//     same protocol and responder port; serror means the observed flow's
//     state (FlowState, final when it was emitted) is S0, S1, S2 or S3, and
//     rerror that it is REJ.
//
// Memory is bounded: a ring of Conns flows, and a heap of at most
// MaxSpanConns flows ordered by start time, with per-key tallies for the
// heap and, when Conns exceeds maxRingScan, for the ring.
type Windows struct {
	span     int64
	maxSpan  int
	latest   int64
	heap     []conn // min-heap on start
	spanCnt  counts
	ring     []conn
	ringNext int
	ringLen  int
	ringCnt  counts // only when ringMaps
	ringMaps bool
	stats    WindowStats
}

// NewWindows returns empty windows.
func NewWindows(cfg WindowConfig) *Windows {
	if cfg.Span <= 0 {
		cfg.Span = 2 * time.Second
	}
	if cfg.Conns <= 0 {
		cfg.Conns = 100
	}
	if cfg.MaxSpanConns <= 0 {
		cfg.MaxSpanConns = 1 << 16
	}
	w := &Windows{
		span:     int64(cfg.Span),
		maxSpan:  cfg.MaxSpanConns,
		spanCnt:  newCounts(64, false),
		ring:     make([]conn, cfg.Conns),
		ringMaps: cfg.Conns > maxRingScan,
	}
	if w.ringMaps {
		w.ringCnt = newCounts(cfg.Conns, true)
	}
	return w
}

// maxRingScan is the largest connection window that Observe scans instead
// of keeping per-key tallies: scanning the default 100 connections costs
// less than the eight map updates per flow that the tallies take.
const maxRingScan = 256

// Stats returns the counters so far.
func (w *Windows) Stats() WindowStats { return w.stats }

// Observe adds f to the windows and returns its window features.
func (w *Windows) Observe(f *collector.Flow) WindowValues {
	w.stats.Observed++
	st := FlowState(f)
	dst := f.Dst()
	c := conn{start: f.Start, host: addrOf(dst.Addr), srv: uint32(f.Key.Proto)<<16 | uint32(dst.Port), sport: f.Src().Port, serr: b2i(st.SError()), rerr: b2i(st.RError())}
	if c.start > w.latest || w.stats.Observed == 1 {
		w.latest = c.start
	}
	for len(w.heap) > 0 && w.heap[0].start < w.latest-w.span {
		w.popSpan()
	}

	// The time window's tallies of f's keys, f itself included.
	var v WindowValues
	hs := hostSrv{c.host, c.srv}
	h := bump(w.spanCnt.host[c.host], &c, 1)
	s := bump(w.spanCnt.srv[c.srv], &c, 1)
	same := w.spanCnt.hostSrv[hs] + 1
	v.Count, v.SrvCount = float64(h.n), float64(s.n)
	v.SErrorRate, v.RErrorRate = rate(h.serr, h.n), rate(h.rerr, h.n)
	v.SrvSErrorRate, v.SrvRErrorRate = rate(s.serr, s.n), rate(s.rerr, s.n)
	v.SameSrvRate, v.DiffSrvRate = rate(same, h.n), rate(h.n-same, h.n)
	v.SrvDiffHostRate = rate(s.n-same, s.n)

	// Add f to the time window unless it already fell out of it. The
	// tallies read above are f's keys' with f added, so adding f is a
	// store each unless a drop changed them first.
	if c.start >= w.latest-w.span {
		if len(w.heap) >= w.maxSpan {
			w.popSpan()
			w.stats.Dropped++
			w.spanCnt.add(&c, 1)
		} else {
			w.spanCnt.host[c.host] = h
			w.spanCnt.srv[c.srv] = s
			w.spanCnt.hostSrv[hs] = same
		}
		w.pushSpan(c)
	}

	// The connection window: add f, dropping the oldest, then tally.
	if w.ringLen == len(w.ring) {
		if w.ringMaps {
			w.ringCnt.add(&w.ring[w.ringNext], -1)
		}
	} else {
		w.ringLen++
	}
	w.ring[w.ringNext] = c
	w.ringNext = (w.ringNext + 1) % len(w.ring)
	var sport int32
	if w.ringMaps {
		w.ringCnt.add(&c, 1)
		h = w.ringCnt.host[c.host]
		s = w.ringCnt.srv[c.srv]
		same = w.ringCnt.hostSrv[hs]
		sport = w.ringCnt.hostSport[hostPort{c.host, c.sport}]
	} else {
		h, s, same, sport = w.scanRing(&c)
	}
	v.DstHostCount, v.DstHostSrvCount = float64(h.n), float64(s.n)
	v.DstHostSameSrvRate, v.DstHostDiffSrvRate = rate(same, h.n), rate(h.n-same, h.n)
	v.DstHostSameSrcPortRate = rate(sport, h.n)
	v.DstHostSrvDiffHostRate = rate(s.n-same, s.n)
	v.DstHostSErrorRate, v.DstHostRErrorRate = rate(h.serr, h.n), rate(h.rerr, h.n)
	v.DstHostSrvSErrorRate, v.DstHostSrvRErrorRate = rate(s.serr, s.n), rate(s.rerr, s.n)
	return v
}

// scanRing tallies the connection window for c as ringCnt would: the
// connections to c's host and to c's service (with their error counts),
// to both, and to c's host from c's source port. The ring fills from
// index 0, so its first ringLen entries are the window.
func (w *Windows) scanRing(c *conn) (h, s agg, same, sport int32) {
	for i := range w.ring[:w.ringLen] {
		r := &w.ring[i]
		// Without a branch: whether a connection shares the service is
		// close to a coin toss on mixed traffic.
		m := b2i(r.srv == c.srv)
		s.n += m
		s.serr += m & r.serr
		s.rerr += m & r.rerr
		if r.host == c.host {
			h = bump(h, r, 1)
			if r.srv == c.srv {
				same++
			}
			if r.sport == c.sport {
				sport++
			}
		}
	}
	return h, s, same, sport
}

// pushSpan adds c to the heap; the caller has added it to spanCnt.
func (w *Windows) pushSpan(c conn) {
	w.heap = append(w.heap, c)
	i := len(w.heap) - 1
	for i > 0 {
		p := (i - 1) / 2
		if w.heap[p].start <= w.heap[i].start {
			break
		}
		w.heap[p], w.heap[i] = w.heap[i], w.heap[p]
		i = p
	}
}

func (w *Windows) popSpan() {
	hp := w.heap
	w.spanCnt.add(&hp[0], -1)
	n := len(hp) - 1
	hp[0] = hp[n]
	hp = hp[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && hp[r].start < hp[l].start {
			m = r
		}
		if hp[i].start <= hp[m].start {
			break
		}
		hp[i], hp[m] = hp[m], hp[i]
		i = m
	}
	w.heap = hp
}
