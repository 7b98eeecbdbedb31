package metrics

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/internal/promtest"
)

// TestTextfile: the file holds flowhawk's families, with their values and
// every series labelled sensor, and none of the go_ and process_ families
// the registry also has (node_exporter exports its own: the same family
// twice breaks its scrape); it is mode 0644 whatever the umask, and no
// temporary file is left beside it.
func TestTextfile(t *testing.T) {
	e := New(Config{Sensor: "gw1", Version: "1.2.3", Detectors: []string{"portscan"}}) // with the runtime collectors
	e.Export(testFlow(6, 10, 1000, 8, 5000, collector.EndFIN))
	e.Export(testFlow(17, 1, 80, 1, 200, collector.EndIdle))
	e.Alert("portscan")
	kern := &fakeLoss{}
	kern.ringFull.Store(3)
	e.AddLossSource("kernel", kern)
	e.AddDecodeErrorSource("pcap", LossFunc(func() map[string]uint64 { return map[string]uint64{"truncated": 5} }))
	if mfs, err := e.Registry().Gather(); err != nil || !hasFamily(mfs, "go_goroutines") || !hasFamily(mfs, "process_cpu_seconds_total") {
		t.Fatalf("the registry lacks the runtime families the textfile must leave out (err %v)", err)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "flowhawk.prom")
	if err := CheckTextfile(path); err != nil {
		t.Fatalf("CheckTextfile: %v", err)
	}
	old := syscall.Umask(0o077) // a service's strict umask must not hide the file from node_exporter
	err := e.Textfile(path).Write()
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644 so node_exporter, another user, can read it", st.Mode().Perm())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("directory holds %d entries, want the textfile alone: %v", len(ents), ents)
	}
	mf := promtest.ReadTextfile(t, path)
	for name, fam := range mf {
		if !strings.HasPrefix(name, "flowhawk_") {
			t.Errorf("family %s in the textfile: want flowhawk_ families alone", name)
		}
		for _, m := range fam.Metric {
			if got := promtest.Label(m, "sensor"); got != "gw1" {
				t.Errorf("%s: sensor label %q, want gw1", promtest.SeriesID(name, m), got)
			}
		}
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"flowhawk_flows_total", []string{"proto", "tcp", "end_reason", "fin"}, 1},
		{"flowhawk_flows_total", []string{"proto", "udp", "end_reason", "idle"}, 1},
		{"flowhawk_packets_total", []string{"proto", "tcp", "direction", "fwd"}, 10},
		{"flowhawk_alerts_total", []string{"detector", "portscan"}, 1},
		{"flowhawk_dropped_total", []string{"component", "kernel", "reason", "ringbuf_full"}, 3},
		{"flowhawk_decode_errors_total", []string{"source", "pcap", "reason", "truncated"}, 5},
		{"flowhawk_build_info", []string{"version", "1.2.3", "sensor", "gw1"}, 1},
	} {
		if got := value(t, mf, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if n := len(mf["flowhawk_build_info"].GetMetric()[0].GetLabel()); n != 3 {
		t.Errorf("build_info has %d labels, want version, goversion and its one sensor", n)
	}
}

func hasFamily(mfs []*dto.MetricFamily, name string) bool {
	for _, mf := range mfs {
		if mf.GetName() == name {
			return true
		}
	}
	return false
}

// TestTextfileAtomic: each write replaces the file by a rename (a new
// inode), so a reader polling it while it is rewritten again and again
// reads a whole file every time, never an empty or partial one.
func TestTextfileAtomic(t *testing.T) {
	e := New(Config{Sensor: "gw1", NoRuntime: true})
	path := filepath.Join(t.TempDir(), "flowhawk.prom")
	tf := e.Textfile(path)
	if err := tf.Write(); err != nil {
		t.Fatal(err)
	}
	// Held open, the first file's inode cannot be freed and its number
	// reused by a later file, which made SameFile true now and then.
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	first, err := fh.Stat()
	if err != nil {
		t.Fatal(err)
	}
	want := len(promtest.ReadTextfile(t, path))
	var stop atomic.Bool
	var reads atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("read while rewritten: %v", err)
				return
			}
			p := expfmt.NewTextParser(model.UTF8Validation)
			mf, err := p.TextToMetricFamilies(bytes.NewReader(b))
			if err != nil || len(mf) != want {
				t.Errorf("a reader saw a partial file (%d bytes, %d families, want %d; err %v)", len(b), len(mf), want, err)
				return
			}
			reads.Add(1)
		}
	}()
	for i := 0; i < 300; i++ {
		e.Export(testFlow(6, 1, 60, 1, 60, collector.EndFIN))
		if err := tf.Write(); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	last, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if os.SameFile(first, last) {
		t.Errorf("the file was rewritten in place, not replaced by a rename")
	}
	if got := value(t, promtest.ReadTextfile(t, path), "flowhawk_flows_total", "proto", "tcp", "end_reason", "fin"); got != 300 {
		t.Errorf("flows_total after 300 flows = %v", got)
	}
	t.Logf("%d whole reads during 300 writes", reads.Load())
}

