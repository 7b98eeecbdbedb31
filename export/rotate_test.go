package export

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/features"
)

// fakeClock is a Rotation's clock that a test sets.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func at(h, m, s int) time.Time { return time.Date(2026, 12, 5, h, m, s, 0, time.UTC) }

// encoder is the shape of pipeline.RecordEncoder: the pipeline encodes
// rows on its workers when its writer has these methods.
type encoder interface {
	AppendRecord(b []byte, row *features.Row, extra []string) []byte
	WriteRecords(b []byte) error
}

// rowSource writes numbered rows ("row-N" in the Label column) through w
// as the pipeline would: encoded in batches when w can, else one by one.
type rowSource struct {
	rs []*features.Row
	n  int
}

func (s *rowSource) write(t *testing.T, w RowWriter, k int) {
	t.Helper()
	var b []byte
	enc, isEnc := w.(encoder)
	for range k {
		label := []string{fmt.Sprintf("row-%d", s.n)}
		r := s.rs[s.n%len(s.rs)]
		s.n++
		if isEnc {
			b = enc.AppendRecord(b, r, label)
		} else if err := w.Write(r, label); err != nil {
			t.Fatal(err)
		}
	}
	if isEnc {
		if err := enc.WriteRecords(b); err != nil {
			t.Fatal(err)
		}
	}
}

