// Package stream publishes flow records and alerts to NATS JetStream, so a
// fleet of sensors feeds one place: subjects flowhawk.<sensor>.flows and
// flowhawk.<sensor>.alerts. A message holds one or more records as JSON
// lines (one JSON document per line; the Flowhawk-Records header counts
// them): packing records keeps the broker's per-message cost low.
//
// Export and Alert never block. Records wait in a bounded local buffer;
// one goroutine packs them into messages, publishes them asynchronously and
// keeps every message until JetStream acknowledged it, re-publishing after
// a broker outage. Each
// message carries a Nats-Msg-Id, so a re-publish of a message the broker
// had already stored is dropped by JetStream's duplicate window instead of
// stored twice. Only a full buffer (counted as queue_full), an unsent
// remainder at Close (counted as shutdown) or a record larger than the
// server's max_payload (counted as too_large) loses records.
package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/detect"
	"github.com/flowhawk/flowhawk/features"
	"github.com/flowhawk/flowhawk/internal/ratelog"
)

// Config configures a Publisher. Zero values take the defaults.
type Config struct {
	// URL is the NATS server URL (nats://host:4222; comma-separated for a
	// cluster).
	URL string
	// User and Password, Token, or CredsFile (a NATS .creds file: JWT
	// and NKey seed) authenticate to the server outside URL, so that no
	// secret need stand on a command line, which every local user can
	// read in ps.
	User, Password string
	Token          string
	CredsFile      string
	// Sensor names this sensor in the subjects (default "default"); it must
	// be a single subject token (no dots, spaces or wildcards).
	Sensor string
	// Stream is the JetStream stream that stores the subjects (default
	// "FLOWHAWK"). When CreateStream is set and the stream is missing, it
	// is created for subjects flowhawk.> with file storage.
	Stream       string
	CreateStream bool
	// Format encodes flow records as JSON lines (FormatJSON, the default)
	// or varint-delimited protobuf (FormatProtobuf, schema in flow.proto:
	// about half the bytes and a third of the encoding CPU). Alerts are
	// always ECS JSON lines.
	Format string
	// Columns names the feature row values passed to Export (from
	// features.Extractor.Columns); nil publishes no features.
	Columns []features.Column
	// BufferSize bounds the records (flows and alerts) kept locally
	// until JetStream acknowledges them, packed into messages or not
	// (default 100000, about 30 MB, 110 MB with every feature column):
	// during a broker outage this many records survive.
	BufferSize int
	// Batch is how many messages are in flight before waiting for acks
	// (default 64).
	Batch int
	// MaxRecords and MaxBytes bound one message: records are packed as
	// JSON lines, up to 200 records or 128 KiB (NATS's default payload
	// limit is 1 MiB), or the server's max_payload less room for the
	// headers when that is smaller. Packing is what keeps the broker's
	// per-message cost off a busy sensor.
	MaxRecords int
	MaxBytes   int
	// AckTimeout is how long to wait for JetStream's acks of a batch
	// before re-publishing it (default 5 s).
	AckTimeout time.Duration
	// Linger is how long the publisher waits after the first record of a
	// batch for more to arrive (default 5 ms).
	Linger time.Duration
	// CloseTimeout bounds how long Close keeps trying to deliver what is
	// buffered (default 10 s).
	CloseTimeout time.Duration
	// WarnEvery rate-limits warnings (default 10 s).
	WarnEvery time.Duration
}

func (c *Config) defaults() {
	if c.Sensor == "" {
		c.Sensor = "default"
	}
	if c.Stream == "" {
		c.Stream = "FLOWHAWK"
	}
	if c.Format == "" {
		c.Format = FormatJSON
	}
	if c.BufferSize <= 0 {
		c.BufferSize = 100_000
	}
	if c.Batch <= 0 {
		c.Batch = 64
	}
	if c.MaxRecords <= 0 {
		c.MaxRecords = 200
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 128 << 10
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = 5 * time.Second
	}
	if c.Linger <= 0 {
		c.Linger = 5 * time.Millisecond
	}
	if c.CloseTimeout <= 0 {
		c.CloseTimeout = 10 * time.Second
	}
	if c.WarnEvery <= 0 {
		c.WarnEvery = 10 * time.Second
	}
}

