package stream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/parquet-go/parquet-go"

	"github.com/flowhawk/flowhawk/export"
	"github.com/flowhawk/flowhawk/internal/ratelog"
	"github.com/flowhawk/flowhawk/label"
)

// ParquetConfig configures ConsumeToParquet, the central side of a fleet:
// one durable JetStream consumer storing every sensor's flows in Parquet
// files that DuckDB, Spark or pandas query in one place.
type ParquetConfig struct {
	URL string
	// User and Password, Token, or CredsFile authenticate to the server
	// outside URL, as in Config, so that no secret need stand on a
	// command line.
	User, Password string
	Token          string
	CredsFile      string
	Stream         string // default "FLOWHAWK"
	// CreateStream creates the stream (StreamConfig) when it is missing,
	// so a central consumer can set up the fleet's stream itself.
	CreateStream bool
	// Durable names the consumer; JetStream remembers what it
	// acknowledged, so a restarted consumer resumes where it stopped, and
	// one deleted under a running consumer is created again after the
	// last message stored. Default "flowhawk-parquet".
	Durable string
	// Subject filters what is stored (default "flowhawk.*.flows": every
	// sensor).
	Subject string
	// Dir receives files named flows-<UTC time to the nanosecond>.parquet
	// (flows-20261205T080000.123456789Z.parquet).
	Dir string
	// Rotate closes a file after this long (default 1 min) or MaxRows
	// rows (default 1,000,000). Messages are acknowledged only once the
	// file holding them is closed, synced and renamed into place, so a
	// crash loses nothing: JetStream redelivers what was not acknowledged.
	Rotate  time.Duration
	MaxRows int
	// AckWait is how long JetStream waits for a delivered message's
	// acknowledgement before delivering it again, which is how soon a
	// crashed consumer's messages come back (default 2×Rotate + 30 s). It
	// must exceed Rotate; while a file is open its messages are reported
	// in progress every quarter of AckWait, which restarts it, so they do
	// not come back before the file is closed (which AckWait must cover).
	AckWait time.Duration
	// Fetch is how many messages the client asks for ahead of need and
	// holds (default 256).
	Fetch int
}

// AlertsConfig configures ConsumeAlerts. Its fields mean what
// ParquetConfig's do, with other defaults: Durable
// "flowhawk-parquet-alerts", Subject "flowhawk.*.alerts", files
// alerts-<UTC time>.jsonl, and MaxRows counts alerts.
type AlertsConfig ParquetConfig

func (c *ParquetConfig) defaults() {
	if c.Stream == "" {
		c.Stream = "FLOWHAWK"
	}
	if c.Durable == "" {
		c.Durable = "flowhawk-parquet"
	}
	if c.Subject == "" {
		c.Subject = "flowhawk.*.flows"
	}
	if c.Rotate <= 0 {
		c.Rotate = time.Minute
	}
	if c.MaxRows <= 0 {
		c.MaxRows = 1_000_000
	}
	if c.AckWait <= 0 {
		// Acks wait for the file to close: give them the rotation time
		// and a margin before JetStream redelivers.
		c.AckWait = math.MaxInt64 // a roll interval of over 146 years
		if c.Rotate < (math.MaxInt64-30*time.Second)/2 {
			c.AckWait = 2*c.Rotate + 30*time.Second
		}
	}
	if c.Fetch <= 0 {
		c.Fetch = 256
	}
}

// FlowRow is the Parquet row of a stored flow: FlowRecord without the
// feature map (keep the feature columns in the sensors' own flow files).
type FlowRow struct {
	Sensor     string    `parquet:"sensor,dict"`
	ID         uint64    `parquet:"flow_id"`
	Start      time.Time `parquet:"start,timestamp(microsecond)"`
	End        time.Time `parquet:"end,timestamp(microsecond)"`
	DurationUS float64   `parquet:"duration_us"`
	SrcIP      string    `parquet:"src_ip"`
	SrcPort    uint16    `parquet:"src_port"`
	DstIP      string    `parquet:"dst_ip"`
	DstPort    uint16    `parquet:"dst_port"`
	Proto      uint8     `parquet:"proto"`
	VLAN       uint16    `parquet:"vlan"`
	VLANInner  uint16    `parquet:"vlan_inner"`
	Tunnel     uint32    `parquet:"tunnel_id"`
	FwdPackets uint64    `parquet:"fwd_packets"`
	FwdBytes   uint64    `parquet:"fwd_bytes"`
	BwdPackets uint64    `parquet:"bwd_packets"`
	BwdBytes   uint64    `parquet:"bwd_bytes"`
	FwdPayload uint64    `parquet:"fwd_payload_bytes"`
	BwdPayload uint64    `parquet:"bwd_payload_bytes"`
	FwdFlags   uint8     `parquet:"fwd_tcp_flags"`
	BwdFlags   uint8     `parquet:"bwd_tcp_flags"`
	EndReason  string    `parquet:"end_reason,dict"`
	Partial    bool      `parquet:"partial"`
	// Sampled is the sensor's 1-in-N packet sampling rate (0: every
	// packet): the counts are estimates, already scaled by N.
	Sampled uint32 `parquet:"sampling_rate"`
	Class   string `parquet:"class,dict"`
}

