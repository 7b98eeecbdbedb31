package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/export"
	"github.com/flowhawk/flowhawk/features"
	"github.com/flowhawk/flowhawk/internal/testshared"
)

// memWriter records each row as text, to compare runs.
type memWriter struct {
	lines  []string
	closed bool
}

func (m *memWriter) Write(row *features.Row, extra []string) error {
	var b strings.Builder
	for i := range row.Num {
		if row.Str[i] != nil && len(row.Str[i]) > 0 {
			b.Write(row.Str[i])
		} else {
			fmt.Fprint(&b, row.Num[i])
		}
		b.WriteByte(',')
	}
	b.WriteString(strings.Join(extra, ","))
	m.lines = append(m.lines, b.String())
	return nil
}

func (m *memWriter) Close() error { m.closed = true; return nil }

type countExporter struct{ flows, packets uint64 }

func (c *countExporter) ExportFlow(f *collector.Flow, _ *features.Row, _ string) {
	c.flows++
	c.packets += f.Packets()
}

func demo(t *testing.T) string {
	p, err := filepath.Abs("../testdata/demo.pcap")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// replayDemo runs the demo capture through a pipeline built from cfg and
// returns Close's summary and error (a failure before Close fails the test).
func replayDemo(t *testing.T, cfg Config) (Summary, error) {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ReplayFiles(context.Background(), []string{demo(t)}, nil); err != nil {
		t.Fatal(err)
	}
	return p.Close()
}

func run(t *testing.T, workers int, label func(*collector.Flow, string) string) (*memWriter, *countExporter, Summary) {
	t.Helper()
	w, ex := &memWriter{}, &countExporter{}
	sum, err := replayDemo(t, Config{Features: features.DefaultConfig(), Workers: workers, Out: w, Exporters: []FlowExporter{ex}, Label: label})
	if err != nil {
		t.Fatal(err)
	}
	if !w.closed {
		t.Fatal("writer not closed")
	}
	return w, ex, sum
}

// The output must not depend on the number of workers.
func TestDeterministicAcrossWorkers(t *testing.T) {
	w1, ex1, sum := run(t, 1, nil)
	wn, exn, _ := run(t, max(4, runtime.NumCPU()), nil)
	if len(w1.lines) == 0 || len(w1.lines) != len(wn.lines) {
		t.Fatalf("rows: %d with 1 worker, %d with many", len(w1.lines), len(wn.lines))
	}
	for i := range w1.lines {
		if w1.lines[i] != wn.lines[i] {
			t.Fatalf("row %d differs:\n%s\n%s", i, w1.lines[i], wn.lines[i])
		}
	}
	if ex1.flows != uint64(len(w1.lines)) || ex1.flows != exn.flows || sum.Flows != ex1.flows {
		t.Fatalf("exporter saw %d flows, writer %d, summary %d", ex1.flows, len(w1.lines), sum.Flows)
	}
	if ex1.packets != sum.Source.IPPackets {
		t.Fatalf("flows hold %d packets, source decoded %d IP packets", ex1.packets, sum.Source.IPPackets)
	}
	if sum.Source.Frames == 0 || sum.Protos[6] == nil || sum.Protos[17] == nil {
		t.Fatalf("summary %+v", sum)
	}
}

func TestLabelColumn(t *testing.T) {
	w, _, _ := run(t, 2, func(f *collector.Flow, file string) string { return filepath.Base(file) })
	for _, l := range w.lines {
		if !strings.HasSuffix(l, ",demo.pcap") {
			t.Fatalf("row without label: %s", l)
		}
	}
}

func TestReadErrorKeepsEarlierFlows(t *testing.T) {
	w := &memWriter{}
	p, err := New(Config{Features: features.DefaultConfig(), Out: w})
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "missing.pcap")
	err = p.ReplayFiles(context.Background(), []string{demo(t), bad}, nil)
	if err == nil || !strings.Contains(err.Error(), "missing.pcap") {
		t.Fatalf("error %v, want one naming missing.pcap", err)
	}
	sum, _ := p.Close()
	if len(w.lines) == 0 || len(sum.Files) != 2 || sum.Files[1].Err == nil {
		t.Fatalf("flows from the good file lost: %d rows, files %+v", len(w.lines), sum.Files)
	}
}