// FlowSubject is the subject a sensor publishes flows on, for consumers to
// subscribe to.
func FlowSubject(sensor string) string { return "flowhawk." + sensor + ".flows" }

// AlertSubject is the subject a sensor publishes alerts on, for consumers
// to subscribe to.
func AlertSubject(sensor string) string { return "flowhawk." + sensor + ".alerts" }

// item is one buffered message: a flow (encoded by the publisher
// goroutine, off the hot path) or an alert's JSON bytes.
type item struct {
	flow  *snapshot
	alert []byte
	id    uint64
}

// Stats are the publisher's cumulative counters.
type Stats struct {
	// Every count but Messages is of records (flows and alerts), not of
	// the JetStream messages they are packed into.
	Published     uint64 // records acknowledged by JetStream
	Messages      uint64 // JetStream messages acknowledged (holding the Published records)
	Retried       uint64 // failed publish attempts of records, retried: a record that failed three times counts three
	DropQueueFull uint64 // records dropped because the buffer was full
	DropShutdown  uint64 // records still undelivered when Close gave up
	DropClosed    uint64 // records offered after Close
	DropEncode    uint64 // records that could not be encoded
	DropTooLarge  uint64 // records larger than the server's max_payload alone
}

// Publisher publishes flows and alerts to JetStream.
type Publisher struct {
	cfg      Config
	nc       *nats.Conn
	dialErr  atomic.Pointer[error] // the last failed connection attempt's error
	js       jetstream.JetStream
	flowSubj string
	alrtSubj string
	idPrefix string

	// The local buffer is a double buffer: Export appends to pend under
	// mu, the publisher swaps it for its drained backlog and encodes
	// outside the lock; wake says pend went from empty to non-empty.
	mu     sync.Mutex
	pend   []item
	closed bool
	wake   chan struct{}
	stop   chan struct{} // closed by Close: deliver what is left, then exit
	done   chan struct{}
	seq    atomic.Uint64

	published, messages, retried      atomic.Uint64
	taken                             atomic.Int64 // records swapped out of pend, not yet acknowledged or dropped
	dropQueue, dropShutdown, dropDone atomic.Uint64
	dropEncode, dropTooLarge          atomic.Uint64
	// streamMax is the stream's max_msg_size once a message was refused
	// for it (0: none known): it bounds messages as max_payload does.
	streamMax atomic.Int64

	warn ratelog.Limiter
}

// New connects to NATS (retrying in the background if the server is not
// up yet) and starts the publisher goroutine.
func New(cfg Config) (*Publisher, error) {
	cfg.defaults()
	if !ValidSensor(cfg.Sensor) {
		return nil, fmt.Errorf("stream: sensor name %q is not a single subject token", cfg.Sensor)
	}
	if cfg.Format != FormatJSON && cfg.Format != FormatProtobuf {
		return nil, fmt.Errorf("stream: format %q: want %s or %s", cfg.Format, FormatJSON, FormatProtobuf)
	}
	p := &Publisher{
		cfg:      cfg,
		flowSubj: FlowSubject(cfg.Sensor),
		alrtSubj: AlertSubject(cfg.Sensor),
		// Message IDs must be unique per sensor run: a restarted sensor
		// must not collide with its previous run's IDs in the duplicate window.
		idPrefix: cfg.Sensor + "-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-",
		pend:     make([]item, 0, min(cfg.BufferSize, 4096)),
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		warn:     ratelog.Limiter{Every: cfg.WarnEvery},
	}
	opts := []nats.Option{
		nats.Name("flowhawk " + cfg.Sensor),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectBufSize(8 << 20),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil { // our own Close
				return
			}
			p.warn.Warn("nats disconnected; buffering locally", "url", redactURL(cfg.URL), "err", err)
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			slog.Info("nats reconnected", "url", c.ConnectedUrl())
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				p.dialErr.Store(&err)
			}
		}),
	}
	opts = append(opts, authOptions(cfg.User, cfg.Password, cfg.Token, cfg.CredsFile)...)
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("stream: nats %q: %w", redactURL(cfg.URL), err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(cfg.AckTimeout), jetstream.WithPublishAsyncMaxPending(cfg.Batch*2))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("stream: jetstream: %w", err)
	}
	p.nc, p.js = nc, js
	go p.run()
	return p, nil
}

