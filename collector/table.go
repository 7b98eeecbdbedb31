package collector

import (
	"cmp"
	"slices"
	"time"
	"unsafe"
)

// TableConfig sets the flow table's timeouts and bounds.
type TableConfig struct {
	// IdleTimeout ends a flow that saw no packet for this long (default 120 s).
	IdleTimeout time.Duration
	// ActiveTimeout cuts a flow that has lasted this long into a partial
	// record; later packets start a new record (default 1800 s). A flow
	// closed by FIN/RST is not cut: it ends after CloseGrace.
	ActiveTimeout time.Duration
	// CloseGrace keeps a TCP flow closed by FIN/RST in the table this long,
	// so the last ACK and retransmitted FIN/RST still count in it (default 2 s).
	CloseGrace time.Duration
	// MaxFlows bounds the number of flows in the table; when a new flow
	// would exceed it the earliest closed flow ends before its grace, or
	// without one the least recently seen flow (in capture order) is
	// evicted (default 1<<20).
	MaxFlows int
	// Samples is how many first packets each flow keeps (default 10).
	Samples int
	// MaxBytes bounds the table's estimated memory (entries, index slots
	// and full records, see EntryBytes and RecordBytes); when a new flow or
	// a flow outgrowing its compact entry would exceed it, the least
	// recently seen flows are evicted as for MaxFlows. 0: no bound but
	// MaxFlows. MaxFlows alone bounds memory only as tightly as the
	// longest flows allow (about 1.4 KB each); MaxBytes holds for any mix.
	MaxBytes int64
}

// EntryBytes is what the table counts against MaxBytes for every flow: its
// entry and its share of the index (at most half full, 8-byte slots).
const EntryBytes = int64(unsafe.Sizeof(entry{})) + 16

// RecordBytes is what a flow costs on top of EntryBytes once it has a full
// Flow record (more than smallPackets packets, or packets the compact entry
// cannot hold), with samples first packets: both allocations rounded up as
// the Go allocator's size classes do for them.
func RecordBytes(samples int) int64 {
	return allocSize(int64(unsafe.Sizeof(Flow{}))) + allocSize(int64(samples)*int64(unsafe.Sizeof(Sample{})))
}

// allocSize rounds n up to the Go allocator's size class: 16-byte steps up
// to 128 bytes, then at most 12.5 % over (classes grow by about 1/8), then
// whole 8 KiB pages for large objects. An estimate, never below n.
func allocSize(n int64) int64 {
	switch {
	case n <= 0:
		return 0
	case n <= 128:
		return (n + 15) &^ 15
	case n <= 32<<10:
		return n + n/8
	default:
		return (n + 8191) &^ 8191
	}
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
	Evicted  uint64 // flows emitted early because the table was full (MaxFlows or MaxBytes)
	Active   int    // flows in the table now
	PeakSize int    // largest number of flows held at once
	// Bytes and PeakBytes are the table's estimated memory now and at
	// its largest (EntryBytes per flow, RecordBytes more per full record).
	Bytes, PeakBytes int64
	Ended            [7]uint64
}

// entrySlab is how many table entries are allocated at once.
const entrySlab = 1024

// smallPackets is how many packets a flow keeps verbatim in its table entry
// before it gets a full Flow record. Most flows of a busy link are a few
// packets long (DNS, scans, refused connections); keeping them as 12-byte
// packet records instead of a ~1.2 KB Flow cuts the memory per live flow
// several times, and the record is built by replaying the packets through
// Flow.Add when the flow ends, so it is bit-identical to one filled live.
const smallPackets = 6

// Bits of smallPkt.bits.
const (
	pktSrcIsLo = 1 << iota
	pktWrongFragment
	pktWindowCut
)

// smallPkt is one packet of a small flow: what Flow.Add needs of a Packet.
type smallPkt struct {
	off    int32 // ns since the entry's first packet
	ipLen  uint16
	window uint16
	ipHdr  uint8
	l4Hdr  uint8
	flags  uint8
	bits   uint8
}

