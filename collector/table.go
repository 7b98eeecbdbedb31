package collector

import (
	"slices"
	"sync"
	"time"
)

// TableConfig sets the flow table's timeouts and bounds.
type TableConfig struct {
	// IdleTimeout ends a flow that saw no packet for this long (default 120 s).
	IdleTimeout time.Duration
	// ActiveTimeout cuts a flow that has lasted this long into a partial
	// record; later packets start a new record (default 1800 s).
	ActiveTimeout time.Duration
	// CloseGrace keeps a TCP flow closed by FIN/RST in the table this long,
	// so the last ACK and retransmitted FIN/RST still count in it (default 2 s).
	CloseGrace time.Duration
	// MaxFlows bounds the number of flows in the table; when a new flow
	// would exceed it the least recently seen flow is evicted (default 1<<20).
	MaxFlows int
	// Samples is how many first packets each flow keeps (default 10).
	Samples int
}

// DefaultTableConfig returns the defaults documented in docs/features.md.
func DefaultTableConfig() TableConfig {
	return TableConfig{
		IdleTimeout:   120 * time.Second,
		ActiveTimeout: 1800 * time.Second,
		CloseGrace:    2 * time.Second,
		MaxFlows:      1 << 20,
		Samples:       10,
	}
}

// TableStats counts what the table did; every flow that left early is
// counted here, never silently.
type TableStats struct {
	Packets  uint64 // packets accounted to flows
	Created  uint64 // flow records created
	Emitted  uint64 // flow records emitted
	Evicted  uint64 // flows emitted early because the table was full
	Active   int    // flows in the table now
	PeakSize int    // largest number of flows held at once
	Ended    [7]uint64
}

// entrySlab is how many table entries are allocated at once.
const entrySlab = 256

type entry struct {
	flow       *Flow
	prev, next *entry
	closed     bool
}

// list is an intrusive doubly-linked list of entries, oldest at head.
type list struct{ head, tail *entry }

func (l *list) pushBack(e *entry) {
	e.prev, e.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = e
	} else {
		l.head = e
	}
	l.tail = e
}

func (l *list) remove(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

// Table is the bidirectional flow table of the pcap path. It is driven by
// packet time, not wall time, so the same packets always give the same
// records in the same order. It is not safe for concurrent use.
type Table struct {
	cfg    TableConfig
	emit   func(*Flow)
	flows  map[Key]*entry
	open   list // open flows, least recently seen first
	closed list // FIN/RST-closed flows, earliest closed first
	free   []*entry
	pool   sync.Pool // *Flow, refilled by Recycle
	nextID uint64
	now    int64
	stats  TableStats
}

// NewTable returns a table that hands every finished flow to emit. emit
// owns the flow it is given; it may hand it back with Recycle once done
// with it, so that steady-state operation does not allocate.
func NewTable(cfg TableConfig, emit func(*Flow)) *Table {
	d := DefaultTableConfig()
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = d.IdleTimeout
	}
	if cfg.ActiveTimeout <= 0 {
		cfg.ActiveTimeout = d.ActiveTimeout
	}
	if cfg.CloseGrace <= 0 {
		cfg.CloseGrace = d.CloseGrace
	}
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = d.MaxFlows
	}
	if cfg.Samples < 0 {
		cfg.Samples = 0
	}
	return &Table{cfg: cfg, emit: emit, flows: make(map[Key]*entry, min(cfg.MaxFlows, 1<<16))}
}

// Stats returns the counters so far.
func (t *Table) Stats() TableStats {
	s := t.stats
	s.Active = len(t.flows)
	return s
}

// Now is the table's clock: the latest packet time seen (ns).
func (t *Table) Now() int64 { return t.now }

// Add accounts one packet, creating, ending or cutting flows as needed.
func (t *Table) Add(p *Packet) {
	ts := p.Timestamp
	if ts > t.now {
		t.now = ts
		t.expire()
	}
	t.stats.Packets++
	e := t.flows[p.Key]
	if e != nil {
		f := e.flow
		switch {
		case e.closed && p.Key.Proto == 6 && p.TCPFlags&(FlagSYN|FlagACK) == FlagSYN:
			// A new connection on the key of a closed one.
			t.end(e, f.closeReason)
			e = nil
		case ts-f.Start >= int64(t.cfg.ActiveTimeout):
			t.end(e, EndActive)
			e = nil
		}
	}
	if e == nil {
		e = t.create(p)
	} else if !e.closed {
		t.open.remove(e)
		t.open.pushBack(e)
	}
	f := e.flow
	f.Add(p, t.cfg.Samples)
	if p.Key.Proto == 6 && !e.closed {
		if p.TCPFlags&FlagRST != 0 {
			t.close(e, EndRST, ts)
		} else if p.TCPFlags&FlagFIN != 0 {
			if f.DirOf(p) == Fwd {
				f.finFwd = true
			} else {
				f.finBwd = true
			}
			if f.finFwd && f.finBwd {
				t.close(e, EndFIN, ts)
			}
		}
	}
}