// ValidSensor reports whether name can stand as one token of a NATS
// subject (no dots, wildcards, spaces or control characters), so a CLI
// can refuse a bad --sensor before it connects.
func ValidSensor(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c == '.' || c == '*' || c == '>' || c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// Export queues flow f, with its feature row (nil for none) and classifier
// label ("" for none). It copies what it needs and never blocks.
func (p *Publisher) Export(f *collector.Flow, row *features.Row, class string) {
	r := take(f, row, class, len(p.cfg.Columns) > 0)
	p.enqueue(item{flow: r})
}

// ExportFlow is the pipeline.FlowExporter hook (same as Export).
func (p *Publisher) ExportFlow(f *collector.Flow, row *features.Row, label string) {
	p.Export(f, row, label)
}

// ExportAlert is a detect.Engine sink: it publishes the alert's ECS JSON
// document (alerts are rare, so it is encoded on the caller's goroutine).
func (p *Publisher) ExportAlert(a *detect.Alert) {
	b, err := a.MarshalJSON()
	if err != nil {
		p.dropEncode.Add(1)
		p.warn.Warn("cannot encode alert", "err", err)
		return
	}
	p.enqueue(item{alert: b})
}

// Alert queues one alert, given as its JSON document (one ECS line as
// package detect writes it). The bytes are copied.
func (p *Publisher) Alert(doc []byte) {
	p.enqueue(item{alert: append([]byte(nil), doc...)})
}

func (p *Publisher) enqueue(it item) {
	it.id = p.seq.Add(1)
	p.mu.Lock()
	switch {
	case p.closed:
		p.mu.Unlock()
		p.dropDone.Add(1)
		it.release()
	case len(p.pend)+int(p.taken.Load()) >= p.cfg.BufferSize:
		p.mu.Unlock()
		it.release()
		p.dropQueue.Add(1)
		if p.warn.Allow() {
			p.warn.Log("nats buffer full, dropping records", "url", redactURL(p.cfg.URL), "buffer", p.cfg.BufferSize, "dropped_total", p.dropQueue.Load())
		}
	default:
		p.pend = append(p.pend, it)
		first := len(p.pend) == 1
		p.mu.Unlock()
		if first {
			select {
			case p.wake <- struct{}{}:
			default:
			}
		}
	}
}

func (it *item) release() {
	if it.flow != nil {
		it.flow.release()
		it.flow = nil
	}
}

// swap takes the buffered items in exchange for a drained slice. They
// still count against BufferSize (taken) until acknowledged or dropped:
// counting pend alone let the buffer hold twice BufferSize records and
// more during an outage.
func (p *Publisher) swap(spare []item) []item {
	p.mu.Lock()
	got := p.pend
	p.pend = spare[:0]
	p.taken.Add(int64(len(got)))
	p.mu.Unlock()
	return got
}

// Close stops accepting records, tries for up to CloseTimeout to deliver
// what is buffered (counting the rest as shutdown drops) and disconnects.
func (p *Publisher) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	close(p.stop)
	<-p.done
	nerr := p.notConnected()
	p.nc.Close()
	if n := p.dropShutdown.Load(); n > 0 {
		if nerr != nil {
			return fmt.Errorf("stream: %d records undelivered at close: %w", n, nerr)
		}
		return fmt.Errorf("stream: %d records undelivered at close", n)
	}
	return nil
}