func rowOf(r *FlowRecord) FlowRow {
	return FlowRow{
		Sensor: r.Sensor, ID: r.ID, Start: r.Start, End: r.End, DurationUS: r.DurationUS,
		SrcIP: r.SrcIP, SrcPort: r.SrcPort, DstIP: r.DstIP, DstPort: r.DstPort, Proto: r.Proto,
		VLAN: r.VLAN, VLANInner: r.VLANInner, Tunnel: r.Tunnel,
		FwdPackets: r.FwdPackets, FwdBytes: r.FwdBytes, BwdPackets: r.BwdPackets, BwdBytes: r.BwdBytes,
		FwdPayload: r.FwdPayload, BwdPayload: r.BwdPayload, FwdFlags: r.FwdFlags, BwdFlags: r.BwdFlags,
		EndReason: r.EndReason, Partial: r.Partial, Sampled: r.Sampled, Class: r.Class,
	}
}

// ConsumeStats counts what ConsumeToParquet or ConsumeAlerts did.
type ConsumeStats struct {
	// Rows counts records stored (flows, or alerts), Files the files
	// closed and renamed into place, Messages the JetStream messages that
	// held the records: those of files renamed into place only, so a run
	// that failed before it could finish its file counts none of it.
	Rows, Files, Messages uint64
	// Bad counts records that were not flow records, or alerts that
	// report --alerts reads (logged and skipped), and records missing from a message that its
	// Flowhawk-Records header counts (the rest of a protobuf message
	// after a record whose length is bad).
	Bad uint64
	// Redelivered counts messages JetStream delivered more than once: an
	// earlier run stopped before acknowledging them (a crash leaves them
	// in a .tmp file) or an acknowledgement was lost.
	Redelivered uint64
	// Errors counts failed fetches (retried), failed acknowledgements
	// (JetStream redelivers those messages) and durables found deleted
	// (created again).
	Errors uint64
}

// recordWriter writes the records of messages into one open file.
type recordWriter interface {
	// write stores m's records; it returns how many it stored and how
	// many it skipped as bad, with the last bad record's error.
	write(m jetstream.Msg) (n, bad int, badErr error, err error)
	// close ends the file's content (footer, buffered lines).
	close() error
}

// fileKind is what a consumer stores: files named <what>-<time><ext>.
type fileKind struct {
	what, ext string
	create    func(io.Writer) recordWriter
}

// parquetRecords writes flow records as FlowRows.
type parquetRecords struct {
	w    *parquet.GenericWriter[FlowRow]
	rows []FlowRow
}

// decodeFlowJSON decodes one JSON flow record. A JSON document without a
// flow's source address and start (an alert line, from a --subject that
// also matches the alerts subjects) is not one: stored, it became a row
// of zeros.
func decodeFlowJSON(line []byte) (FlowRecord, error) {
	var r FlowRecord
	if err := json.Unmarshal(line, &r); err != nil {
		return r, err
	}
	return r, checkFlow(&r)
}

// checkFlow refuses a decoded record without a flow's source address and
// start, in either format: a JSON alert line, or an empty protobuf record
// (length 0), which decoded to a row of zeros and was stored.
func checkFlow(r *FlowRecord) error {
	if r.SrcIP == "" || r.Start.IsZero() {
		return errors.New("not a flow record: no src_ip or start")
	}
	return nil
}

// subjectSensor is the sensor token of a sensor's subject
// (flowhawk.<sensor>.flows or .alerts), "" for any other subject.
func subjectSensor(subject string) string {
	parts := strings.Split(subject, ".")
	if len(parts) == 3 && parts[0] == "flowhawk" && (parts[2] == "flows" || parts[2] == "alerts") {
		return parts[1]
	}
	return ""
}

// checkSensor refuses a record that names another sensor than the subject
// it came on: the subject is what NATS permissions can restrict per
// sensor, the name in the record is whatever the publisher wrote, and the
// store keeps sensors apart by it. A record that names none claims no
// other sensor's place.
func checkSensor(subject, named string) error {
	if want := subjectSensor(subject); want != "" && named != "" && named != want {
		return fmt.Errorf("a record of sensor %q on %s (a sensor publishes under its own name only)", named, subject)
	}
	return nil
}

