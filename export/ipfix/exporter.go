package ipfix

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/features"
	"github.com/flowhawk/flowhawk/internal/ratelog"
)

// Config configures an Exporter. Zero values take the defaults.
type Config struct {
	// Addr is the collector's HOST:PORT (UDP).
	Addr string
	// PEN is the Private Enterprise Number of flowhawk's own elements
	// (default DefaultPEN, the documentation-only 32473).
	PEN uint32
	// ObservationDomain is the observation domain ID in every message
	// header (default 1). Give each sensor its own when several export to
	// one collector.
	ObservationDomain uint32
	// MaxMessage bounds a message in bytes so one message fits one UDP
	// datagram within the path MTU (default 1400: 1500-byte Ethernet minus
	// IPv6 and UDP headers, with room for tunnels).
	MaxMessage int
	// TemplateInterval is how often templates are re-sent (RFC 7011 8.4:
	// over UDP, templates are re-sent periodically). Default 30 s.
	TemplateInterval time.Duration
	// FlushInterval bounds how long a record waits for more records to fill
	// its message (default 1 s).
	FlushInterval time.Duration
	// QueueSize bounds the records waiting to be sent (default 8192;
	// the sender may hold as many more while encoding them); Export drops
	// and counts what does not fit.
	QueueSize int
	// Linger is how long the sender rests after draining the queue, so it
	// is woken once per batch of records instead of once per record
	// (default 2 ms; the queue holds QueueSize records meanwhile).
	Linger time.Duration
	// WarnEvery rate-limits warnings about drops and send errors
	// (default 10 s).
	WarnEvery time.Duration
	// Rate bounds the messages (datagrams) sent per second; 0 sends as
	// fast as records come. UDP has no flow control: a replay sends
	// thousands of datagrams in a fraction of a second, and a collector
	// with a default receive buffer (nfcapd: 208 KB) loses some where the
	// sender cannot see it. Records that wait longer than the queue holds
	// are dropped and counted here instead, unless Wait is set.
	Rate int
	// Wait makes Export wait for room in a full queue instead of dropping
	// the record: for a replay, whose input can wait, so that pacing with
	// Rate loses nothing. A live capture leaves it off: its kernel maps
	// cannot wait.
	Wait bool
}

func (c *Config) defaults() {
	if c.PEN == 0 {
		c.PEN = DefaultPEN
	}
	if c.ObservationDomain == 0 {
		c.ObservationDomain = 1
	}
	if c.MaxMessage == 0 {
		c.MaxMessage = 1400
	}
	if c.TemplateInterval <= 0 {
		c.TemplateInterval = 30 * time.Second
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = time.Second
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 8192
	}
	if c.Linger <= 0 {
		c.Linger = 2 * time.Millisecond
	}
	if c.WarnEvery <= 0 {
		c.WarnEvery = 10 * time.Second
	}
}

// Stats are the exporter's cumulative counters.
type Stats struct {
	Records       uint64 // data records sent
	Messages      uint64 // messages sent (data and template)
	Templates     uint64 // template sets sent
	DropQueueFull uint64 // records dropped because the queue was full
	DropSendError uint64 // records lost because the datagram could not be sent
	DropClosed    uint64 // records exported after Close
}

// Exporter sends flow records to one IPFIX collector over UDP.
type Exporter struct {
	cfg  Config
	conn net.Conn

	// The queue is a double buffer: Export appends to pend under mu; the
	// sender swaps pend with its drained spare and encodes outside the
	// lock. One short critical section per record, no channel operation,
	// and the sender is woken once per batch.
	mu     sync.Mutex
	pend   []record
	closed bool
	room   *sync.Cond // signalled by swap and Close, for Export with Wait
	// unpaced: StopWaiting was called; the sender no longer keeps to Rate.
	unpaced atomic.Bool
	wake    chan struct{} // capacity 1: "pend went from empty to non-empty"
	stop    chan struct{} // closed by Close
	done    chan struct{}
	// taken counts records the sender has taken from the queue (tests).
	taken atomic.Uint64

	records, messages, templates atomic.Uint64
	dropQueue, dropSend          atomic.Uint64
	dropClosed                   atomic.Uint64

	warn ratelog.Limiter
	// gate, when set by tests, holds the sender until closed.
	gate chan struct{}
	// now is the wall clock, replaceable in tests.
	now func() time.Time
}