// Stats returns the cumulative counters.
func (p *Publisher) Stats() Stats {
	return Stats{
		Published: p.published.Load(), Messages: p.messages.Load(), Retried: p.retried.Load(),
		DropQueueFull: p.dropQueue.Load(), DropShutdown: p.dropShutdown.Load(),
		DropClosed: p.dropDone.Load(), DropEncode: p.dropEncode.Load(), DropTooLarge: p.dropTooLarge.Load(),
	}
}

// Losses reports the drop counters by reason; it satisfies
// metrics.LossSource.
func (p *Publisher) Losses() map[string]uint64 {
	return map[string]uint64{
		"queue_full": p.dropQueue.Load(),
		"shutdown":   p.dropShutdown.Load(),
		"closed":     p.dropDone.Load(),
		"encode":     p.dropEncode.Load(),
		"too_large":  p.dropTooLarge.Load(),
	}
}

// Buffered is the number of records held locally, not yet acknowledged:
// what counts against BufferSize.
func (p *Publisher) Buffered() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pend) + int(p.taken.Load())
}

// outMsg is one message to publish: n records as JSON lines.
type outMsg struct {
	msg *nats.Msg
	n   int
}

// pending is a message being published.
type pending struct {
	out outMsg
	fut jetstream.PubAckFuture
}

// builder packs records into messages of up to MaxRecords records or
// max bytes, one open message per subject.
type builder struct {
	p            *Publisher
	max          int // bytes of records in a message: MaxBytes or less (Publisher.maxData)
	out          []outMsg
	flows, alrts outMsg
	records      int // records in out and the open messages
	left         int // items not yet packed (sizes new buffers)
}

func (b *builder) add(it item) {
	cur, subj := &b.flows, b.p.flowSubj
	if it.flow == nil {
		cur, subj = &b.alrts, b.p.alrtSubj
	}
	if cur.msg == nil {
		b.open(cur, subj, it)
	}
	start := len(cur.msg.Data)
	switch {
	case it.flow != nil && b.p.cfg.Format == FormatProtobuf:
		cur.msg.Data = it.flow.marshalProto(b.p.cfg.Sensor, b.p.cfg.Columns, cur.msg.Data)
		it.flow.release()
	case it.flow != nil:
		cur.msg.Data = it.flow.marshal(b.p.cfg.Sensor, b.p.cfg.Columns, cur.msg.Data)
		cur.msg.Data = append(cur.msg.Data, '\n')
		it.flow.release()
	default:
		cur.msg.Data = append(cur.msg.Data, bytes.TrimRight(it.alert, "\r\n")...)
		cur.msg.Data = append(cur.msg.Data, '\n')
	}
	if len(cur.msg.Data) > b.max && cur.n > 0 {
		// The record would take the message past max: seal the message
		// without it and start the next one with it. (A record larger
		// than max alone goes in a message of its own, which fit drops
		// if the server cannot take it.)
		rec := bytes.Clone(cur.msg.Data[start:])
		cur.msg.Data = cur.msg.Data[:start]
		b.seal(cur)
		b.open(cur, subj, it)
		cur.msg.Data = append(cur.msg.Data, rec...)
	}
	cur.n++
	b.records++
	if cur.n >= b.p.cfg.MaxRecords || len(cur.msg.Data) >= b.max {
		b.seal(cur)
	}
}