func (p *parquetRecords) write(m jetstream.Msg) (n, bad int, badErr error, err error) {
	p.rows = p.rows[:0]
	subject := m.Subject()
	if m.Headers().Get(FormatHeader) == FormatProtobuf {
		for data := m.Data(); len(data) > 0; {
			r, k, err := DecodeFlowProto(data)
			if err != nil {
				bad, badErr = bad+1, err
				if k == 0 {
					// The rest of the message cannot be delimited
					// (consumeFiles counts what the header says it
					// lost).
					break
				}
				data = data[k:] // the next record
				continue
			}
			data = data[k:]
			if err := errors.Join(checkFlow(&r), checkSensor(subject, r.Sensor)); err != nil {
				bad, badErr = bad+1, err
				continue
			}
			p.rows = append(p.rows, rowOf(&r))
		}
	} else {
		for _, line := range bytes.Split(m.Data(), []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			r, err := decodeFlowJSON(line)
			if err == nil {
				err = checkSensor(subject, r.Sensor)
			}
			if err != nil {
				bad, badErr = bad+1, err
				continue
			}
			p.rows = append(p.rows, rowOf(&r))
		}
	}
	if _, err := p.w.Write(p.rows); err != nil {
		return 0, bad, badErr, err
	}
	return len(p.rows), bad, badErr, nil
}

func (p *parquetRecords) close() error { return p.w.Close() }

// jsonlRecords writes each alert line of a message as it came.
type jsonlRecords struct{ w *bufio.Writer }

func (j *jsonlRecords) write(m jetstream.Msg) (n, bad int, badErr error, err error) {
	for _, line := range bytes.Split(m.Data(), []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		observer, err := checkAlert(line)
		if err != nil {
			bad, badErr = bad+1, fmt.Errorf("not an alert: %w", err)
			continue
		}
		if err := checkSensor(m.Subject(), observer); err != nil {
			bad, badErr = bad+1, err
			continue
		}
		if !utf8.Valid(line) {
			// Bad bytes can only be inside JSON strings (encoding/json
			// took the line): as U+FFFD, what a decoder reads anyway.
			line = []byte(label.Valid(string(line)))
		}
		j.w.Write(line)
		if err := j.w.WriteByte('\n'); err != nil {
			return n, bad, badErr, err
		}
		n++
	}
	return n, bad, badErr, nil
}

func (j *jsonlRecords) close() error { return j.w.Flush() }

// checkAlert refuses a line that report --alerts (report.ReadAlerts) would
// refuse, failing the whole file: any JSON document was stored, 123 or
// {"ok":1} too. It takes a JSON object with an RFC 3339 @timestamp and,
// if it has one, a flowhawk.count (nested or dotted) that is a whole
// count of 1 or more. (Package report cannot be imported here: its tests
// import this package.) It returns the alert's observer.name (nested or
// dotted), the sensor that raised it.
func checkAlert(line []byte) (observer string, err error) {
	// Decoded with encoding/json, as report's reader decodes whatever its
	// fast path does not take: a number past float64 (1e400) fails there,
	// and a null count is no count.
	var doc map[string]any
	if err := json.Unmarshal(line, &doc); err != nil || doc == nil {
		return "", errors.New("not a JSON object")
	}
	ts, _ := doc["@timestamp"].(string)
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		return "", fmt.Errorf("@timestamp %q: %w", ts, err)
	}
	count, ok := doc["flowhawk.count"]
	if fh, isObj := doc["flowhawk"].(map[string]any); !ok && isObj {
		count = fh["count"]
	}
	if c, ok := count.(float64); ok && (c < 1 || c > 1<<53 || c != math.Trunc(c)) {
		return "", fmt.Errorf("flowhawk.count %v is not a count", c)
	}
	observer, ok = doc["observer.name"].(string)
	if obs, isObj := doc["observer"].(map[string]any); !ok && isObj {
		observer, _ = obs["name"].(string)
	}
	return observer, nil
}

var (
	parquetKind = fileKind{what: "flows", ext: ".parquet", create: func(w io.Writer) recordWriter {
		return &parquetRecords{w: parquet.NewGenericWriter[FlowRow](w), rows: make([]FlowRow, 0, 256)}
	}}
	alertsKind = fileKind{what: "alerts", ext: ".jsonl", create: func(w io.Writer) recordWriter {
		return &jsonlRecords{w: bufio.NewWriterSize(w, 64<<10)}
	}}
)