type entry struct {
	// flow is the full record once the flow outgrew pk; nil before.
	flow       *Flow
	prev, next *entry
	key        Key
	n          uint8 // packets in pk
	fwdIsLo    bool
	closed     bool
	finFwd     bool
	finBwd     bool
	reason     EndReason // why a closed flow closed
	icmpType   uint8
	icmpCode   uint8
	handle     uint32 // index in Table.slabs, for flowIndex
	id         uint64 // the flow's id; 0 while the entry is free
	first      int64  // timestamp of the first packet (the record's reset time)
	start, end int64  // earliest and latest packet timestamps
	closedAt   int64  // when FIN/RST closed the flow
	// seen is the table's clock at the flow's latest packet (at its
	// close, once closed), by which expire ends it: the lists are in
	// that order, where the flows of an interface whose clock lags the
	// others' in a merged capture are not in order of their own times.
	seen int64
	pk   [smallPackets]smallPkt
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
	index  flowIndex
	slabs  [][]entry // every entry, by handle; never freed, reused through free
	open   list      // open flows, least recently seen first
	closed list      // FIN/RST-closed flows, earliest closed first
	free   *entry    // unused entries, chained through next
	pool   FlowPool  // refilled by Recycle
	nextID uint64
	small  int // packets kept in an entry: smallPackets (0 in tests: every flow full from its first packet)
	now    int64
	// clocked is false before the first packet: a clock of 0 is 1970,
	// and taken for "no packet yet" it never moved for times in the
	// day before the epoch (a negative if_tsoffset), so no flow ended.
	clocked bool
	resets  uint64 // times the clock went back more than MaxTimeJump
	stats   TableStats
	bytes   int64 // estimated memory held, against cfg.MaxBytes
	record  int64 // RecordBytes(cfg.Samples)
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
	// Entries are addressed by 32-bit handles (flowIndex); 2^31 flows
	// would take over 400 GB anyway.
	cfg.MaxFlows = min(cfg.MaxFlows, 1<<31)
	if cfg.Samples < 0 {
		cfg.Samples = 0
	}
	if cfg.MaxBytes < 0 {
		cfg.MaxBytes = 0
	}
	return &Table{cfg: cfg, emit: emit, index: newFlowIndex(min(cfg.MaxFlows, 1<<16)), small: smallPackets,
		record: RecordBytes(cfg.Samples)}
}

// ClockResets counts the times the clock went back more than a day with
// the packets: the flows emitted after the n-th reset are of another time
// than those before it, and the time windows of features and detectors
// start again with them.
func (t *Table) ClockResets() uint64 { return t.resets }

// Stats returns the counters so far.
func (t *Table) Stats() TableStats {
	s := t.stats
	s.Active = t.index.n
	s.Bytes = t.bytes
	return s
}

// Now is the table's clock: the latest packet time seen (ns).
func (t *Table) Now() int64 { return t.now }