// open starts the message cur of subject subj with it as first record.
func (b *builder) open(cur *outMsg, subj string, it item) {
	// Room up front for the records waiting now (up to a full
	// message): growing the buffer record by record cost more than
	// encoding them, and a full-size buffer for one record is waste.
	per := 512
	if len(b.p.cfg.Columns) > 0 {
		per = 4096
	}
	size := min(b.max+16<<10, (b.left+1)*per)
	cur.msg = &nats.Msg{Subject: subj, Header: nats.Header{}, Data: make([]byte, 0, size)}
	// The first record's number identifies the message: a re-publish
	// carries the same ID and JetStream drops it as a duplicate.
	cur.msg.Header.Set(jetstream.MsgIDHeader, b.p.idPrefix+strconv.FormatUint(it.id, 10))
	format := FormatJSON
	if it.flow != nil {
		format = b.p.cfg.Format
	}
	cur.msg.Header.Set(FormatHeader, format)
}

func (b *builder) seal(cur *outMsg) {
	if cur.msg != nil {
		cur.msg.Header.Set(RecordsHeader, strconv.Itoa(cur.n))
		b.out = append(b.out, *cur)
		*cur = outMsg{}
	}
}

func (b *builder) sealAll() {
	b.seal(&b.flows)
	b.seal(&b.alrts)
}

// maxData is how many bytes of records a message may hold: MaxBytes, or
// less to stay under the server's max_payload with the headers (known
// once connected).
func (p *Publisher) maxData() int {
	if lim := p.payloadLimit(); lim > 0 {
		return max(1, min(p.cfg.MaxBytes, lim-p.headerRoom()))
	}
	return p.cfg.MaxBytes
}

// payloadLimit is the most bytes (headers and data) a message may take:
// the server's max_payload, or the stream's max_msg_size where a message
// was refused for it and that is smaller; 0 while the client has not
// connected yet and knows neither.
func (p *Publisher) payloadLimit() int {
	lim := int(p.nc.MaxPayload())
	if sm := int(p.streamMax.Load()); sm > 0 && (lim <= 0 || sm < lim) {
		lim = sm
	}
	return lim
}

// learnStreamMax sets streamMax after the stream refused a message of
// size bytes as over its max_msg_size, which the server checks only when
// it stores the message (the client's max_payload check passed): from the
// stream's configuration, or half the message where it cannot be read,
// so that fit splits the message next round instead of re-publishing it
// at the head of the queue forever.
func (p *Publisher) learnStreamMax(size int) {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.AckTimeout)
	defer cancel()
	lim := int64(size / 2)
	if s, err := p.js.Stream(ctx, p.cfg.Stream); err == nil && s.CachedInfo().Config.MaxMsgSize > 0 {
		lim = int64(s.CachedInfo().Config.MaxMsgSize)
	}
	if old := p.streamMax.Load(); old == 0 || lim < old {
		p.streamMax.Store(max(lim, 1))
	}
	p.warn.Warn("nats stream refused a message over its max_msg_size; splitting messages to fit it", "stream", p.cfg.Stream,
		"message_bytes", size, "max_msg_size", p.streamMax.Load())
}

// headerRoom bounds the bytes the headers of a message take: the
// Nats-Msg-Id of up to 20 digits (and a part's suffix, see fit), the
// format and the record count.
func (p *Publisher) headerRoom() int {
	return len("NATS/1.0\r\n\r\n") + len(jetstream.MsgIDHeader+": \r\n") + len(p.idPrefix) + 20 + 3 +
		len(FormatHeader+": "+FormatProtobuf+"\r\n") + len(RecordsHeader+": \r\n") + 10
}

