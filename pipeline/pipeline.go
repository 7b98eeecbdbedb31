// Package pipeline wires packets and flow records through the flow table,
// feature extraction, classification and detection to the outputs. It uses
// every core for the per-flow work while keeping the output in the flow
// table's deterministic order.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/detect"
	"github.com/flowhawk/flowhawk/features"
)

// RowWriter receives feature rows in flow order (package export's writers).
type RowWriter interface {
	Write(row *features.Row, extra []string) error
	Close() error
}

// FlowExporter receives every finished flow with its feature row, in flow
// order (Prometheus counters, IPFIX, NATS). It must not block a capture:
// exporters queue and count their own drops (a replay's may wait for
// room). row and the flow are valid only during the call.
type FlowExporter interface {
	ExportFlow(f *collector.Flow, row *features.Row, label string)
}

// RecordEncoder is a RowWriter whose encoding can run on the workers: rows
// are encoded in parallel with AppendRecord and written in order with
// WriteRecords (the CSV writer is one).
type RecordEncoder interface {
	AppendRecord(b []byte, row *features.Row, extra []string) []byte
	WriteRecords(b []byte) error
}

// Predictor labels a feature row; it must be safe for concurrent use.
type Predictor interface {
	Predict(row *features.Row) (label string, confidence float64)
}

// Config sets up a pipeline; the zero value of each field is its default.
type Config struct {
	Table    collector.TableConfig
	Features features.Config
	Windows  features.WindowConfig
	// Workers computes features with this many goroutines (default: all cores).
	Workers int
	// Out receives the rows; nil writes none.
	Out RowWriter
	// Label, when set, adds a "Label" column with its value for each flow;
	// file is the capture the flow came from ("" on the kernel path).
	Label func(f *collector.Flow, file string) string
	// FlushPerFile ends every flow at the end of each capture file instead
	// of letting flows continue into the next file (for per-file labels).
	FlushPerFile bool
	// Predictor, when set, adds "Predicted Label" and "Confidence" columns.
	Predictor Predictor
	// Detect, when set, sees every packet and every flow. New tells it
	// how late records can come (Engine.SetFlowDelay): the table's idle
	// timeout plus its close grace, plus FlowLag.
	Detect *detect.Engine
	// FlowLag is how much later than the table's timeouts a record given
	// to Flow may end up coming (the kernel source's map scans), so the
	// detectors wait for it before judging the window where it ends.
	FlowLag time.Duration
	// Exporters see every flow after its row is computed.
	Exporters []FlowExporter
	// Pcap tunes the capture reader (tunnel decapsulation, fragments).
	Pcap collector.PcapOptions
	// OnFile is called when a capture file is opened (for progress).
	OnFile func(path string, src *collector.PcapSource)
	// Stdin is what the capture path collector.StdinPath reads; nil
	// makes that path an error.
	Stdin io.Reader
}

// batchSize is the number of flows a worker handles at once: large enough
// to amortise channel costs, small enough to keep latency low on live
// capture.
const batchSize = 256

type item struct {
	flow  *collector.Flow
	wv    features.WindowValues
	file  string
	epoch uint64 // the table's clock resets when it was emitted
}

type batch struct {
	items []item
	rows  []*features.Row
	extra [][]string
	n     int
	enc   []byte // encoded records when the writer is a RecordEncoder
	done  chan struct{}
	flush bool // flush the output once this batch is written (Submit)
}

// Pipeline runs flows through features to the outputs. Packet and Flow
// must be called from one goroutine; Close ends the run.
type Pipeline struct {
	cfg     Config
	x       *features.Extractor
	windows *features.Windows
	// winFile is the file whose flows the windows hold, winEpoch the
	// table's clock resets then, and winDone the counters of the windows
	// of earlier files (FlushPerFile) and clocks.
	winFile  string
	winEpoch uint64
	winDone  features.WindowStats
	table    *collector.Table
	extra    []string
	encoder  RecordEncoder

	// ownRows: rows are only encoded (a RecordEncoder and no exporters),
	// so each worker fills one row of its own instead of one per batch
	// slot: a row (~6 KB) that stays in cache, where thousands of slot
	// rows cost a cache miss per flow (9 % less CPU for a CSV replay).
	ownRows bool

	staged chan *batch
	work   chan *batch
	order  chan *batch
	free   chan *batch
	cur    *batch
	wg     sync.WaitGroup
	wdone  chan struct{}
	werr   error
	// rowsDue counts the flows given to the output (Config.Out), written
	// or not, for Summary.RowsLost.
	rowsDue uint64
	failed  chan struct{} // closed at the first output error (werr)
	file    string

	sum  Summary
	live Live
}