// Add accounts one packet, creating, ending or cutting flows as needed.
func (t *Table) Add(p *Packet) {
	ts := p.Timestamp
	if ts > t.now || !t.clocked {
		t.now, t.clocked = ts, true
		t.expire()
	} else if over(t.now, ts, int64(MaxTimeJump)) {
		// The clock went back more than a day (a corrupt record's time
		// ahead of this one, or files out of order): a forward jump ended
		// every open flow as idle, and so does this one, so the flows on
		// either side of it stay apart and the clock follows the packets
		// again. Kept at the latest time, it would hold every later flow
		// open (no idle timeout until packet time caught up) and let them
		// join the far-off flow of their key.
		t.endAll(EndIdle)
		t.now = ts
		t.resets++
	}
	t.stats.Packets++
	e := t.index.get(&p.Key, t.slabs)
	if e != nil && t.overdue(e, ts) {
		// A flow that came in late (a held fragment, a capture out of
		// time order) waits behind flows seen after it but more recently
		// in packet time, where expire does not reach it: this packet
		// comes after its timeout all the same, so it starts a new flow.
		// Measured from this packet's time, not the table's clock, so
		// the flows of an interface whose clock lags the others' in a
		// merged capture are not cut at every packet.
		reason := EndIdle
		if e.closed {
			reason = e.reason
		}
		t.end(e, reason)
		e = nil
	}
	if e != nil {
		switch {
		case e.closed && p.Key.Proto == 6 && p.TCPFlags&(FlagSYN|FlagACK) == FlagSYN:
			// A new connection on the key of a closed one.
			t.end(e, e.reason)
			e = nil
		case !e.closed && over(ts, e.start, int64(t.cfg.ActiveTimeout)-1):
			// The flow goes on in a new record, in the same direction
			// whoever sends this packet (as CICFlowMeter's continuation).
			// A closed flow does not go on: its grace keeps its last
			// packets whatever its age.
			// It keeps the FINs already seen, so a FIN pair that the cut
			// falls between still closes the flow (and a new SYN on the
			// key then starts a new one).
			fwdIsLo, finFwd, finBwd := e.fwdIsLo, e.finFwd, e.finBwd
			t.end(e, EndActive)
			e = t.create(p)
			e.fwdIsLo, e.finFwd, e.finBwd = fwdIsLo, finFwd, finBwd
		}
	}
	if e == nil {
		e = t.create(p)
	} else if !e.closed {
		t.open.remove(e)
		t.open.pushBack(e)
	}
	if e.flow != nil || !e.keep(p, t.small) {
		if e.flow == nil {
			t.makeRoom(t.record, e)
			t.promote(e)
			t.grow(t.record)
		}
		e.flow.Add(p, t.cfg.Samples)
	}
	if ts > e.end {
		e.end = ts
	}
	if !e.closed {
		e.seen = t.now
	}
	if ts < e.start {
		e.start = ts
	}
	if p.Key.Proto == 6 && !e.closed {
		if p.TCPFlags&FlagRST != 0 {
			t.close(e, EndRST, ts)
		} else if p.TCPFlags&FlagFIN != 0 {
			if p.SrcIsLo == e.fwdIsLo {
				e.finFwd = true
			} else {
				e.finBwd = true
			}
			if e.finFwd && e.finBwd {
				t.close(e, EndFIN, ts)
			}
		}
	}
}

// keep stores p verbatim in a small flow's entry; false when the entry is
// full or p does not fit the compact record (the flow is then promoted).
func (e *entry) keep(p *Packet, limit int) bool {
	if int(e.n) >= limit {
		return false
	}
	off := p.Timestamp - e.first
	if (off < 0) != (p.Timestamp < e.first) || off != int64(int32(off)) || // overflow, or beyond ±2.1 s
		p.IPLen > 0xffff || p.IPHeaderLen > 0xff || p.L4HeaderLen > 0xff {
		return false
	}
	if p.PayloadLen != uint32(max(int64(p.IPLen)-int64(p.IPHeaderLen)-int64(p.L4HeaderLen), 0)) {
		return false
	}
	var bits uint8
	if p.SrcIsLo {
		bits |= pktSrcIsLo
	}
	if p.WrongFragment {
		bits |= pktWrongFragment
	}
	if p.TCPWindowCut {
		bits |= pktWindowCut
	}
	e.pk[e.n] = smallPkt{off: int32(off), ipLen: uint16(p.IPLen), ipHdr: uint8(p.IPHeaderLen), l4Hdr: uint8(p.L4HeaderLen),
		window: p.TCPWindow, flags: p.TCPFlags, bits: bits}
	e.n++
	return true
}

// promote gives a small flow its full record, replaying the packets kept
// in the entry through Flow.Add in their order, so the record is the same
// as if it had been filled packet by packet.
func (t *Table) promote(e *entry) {
	f := t.pool.get(t.cfg.Samples)
	f.reset(e.id, e.key, e.fwdIsLo, e.first)
	var p Packet
	p.ICMPType, p.ICMPCode = e.icmpType, e.icmpCode
	for i := range e.pk[:e.n] {
		k := &e.pk[i]
		pl := max(int64(k.ipLen)-int64(k.ipHdr)-int64(k.l4Hdr), 0)
		p.Timestamp = e.first + int64(k.off)
		p.SrcIsLo = k.bits&pktSrcIsLo != 0
		p.WrongFragment = k.bits&pktWrongFragment != 0
		p.TCPWindowCut = k.bits&pktWindowCut != 0
		p.IPLen, p.IPHeaderLen, p.L4HeaderLen, p.PayloadLen = uint32(k.ipLen), uint16(k.ipHdr), uint16(k.l4Hdr), uint32(pl)
		p.TCPWindow, p.TCPFlags = k.window, k.flags
		f.Add(&p, t.cfg.Samples)
	}
	e.n = 0
	e.flow = f
}