// TestTextfileTwoSensors: two runs with their own --sensor write their
// own files into node_exporter's directory; as node_exporter merges every
// file, no series may be in both (the sensor label tells them apart).
func TestTextfileTwoSensors(t *testing.T) {
	dir := t.TempDir()
	seen := map[string]string{}
	for _, s := range []string{"gw1", "gw2"} {
		e := New(Config{Sensor: s, Version: "1.2.3", Detectors: []string{"portscan"}})
		e.Export(testFlow(6, 1, 60, 1, 60, collector.EndFIN))
		e.AddLossSource("kernel", &fakeLoss{})
		path := filepath.Join(dir, s+".prom")
		if err := e.Textfile(path).Write(); err != nil {
			t.Fatal(err)
		}
		for name, fam := range promtest.ReadTextfile(t, path) {
			for _, m := range fam.Metric {
				id := promtest.SeriesID(name, m)
				if f, dup := seen[id]; dup {
					t.Errorf("series %s is in the files of %s and %s: node_exporter refuses it", id, f, s)
				}
				seen[id] = s
			}
		}
	}
	if len(seen) == 0 {
		t.Fatal("no series")
	}
}

// TestTextfileStartStop: while running, a failing write (the directory
// gone) is warned once, not at every tick, and the writes resume when it
// can be written again; Stop writes the final values, and returns the
// error of a final write that fails.
func TestTextfileStartStop(t *testing.T) {
	var logs bytes.Buffer
	var logMu sync.Mutex
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, nil)))
	defer slog.SetDefault(prev)
	readLogs := func() string { logMu.Lock(); defer logMu.Unlock(); return logs.String() }

	root := t.TempDir()
	dir := filepath.Join(root, "textfile")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "flowhawk.prom")
	e := New(Config{Sensor: "gw1", NoRuntime: true})
	tf := e.Textfile(path)
	tf.Start(5 * time.Millisecond)
	waitFor(t, "the first periodic write", func() bool { _, err := os.Stat(path); return err == nil })

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failure warning", func() bool { return strings.Contains(readLogs(), "metrics textfile not written") })
	time.Sleep(100 * time.Millisecond) // some 20 more failing ticks
	if n := strings.Count(readLogs(), "metrics textfile not written"); n != 1 {
		t.Errorf("warned %d times for one error, want once:\n%s", n, readLogs())
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the writes to resume", func() bool { _, err := os.Stat(path); return err == nil })
	waitFor(t, "the recovery message", func() bool { return strings.Contains(readLogs(), "metrics textfile written again") })

	e.Export(testFlow(6, 1, 60, 1, 60, collector.EndFIN))
	if err := tf.Stop(); err != nil {
		t.Fatalf("final write: %v", err)
	}
	if got := value(t, promtest.ReadTextfile(t, path), "flowhawk_flows_total", "proto", "tcp", "end_reason", "fin"); got != 1 {
		t.Errorf("final flows_total %v, want 1", got)
	}

	// A final write that fails is returned, for the run's exit status.
	tf = e.Textfile(filepath.Join(root, "gone", "flowhawk.prom"))
	tf.Start(time.Hour)
	if err := tf.Stop(); err == nil {
		t.Errorf("final write into a missing directory: no error")
	}
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestCheckTextfile: a textfile path whose directory is missing, or that
// is a directory, is refused before a run starts, naming the directory.
func TestCheckTextfile(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{filepath.Join(dir, "missing", "flowhawk.prom"), "cannot create a file in " + filepath.Join(dir, "missing") + ": no such file or directory"},
		{filepath.Join(plain, "flowhawk.prom"), "cannot create a file in " + plain + ": not a directory"},
		{dir, "is a directory; name a file in it, such as " + filepath.Join(dir, "flowhawk.prom")},
	} {
		err := CheckTextfile(c.path)
		if err == nil || err.Error() != c.want {
			t.Errorf("CheckTextfile(%s) = %v, want %q", c.path, err, c.want)
		}
	}
	if err := CheckTextfile(filepath.Join(dir, "flowhawk.prom")); err != nil {
		t.Errorf("a writable directory: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("the check left files behind: %v", ents)
	}
}