// New starts a pipeline's workers and writer.
func New(cfg Config) (*Pipeline, error) {
	x, err := features.New(cfg.Features)
	if err != nil {
		return nil, err
	}
	if !cfg.FlushPerFile && cfg.Pcap.Decoder == nil {
		// The files are parts of one capture: one decoder keeps the
		// fragments of a datagram that a file boundary splits in one flow.
		cfg.Pcap.Decoder = cfg.Pcap.NewDecoder()
	}
	if cfg.Table.Samples < cfg.Features.SPLT {
		cfg.Table.Samples = cfg.Features.SPLT
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	p := &Pipeline{cfg: cfg, x: x, failed: make(chan struct{})}
	p.encoder, _ = cfg.Out.(RecordEncoder)
	if cfg.Features.Windows {
		p.windows = features.NewWindows(windowConfig(cfg.Windows, cfg.Table))
		p.live.windowsOn = true
	}
	if cfg.Label != nil {
		p.extra = append(p.extra, "Label")
	}
	if cfg.Predictor != nil {
		p.extra = append(p.extra, "Predicted Label", "Confidence")
	}
	p.table = collector.NewTable(cfg.Table, p.emit)
	if cfg.Detect != nil {
		cfg.Detect.SetFlowDelay(flowDelay(cfg.Table) + max(cfg.FlowLag, 0))
	}
	p.ownRows = p.encoder != nil && len(cfg.Exporters) == 0
	nb := 4 * cfg.Workers
	p.staged = make(chan *batch, nb)
	p.work = make(chan *batch, nb)
	p.order = make(chan *batch, nb)
	p.free = make(chan *batch, nb)
	for i := 0; i < nb; i++ {
		b := &batch{items: make([]item, batchSize), rows: make([]*features.Row, batchSize), extra: make([][]string, batchSize), done: make(chan struct{}, 1)}
		for j := range b.rows {
			if !p.ownRows {
				b.rows[j] = x.NewRow()
			}
			b.extra[j] = make([]string, len(p.extra))
		}
		p.free <- b
	}
	for i := 0; i < cfg.Workers; i++ {
		p.wg.Add(1)
		go p.worker()
	}
	p.wdone = make(chan struct{})
	go p.stage()
	go p.writer()
	return p, nil
}

// windowConfig sets the windows' horizon, when not set, to the table's
// idle timeout plus the time window: the table emits an unanswered SYN an
// idle timeout after it was sent, and its time window must still find the
// connections that started in the 2 s before it.
func windowConfig(w features.WindowConfig, t collector.TableConfig) features.WindowConfig {
	if w.Horizon <= 0 {
		idle := t.IdleTimeout
		if idle <= 0 {
			idle = collector.DefaultTableConfig().IdleTimeout
		}
		span := w.Span
		if span <= 0 {
			span = features.DefaultSpan
		}
		w.Horizon = addDur(idle, span)
	}
	return w
}

// addDur adds two non-negative durations, holding at the largest instead
// of wrapping: --idle-timeout 2562047h47m16s wrapped the windows' horizon
// negative, which then took the 122 s default.
func addDur(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// flowDelay is how long after its end the table may emit a flow: an open
// flow its idle timeout after its last packet, a closed one its close
// grace after the FIN or RST, which is its end or before.
func flowDelay(t collector.TableConfig) time.Duration {
	d := collector.DefaultTableConfig()
	idle, grace := t.IdleTimeout, t.CloseGrace
	if idle <= 0 {
		idle = d.IdleTimeout
	}
	if grace <= 0 {
		grace = d.CloseGrace
	}
	return addDur(idle, grace)
}

// Extractor returns the feature extractor (for column names).
func (p *Pipeline) Extractor() *features.Extractor { return p.x }

// ExtraColumns returns the names of the string columns after the features.
func (p *Pipeline) ExtraColumns() []string { return p.extra }

// Table returns the flow table (for its statistics).
func (p *Pipeline) Table() *collector.Table { return p.table }

// Packet feeds one packet to the detectors and the flow table.
func (p *Pipeline) Packet(pk *collector.Packet) {
	if p.cfg.Detect != nil {
		p.cfg.Detect.OnPacket(pk)
	}
	p.table.Add(pk)
}

// PacketDetectOnly feeds a packet to the detectors only: the kernel path
// sends samples whose flow counters come from the kernel map.
func (p *Pipeline) PacketDetectOnly(pk *collector.Packet) {
	if p.cfg.Detect != nil {
		p.cfg.Detect.OnPacket(pk)
	}
}

// Advance moves the detectors' packet clock to ts (Unix ns) with no input,
// so that their windows end on a live link whose packets have stopped
// coming (detect.Engine.Advance). Call it from the goroutine that calls
// Flow.
func (p *Pipeline) Advance(ts int64) {
	if p.cfg.Detect != nil {
		p.cfg.Detect.Advance(ts)
	}
}

// Flow feeds a finished flow record built outside the table (kernel path).
func (p *Pipeline) Flow(f *collector.Flow) { p.emit(f) }

// emit runs in the ingest goroutine, in flow order.
func (p *Pipeline) emit(f *collector.Flow) {
	p.sum.countFlow(f)
	if p.cfg.Detect != nil {
		p.cfg.Detect.OnFlow(f)
	}
	if p.cur == nil {
		p.cur = <-p.free
		p.cur.n, p.cur.flush = 0, false
	}
	it := &p.cur.items[p.cur.n]
	it.flow, it.file, it.epoch = f, p.file, p.table.ClockResets()
	it.wv = features.WindowValues{}
	p.cur.n++
	if p.cur.n == batchSize {
		p.submit()
	}
}

// Submit hands the flows given so far to the features and outputs
// without waiting for a full batch, and has the output flushed once they
// are written. The live path calls it after each scan of the kernel map:
// on a quiet link a batch fills slowly, and records must not wait for
// 255 more flows (or the process's end). Call it from the goroutine that
// calls Flow.
func (p *Pipeline) Submit() {
	if p.cur == nil {
		p.cur = <-p.free
		p.cur.n = 0
	}
	p.cur.flush = true
	b := p.cur
	p.cur = nil
	p.live.ActiveFlows.Store(int64(p.table.Stats().Active))
	p.staged <- b
}

func (p *Pipeline) submit() {
	if p.cur == nil || p.cur.n == 0 {
		return
	}
	b := p.cur
	p.cur = nil
	p.live.ActiveFlows.Store(int64(p.table.Stats().Active))
	p.staged <- b
}

// stage computes the order-dependent window features of each batch, in
// flow order, on its own goroutine so the packet loop does not pay for
// them, then hands the batch to the workers and the writer.
func (p *Pipeline) stage() {
	for b := range p.staged {
		if p.windows != nil {
			for i := 0; i < b.n; i++ {
				it := &b.items[i]
				if p.cfg.FlushPerFile && it.file != p.winFile {
					p.newFileWindows(it.file)
				}
				if it.epoch != p.winEpoch {
					// The table's clock went back more than a day: the
					// windows, kept at the far-off time, would hold
					// nothing of the flows after it.
					p.restartWindows()
					p.winEpoch = it.epoch
				}
				it.wv = p.windows.Observe(it.flow)
			}
			p.live.setWindows(p.windowStats())
		}
		p.order <- b
		p.work <- b
	}
	close(p.work)
	close(p.order)
}

// windowStats returns the windows' counts of the whole run: the current
// windows' and those of earlier files' (FlushPerFile).
func (p *Pipeline) windowStats() features.WindowStats {
	st := p.windows.Stats()
	st.Observed += p.winDone.Observed
	st.Dropped += p.winDone.Dropped
	st.Truncated += p.winDone.Truncated
	return st
}

// newFileWindows starts empty windows for the flows of file: with
// FlushPerFile each file is a capture of its own (a dataset's class), and
// one file's connections must not count in another's windows, nor its
// time set the window of the next (captures of different years).
func (p *Pipeline) newFileWindows(file string) {
	if p.winFile != "" {
		p.restartWindows()
	}
	p.winFile = file
}

// restartWindows starts empty windows, keeping the counts of the old.
func (p *Pipeline) restartWindows() {
	st := p.windows.Stats()
	p.winDone.Observed += st.Observed
	p.winDone.Dropped += st.Dropped
	p.winDone.Truncated += st.Truncated
	p.windows = features.NewWindows(windowConfig(p.cfg.Windows, p.cfg.Table))
}

func (p *Pipeline) worker() {
	defer p.wg.Done()
	var own *features.Row
	if p.ownRows {
		own = p.x.NewRow()
	}
	for b := range p.work {
		b.enc = b.enc[:0]
		for i := 0; i < b.n; i++ {
			it := &b.items[i]
			row := b.rows[i]
			if own != nil {
				row = own
			}
			p.x.Fill(it.flow, &it.wv, row)
			ex := b.extra[i]
			k := 0
			if p.cfg.Label != nil {
				ex[k] = p.cfg.Label(it.flow, it.file)
				k++
			}
			if p.cfg.Predictor != nil {
				lab, conf := p.cfg.Predictor.Predict(row)
				ex[k], ex[k+1] = lab, formatConfidence(conf)
			}
			if p.encoder != nil {
				b.enc = p.encoder.AppendRecord(b.enc, row, ex)
			}
		}
		b.done <- struct{}{}
	}
}

func formatConfidence(c float64) string {
	return strconv.FormatFloat(c, 'f', 4, 64)
}

// labelOf picks the label exporters see: the prediction when a model is
// loaded, else the dataset label, else "".
func (p *Pipeline) labelOf(extra []string) string {
	switch {
	case p.cfg.Predictor != nil:
		return extra[len(extra)-2]
	case p.cfg.Label != nil:
		return extra[0]
	}
	return ""
}

func (p *Pipeline) writer() {
	defer close(p.wdone)
	for b := range p.order {
		<-b.done
		if p.encoder != nil && p.werr == nil {
			if err := p.encoder.WriteRecords(b.enc); err != nil {
				p.writeFailed(err)
			}
		}
		if p.cfg.Out != nil {
			p.rowsDue += uint64(b.n)
		}
		var newest int64
		for i := 0; i < b.n; i++ {
			it := &b.items[i]
			newest = max(newest, it.flow.End)
			if p.cfg.Out != nil && p.encoder == nil && p.werr == nil {
				if err := p.cfg.Out.Write(b.rows[i], b.extra[i]); err != nil {
					p.writeFailed(err)
				}
			}
			if p.cfg.Label != nil {
				countLabel(&p.sum.Labels, b.extra[i][0])
			}
			if p.cfg.Predictor != nil {
				countLabel(&p.sum.Predicted, b.extra[i][len(b.extra[i])-2])
			}
			label := p.labelOf(b.extra[i])
			for _, e := range p.cfg.Exporters {
				e.ExportFlow(it.flow, b.rows[i], label)
			}
			p.table.Recycle(it.flow)
			it.flow = nil
		}
		if newest > p.live.NewestRecord.Load() {
			p.live.NewestRecord.Store(newest)
		}
		if b.flush && p.werr == nil {
			if f, ok := p.cfg.Out.(interface{ Flush() error }); ok { // export.Flusher
				if err := f.Flush(); err != nil {
					p.writeFailed(err)
				}
			}
		}
		p.free <- b
	}
}

// writeFailed records the first output error, says so at once (a capture
// may run for days before Close reports it), and closes Failed: rows after
// it are not written, so the run should stop.
func (p *Pipeline) writeFailed(err error) {
	p.werr = fmt.Errorf("write flows: %w", err)
	slog.Error("writing flows failed; no more rows are written, stopping", "err", err)
	close(p.failed)
}

// Failed is closed when writing the flow output failed (disk full, a
// closed pipe): the caller stops reading packets, and Close returns the
// error.
func (p *Pipeline) Failed() <-chan struct{} { return p.failed }

// ReplayFile reads one capture file through the pipeline. A read error
// (truncated or corrupt file) is returned after every packet before it was
// processed; the flows stay in the table unless FlushPerFile is set.
func (p *Pipeline) ReplayFile(ctx context.Context, path string) error {
	return p.replayCounted(ctx, path, nil)
}

// Close flushes every flow, waits for the outputs and returns the summary.
// The first output error, if any, is returned.
func (p *Pipeline) Close() (Summary, error) {
	p.table.Flush()
	p.submit()
	close(p.staged)
	p.wg.Wait()
	<-p.wdone
	var errs []error
	if p.werr != nil {
		errs = append(errs, p.werr)
	}
	if p.cfg.Out != nil {
		// A writer whose write failed (a full disk, a closed pipe) returns
		// the same error again when closed: report it once.
		cerr := p.cfg.Out.Close()
		if cerr != nil && (p.werr == nil || !strings.HasSuffix(p.werr.Error(), cerr.Error())) {
			errs = append(errs, fmt.Errorf("close output: %w", cerr))
		}
		// export's writers count the rows their file took: after a
		// failure the rows in the writer's buffer are lost too.
		if rw, ok := p.cfg.Out.(interface{ RowsWritten() uint64 }); ok && (p.werr != nil || cerr != nil) {
			p.sum.RowsDue = p.rowsDue
			p.sum.RowsLost = p.rowsDue - min(rw.RowsWritten(), p.rowsDue)
		}
	}
	if p.cfg.Detect != nil {
		if err := p.cfg.Detect.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close detectors: %w", err))
		}
	}
	p.sum.Table = p.table.Stats()
	if p.windows != nil {
		p.sum.Windows = p.windowStats()
	}
	return p.sum, errors.Join(errs...)
}