// fit returns msgs with every message the server cannot take (headers and
// data past its max_payload) split into messages it can, and the records
// too large for one alone dropped and counted. The parts of a message get
// its Nats-Msg-Id with ".<part>" appended, so a re-publish of a part is
// still recognised as one.
func (p *Publisher) fit(msgs []outMsg) []outMsg {
	lim := p.payloadLimit()
	if lim <= 0 {
		return msgs
	}
	var out []outMsg
	for i, m := range msgs {
		if msgSize(m.msg) <= lim {
			if out != nil {
				out = append(out, m)
			}
			continue
		}
		if out == nil {
			out = append(make([]outMsg, 0, len(msgs)+4), msgs[:i]...)
		}
		maxData := max(1, lim-p.headerRoom())
		id := m.msg.Header.Get(jetstream.MsgIDHeader)
		var part outMsg
		parts := 0
		seal := func() {
			if part.n > 0 {
				part.msg.Header.Set(RecordsHeader, strconv.Itoa(part.n))
				out = append(out, part)
			}
			part = outMsg{}
		}
		for _, rec := range splitRecords(m.msg) {
			if len(rec) > maxData {
				p.dropTooLarge.Add(1)
				p.taken.Add(-1)
				p.warn.Warn("nats record larger than the server's max_payload (or the stream's max_msg_size); dropped", "url", redactURL(p.cfg.URL),
					"subject", m.msg.Subject, "record_bytes", len(rec), "max_payload", lim, "dropped_total", p.dropTooLarge.Load())
				continue
			}
			if part.msg != nil && len(part.msg.Data)+len(rec) > maxData {
				seal()
			}
			if part.msg == nil {
				h := nats.Header{}
				h.Set(jetstream.MsgIDHeader, id+"."+strconv.Itoa(parts))
				parts++
				h.Set(FormatHeader, m.msg.Header.Get(FormatHeader))
				part.msg = &nats.Msg{Subject: m.msg.Subject, Header: h}
			}
			part.msg.Data = append(part.msg.Data, rec...)
			part.n++
		}
		seal()
	}
	if out == nil {
		return msgs
	}
	return out
}

// msgSize is the size of m as the server's max_payload counts it: the
// headers as the client writes them and the data.
func msgSize(m *nats.Msg) int {
	n := len(m.Data)
	if len(m.Header) > 0 {
		n += len("NATS/1.0\r\n\r\n")
		for k, vs := range m.Header {
			for _, v := range vs {
				n += len(k) + len(": \r\n") + len(v)
			}
		}
	}
	return n
}

// splitRecords cuts a message's data into its records, each with its
// delimiter: varint-delimited protobuf, or lines.
func splitRecords(m *nats.Msg) [][]byte {
	var recs [][]byte
	data := m.Data
	if m.Header.Get(FormatHeader) == FormatProtobuf {
		for len(data) > 0 {
			size, n := protowire.ConsumeVarint(data)
			if n < 0 || size > uint64(len(data)-n) {
				return append(recs, data) // cannot happen: we encoded it
			}
			recs = append(recs, data[:n+int(size)])
			data = data[n+int(size):]
		}
		return recs
	}
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return append(recs, data)
		}
		recs = append(recs, data[:i+1])
		data = data[i+1:]
	}
	return recs
}

// RecordsHeader is the message header holding the number of records (JSON
// lines) in a message.
const RecordsHeader = "Flowhawk-Records"