// ConsumeToParquet stores flows from JetStream into Parquet files until
// ctx is done; it then closes the open file, acknowledges its messages and
// returns.
func ConsumeToParquet(ctx context.Context, cfg ParquetConfig) (ConsumeStats, error) {
	cfg.defaults()
	return consumeFiles(ctx, cfg, parquetKind)
}

// ConsumeAlerts stores alerts (ECS JSON lines, as sensors publish them on
// flowhawk.<sensor>.alerts) from JetStream into JSON Lines files until ctx
// is done, with ConsumeToParquet's guarantee: a message is acknowledged
// only once the file holding it is synced and renamed into place.
func ConsumeAlerts(ctx context.Context, cfg AlertsConfig) (ConsumeStats, error) {
	if cfg.Durable == "" {
		cfg.Durable = "flowhawk-parquet-alerts"
	}
	if cfg.Subject == "" {
		cfg.Subject = "flowhawk.*.alerts"
	}
	pc := ParquetConfig(cfg)
	pc.defaults()
	return consumeFiles(ctx, pc, alertsKind)
}

// authOptions are the NATS options of the credentials given outside the
// URL.
func authOptions(user, password, token, creds string) []nats.Option {
	var opts []nats.Option
	if user != "" || password != "" {
		opts = append(opts, nats.UserInfo(user, password))
	}
	if token != "" {
		opts = append(opts, nats.Token(token))
	}
	if creds != "" {
		opts = append(opts, nats.UserCredentials(creds))
	}
	return opts
}