func (t *Table) grow(n int64) {
	t.bytes += n
	if t.bytes > t.stats.PeakBytes {
		t.stats.PeakBytes = t.bytes
	}
}

// makeRoom evicts flows, never keep, until need more bytes fit in
// cfg.MaxBytes: closed flows first (they are done anyway), then the least
// recently seen.
func (t *Table) makeRoom(need int64, keep *entry) {
	for t.cfg.MaxBytes > 0 && t.bytes+need > t.cfg.MaxBytes {
		e := t.closed.head
		if e != nil && e == keep {
			e = e.next
		}
		if e != nil {
			t.end(e, e.reason)
			continue
		}
		e = t.open.head
		if e != nil && e == keep {
			e = e.next
		}
		if e == nil {
			return // nothing else to evict: keep alone is over the bound
		}
		t.end(e, EndEvicted)
	}
}

func (t *Table) create(p *Packet) *entry {
	if t.index.n >= t.cfg.MaxFlows {
		t.evictOne()
	}
	t.makeRoom(EntryBytes, nil)
	if t.free == nil {
		// Allocate entries in slabs: one allocation per slab instead of
		// one per flow.
		// A table smaller than a slab needs only that many entries: at
		// most MaxFlows are ever in use. Handles stay slab*entrySlab+i.
		slab := make([]entry, min(entrySlab, t.cfg.MaxFlows))
		base := uint32(len(t.slabs)) * entrySlab
		// Chained in reverse so entries are used in address order.
		for i := len(slab) - 1; i >= 0; i-- {
			slab[i].handle = base + uint32(i)
			slab[i].next = t.free
			t.free = &slab[i]
		}
		t.slabs = append(t.slabs, slab)
	}
	e := t.free
	t.free = e.next
	fwdIsLo := p.SrcIsLo
	// The SYN+ACK sender is the responder: if the first packet we see is a
	// SYN+ACK, the initiator is its destination.
	if p.Key.Proto == 6 && p.TCPFlags&(FlagSYN|FlagACK) == FlagSYN|FlagACK {
		fwdIsLo = !p.SrcIsLo
	}
	t.nextID++
	*e = entry{key: p.Key, fwdIsLo: fwdIsLo, id: t.nextID, first: p.Timestamp, start: p.Timestamp, end: p.Timestamp,
		icmpType: p.ICMPType, icmpCode: p.ICMPCode, handle: e.handle}
	t.index.put(&p.Key, e.handle)
	t.open.pushBack(e)
	t.grow(EntryBytes)
	t.stats.Created++
	if t.index.n > t.stats.PeakSize {
		t.stats.PeakSize = t.index.n
	}
	return e
}

func (t *Table) close(e *entry, reason EndReason, ts int64) {
	t.open.remove(e)
	e.closed = true
	e.closedAt = ts
	e.seen = t.now
	e.reason = reason
	t.closed.pushBack(e)
}

// end emits the flow in e and removes it from the table.
func (t *Table) end(e *entry, reason EndReason) {
	if e.closed {
		t.closed.remove(e)
	} else {
		t.open.remove(e)
	}
	t.index.del(&e.key, e.handle)
	t.retire(e, reason)
}

// retire emits the flow in e, which is already out of the lists and the
// index, and frees e (id 0 marks a free entry for Flush).
func (t *Table) retire(e *entry, reason EndReason) {
	if e.flow == nil {
		t.promote(e) // for emit: the table does not keep it
	} else {
		t.bytes -= t.record
	}
	t.bytes -= EntryBytes
	f := e.flow
	e.flow = nil
	f.finish(reason)
	t.stats.Emitted++
	t.stats.Ended[reason]++
	if reason == EndEvicted {
		t.stats.Evicted++
	}
	e.id = 0
	e.prev = nil
	e.next = t.free
	t.free = e
	t.emit(f)
}

func (t *Table) evictOne() {
	// Prefer a closed flow (it is done anyway), else the least recently seen.
	if e := t.closed.head; e != nil {
		t.end(e, e.reason)
		return
	}
	if e := t.open.head; e != nil {
		t.end(e, EndEvicted)
	}
}