// New resolves the collector address, opens the UDP socket and starts the
// sender, which sends the templates at once. It fails only on a bad
// address; an unreachable collector shows later as counted send errors.
func New(cfg Config) (*Exporter, error) {
	cfg.defaults()
	if cfg.MaxMessage < 512 || cfg.MaxMessage > 65507 {
		return nil, fmt.Errorf("ipfix: message size %d outside 512..65507", cfg.MaxMessage)
	}
	if cfg.PEN == ReversePEN {
		// Our elements 1 and 2 would read as the reverse counters.
		return nil, fmt.Errorf("ipfix: enterprise number %d is the RFC 5103 reverse PEN", cfg.PEN)
	}
	conn, err := net.Dial("udp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("ipfix: collector %q: %w", cfg.Addr, err)
	}
	e := newExporter(cfg, conn)
	go e.run()
	return e, nil
}

func newExporter(cfg Config, conn net.Conn) *Exporter {
	e := &Exporter{
		cfg:  cfg,
		conn: conn,
		pend: make([]record, 0, min(cfg.QueueSize, 1024)),
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
		warn: ratelog.Limiter{Every: cfg.WarnEvery},
		now:  time.Now,
	}
	e.room = sync.NewCond(&e.mu)
	return e
}

// Export queues f (with its classifier label, "" if none) for export. It
// copies what it needs, so f may be reused when it returns, and it never
// blocks unless Config.Wait is set: a full queue drops the record and
// counts it.
func (e *Exporter) Export(f *collector.Flow, class string) {
	e.mu.Lock()
	for e.cfg.Wait && !e.closed && len(e.pend) >= e.cfg.QueueSize {
		e.room.Wait()
	}
	switch {
	case e.closed:
		e.mu.Unlock()
		e.dropClosed.Add(1)
	case len(e.pend) >= e.cfg.QueueSize:
		e.mu.Unlock()
		e.dropQueue.Add(1)
		if e.warn.Allow() {
			e.warn.Log("ipfix queue full, dropping records", "collector", e.cfg.Addr, "dropped_total", e.dropQueue.Load())
		}
	default:
		e.pend = append(e.pend, record{})
		e.pend[len(e.pend)-1].fill(f, class)
		first := len(e.pend) == 1
		e.mu.Unlock()
		if first {
			select {
			case e.wake <- struct{}{}:
			default:
			}
		}
	}
}

// swap hands the queued records to the sender in exchange for its drained
// buffer.
func (e *Exporter) swap(spare []record) []record {
	e.mu.Lock()
	got := e.pend
	e.pend = spare[:0]
	e.room.Broadcast()
	e.mu.Unlock()
	return got
}

// ExportFlow is the pipeline.FlowExporter hook; the feature row is not
// needed (the enterprise elements come from the flow record itself).
func (e *Exporter) ExportFlow(f *collector.Flow, _ *features.Row, label string) { e.Export(f, label) }

// StopWaiting makes Export drop and count what a full queue cannot hold
// from now on, as without Config.Wait, and the sender send what is queued
// without Config.Rate's pace: a replay stopped by a signal ends at once
// instead of sending its remaining records one datagram a tick (with
// --ipfix-rate 1, minutes of a queue of thousands).
func (e *Exporter) StopWaiting() {
	e.unpaced.Store(true)
	e.mu.Lock()
	e.cfg.Wait = false
	e.room.Broadcast()
	e.mu.Unlock()
}

// Close sends what is queued, then closes the socket. Export after Close
// drops and counts.
func (e *Exporter) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.room.Broadcast()
	e.mu.Unlock()
	close(e.stop)
	<-e.done
	// The last warning logged may predate most drops (one per WarnEvery),
	// and with --quiet no summary follows it.
	e.warn.Flush("ipfix exporter closed after dropping records", "collector", e.cfg.Addr,
		"queue_full", e.dropQueue.Load(), "send_error", e.dropSend.Load())
	return e.conn.Close()
}

// Stats returns the cumulative counters.
func (e *Exporter) Stats() Stats {
	return Stats{
		Records: e.records.Load(), Messages: e.messages.Load(), Templates: e.templates.Load(),
		DropQueueFull: e.dropQueue.Load(), DropSendError: e.dropSend.Load(), DropClosed: e.dropClosed.Load(),
	}
}

// Losses reports the drop counters by reason; it satisfies
// metrics.LossSource so drops show in flowhawk_dropped_total.
func (e *Exporter) Losses() map[string]uint64 {
	return map[string]uint64{
		"queue_full": e.dropQueue.Load(),
		"send_error": e.dropSend.Load(),
		"closed":     e.dropClosed.Load(),
	}
}