// checkDir creates dir if needed and proves it writable, so that a
// consumer refuses to start (and to take messages) where it could not
// store them.
func checkDir(dir string) error {
	if dir == "" {
		return errors.New("stream: no directory to store files in")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("stream: directory %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".flowhawk-probe-*")
	if err != nil {
		return fmt.Errorf("stream: directory %s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// consumerFor connects and creates (or reuses) the durable consumer,
// turning the usual failures into errors that say what to do.
func consumerFor(ctx context.Context, cfg ParquetConfig, what string, pos *position) (*nats.Conn, jetstream.JetStream, jetstream.Consumer, error) {
	url := redactURL(cfg.URL)
	warn := &ratelog.Limiter{Every: 10 * time.Second}
	opts := append([]nats.Option{
		nats.Name("flowhawk " + what + " consumer"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				warn.Warn("nats disconnected; reconnecting", "url", url, "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { slog.Info("nats reconnected", "url", url) }),
	}, authOptions(cfg.User, cfg.Password, cfg.Token, cfg.CredsFile)...)
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		var pe *os.PathError
		switch {
		case errors.As(err, &pe): // the .creds file
			return nil, nil, nil, fmt.Errorf("stream: nats credentials: %w", err)
		case errors.Is(err, nats.ErrAuthorization):
			return nil, nil, nil, fmt.Errorf("stream: nats %s refused the credentials: %w (give them in $FLOWHAWK_NATS_USER and $FLOWHAWK_NATS_PASSWORD, $FLOWHAWK_NATS_TOKEN or a .creds file)", url, err)
		}
		return nil, nil, nil, fmt.Errorf("stream: cannot connect to nats %s: %w (is the broker up and the URL right?)", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, nil, fmt.Errorf("stream: jetstream: %w", err)
	}
	cons, err := durableFor(ctx, js, cfg, pos, 0)
	if err != nil {
		nc.Close()
		return nil, nil, nil, err
	}
	slog.Info("consuming", "what", what, "subject", cfg.Subject, "stream", cfg.Stream, "durable", cfg.Durable, "url", url)
	return nc, js, cons, nil
}

// durableFor creates the stream when cfg.CreateStream says so and it is
// missing, then creates (or reuses) the durable consumer and resets pos to
// it: at start (from 0), and again when the durable or its stream was
// deleted under a running consumer, when a durable created anew starts at
// stream sequence from (unless the stream is another), so that what was
// stored is not stored again.
func durableFor(ctx context.Context, js jetstream.JetStream, cfg ParquetConfig, pos *position, from uint64) (jetstream.Consumer, error) {
	url := redactURL(cfg.URL)
	s, serr := js.Stream(ctx, cfg.Stream)
	if errors.Is(serr, jetstream.ErrStreamNotFound) && cfg.CreateStream {
		if err := createStream(ctx, js, cfg.Stream); err != nil {
			return nil, fmt.Errorf("stream: create stream %s on %s: %w", cfg.Stream, url, err)
		}
		s, serr = js.Stream(ctx, cfg.Stream)
	}
	if errors.Is(serr, jetstream.ErrStreamNotFound) && from != 0 {
		// Waited for by the caller; at start the consumer's creation
		// below says what to do.
		return nil, fmt.Errorf("stream: stream %s on %s: %w", cfg.Stream, url, serr)
	}
	var si *jetstream.StreamInfo
	if serr == nil {
		si = s.CachedInfo()
	}
	cc := jetstream.ConsumerConfig{
		Durable:       cfg.Durable,
		FilterSubject: cfg.Subject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxAckPending: -1,
	}
	old, err := js.Consumer(ctx, cfg.Stream, cfg.Durable)
	if err == nil {
		// A durable whose filter is moved skips messages: nats-server
		// (2.9.10) took the new filter and then delivered none of the
		// added subjects' messages, before or after, so a collector
		// widened from one sensor to all stored nothing more.
		if oc := old.CachedInfo().Config; oc.FilterSubject != cfg.Subject || len(oc.FilterSubjects) > 0 {
			have := oc.FilterSubject
			if len(oc.FilterSubjects) > 0 {
				have = strings.Join(oc.FilterSubjects, ",")
			} else if have == "" {
				have = "every subject of the stream"
			}
			return nil, fmt.Errorf("stream: durable consumer %s on stream %s at %s stores %s, not %s: "+
				"a durable's subject cannot be changed without skipping messages; give this subject a durable of its own "+
				"(--durable), or remove the old one (nats consumer rm %s %s) to store the stream's messages again",
				cfg.Durable, cfg.Stream, url, have, cfg.Subject, cfg.Stream, cfg.Durable)
		}
		// Taken as it is: nats-server refuses to update where a durable
		// starts, as one created again after a deletion does.
		oc := old.CachedInfo().Config
		cc.DeliverPolicy, cc.OptStartSeq, cc.OptStartTime = oc.DeliverPolicy, oc.OptStartSeq, oc.OptStartTime
		if from != 0 {
			slog.Info("the durable consumer exists again; taking it as it is", "durable", cfg.Durable, "stream", cfg.Stream)
		}
	} else if from != 0 {
		switch {
		case si == nil:
			// Stored twice rather than skipped.
			slog.Info("creating the durable consumer again from the stream's first message: no stream info",
				"durable", cfg.Durable, "stream", cfg.Stream, "err", serr)
		case si.Created.IsZero() || !si.Created.Equal(pos.created) || from > si.State.LastSeq+1:
			// Another stream's sequences say nothing of what was stored.
			slog.Info("creating the durable consumer again from the stream's first message: the stream was created again",
				"durable", cfg.Durable, "stream", cfg.Stream)
		default:
			if from > si.State.FirstSeq {
				cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from
			}
			slog.Info("creating the durable consumer again, resuming after what was stored",
				"durable", cfg.Durable, "stream", cfg.Stream, "resume_seq", max(from, si.State.FirstSeq))
		}
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, cfg.Stream, cc)
	if err != nil {
		switch {
		case errors.Is(err, jetstream.ErrStreamNotFound):
			return nil, fmt.Errorf("stream: %s has no JetStream stream %s: %w; create it once with "+
				"`nats stream add %s --subjects 'flowhawk.>' --storage file --retention limits --max-age 7d --dupe-window 10m` "+
				"(docs/outputs.md), or let a sensor or collect create it with --nats-create-stream",
				url, cfg.Stream, err, cfg.Stream)
		case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
			return nil, fmt.Errorf("stream: %s: %w (start nats-server with -js, or enable JetStream for the account)", url, err)
		case errors.Is(err, nats.ErrNoResponders):
			// A server without JetStream does not answer its API at all.
			return nil, fmt.Errorf("stream: %s: JetStream does not answer: %w (start nats-server with -js, or enable JetStream for the account)", url, err)
		}
		return nil, fmt.Errorf("stream: consumer %s of %s on stream %s at %s: %w", cfg.Durable, cfg.Subject, cfg.Stream, url, err)
	}
	var created time.Time
	if si != nil {
		created = si.Created
	}
	pos.reset(cons.CachedInfo(), created)
	return cons, nil
}

// position tracks where a durable created again must resume: after the
// messages stored, and never after one that may not be.
type position struct {
	created time.Time // the stream's creation, to tell a stream created again
	stored  uint64    // highest stream sequence in a finished file
	floor   uint64    // the durable's ack floor at its last info: all up to it are stored
	// unsure is a stream sequence up to which a message may have been
	// delivered and not stored (to a crashed earlier run, or lost on its
	// way), so resume after floor until floor reaches it (0: none).
	unsure   uint64
	lastSeq  uint64 // highest stream sequence received
	lastCons uint64 // consumer sequence of the last delivery received, to see one lost
}

// reset starts on a durable as found or created; what it delivered and
// was not acknowledged may be anywhere above its ack floor.
func (p *position) reset(ci *jetstream.ConsumerInfo, created time.Time) {
	*p = position{created: created, unsure: ci.Delivered.Stream,
		lastSeq: ci.Delivered.Stream, lastCons: ci.Delivered.Consumer}
	p.learn(ci)
	p.stored = p.floor
}

// learn takes the durable's ack floor from a fresh info, which clears an
// unsure position once every message up to it was acknowledged.
func (p *position) learn(ci *jetstream.ConsumerInfo) {
	floor := ci.AckFloor.Stream
	if ci.NumAckPending == 0 {
		// All delivered is acknowledged: a durable created at a start
		// sequence (nats-server 2.9.10) says ack floor 0.
		floor = max(floor, ci.Delivered.Stream)
	}
	p.floor = max(p.floor, floor)
	if p.floor >= p.unsure {
		p.unsure = 0
	}
}

// received notes a delivery: a gap in the consumer sequences is one that
// never arrived, perhaps of a message below those stored.
func (p *position) received(md *jetstream.MsgMetadata) {
	if md.Sequence.Consumer > p.lastCons+1 {
		p.unsure = max(p.unsure, p.lastSeq, md.Sequence.Stream)
	}
	p.lastCons = max(p.lastCons, md.Sequence.Consumer)
	p.lastSeq = max(p.lastSeq, md.Sequence.Stream)
}

// next is the stream sequence to resume from, given the lowest of the
// messages received and not stored yet (0: none).
func (p *position) next(open uint64) uint64 {
	n := p.stored + 1
	if p.unsure != 0 {
		n = p.floor + 1
	}
	if open != 0 && open < n {
		n = open
	}
	return n
}

// openFile is the file being written and the messages it holds.
type openFile struct {
	tmp, final string
	fh         *os.File
	w          recordWriter
	opened     time.Time
	rows       int
	msgs       []jetstream.Msg
	low, high  uint64 // the stream sequences of msgs (0: none)
	// orphaned: msgs came from a durable or stream since deleted, and
	// are not acknowledged (see consumeFiles).
	orphaned bool
}

// consumeFiles stores what the durable consumer of cfg delivers into files of
// kind until ctx is done.
func consumeFiles(ctx context.Context, cfg ParquetConfig, kind fileKind) (ConsumeStats, error) {
	var st ConsumeStats
	if cfg.AckWait <= cfg.Rotate {
		return st, fmt.Errorf("stream: AckWait %v is not more than Rotate %v: messages would be delivered again while their file is open", cfg.AckWait, cfg.Rotate)
	}
	if err := checkDir(cfg.Dir); err != nil {
		return st, err
	}
	if stale, _ := filepath.Glob(filepath.Join(cfg.Dir, kind.what+"-*"+kind.ext+".tmp")); len(stale) > 0 {
		// Their messages were never acknowledged: JetStream redelivers
		// them into new files.
		slog.Warn("unfinished files of an earlier run; their messages are stored again, so they can be deleted", "dir", cfg.Dir, "files", len(stale), "first", filepath.Base(stale[0]))
	}
	var pos position
	nc, js, cons, err := consumerFor(ctx, cfg, kind.what, &pos)
	if err != nil {
		return st, err
	}
	defer func() {
		// The acknowledgements of the last file reach the server before
		// the connection closes.
		_ = nc.FlushTimeout(5 * time.Second)
		nc.Close()
	}()
	warn := &ratelog.Limiter{Every: 10 * time.Second}
	var cur *openFile
	closeFile := func() error {
		if cur == nil {
			return nil
		}
		f := cur
		cur = nil
		if err := f.w.close(); err != nil {
			f.fh.Close()
			return fmt.Errorf("stream: %s: %w", f.tmp, err)
		}
		if err := f.fh.Sync(); err != nil {
			f.fh.Close()
			return fmt.Errorf("stream: %s: %w", f.tmp, err)
		}
		if err := f.fh.Close(); err != nil {
			return fmt.Errorf("stream: %s: %w", f.tmp, err)
		}
		if err := os.Rename(f.tmp, f.final); err != nil {
			return fmt.Errorf("stream: %w", err)
		}
		// The rename itself must survive a power loss before the
		// messages are acknowledged.
		if err := syncDir(cfg.Dir); err != nil {
			return err
		}
		st.Files++
		st.Rows += uint64(f.rows)
		st.Messages += uint64(len(f.msgs))
		pos.stored = max(pos.stored, f.high)
		for _, m := range f.msgs {
			if f.orphaned {
				break
			}
			if err := m.Ack(); err != nil {
				st.Errors++
				warn.Warn("ack failed; the message will be redelivered", "err", err)
			}
		}
		if pos.unsure != 0 && !f.orphaned && ctx.Err() == nil {
			// The ack floor says when the messages pos is unsure of
			// are stored (the acks just sent count at the next file).
			ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if ci, err := cons.Info(ictx); err == nil {
				pos.learn(ci)
			}
			cancel()
		}
		slog.Info("wrote "+kind.what, "file", f.final, "rows", f.rows, "messages", len(f.msgs))
		return nil
	}
	open := func() error {
		now := time.Now().UTC()
		// Nanoseconds keep names unique across restarts within a second;
		// the Z says UTC, as in capture --rotate's names.
		name := fmt.Sprintf("%s-%s%s", kind.what, now.Format("20060102T150405.000000000Z"), kind.ext)
		f := &openFile{final: filepath.Join(cfg.Dir, name), opened: now}
		f.tmp = f.final + ".tmp"
		fh, err := os.OpenFile(f.tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, export.FileMode)
		if err != nil {
			return fmt.Errorf("stream: %w", err)
		}
		f.fh, f.w = fh, kind.create(fh)
		cur = f
		return nil
	}
	// One long-lived pull subscription rather than a Fetch per second:
	// a message the server hands to a Fetch whose inbox the client is
	// closing (its timer won a race against the message on a starved
	// process) waits out AckWait (hours with the defaults) before it is
	// delivered again. A collector stopped by SIGTERM in CI once stored
	// none of four alert messages the server counted as delivered to it,
	// which fits that race.
	it, err := cons.Messages(jetstream.PullMaxMessages(cfg.Fetch))
	if err != nil {
		return st, fmt.Errorf("stream: consume %s: %w", kind.what, err)
	}
	defer func() { it.Stop() }()
	store := func(m jetstream.Msg) error {
		if cur == nil {
			if err := open(); err != nil {
				return err
			}
		}
		md, mdErr := m.Metadata()
		if mdErr == nil {
			pos.received(md)
			if md.NumDelivered > 1 {
				st.Redelivered++
			}
		}
		n, bad, badErr, err := cur.w.write(m)
		if want, herr := strconv.Atoi(m.Headers().Get(RecordsHeader)); herr == nil && want > n+bad {
			// Records the writer could not even delimit (the rest of a
			// protobuf message after a bad length) are lost too.
			bad, badErr = want-n, cmpOr(badErr, fmt.Errorf("%d records in the message, %d read", want, n+bad))
		}
		if bad > 0 {
			st.Bad += uint64(bad)
			warn.Warn("skipping records that are not "+kind.what, "subject", m.Subject(), "bad", bad, "err", badErr)
		}
		if err != nil {
			return fmt.Errorf("stream: %s: %w", cur.tmp, err)
		}
		cur.rows += n
		cur.msgs = append(cur.msgs, m)
		if mdErr == nil {
			if cur.low == 0 || md.Sequence.Stream < cur.low {
				cur.low = md.Sequence.Stream
			}
			cur.high = max(cur.high, md.Sequence.Stream)
		}
		if cur.rows >= cfg.MaxRows {
			return closeFile()
		}
		return nil
	}
	// A durable deleted under a running consumer (nats consumer rm), or
	// its stream deleted (and perhaps created again), ends the pull with
	// one "consumer deleted" or with nothing at all, and pulls on the
	// dead durable then wait forever, storing nothing and saying nothing.
	// So after a failed pull, and after every checkEvery without a
	// message, revive asks whether the durable is still there and, if it
	// is gone, creates it again resuming after what was stored (pos): a
	// deleted durable forgot what it acknowledged, and one delivering all
	// again stored the whole stream twice. A
	// stream still missing after streamGoneWait ends the run with an
	// error, so that it is seen and a service manager restarts collect.
	var (
		lastCheck = time.Now()
		goneSince time.Time // when the durable was found missing
	)
	revive := func(pullFailed bool) error {
		lastCheck = time.Now()
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		ci, err := cons.Info(cctx)
		if err == nil {
			pos.learn(ci)
		}
		gone := errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound)
		if !gone {
			// There (or the broker unreachable: the client reconnects
			// on its own); pull again after a failure, as before.
			if pullFailed {
				it.Stop()
				select {
				case <-time.After(time.Second):
				case <-ctx.Done():
				}
				if next, err := cons.Messages(jetstream.PullMaxMessages(cfg.Fetch)); err == nil {
					it = next
				}
			}
			return nil
		}
		if goneSince.IsZero() {
			goneSince = time.Now()
			st.Errors++
			slog.Warn("durable consumer is gone (deleted, or its stream was); creating it again after what was stored; "+
				"a stream still missing after the wait ends the run", "durable", cfg.Durable, "stream", cfg.Stream, "url", redactURL(cfg.URL), "wait", streamGoneWait, "err", err)
			// The open file's messages came from the deleted durable:
			// an acknowledgement sent now could reach a new durable and
			// acknowledge another message of the same sequence number
			// (in a stream created again). Store the file unacknowledged.
			if cur != nil {
				cur.orphaned = true
				if err := closeFile(); err != nil {
					return err
				}
			}
		}
		// A pause first: nats-server (2.9.10) failed the deletion of a
		// durable created again at once ("directory not empty").
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return nil
		}
		var open uint64
		if cur != nil {
			open = cur.low // received since, from the deleted durable
		}
		next, err := durableFor(cctx, js, cfg, &pos, pos.next(open))
		if err != nil {
			if !errors.Is(err, jetstream.ErrStreamNotFound) {
				warn.Warn("cannot create the durable consumer again; retrying", "durable", cfg.Durable, "stream", cfg.Stream, "err", err)
			} else if time.Since(goneSince) >= streamGoneWait {
				return fmt.Errorf("stream: JetStream stream %s on %s is gone and was not created again within %v: %w",
					cfg.Stream, redactURL(cfg.URL), streamGoneWait, err)
			}
			return nil
		}
		it.Stop()
		cons = next
		if it, err = cons.Messages(jetstream.PullMaxMessages(cfg.Fetch)); err != nil {
			return fmt.Errorf("stream: consume %s: %w", kind.what, err)
		}
		goneSince = time.Time{}
		return nil
	}
	// The messages of the open file are acknowledged only once it is
	// closed: Rotate after the first, plus a wait for the next message,
	// plus the close, plus their time in the client's buffer. An AckWait
	// just over Rotate had JetStream deliver them again meanwhile (124
	// messages stored twice with a 2 s roll and a 2.1 s ack wait), so
	// every quarter of AckWait they are reported in progress, which
	// restarts their AckWait, and no wait for a message lasts longer.
	progressEvery := cfg.AckWait / 4
	wait := min(time.Second, progressEvery)
	lastProgress := time.Now()
	progress := func() {
		if time.Since(lastProgress) < progressEvery {
			return
		}
		lastProgress = time.Now()
		if cur == nil || cur.orphaned {
			return
		}
		for _, m := range cur.msgs {
			if err := m.InProgress(); err != nil {
				warn.Warn("in-progress report failed; the message may be delivered again", "err", err)
				break
			}
		}
	}
	for {
		if ctx.Err() != nil {
			// Store what the client already holds: dropped here, it
			// would come back only after AckWait.
			// Drain ends the iterator once every message the server sent
			// is in (ErrMsgIteratorClosed); a pause on a starved machine
			// is no end (a 5 s wait that stopped at the first timeout
			// once left four delivered alert messages unstored and
			// unacknowledged), but the stop is bounded.
			it.Drain()
			for deadline := time.Now().Add(drainWait); ; {
				progress()
				m, err := it.Next(jetstream.NextMaxWait(wait))
				if err == nil {
					if err := store(m); err != nil {
						return st, err
					}
					continue
				}
				if !errors.Is(err, nats.ErrTimeout) || time.Now().After(deadline) {
					break
				}
			}
			return st, closeFile()
		}
		if cur != nil && time.Since(cur.opened) >= cfg.Rotate {
			if err := closeFile(); err != nil {
				return st, err
			}
		}
		progress()
		m, err := it.Next(jetstream.NextMaxWait(wait))
		switch {
		case err == nil:
			lastCheck = time.Now()
			if err := store(m); err != nil {
				return st, err
			}
		case errors.Is(err, nats.ErrTimeout):
			if time.Since(lastCheck) >= checkEvery || !goneSince.IsZero() {
				if err := revive(false); err != nil {
					return st, errors.Join(err, closeFile())
				}
			}
		default:
			// The consumer was deleted or the server refused the pull
			// (or, while the durable is gone, the stopped pull).
			if goneSince.IsZero() {
				st.Errors++
				warn.Warn("pull failed; retrying", "url", redactURL(cfg.URL), "err", err)
			}
			if err := revive(true); err != nil {
				return st, errors.Join(err, closeFile())
			}
		}
	}
}

// checkEvery is how long a consumer that receives nothing waits before it
// checks that its durable still exists; streamGoneWait how long it waits
// for a deleted stream to be created again before it fails. Variables
// for the tests.
var (
	checkEvery     = 5 * time.Second
	streamGoneWait = time.Minute
)

// drainWait bounds how long a stopping consumer waits for the messages
// the server sent before the stop.
const drainWait = 30 * time.Second

// syncDir makes the entries of dir (a rename) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("stream: sync %s: %w", dir, err)
	}
	return nil
}