// over reports whether now - then > d (d >= -1) for times of any
// distance: the difference of two times more than 292 years apart (a
// pcapng if_tsoffset far in the past beside one far ahead) wrapped, so
// one flow held the packets of both, with a negative duration.
func over(now, then, d int64) bool {
	switch {
	case now < then:
		return false
	case d < 0:
		return true
	}
	return uint64(now)-uint64(then) > uint64(d)
}

// overdue reports whether e's idle timeout or close grace passed by now.
func (t *Table) overdue(e *entry, now int64) bool {
	if e.closed {
		return over(now, e.closedAt, int64(t.cfg.CloseGrace))
	}
	return over(now, e.end, int64(t.cfg.IdleTimeout))
}

// expire ends flows whose idle timeout or close grace passed by t.now,
// from the head of each list, least recently seen (or closed) in capture
// order first, up to the first one still live. A flow whose packets came
// in late sits behind flows that are more recent in packet time; Add and
// Flush end it as overdue.
func (t *Table) expire() {
	grace := int64(t.cfg.CloseGrace)
	for e := t.closed.head; e != nil && over(t.now, e.seen, grace); e = t.closed.head {
		t.end(e, e.reason)
	}
	idle := int64(t.cfg.IdleTimeout)
	for e := t.open.head; e != nil && over(t.now, e.seen, idle); e = t.open.head {
		t.end(e, EndIdle)
	}
}

// Flush ends every flow in the table, in order of creation, as at the end
// of the input.
func (t *Table) Flush() { t.endAll(EndFlush) }

// endAll ends every flow in the table in order of creation: a closed one
// with its close reason, an open one overdue at t.now as idle, any other
// with reason open.
//
// Every flow leaves at once, so endAll does not end them one by one as
// end does: it finds them by walking the slabs in address order (a
// sequential read, where following the lists costs a cache miss per
// flow), sorts them by id held beside the pointer (so comparisons read
// no entry), and empties the lists and the index in one go instead of
// unlinking each entry and probing the index for it.
func (t *Table) endAll(open EndReason) {
	type live struct {
		id uint64
		e  *entry
	}
	all := make([]live, 0, t.index.n)
	if t.index.n >= len(t.slabs)*entrySlab/8 {
		for _, slab := range t.slabs {
			for i := range slab {
				if e := &slab[i]; e.id != 0 {
					all = append(all, live{e.id, e})
				}
			}
		}
	} else {
		// A table far below its peak (flushed per file, say) would read
		// mostly free entries: follow the lists instead.
		for _, l := range []*list{&t.open, &t.closed} {
			for e := l.head; e != nil; e = e.next {
				all = append(all, live{e.id, e})
			}
		}
	}
	// Entries are mostly used in address order, so all is nearly sorted
	// and pdqsort finishes it quickly.
	slices.SortFunc(all, func(a, b live) int { return cmp.Compare(a.id, b.id) })
	t.open, t.closed = list{}, list{}
	for _, l := range all {
		e := l.e
		reason := open
		if e.closed {
			reason = e.reason
		} else if t.overdue(e, t.now) {
			reason = EndIdle // its packets came in late, expire did not reach it
		}
		// The index slots are cleared below; n counts down meanwhile so
		// Stats().Active stays right for emit.
		t.index.n--
		t.retire(e, reason)
	}
	clear(t.index.slots)
}

// Restart ends every flow (Flush) and forgets the packet clock, for a
// capture that does not continue the previous one (a dataset's files):
// its packets may be older, and its idle timeouts must run on its own
// time, where the previous file's clock held them back until the flush.
func (t *Table) Restart() {
	t.Flush()
	t.now, t.clocked = 0, false
}

// Recycle returns a flow emitted by this table (or built from its Pool)
// for reuse; the caller must not touch f afterwards. It is safe to call
// from any goroutine.
func (t *Table) Recycle(f *Flow) { t.pool.Put(f) }

// Pool is where Recycle puts records: a source that builds records outside
// the table (the kernel source) draws from it, so the pipeline's recycling
// serves it too.
func (t *Table) Pool() *FlowPool { return &t.pool }