func (p *Publisher) run() {
	defer close(p.done)
	var (
		retry    []outMsg // published but not acknowledged: send again
		backlog  []item   // taken from the buffer, not yet packed
		bi       int      // next backlog item
		deadline time.Time
		backoff  = 100 * time.Millisecond
		streamOK = !p.cfg.CreateStream
	)
	stopping := func() bool {
		select {
		case <-p.stop:
			if deadline.IsZero() {
				deadline = time.Now().Add(p.cfg.CloseTimeout)
			}
			return true
		default:
			return false
		}
	}
	for {
		if bi == len(backlog) {
			clear(backlog)
			backlog, bi = p.swap(backlog), 0
		}
		if len(retry) == 0 && bi == len(backlog) {
			if stopping() {
				return
			}
			select {
			case <-p.wake:
				// Linger so records accumulate: fewer wake-ups of this
				// goroutine and fuller messages for the broker.
				select {
				case <-time.After(p.cfg.Linger):
				case <-p.stop:
				}
			case <-p.stop:
			}
			continue
		}
		// A round: earlier failures first, then backlog items packed into
		// messages, up to Batch messages.
		b := builder{p: p, max: p.maxData(), out: retry}
		retry = nil
		for bi < len(backlog) && len(b.out) < p.cfg.Batch {
			b.left = len(backlog) - bi
			b.add(backlog[bi])
			backlog[bi] = item{}
			bi++
		}
		b.sealAll()
		// Messages packed before the client knew the server's
		// max_payload (or for another server of a cluster) may pass it:
		// published as they are, they failed at the head of the queue
		// forever.
		b.out = p.fit(b.out)
		b.records = 0
		for _, m := range b.out {
			b.records += m.n
		}
		stop := stopping()
		if stop && time.Now().After(deadline) {
			p.mu.Lock()
			rest := len(p.pend)
			p.mu.Unlock()
			p.dropShutdown.Add(uint64(b.records + len(backlog) - bi + rest))
			p.taken.Add(-int64(b.records + len(backlog) - bi))
			return
		}
		if !streamOK {
			streamOK = p.ensureStream()
		}
		failed := p.publish(b.out)
		if len(failed) == 0 {
			backoff = 100 * time.Millisecond
			continue
		}
		for _, m := range failed {
			p.retried.Add(uint64(m.n))
		}
		retry = failed
		// Wait before retrying, but wake up for Close.
		wait := backoff
		if stop {
			wait = min(wait, time.Until(deadline))
		}
		select {
		case <-time.After(wait):
		case <-p.stopAfter(stop):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// stopAfter returns the stop channel, or nil (never ready) once stopping,
// so a retry wait is only cut short by the first Close.
func (p *Publisher) stopAfter(stopping bool) <-chan struct{} {
	if stopping {
		return nil
	}
	return p.stop
}

// publish sends the messages asynchronously and waits for the acks; it
// returns the messages that were not acknowledged.
func (p *Publisher) publish(batch []outMsg) []outMsg {
	pend := make([]pending, 0, len(batch))
	var failed []outMsg
	for i, m := range batch {
		fut, err := p.js.PublishMsgAsync(m.msg)
		if err != nil {
			// Before the first connection the client knows no server and
			// says "headers not supported": name the real cause.
			if nerr := p.notConnected(); nerr != nil {
				err = nerr
			}
			p.warn.Warn("nats publish failed; will retry", "url", redactURL(p.cfg.URL), "err", err, "buffered", p.Buffered())
			failed = append(failed, batch[i:]...)
			break
		}
		pend = append(pend, pending{m, fut})
	}
	if len(pend) > 0 {
		select {
		case <-p.js.PublishAsyncComplete():
		case <-time.After(p.cfg.AckTimeout + time.Second):
		}
	}
	var firstErr error
	for _, pm := range pend {
		select {
		case <-pm.fut.Ok():
			p.published.Add(uint64(pm.out.n))
			p.taken.Add(-int64(pm.out.n))
			p.messages.Add(1)
			continue
		case err := <-pm.fut.Err():
			if errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum) {
				p.learnStreamMax(msgSize(pm.out.msg))
			}
			if firstErr == nil {
				firstErr = err
			}
		default:
		}
		// A fresh message: the future's copy may still be referenced.
		m := pm.out.msg
		failed = append(failed, outMsg{&nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data}, pm.out.n})
	}
	if firstErr != nil {
		if nerr := p.notConnected(); nerr != nil {
			// Messages taken while the client retries its connection
			// time out: the reason is the connection's (refused
			// credentials), not the ack's.
			firstErr = fmt.Errorf("%w (%v)", nerr, firstErr)
		}
		p.warn.Warn("nats publish not acknowledged; will retry", "url", redactURL(p.cfg.URL), "err", firstErr, "unacked", len(failed), "buffered", p.Buffered())
	}
	return failed
}

// ensureStream creates the stream if it does not exist; it reports
// whether the stream is there.
func (p *Publisher) ensureStream() bool {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.AckTimeout)
	defer cancel()
	_, err := p.js.Stream(ctx, p.cfg.Stream)
	if err == nil {
		return true
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		p.warn.Warn("nats stream lookup failed", "stream", p.cfg.Stream, "err", err)
		return false
	}
	if err := createStream(ctx, p.js, p.cfg.Stream); err != nil {
		p.warn.Warn("nats stream create failed", "stream", p.cfg.Stream, "err", err)
		return false
	}
	return true
}

