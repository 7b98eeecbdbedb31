package metrics

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// DefaultTextfileInterval is how often a Textfile started by the
// commands is rewritten unless told otherwise.
const DefaultTextfileInterval = 15 * time.Second

// Textfile writes an Exporter's metrics to a file in the Prometheus text
// format, for node_exporter's textfile collector (which reads the *.prom
// files of its --collector.textfile.directory): for a batch run, whose
// counters are gone once it exits, and for a host where no port may be
// listened on.
//
// The file holds flowhawk's families alone: node_exporter exports its own
// go_* and process_* families, and the same family from two sources breaks
// its scrape. Every series carries the Exporter's sensor label, so the
// files of several runs (each with its own --sensor) can share the
// directory without two of them holding the same series.
//
// Each write goes through prometheus.WriteToTextfile: a temporary file in
// the same directory, named FILE followed by digits (not *.prom, so
// node_exporter skips it), made mode 0644 whatever the umask (node_exporter
// runs as another user) and renamed over FILE, so a reader sees the old
// file or the new one, never part of one.
type Textfile struct {
	path string
	g    prometheus.Gatherer

	mu      sync.Mutex // one write at a time; guards seen and failing
	seen    map[string]bool
	failing bool

	stop chan struct{}
	done chan struct{}
}

// Textfile returns a writer of e's metrics to path. It writes nothing
// until Write or Start.
func (e *Exporter) Textfile(path string) *Textfile {
	return &Textfile{path: path, g: textfileGatherer{e.reg, e.sensor}, seen: map[string]bool{}}
}

// Path returns the file written.
func (t *Textfile) Path() string { return t.path }

// Write writes the metrics to the file now.
func (t *Textfile) Write() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return prometheus.WriteToTextfile(t.path, t.g)
}

// Start writes the file every interval in the background until Stop. A
// failed write (a full disk, the directory gone) does not stop the
// writes: it is logged once per distinct error, not at every tick, and
// the next tick tries again.
func (t *Textfile) Start(every time.Duration) {
	t.stop, t.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(t.done)
		tk := time.NewTicker(every)
		defer tk.Stop()
		for {
			select {
			case <-t.stop:
				return
			case <-tk.C:
				t.tick()
			}
		}
	}()
}

func (t *Textfile) tick() {
	err := t.Write()
	t.mu.Lock()
	defer t.mu.Unlock()
	if err == nil {
		if t.failing {
			t.failing = false
			slog.Info("metrics textfile written again", "file", t.path)
		}
		return
	}
	t.failing = true
	if k := errKey(err); !t.seen[k] {
		t.seen[k] = true
		slog.Warn("metrics textfile not written; the run goes on and the next write tries again (this error is not logged again)", "file", t.path, "err", err)
	}
}

// errKey is what makes two write errors the same for the warning: the
// operation and its cause, without the temporary file's random name.
func errKey(err error) string {
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Op + ": " + le.Err.Error()
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// Stop ends the periodic writes started by Start, waiting for one under
// way, then writes the file a last time and returns that write's error.
// Call it once the counters are final (the pipeline closed, the sources
// drained) and before any LossSource it reads is released.
func (t *Textfile) Stop() error {
	if t.stop != nil {
		close(t.stop)
		<-t.done
		t.stop = nil
	}
	return t.Write()
}

// CheckTextfile reports whether path can be written as Textfile writes
// it: path is not a directory, and its directory exists and takes a new
// file (a temporary one is created there and removed).
func CheckTextfile(path string) error {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("is a directory; name a file in it, such as %s", filepath.Join(path, "flowhawk.prom"))
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path))
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("cannot create a file in %s: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// textfileGatherer gathers what a textfile holds: the flowhawk_ families
// alone, each series labelled sensor.
type textfileGatherer struct {
	g      prometheus.Gatherer
	sensor string
}

func (t textfileGatherer) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := t.g.Gather()
	out := mfs[:0]
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), Namespace+"_") {
			continue // go_*, process_*: node_exporter has its own
		}
		if t.sensor != "" {
			for _, m := range mf.Metric {
				addLabel(m, "sensor", t.sensor)
			}
		}
		out = append(out, mf)
	}
	return out, err
}

// addLabel gives m the label name=value unless it has one of that name
// (build_info has its sensor already), keeping the labels sorted by name
// as Gather returns them.
func addLabel(m *dto.Metric, name, value string) {
	for _, lp := range m.Label {
		if lp.GetName() == name {
			return
		}
	}
	m.Label = append(m.Label, &dto.LabelPair{Name: &name, Value: &value})
	sort.Slice(m.Label, func(i, j int) bool { return m.Label[i].GetName() < m.Label[j].GetName() })
}