// readLabels reads a flow file back and returns its Label column.
func readLabels(t *testing.T, path string) []string {
	t.Helper()
	rd, err := OpenReader(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer rd.Close()
	cols := rd.Columns()
	var out []string
	var rec Record
	for {
		err := rd.Next(&rec)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, rec.Str[len(cols)-1])
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func testRows(t *testing.T) ([]features.Column, *rowSource) {
	t.Helper()
	cols, rs := defaultRows(t)
	return cols, &rowSource{rs: rs}
}

func TestRotatedNames(t *testing.T) {
	start := at(8, 0, 0)
	for _, c := range []struct {
		path  string
		part  int
		final string
	}{
		{"/var/lib/flowhawk/flows.jsonl", 0, "/var/lib/flowhawk/flows-20261205T080000Z.jsonl"},
		{"flows.parquet", 0, "flows-20261205T080000Z.parquet"},
		{"out/flows.csv", 2, "out/flows-20261205T080000Z_2.csv"},
		{"alerts", 0, "alerts-20261205T080000Z"},
	} {
		final := RotatedName(c.path, start, c.part)
		if final != c.final {
			t.Errorf("RotatedName(%s, %d) = %s, want %s", c.path, c.part, final, c.final)
		}
		temp := TempName(final)
		if want := filepath.Join(filepath.Dir(final), "."+filepath.Base(final)+".tmp"); temp != want {
			t.Errorf("TempName(%s) = %s, want %s", final, temp, want)
		}
		for _, name := range []string{final, temp} {
			s, part, isTemp, ok := parseRotated(c.path, filepath.Base(name))
			if !ok || !s.Equal(start) || part != c.part || isTemp != (name == temp) {
				t.Errorf("parseRotated(%s, %s) = %v %d %v %v", c.path, name, s, part, isTemp, ok)
			}
		}
	}
	// Names of other outputs, or no period's, are never this output's.
	for _, name := range []string{"flows.jsonl", "flows-eth1-20261205T080000Z.jsonl", "flows-20261205T080000Z.csv",
		"flows-20261205T080000Z_0.jsonl", "flows-20261205T080000Z_01.jsonl", "flows-20261205T080000Z_x.jsonl",
		"flows-20261305T080000Z.jsonl", "flows-2026120T080000Z.jsonl", "flows-20261205T080000Z.jsonl.tmp",
		".flows-20261205T080000Z.jsonl", "xflows-20261205T080000Z.jsonl", "flows-20261205T080000Z.jsonl~"} {
		if _, _, _, ok := parseRotated("/d/flows.jsonl", name); ok {
			t.Errorf("%s taken for a period file of flows.jsonl", name)
		}
	}
	for _, c := range []struct {
		t     time.Time
		every time.Duration
		want  time.Time
	}{
		{at(8, 59, 59), time.Hour, at(8, 0, 0)},
		{at(9, 0, 0), time.Hour, at(9, 0, 0)},
		{at(9, 14, 59), 15 * time.Minute, at(9, 0, 0)},
		{at(23, 59, 59), 24 * time.Hour, at(0, 0, 0)},
		{at(8, 0, 3), 2 * time.Second, at(8, 0, 2)},
		{time.Date(1969, 12, 31, 23, 30, 0, 0, time.UTC), time.Hour, time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC)},
		{time.Date(2026, 12, 5, 9, 30, 0, 0, time.FixedZone("X", 3600)), time.Hour, at(8, 0, 0)},
	} {
		if got := PeriodStart(c.t, c.every); !got.Equal(c.want) || got.Location() != time.UTC {
			t.Errorf("PeriodStart(%v, %v) = %v, want %v", c.t, c.every, got, c.want)
		}
	}
	for _, bad := range []Rotation{{Every: 0}, {Every: 500 * time.Millisecond}, {Every: 1500 * time.Millisecond}, {Every: time.Hour, Keep: -1}} {
		if bad.Check() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// TestRotatingWriter writes rows over several periods in each format: a
// file per period that had the writer open, named by the period's UTC
// start, each whole (a CSV header, a Parquet footer), every row in
// exactly one file, that of the period in which it was written, and no
// temporary file left.
func TestRotatingWriter(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	cols, _ := testRows(t)
	for _, ext := range []string{".csv", ".jsonl", ".parquet"} {
		_, src := testRows(t)
		dir := t.TempDir()
		path := filepath.Join(dir, "flows"+ext)
		clk := &fakeClock{at(8, 0, 0).Add(500 * time.Millisecond)}
		rw, err := CreateRotating(path, cols, []string{"Label"}, Rotation{Every: time.Hour, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		w := rw.Writer()
		if _, isEnc := w.(encoder); isEnc == (ext == ".parquet") {
			t.Errorf("%s: the writer is a record encoder: %v", ext, isEnc)
		}
		src.write(t, w, 3)
		if err := w.(Flusher).Flush(); err != nil {
			t.Fatal(err)
		}
		if got, want := dirNames(t, dir), []string{".flows-20261205T080000Z" + ext + ".tmp"}; !slices.Equal(got, want) {
			t.Errorf("%s: while writing the first period: %v, want %v", ext, got, want)
		}
		clk.t = at(8, 59, 59).Add(999 * time.Millisecond)
		src.write(t, w, 2)
		clk.t = at(9, 0, 0) // the first instant of a period is in it
		src.write(t, w, 1)
		clk.t = at(10, 30, 0) // no row in this period: a flush still turns
		if err := w.(Flusher).Flush(); err != nil {
			t.Fatal(err)
		}
		clk.t = at(12, 0, 1) // 11:00 had no writer call: no file
		src.write(t, w, 2)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		wantFiles := []string{"flows-20261205T080000Z", "flows-20261205T090000Z", "flows-20261205T100000Z", "flows-20261205T120000Z"}
		for i := range wantFiles {
			wantFiles[i] += ext
		}
		if got := dirNames(t, dir); !slices.Equal(got, wantFiles) {
			t.Errorf("%s: files %v, want %v", ext, got, wantFiles)
		}
		var fin []string
		for _, f := range rw.Rotated().Files {
			fin = append(fin, filepath.Base(f))
		}
		if !slices.Equal(fin, wantFiles) {
			t.Errorf("%s: Rotated %v, want %v", ext, fin, wantFiles)
		}
		if n := w.(RowsWritten).RowsWritten(); n != 8 {
			t.Errorf("%s: RowsWritten %d over the periods' files, want 8", ext, n)
		}
		wantRows := [][]string{{"row-0", "row-1", "row-2", "row-3", "row-4"}, {"row-5"}, nil, {"row-6", "row-7"}}
		for i, name := range wantFiles {
			p := filepath.Join(dir, name)
			if got := readLabels(t, p); !slices.Equal(got, wantRows[i]) {
				t.Errorf("%s: rows %v, want %v", name, got, wantRows[i])
			}
			if ext == ".csv" {
				raw, _ := os.ReadFile(p)
				if !bytes.HasPrefix(raw, csvHeader(nil, cols, []string{"Label"})) {
					t.Errorf("%s does not start with the header", name)
				}
			}
			if st, err := os.Stat(p); err != nil || st.Mode().Perm() != FileMode {
				t.Errorf("%s: mode %v (%v), want %o", name, st.Mode().Perm(), err, FileMode)
			}
		}
		if err := w.Write(src.rs[0], []string{"late"}); err == nil {
			t.Errorf("%s: a row written after Close was accepted", ext)
		}
	}
}

// TestRotatingRestartSamePeriod: a run started in a period whose file an
// earlier run finished leaves that file as it is, with or without
// --append, and writes the rest of the period to a file of its own.
func TestRotatingRestartSamePeriod(t *testing.T) {
	cols, src := testRows(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "flows.jsonl")
	clk := &fakeClock{at(8, 10, 0)}
	run := func(appending bool, k int) []string {
		rw, err := CreateRotating(path, cols, []string{"Label"}, Rotation{Every: time.Hour, Append: appending, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		src.write(t, rw.Writer(), k)
		clk.t = clk.t.Add(10 * time.Minute)
		if err := rw.Close(); err != nil {
			t.Fatal(err)
		}
		return rw.Rotated().Files
	}
	first := filepath.Join(dir, "flows-20261205T080000Z.jsonl")
	if got := run(false, 2); !slices.Equal(got, []string{first}) {
		t.Fatalf("first run finished %v", got)
	}
	before, _ := os.ReadFile(first)
	if got, want := run(false, 1), filepath.Join(dir, "flows-20261205T080000Z_1.jsonl"); !slices.Equal(got, []string{want}) {
		t.Errorf("a restart without --append finished %v, want %s", got, want)
	}
	if got, want := run(true, 1), filepath.Join(dir, "flows-20261205T080000Z_2.jsonl"); !slices.Equal(got, []string{want}) {
		t.Errorf("a restart with --append finished %v, want %s", got, want)
	}
	if after, _ := os.ReadFile(first); !bytes.Equal(before, after) {
		t.Errorf("the first run's finished file changed")
	}
	var all []string
	for _, name := range dirNames(t, dir) {
		all = append(all, readLabels(t, filepath.Join(dir, name))...)
	}
	if want := []string{"row-0", "row-1", "row-2", "row-3"}; !slices.Equal(all, want) {
		t.Errorf("rows %v, want %v", all, want)
	}
}

// killed writes k rows in a run that is then killed: its file stays under
// the temporary name, its last line cut short.
func killed(t *testing.T, path string, cols []features.Column, src *rowSource, clk *fakeClock, k int) string {
	t.Helper()
	rw, err := CreateRotating(path, cols, []string{"Label"}, Rotation{Every: time.Hour, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	w := rw.Writer()
	src.write(t, w, k)
	if err := w.(Flusher).Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := rw.r.fh.WriteString("1,2,3,cut sho"); err != nil {
		t.Fatal(err)
	}
	rw.r.fh.Close()
	return rw.r.temp
}

// TestRotatingAppendAfterKill: with --append, a run started where a
// killed run left its period's file continues it (its torn line cut, a
// CSV header not repeated), and one it left for an earlier period is
// finished and renamed into place; without --append it is left, warned.
func TestRotatingAppendAfterKill(t *testing.T) {
	for _, ext := range []string{".csv", ".jsonl"} {
		cols, src := testRows(t)
		dir := t.TempDir()
		path := filepath.Join(dir, "flows"+ext)
		clk := &fakeClock{at(7, 10, 0)}
		old := killed(t, path, cols, src, clk, 3) // rows 0-2 at 07:10
		clk.t = at(8, 10, 0)
		cur := killed(t, path, cols, src, clk, 2) // rows 3-4 at 08:10, without --append
		if _, err := os.Stat(old); err != nil {
			t.Fatalf("%s: a run without --append touched a killed run's file of an earlier period: %v", ext, err)
		}
		clk.t = at(8, 40, 0)
		rw, err := CreateRotating(path, cols, []string{"Label"}, Rotation{Every: time.Hour, Append: true, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		if rw.r.temp != cur {
			t.Errorf("%s: writes %s, want the killed run's %s continued", ext, rw.r.temp, cur)
		}
		src.write(t, rw.Writer(), 1)
		if err := rw.Close(); err != nil {
			t.Fatal(err)
		}
		want := []string{"flows-20261205T070000Z" + ext, "flows-20261205T080000Z" + ext}
		if got := dirNames(t, dir); !slices.Equal(got, want) {
			t.Fatalf("%s: files %v, want %v", ext, got, want)
		}
		if got := readLabels(t, filepath.Join(dir, want[0])); !slices.Equal(got, []string{"row-0", "row-1", "row-2"}) {
			t.Errorf("%s: the earlier period's file holds %v", ext, got)
		}
		if got := readLabels(t, filepath.Join(dir, want[1])); !slices.Equal(got, []string{"row-3", "row-4", "row-5"}) {
			t.Errorf("%s: the continued file holds %v", ext, got)
		}
	}
	cols, src := testRows(t)
	if _, err := CreateRotating(filepath.Join(t.TempDir(), "f.parquet"), cols, []string{"Label"}, Rotation{Every: time.Hour, Append: true}); err == nil {
		t.Errorf("--append to a rotating Parquet output accepted")
	}
	// A killed Parquet run's file has no footer: it is left, never renamed
	// into place for readers to fail on.
	dir := t.TempDir()
	path := filepath.Join(dir, "f.parquet")
	clk := &fakeClock{at(7, 10, 0)}
	rw, err := CreateRotating(path, cols, []string{"Label"}, Rotation{Every: time.Hour, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	src.write(t, rw.Writer(), 2)
	rw.r.fh.Close()
	clk.t = at(8, 0, 0)
	rw, err = CreateRotating(path, cols, []string{"Label"}, Rotation{Every: time.Hour, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := dirNames(t, dir), []string{".f-20261205T070000Z.parquet.tmp", "f-20261205T080000Z.parquet"}; !slices.Equal(got, want) {
		t.Errorf("files %v, want %v", got, want)
	}
}

// TestRotateKeep: --rotate-keep deletes the files of all but the newest
// periods and nothing else: not another output's files, not a temporary
// file, not the current period's.
func TestRotateKeep(t *testing.T) {
	cols, src := testRows(t)
	dir := t.TempDir()
	other := []string{"flows-eth1-20261205T010000Z.jsonl", "flows-20261205T010000Z.csv", "notes.txt", ".flows-20261205T020000Z.jsonl.tmp"}
	for _, name := range append([]string{"flows-20261205T010000Z.jsonl", "flows-20261205T020000Z.jsonl", "flows-20261205T030000Z.jsonl",
		"flows-20261205T050000Z.jsonl", "flows-20261205T050000Z_1.jsonl", "flows-20261205T060000Z.jsonl"}, other...) {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	clk := &fakeClock{at(7, 10, 0)}
	rw, err := CreateRotating(filepath.Join(dir, "flows.jsonl"), cols, []string{"Label"}, Rotation{Every: time.Hour, Keep: 2, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	want := append([]string{"flows-20261205T050000Z.jsonl", "flows-20261205T050000Z_1.jsonl", "flows-20261205T060000Z.jsonl", ".flows-20261205T070000Z.jsonl.tmp"}, other...)
	slices.Sort(want)
	if got := dirNames(t, dir); !slices.Equal(got, want) {
		t.Errorf("at start: %v, want %v", got, want)
	}
	src.write(t, rw.Writer(), 1)
	clk.t = at(7, 20, 0)
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}
	want = append([]string{"flows-20261205T060000Z.jsonl", "flows-20261205T070000Z.jsonl"}, other...)
	slices.Sort(want)
	if got := dirNames(t, dir); !slices.Equal(got, want) {
		t.Errorf("after the period: %v, want %v", got, want)
	}
	if r := rw.Rotated(); r.Removed != 5 { // 01, 02 and 03 at start, then both of 05
		t.Errorf("removed %d, want 5", r.Removed)
	}
}

// TestRotateKeepFuture: files dated after the current period (written
// while the clock ran ahead) are kept and do not count as the newest
// periods. Counted, they made every period now be deleted as it finished.
func TestRotateKeepFuture(t *testing.T) {
	cols, src := testRows(t)
	dir := t.TempDir()
	for _, name := range []string{"flows-20261205T050000Z.jsonl", "flows-20261205T060000Z.jsonl",
		"flows-20361205T010000Z.jsonl", "flows-20361205T020000Z.jsonl"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	clk := &fakeClock{at(7, 10, 0)}
	rw, err := CreateRotating(filepath.Join(dir, "flows.jsonl"), cols, []string{"Label"}, Rotation{Every: time.Hour, Keep: 2, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	src.write(t, rw.Writer(), 1)
	clk.t = at(8, 20, 0)
	src.write(t, rw.Writer(), 1)
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{"flows-20261205T070000Z.jsonl", "flows-20261205T080000Z.jsonl", "flows-20361205T010000Z.jsonl", "flows-20361205T020000Z.jsonl"}
	if got := dirNames(t, dir); !slices.Equal(got, want) {
		t.Errorf("files %v, want %v", got, want)
	}
}

// TestRotatingWriterFailure: a period's file that cannot be made fails
// the write with an error naming it, and Close returns that same error,
// so the pipeline reports it once.
func TestRotatingWriterFailure(t *testing.T) {
	cols, src := testRows(t)
	dir := filepath.Join(t.TempDir(), "out")
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{at(8, 10, 0)}
	rw, err := CreateRotating(filepath.Join(dir, "flows.csv"), cols, []string{"Label"}, Rotation{Every: time.Hour, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	w := rw.Writer()
	src.write(t, w, 1)
	// The directory goes (as a full or read-only disk would refuse it).
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	clk.t = at(9, 0, 0)
	err = w.(encoder).WriteRecords(nil)
	if err == nil || !strings.Contains(err.Error(), ".flows-20261205T080000Z.csv.tmp") || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("write after the directory went: %v; want the rename's error naming the file", err)
	}
	if cerr := w.Close(); cerr == nil || cerr.Error() != err.Error() {
		t.Errorf("Close: %v; want the write's error again", cerr)
	}
}

// TestRotatingFile: the alert file's lines are never split between
// periods: a period ends after the line it was in the middle of.
func TestRotatingFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "alerts.jsonl")
	clk := &fakeClock{at(8, 59, 59)}
	f, err := CreateRotatingFile(path, Rotation{Every: time.Hour, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	write := func(s string) {
		t.Helper()
		if n, err := f.Write([]byte(s)); err != nil || n != len(s) {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	write("a1\n")
	write("a2-")
	clk.t = at(9, 0, 1)
	if err := f.Tick(); err != nil {
		t.Fatal(err)
	}
	write("end\nb1\n")
	write("b2")
	clk.t = at(10, 0, 5)
	if err := f.Tick(); err != nil { // mid-line: waits for its end
		t.Fatal(err)
	}
	write("\n")
	clk.t = at(10, 0, 6)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"alerts-20261205T080000Z.jsonl": "a1\na2-end\n",
		"alerts-20261205T090000Z.jsonl": "b1\nb2\n",
		"alerts-20261205T100000Z.jsonl": "",
	} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != want {
			t.Errorf("%s: %q (%v), want %q", name, got, err, want)
		}
	}
	if got := len(dirNames(t, dir)); got != 3 {
		t.Errorf("%d files: %v", got, dirNames(t, dir))
	}
	if n := len(f.Rotated().Files); n != 3 {
		t.Errorf("Rotated: %d files", n)
	}

	// --append continues a killed run's file, its torn line cut.
	clk.t = at(11, 0, 0)
	f, err = CreateRotatingFile(path, Rotation{Every: time.Hour, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	write("c1\nc2-cut")
	f.r.fh.Close()
	f, err = CreateRotatingFile(path, Rotation{Every: time.Hour, Append: true, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	write("c3\n")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "alerts-20261205T110000Z.jsonl")); string(got) != "c1\nc3\n" {
		t.Errorf("continued file: %q", got)
	}
}

// TestRotatingAppendOtherColumns: with --append, a killed run's file of
// the period whose columns are not this run's (a flag added before the
// restart) is finished as it is, and the run writes the period's rest to
// a file of its own, instead of refusing to start until the period ends.
func TestRotatingAppendOtherColumns(t *testing.T) {
	for _, ext := range []string{".csv", ".jsonl"} {
		cols, src := testRows(t)
		dir := t.TempDir()
		path := filepath.Join(dir, "flows"+ext)
		clk := &fakeClock{at(8, 10, 0)}
		killed(t, path, cols, src, clk, 2)
		rw, err := CreateRotating(path, cols, []string{"Label", "Predicted Label"}, Rotation{Every: time.Hour, Append: true, Now: clk.Now})
		if err != nil {
			t.Fatalf("%s: %v", ext, err)
		}
		if err := rw.Writer().Write(src.rs[0], []string{"new", "x"}); err != nil {
			t.Fatal(err)
		}
		if err := rw.Close(); err != nil {
			t.Fatal(err)
		}
		want := []string{"flows-20261205T080000Z" + ext, "flows-20261205T080000Z_1" + ext}
		if got := dirNames(t, dir); !slices.Equal(got, want) {
			t.Fatalf("%s: files %v, want %v", ext, got, want)
		}
		if got := readLabels(t, filepath.Join(dir, want[0])); !slices.Equal(got, []string{"row-0", "row-1"}) {
			t.Errorf("%s: the killed run's file holds %v", ext, got)
		}
		if got := readLabels(t, filepath.Join(dir, want[1])); !slices.Equal(got, []string{"x"}) {
			t.Errorf("%s: the new file holds %v", ext, got)
		}
	}
}

// TestRotatingClockBack: when the clock is stepped back out of the
// current period (it ran ahead, then NTP corrected it), the output turns
// to the period now holds at once, for rows and alerts, instead of
// writing to the future period's file until the clock reaches its end.
func TestRotatingClockBack(t *testing.T) {
	cols, src := testRows(t)
	dir := t.TempDir()
	clk := &fakeClock{at(11, 10, 0)} // three hours ahead
	rw, err := CreateRotating(filepath.Join(dir, "flows.csv"), cols, []string{"Label"}, Rotation{Every: time.Hour, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	af, err := CreateRotatingFile(filepath.Join(dir, "alerts.jsonl"), Rotation{Every: time.Hour, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	w := rw.Writer()
	src.write(t, w, 1)
	if _, err := af.Write([]byte("a1\n")); err != nil {
		t.Fatal(err)
	}
	clk.t = at(8, 10, 1) // corrected
	if err := w.(Flusher).Flush(); err != nil {
		t.Fatal(err)
	}
	if err := af.Tick(); err != nil {
		t.Fatal(err)
	}
	src.write(t, w, 1)
	if _, err := af.Write([]byte("a2\n")); err != nil {
		t.Fatal(err)
	}
	want := []string{".alerts-20261205T080000Z.jsonl.tmp", ".flows-20261205T080000Z.csv.tmp",
		"alerts-20261205T110000Z.jsonl", "flows-20261205T110000Z.csv"}
	if got := dirNames(t, dir); !slices.Equal(got, want) {
		t.Errorf("after the clock went back: %v, want %v", got, want)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := af.Close(); err != nil {
		t.Fatal(err)
	}
	for name, rows := range map[string][]string{"flows-20261205T110000Z.csv": {"row-0"}, "flows-20261205T080000Z.csv": {"row-1"}} {
		if got := readLabels(t, filepath.Join(dir, name)); !slices.Equal(got, rows) {
			t.Errorf("%s: rows %v, want %v", name, got, rows)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "alerts-20261205T080000Z.jsonl")); string(got) != "a2\n" {
		t.Errorf("alerts of the corrected period: %q, want %q", got, "a2\n")
	}
}

// TestRotatingParquetAbandoned: a Parquet period's file whose footer
// cannot be written is left with a warning that says it cannot be read
// or continued, not one that sends the operator to --append, which
// refuses Parquet.
func TestRotatingParquetAbandoned(t *testing.T) {
	cols, src := testRows(t)
	dir := t.TempDir()
	var logged bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	clk := &fakeClock{at(8, 10, 0)}
	rw, err := CreateRotating(filepath.Join(dir, "flows.parquet"), cols, []string{"Label"}, Rotation{Every: time.Hour, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	w := rw.Writer()
	src.write(t, w, 2)
	rw.r.fh.Close() // the footer's write fails, as on a full disk
	if err := w.Close(); err == nil {
		t.Fatal("Close after the file failed: no error")
	}
	msg := logged.String()
	if !strings.Contains(msg, ".flows-20261205T080000Z.parquet.tmp") || !strings.Contains(msg, "cannot be read") || strings.Contains(msg, "--append") {
		t.Errorf("log %q: want a warning naming the file that says it cannot be read, without --append", msg)
	}
}

// TestRotatedNamesBounded rotates an alerts file through 300 periods: the
// summary still has the first file, the count and the latest, while the
// names kept stay bounded. Every name was kept before, about 4 MB a month
// for an agent rotating each minute, to print two of them.
func TestRotatedNamesBounded(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "alerts.jsonl")
	clk := &fakeClock{at(8, 0, 30)}
	f, err := CreateRotatingFile(path, Rotation{Every: time.Minute, Keep: 3, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	const periods = 300
	for i := range periods {
		if _, err := f.Write([]byte("a\n")); err != nil {
			t.Fatal(err)
		}
		clk.t = clk.t.Add(time.Minute)
		if err := f.Tick(); err != nil {
			t.Fatal(err)
		}
		if r := f.Rotated(); r.Count != i+1 || len(r.Files) > 2*recentFiles || r.Files[len(r.Files)-1] != RotatedName(path, at(8, i, 0), 0) {
			t.Fatalf("after %d periods: count %d, %d names, last %s", i+1, r.Count, len(r.Files), r.Files[len(r.Files)-1])
		}
	}
	r := f.Rotated()
	if want := RotatedName(path, at(8, 0, 0), 0); r.First != want {
		t.Errorf("first %s, want %s", r.First, want)
	}
	if len(r.Files) < recentFiles {
		t.Errorf("%d latest names kept, want at least %d", len(r.Files), recentFiles)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if r := f.Rotated(); r.Count != periods+1 || r.Removed != periods+1-3 {
		t.Errorf("at close: %d finished, %d removed; want %d and %d", r.Count, r.Removed, periods+1, periods+1-3)
	}
}

// TestRotatingTempSymlink plants a symbolic link under the name of the
// period's temporary file, as a user who can write to the output directory
// could for a root agent: opening the period must fail on it, in both
// modes, and leave the file it points at alone.
func TestRotatingTempSymlink(t *testing.T) {
	cols, _ := testRows(t)
	for _, appendMode := range []bool{false, true} {
		dir := t.TempDir()
		victim := filepath.Join(dir, "victim")
		if err := os.WriteFile(victim, []byte("keep me\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "flows.csv")
		clk := &fakeClock{at(8, 0, 0)}
		temp := TempName(RotatedName(path, at(8, 0, 0), 0))
		if err := os.Symlink(victim, temp); err != nil {
			t.Fatal(err)
		}
		rw, err := CreateRotating(path, cols, nil, Rotation{Every: time.Hour, Now: clk.Now, Append: appendMode})
		if err == nil {
			rw.Close()
			t.Errorf("append %v: the period opened through a symbolic link at %s", appendMode, temp)
		} else if !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("append %v: %v, want it to say the temporary name is a symbolic link", appendMode, err)
		}
		if b, _ := os.ReadFile(victim); string(b) != "keep me\n" {
			t.Errorf("append %v: the link's target now holds %q", appendMode, b)
		}
	}
}