// createMu makes createStream's lookup and creation one step in a process.
var createMu sync.Mutex

// createStream creates the stream name (StreamConfig) that a lookup found
// missing. Another sensor or collector may create it at the same moment:
// nats-server then refuses the later request, by name or, when both
// passed its name check together, as "subjects overlap with an existing
// stream"; a stream of that name found after the refusal is the one
// wanted, and no error. Within one process (collect's flow and alert
// consumers start together) the lookup and the creation are one step,
// so that only the one that created the stream says so: nats-server
// answers an identical creation request with success, and collect
// logged "created nats stream" twice.
func createStream(ctx context.Context, js jetstream.JetStream, name string) error {
	createMu.Lock()
	defer createMu.Unlock()
	if _, err := js.Stream(ctx, name); err == nil {
		return nil
	}
	return createStreamRace(ctx, js, name)
}

// createStreamRace is createStream without the process's lock: the
// creation request, and the lookup after a refusal by a creator
// elsewhere.
func createStreamRace(ctx context.Context, js jetstream.JetStream, name string) error {
	_, err := js.CreateStream(ctx, StreamConfig(name))
	if err == nil {
		slog.Info("created nats stream", "stream", name, "subjects", "flowhawk.>")
		return nil
	}
	if _, lerr := js.Stream(ctx, name); lerr == nil {
		return nil
	}
	return err
}

// StreamConfig is the JetStream stream flowhawk creates when asked: every
// sensor's flows and alerts, on disk, with a duplicate window long enough
// to absorb re-publishes after an outage.
func StreamConfig(name string) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:       name,
		Subjects:   []string{"flowhawk.>"},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		MaxAge:     7 * 24 * time.Hour,
		Duplicates: 10 * time.Minute,
	}
}

// notConnected says why the client is not connected to the server (the
// last failed attempt's error, as refused credentials), nil while it is.
func (p *Publisher) notConnected() error {
	if p.nc.IsConnected() {
		return nil
	}
	cause := p.nc.LastError()
	if e := p.dialErr.Load(); e != nil {
		cause = *e
	}
	switch {
	case cause == nil:
		return fmt.Errorf("not connected to %s", redactURL(p.cfg.URL))
	case errors.Is(cause, nats.ErrAuthorization):
		return fmt.Errorf("nats %s refused the credentials: %w (give them in $FLOWHAWK_NATS_USER and $FLOWHAWK_NATS_PASSWORD, $FLOWHAWK_NATS_TOKEN or a .creds file)", redactURL(p.cfg.URL), cause)
	}
	return fmt.Errorf("not connected to %s: %w", redactURL(p.cfg.URL), cause)
}

// cmpOr returns the first non-nil error.
func cmpOr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// redactURL hides the password or token of each server URL in u (a
// comma-separated list) for logs and errors.
func redactURL(u string) string {
	parts := strings.Split(u, ",")
	for i, p := range parts {
		if pu, err := url.Parse(strings.TrimSpace(p)); err == nil && pu.User != nil {
			if _, has := pu.User.Password(); has {
				pu.User = url.UserPassword(pu.User.Username(), "xxxxx")
			} else {
				pu.User = url.User("xxxxx") // a token alone
			}
			parts[i] = pu.String()
		}
	}
	return strings.Join(parts, ",")
}