func (t *Table) create(p *Packet) *entry {
	if len(t.flows) >= t.cfg.MaxFlows {
		t.evictOne()
	}
	if len(t.free) == 0 {
		// Allocate entries in slabs: one allocation per slab instead of
		// one per flow.
		slab := make([]entry, entrySlab)
		for i := range slab {
			t.free = append(t.free, &slab[i])
		}
	}
	e := t.free[len(t.free)-1]
	t.free = t.free[:len(t.free)-1]
	fwdIsLo := p.SrcIsLo
	// The SYN+ACK sender is the responder: if the first packet we see is a
	// SYN+ACK, the initiator is its destination.
	if p.Key.Proto == 6 && p.TCPFlags&(FlagSYN|FlagACK) == FlagSYN|FlagACK {
		fwdIsLo = !p.SrcIsLo
	}
	t.nextID++
	e.closed = false
	if f, ok := t.pool.Get().(*Flow); ok {
		e.flow = f
	} else {
		e.flow = &Flow{Samples: make([]Sample, 0, t.cfg.Samples)}
	}
	e.flow.reset(t.nextID, p.Key, fwdIsLo, p.Timestamp)
	t.flows[p.Key] = e
	t.open.pushBack(e)
	t.stats.Created++
	if len(t.flows) > t.stats.PeakSize {
		t.stats.PeakSize = len(t.flows)
	}
	return e
}

func (t *Table) close(e *entry, reason EndReason, ts int64) {
	t.open.remove(e)
	e.closed = true
	e.flow.closedAt = ts
	e.flow.closeReason = reason
	t.closed.pushBack(e)
}

// end emits the flow in e and removes it from the table.
func (t *Table) end(e *entry, reason EndReason) {
	if e.closed {
		t.closed.remove(e)
	} else {
		t.open.remove(e)
	}
	delete(t.flows, e.flow.Key)
	f := e.flow
	e.flow = nil
	f.finish(reason)
	t.stats.Emitted++
	t.stats.Ended[reason]++
	if reason == EndEvicted {
		t.stats.Evicted++
	}
	t.free = append(t.free, e)
	t.emit(f)
}

func (t *Table) evictOne() {
	// Prefer a closed flow (it is done anyway), else the least recently seen.
	if e := t.closed.head; e != nil {
		t.end(e, e.flow.closeReason)
		return
	}
	if e := t.open.head; e != nil {
		t.end(e, EndEvicted)
	}
}

// expire ends flows whose idle timeout or close grace passed by t.now, and
// cuts flows older than the active timeout.
func (t *Table) expire() {
	grace := int64(t.cfg.CloseGrace)
	for e := t.closed.head; e != nil && t.now-e.flow.closedAt > grace; e = t.closed.head {
		t.end(e, e.flow.closeReason)
	}
	idle := int64(t.cfg.IdleTimeout)
	for e := t.open.head; e != nil && t.now-e.flow.End > idle; e = t.open.head {
		t.end(e, EndIdle)
	}
}

// Flush ends every flow in the table, in order of creation, as at the end
// of the input.
func (t *Table) Flush() {
	all := make([]*entry, 0, len(t.flows))
	for _, e := range t.flows {
		all = append(all, e)
	}
	slices.SortFunc(all, func(a, b *entry) int {
		if a.flow.ID < b.flow.ID {
			return -1
		}
		return 1
	})
	for _, e := range all {
		reason := EndFlush
		if e.closed {
			reason = e.flow.closeReason
		}
		t.end(e, reason)
	}
}

// Recycle returns a flow emitted by this table for reuse; the caller must
// not touch f afterwards. It is safe to call from any goroutine.
func (t *Table) Recycle(f *Flow) {
	if f != nil {
		t.pool.Put(f)
	}
}