// sender state, owned by the run goroutine.
type sender struct {
	e       *Exporter
	next    time.Time // earliest time of the next datagram (Rate)
	buf     []byte
	setID   uint16 // template of the open data set, 0 if none
	setPos  int    // offset of the open set header
	nrec    uint32 // records in buf
	seq     uint32 // data records sent so far (RFC 7011 sequence number)
	lastTpl time.Time
	// tplDue asks for the templates before the next data message: a send
	// failed, so the collector was unreachable (down, restarting) and may
	// have come back without the templates it had, or a template message
	// itself was lost. Without it the collector drops every data set for
	// up to TemplateInterval after it returns, records we count as sent.
	tplDue bool
}

func (e *Exporter) run() {
	defer close(e.done)
	if e.gate != nil {
		<-e.gate
	}
	s := &sender{e: e, buf: make([]byte, 0, e.cfg.MaxMessage)}
	s.sendTemplates()
	tick := time.NewTicker(e.cfg.FlushInterval)
	defer tick.Stop()
	var spare []record
	drain := func() {
		batch := e.swap(spare)
		for i := range batch {
			s.add(&batch[i])
		}
		e.taken.Add(uint64(len(batch)))
		clear(batch) // drop the class strings
		spare = batch
	}
	for {
		select {
		case <-e.wake:
			// Linger so a batch accumulates: waking this goroutine for
			// every record costs the producer more than the record.
			select {
			case <-time.After(e.cfg.Linger):
			case <-e.stop:
			}
			drain()
		case <-tick.C:
			drain()
			s.flush()
			if e.now().Sub(s.lastTpl) >= e.cfg.TemplateInterval {
				s.sendTemplates()
			}
		case <-e.stop:
			drain()
			s.flush()
			return
		}
	}
}

func (s *sender) add(r *record) {
	if s.e.now().Sub(s.lastTpl) >= s.e.cfg.TemplateInterval {
		s.flush()
		s.sendTemplates()
	}
	need := r.size()
	if s.setID != r.templateID() {
		need += setHeaderLen
	}
	if len(s.buf) > 0 && len(s.buf)+need > s.e.cfg.MaxMessage {
		s.flush()
	}
	if len(s.buf) == 0 {
		if s.tplDue {
			s.sendTemplates()
		}
		s.buf = appendHeader(s.buf, uint32(s.e.now().Unix()), s.seq, s.e.cfg.ObservationDomain)
	}
	if s.setID != r.templateID() {
		s.closeSet()
		s.setID, s.setPos = r.templateID(), len(s.buf)
		s.buf = binary.BigEndian.AppendUint16(s.buf, s.setID)
		s.buf = binary.BigEndian.AppendUint16(s.buf, 0)
	}
	s.buf = appendRecord(s.buf, r)
	s.nrec++
}

func (s *sender) closeSet() {
	if s.setID != 0 {
		binary.BigEndian.PutUint16(s.buf[s.setPos+2:], uint16(len(s.buf)-s.setPos))
		s.setID = 0
	}
}

// flush sends the pending data message, if any.
func (s *sender) flush() {
	if s.nrec == 0 {
		return
	}
	s.closeSet()
	finishMessage(s.buf)
	if s.write(s.buf) {
		s.seq += s.nrec
		s.e.records.Add(uint64(s.nrec))
	} else {
		s.e.dropSend.Add(uint64(s.nrec))
	}
	s.buf, s.nrec = s.buf[:0], 0
}

func (s *sender) sendTemplates() {
	m := appendHeader(make([]byte, 0, 512), uint32(s.e.now().Unix()), s.seq, s.e.cfg.ObservationDomain)
	m = appendTemplateSet(m, s.e.cfg.PEN)
	finishMessage(m)
	s.lastTpl, s.tplDue = s.e.now(), false
	if s.write(m) {
		s.e.templates.Add(1)
	}
}

func (s *sender) write(b []byte) bool {
	if r := s.e.cfg.Rate; r > 0 && !s.e.unpaced.Load() {
		now := time.Now()
		if d := s.next.Sub(now); d > 0 {
			time.Sleep(d)
			now = s.next
		}
		s.next = now.Add(time.Second / time.Duration(r))
	}
	// Export Time is when the message leaves (RFC 7011 3.1), not when its
	// first record came: a message waits up to the flush interval and
	// the pacing, and was stamped up to 2 s early.
	binary.BigEndian.PutUint32(b[4:8], uint32(s.e.now().Unix()))
	if _, err := s.e.conn.Write(b); err != nil {
		s.tplDue = true
		s.e.warn.Warn("ipfix collector unreachable, dropping records", "collector", s.e.cfg.Addr, "err", err,
			"dropped_total", s.e.dropSend.Load()+uint64(s.nrec))
		return false
	}
	s.e.messages.Add(1)
	return true
}