// File writers of the text formats must keep their encoder methods, or
// encoding falls back to the single writer goroutine.
func TestFileWritersEncodeOnWorkers(t *testing.T) {
	x, _ := features.New(features.DefaultConfig())
	for _, ext := range []string{"csv", "jsonl"} {
		w, err := export.Create(filepath.Join(t.TempDir(), "f."+ext), x.Columns(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := w.(RecordEncoder); !ok {
			t.Errorf("%s writer %T is not a RecordEncoder", ext, w)
		}
		w.Close()
	}
}

type endExporter struct{ newest int64 }

func (e *endExporter) ExportFlow(f *collector.Flow, _ *features.Row, _ string) {
	e.newest = max(e.newest, f.End)
}

// TestNewestRecord checks the packet time the collector lag is measured
// from: the latest end of the records handed to the outputs (the metric
// read 0 forever when nothing set it).
func TestNewestRecord(t *testing.T) {
	ex := &endExporter{}
	p, err := New(Config{Features: features.DefaultConfig(), Workers: 2, Out: &memWriter{}, Exporters: []FlowExporter{ex}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Live().NewestRecord.Load() != 0 {
		t.Fatal("newest record set before any record")
	}
	if err := p.ReplayFiles(context.Background(), []string{demo(t)}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if got := p.Live().NewestRecord.Load(); got == 0 || got != ex.newest {
		t.Fatalf("newest record %d, want %d", got, ex.newest)
	}
}

// TestSubmitFlushes feeds two records the way the kernel path does
// (Flow, then Submit after a scan) and checks they are in the file at
// once: they used to wait for a batch of 256 or for Close.
func TestSubmitFlushes(t *testing.T) {
	cols, err := features.New(features.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "flows.csv")
	w, err := export.Create(path, cols.Columns(), nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Features: features.DefaultConfig(), Workers: 2, Out: w})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		f := p.Table().Pool().Get(0)
		f.Key.Proto, f.Start, f.End = 17, int64(i+1)*1e9, int64(i+2)*1e9
		f.Fwd.Packets, f.Fwd.Bytes = 1, 100
		p.Flow(f)
	}
	p.Submit()
	p.Submit() // nothing new: an empty batch that only flushes
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if n := strings.Count(string(b), "\n"); n == 3 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("%d lines in the file after Submit, want a header and 2 records", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := p.Live().NewestRecord.Load(); got != 3e9 {
		t.Errorf("newest record %d, want 3e9", got)
	}
	if _, err := p.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestWindowsPerFile checks that with FlushPerFile (dataset: each file a
// capture of its own class) the window features start empty at each file:
// the same capture given twice gets the same window values both times,
// where the second copy's connections used to fall behind the first's
// latest start and leave every window empty.
func TestWindowsPerFile(t *testing.T) {
	data, err := os.ReadFile(demo(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var paths []string
	for _, n := range []string{"a.pcap", "b.pcap"} {
		paths = append(paths, filepath.Join(dir, n))
		if err := os.WriteFile(paths[len(paths)-1], data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	x, _ := features.New(features.DefaultConfig())
	var win []int
	for i, c := range x.Columns() {
		switch c.Name {
		case "count", "srv_count", "serror_rate", "same_srv_rate", "dst_host_count", "dst_host_srv_count":
			win = append(win, i)
		}
	}
	w := &memWriter{}
	p, err := New(Config{Features: features.DefaultConfig(), Workers: 2, Out: w, FlushPerFile: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ReplayFiles(context.Background(), paths, nil); err != nil {
		t.Fatal(err)
	}
	sum, err := p.Close()
	if err != nil {
		t.Fatal(err)
	}
	n := len(w.lines) / 2
	if n == 0 || len(w.lines) != 2*n || len(win) != 6 || sum.Windows.Observed != uint64(2*n) {
		t.Fatalf("%d rows, %d window columns, %d observed", len(w.lines), len(win), sum.Windows.Observed)
	}
	nonzero := false
	for r := range n {
		a, b := strings.Split(w.lines[r], ","), strings.Split(w.lines[n+r], ",")
		for _, i := range win {
			if a[i] != b[i] {
				t.Fatalf("row %d, column %d: %s in the first copy, %s in the second", r, i, a[i], b[i])
			}
			nonzero = nonzero || a[i] != "0"
		}
	}
	if !nonzero {
		t.Fatal("every window value is 0")
	}
}

// TestWindowsHorizonFromTable feeds flows in the order a table with a
// 300 s idle timeout emits them: a connection a second for 400 s, and 50
// unanswered SYNs sent at 150 s emitted last. The windows must hold
// connections for the table's idle timeout (plus the 2 s window), not the
// default 120 s, so the last SYN still counts the whole flood and the
// connections of the 2 s before it.
func TestWindowsHorizonFromTable(t *testing.T) {
	w := &memWriter{}
	p, err := New(Config{Table: collector.TableConfig{IdleTimeout: 300 * time.Second}, Features: features.DefaultConfig(), Workers: 2, Out: w})
	if err != nil {
		t.Fatal(err)
	}
	server := [16]byte{10: 0xff, 11: 0xff, 12: 10, 15: 80}
	flow := func(i int, start int64, answered bool) {
		f := p.Table().Pool().Get(0)
		client := [16]byte{10: 0xff, 11: 0xff, 12: 10, 13: 1, 14: byte(i >> 8), 15: byte(i)}
		f.Key, f.FwdIsLo = collector.MakeKey(&client, &server, uint16(20000+i), 80, 6, 0, 0)
		f.Start, f.End = start, start+1e6
		const fin, syn = 0, 1 // FlagCounts indexes: flag bit numbers
		f.Fwd.Packets, f.Fwd.FlagCounts[syn] = 1, 1
		if answered { // SYN and FIN both ways: SF
			f.Bwd.Packets, f.Bwd.FlagCounts[syn] = 1, 1
			f.Fwd.FlagCounts[fin], f.Bwd.FlagCounts[fin] = 1, 1
		}
		p.Flow(f)
	}
	for i := range 400 {
		flow(i, int64(i)*1e9, true)
	}
	for i := range 50 {
		flow(1000+i, 150e9+int64(i)*1e6, false)
	}
	sum, err := p.Close()
	if err != nil {
		t.Fatal(err)
	}
	count, flag := p.Extractor().Index("count"), p.Extractor().Index("flag")
	last := strings.Split(w.lines[len(w.lines)-1], ",")
	if last[flag] != "S0" || last[count] != "52" {
		t.Errorf("last SYN: flag %s count %s, want S0 and 52 (50 SYNs, the connections of 149 and 150 s)", last[flag], last[count])
	}
	if sum.Windows.Truncated != 0 {
		t.Errorf("%d time windows truncated", sum.Windows.Truncated)
	}
}

// fullWriter fails every write from the first, and its Close returns the
// same sticky error, as a buffered file writer on a full disk does.
type fullWriter struct{ err error }

func (f *fullWriter) Write(*features.Row, []string) error { return f.err }
func (f *fullWriter) Close() error                        { return f.err }

// TestWriteErrorReportedOnce checks that a failed output is one error at
// Close: the writer's Close repeats the write's error, which used to be
// reported a second time as "close output: ...".
func TestWriteErrorReportedOnce(t *testing.T) {
	w := &fullWriter{err: fmt.Errorf("export: csv: %w", &os.PathError{Op: "write", Path: "/dev/full", Err: syscall.ENOSPC})}
	_, err := replayDemo(t, Config{Features: features.DefaultConfig(), Workers: 1, Out: w})
	if err == nil || strings.Count(err.Error(), "no space left on device") != 1 || !strings.HasPrefix(err.Error(), "write flows: ") {
		t.Errorf("Close: %v; want the write error once", err)
	}
}

// protoPredictor calls TCP flows "web" and every other flow "Unknown".
type protoPredictor struct{ x *features.Extractor }

func (p protoPredictor) Predict(row *features.Row) (string, float64) {
	if string(row.Str[p.x.Index("protocol_type")]) == "tcp" {
		return "web", 0.9
	}
	return "Unknown", 0.3
}

// The summary counts flows by dataset label and by predicted label,
// Unknown included, and prints both.
func TestSummaryCountsLabels(t *testing.T) {
	x, err := features.New(features.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	sum, err := replayDemo(t, Config{Features: features.DefaultConfig(), Workers: 2, Out: &memWriter{},
		Label: func(f *collector.Flow, _ string) string {
			if f.Key.Proto == 6 {
				return "tcp-flows"
			}
			return "BENIGN"
		},
		Predictor: protoPredictor{x}})
	if err != nil {
		t.Fatal(err)
	}
	tcp := sum.Protos[6].Flows
	if sum.Labels["tcp-flows"] != tcp || sum.Labels["BENIGN"] != sum.Flows-tcp || len(sum.Labels) != 2 {
		t.Errorf("labels %v, want tcp-flows %d, BENIGN %d", sum.Labels, tcp, sum.Flows-tcp)
	}
	if sum.Predicted["web"] != tcp || sum.Predicted["Unknown"] != sum.Flows-tcp || len(sum.Predicted) != 2 {
		t.Errorf("predicted %v, want web %d, Unknown %d", sum.Predicted, tcp, sum.Flows-tcp)
	}
	var b strings.Builder
	sum.Print(&b)
	for _, want := range []string{fmt.Sprintf("labels     tcp-flows %d, BENIGN %d\n", tcp, sum.Flows-tcp),
		fmt.Sprintf("predicted  web %d, Unknown %d\n", tcp, sum.Flows-tcp)} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
}

// TestLiveCountsAfterFile: the live counters a scrape reads hold every
// packet of a file once it is read. They were refreshed only every 64 Ki
// packets, so the last file's tail, and its decode errors, never showed.
func TestLiveCountsAfterFile(t *testing.T) {
	path := testshared.Path(t, "pcaps/ndpi__fuzz-2006-06-26-2594.pcap")
	p, err := New(Config{Features: features.DefaultConfig(), Workers: 1, Out: &memWriter{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ReplayFiles(context.Background(), []string{path}, nil); err != nil {
		t.Fatal(err)
	}
	sum, err := p.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Live().Packets.Load(); got != sum.Source.Frames || got == 0 {
		t.Errorf("live packets %d, want the summary's %d", got, sum.Source.Frames)
	}
	var want Live
	var none collector.SourceStats
	want.setDecode(&sum.Source, &none)
	if got := p.Live().DecodeErrors(); fmt.Sprint(got) != fmt.Sprint(want.DecodeErrors()) || sum.Source.Malformed == 0 {
		t.Errorf("live decode errors %v, want the summary's %v (and some)", got, want.DecodeErrors())
	}
}

// stepClock is a rotation clock that moves an hour on every step-th call,
// so a replay turns files between batches without waiting for the wall
// clock; onStep runs at each move.
type stepClock struct {
	calls, step int
	t           time.Time
	onStep      func()
}

func (c *stepClock) Now() time.Time {
	c.calls++
	if c.calls > 1 && (c.calls-1)%c.step == 0 {
		c.t = c.t.Add(time.Hour)
		if c.onStep != nil {
			c.onStep()
		}
	}
	return c.t
}

// TestRotatedOutputHoldsEveryFlowOnce replays the demo capture into a
// rotating CSV (rows encoded on the workers, files turned between batches)
// and a rotating Parquet file (rows written one by one): the files, read
// in name order, hold the rows of one plain file, each once.
func TestRotatedOutputHoldsEveryFlowOnce(t *testing.T) {
	x, err := features.New(features.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.csv")
	w, err := export.Create(plain, x.Columns(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := replayDemo(t, Config{Features: features.DefaultConfig(), Workers: 2, Out: w}); err != nil {
		t.Fatal(err)
	}
	want := readRows(t, plain)
	for _, c := range []struct {
		ext   string
		step  int
		files int
	}{{".csv", 1, 3}, {".parquet", 100, 4}} {
		clk := &stepClock{step: c.step, t: time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)}
		path := filepath.Join(dir, "rot"+c.ext)
		rw, err := export.CreateRotating(path, x.Columns(), nil, export.Rotation{Every: time.Hour, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := replayDemo(t, Config{Features: features.DefaultConfig(), Workers: 2, Out: rw.Writer()}); err != nil {
			t.Fatal(err)
		}
		files := rw.Rotated().Files
		var got []string
		for _, f := range files {
			got = append(got, readRows(t, f)...)
		}
		if len(files) != c.files || strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: %d files holding %d rows, want %d files and the %d rows of one file in order", c.ext, len(files), len(got), c.files, len(want))
		}
	}
}

// readRows reads a flow file's rows as text.
func readRows(t *testing.T, path string) []string {
	t.Helper()
	r, err := export.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []string
	var rec export.Record
	for {
		if err := r.Next(&rec); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("%s: %v", path, err)
			}
			return out
		}
		out = append(out, strings.Join(rec.Str, ","))
	}
}

// TestRotateErrorReportedOnce: a period's file that cannot be renamed into
// place (its directory gone) fails the output as a failed write does,
// reported once at Close, naming the file.
func TestRotateErrorReportedOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	x, err := features.New(features.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	clk := &stepClock{step: 1, t: time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC), onStep: func() { os.RemoveAll(dir) }}
	rw, err := export.CreateRotating(filepath.Join(dir, "flows.csv"), x.Columns(), nil, export.Rotation{Every: time.Hour, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	_, err = replayDemo(t, Config{Features: features.DefaultConfig(), Workers: 1, Out: rw.Writer()})
	if err == nil || strings.Count(err.Error(), "no such file or directory") != 1 || !strings.HasPrefix(err.Error(), "write flows: ") ||
		!strings.Contains(err.Error(), ".flows-20261205T080000Z.csv.tmp") {
		t.Errorf("Close: %v; want the rename's error once, naming the file", err)
	}
}

// stalledStdin is a standard input whose writer sent nothing: its read
// waits until the replay is cancelled and then fails as a read deadline
// does.
type stalledStdin struct{ ctx context.Context }

func (s stalledStdin) Read([]byte) (int, error) {
	<-s.ctx.Done()
	return 0, os.ErrDeadlineExceeded
}

// TestStdinStopBeforeHeader checks that a replay of standard input
// stopped before its writer sent the file header ends as stopped (the
// command says "interrupted"), not with the read's "i/o timeout" as a
// broken capture.
func TestStdinStopBeforeHeader(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p, err := New(Config{Features: features.DefaultConfig(), Out: &memWriter{}, Stdin: stalledStdin{ctx}})
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(10*time.Millisecond, cancel)
	err = p.ReplayFiles(ctx, []string{collector.StdinPath}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("stopped before the header: %v, want context.Canceled", err)
	}
	sum, _ := p.Close()
	if len(sum.Files) != 1 || !errors.Is(sum.Files[0].Err, context.Canceled) {
		t.Errorf("summary files %+v, want stdin stopped", sum.Files)
	}
}

// TestSummaryFirstMalformed checks that the summary says where each
// malformed reason was first seen (file, frame number, offset), which a
// user needs to look at the frame: the counts alone did not say.
func TestSummaryFirstMalformed(t *testing.T) {
	path := testshared.Path(t, "pcaps/ndpi__fuzz-2006-06-26-2594.pcap")
	p, err := New(Config{Features: features.DefaultConfig(), Workers: 1, Out: &memWriter{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ReplayFiles(context.Background(), []string{path}, nil); err != nil {
		t.Fatal(err)
	}
	sum, err := p.Close()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	sum.Print(&b)
	want := "first malformed: bad ip version at " + path + " frame 45 (offset 6580)"
	if !strings.Contains(b.String(), want) {
		t.Errorf("summary lacks %q:\n%s", want, b.String())
	}
}
