package export

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/flowhawk/flowhawk/features"
)

// Rotation sets up time-based rotation of an output: a long-running
// capture writes each period to a file of its own, named from the output
// path and the period's start, so no file grows forever and a finished
// period can be read (a Parquet file has its footer) while the capture
// goes on.
type Rotation struct {
	// Every is the length of a period: whole seconds, at least one.
	// Periods start at multiples of it since the Unix epoch (1h: at :00).
	Every time.Duration
	// Keep, above 0, deletes the finished files of all but the Keep most
	// recent periods, after each period closes.
	Keep int
	// Append continues the temporary file a killed run left for the
	// current period and finishes (renames into place) those it left for
	// earlier periods; without it a temporary file of the current period
	// is replaced, as a file is without --append.
	Append bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// MinRotation is the shortest period: file names carry the period's
// start to the second.
const MinRotation = time.Second

// Check refuses a period shorter than MinRotation, not whole seconds, or
// a negative Keep.
func (r Rotation) Check() error {
	if r.Every < MinRotation || r.Every%time.Second != 0 {
		return fmt.Errorf("period %v: want whole seconds, %v or more", r.Every, MinRotation)
	}
	if r.Keep < 0 {
		return fmt.Errorf("keep %d: want 0 (keep every file) or more", r.Keep)
	}
	return nil
}

// rotateStamp is the layout of a period's start in a file name: UTC, to
// the second, without characters a shell or a URL would quote.
const rotateStamp = "20060102T150405Z"

// PeriodStart returns the start of the period of length every that holds
// t: the latest multiple of every since the Unix epoch not after t.
func PeriodStart(t time.Time, every time.Duration) time.Time {
	ns, d := t.UnixNano(), int64(every)
	s := ns - ns%d
	if ns%d < 0 {
		s -= d
	}
	return time.Unix(0, s).UTC()
}

// RotatedName is the name of the file of the period starting at start,
// made from path: the UTC start inserted before the extension
// (flows.jsonl, 08:00 UTC -> flows-20261205T080000Z.jsonl). part > 0, for
// a period whose file an earlier run already finished, adds _part
// (flows-20261205T080000Z_1.jsonl), which sorts after the first.
func RotatedName(path string, start time.Time, part int) string {
	dir, file := filepath.Split(path)
	ext := filepath.Ext(file)
	name := strings.TrimSuffix(file, ext) + "-" + start.UTC().Format(rotateStamp)
	if part > 0 {
		name += "_" + strconv.Itoa(part)
	}
	return dir + name + ext
}

// TempName is the name a period's file has while it is written: a
// leading dot and a .tmp suffix, so that no glob of the finished files
// (flows-*.parquet, *.jsonl) matches it and a reader never sees a file
// half-written.
func TempName(final string) string {
	dir, file := filepath.Split(final)
	return dir + "." + file + ".tmp"
}

// parseRotated reports whether name, a file name in path's directory, is
// one of path's period files (or, temp, its temporary name), and which.
// Only names RotatedName and TempName make match, so that retention and
// recovery touch no other file, not even those of an output whose name
// extends this one's (flows-eth1.jsonl beside flows.jsonl).
func parseRotated(path, name string) (start time.Time, part int, temp, ok bool) {
	file := filepath.Base(path)
	ext := filepath.Ext(file)
	if len(name) > 5 && name[0] == '.' && strings.HasSuffix(name, ".tmp") {
		name, temp = name[1:len(name)-4], true
	}
	rest, found := strings.CutPrefix(name, strings.TrimSuffix(file, ext)+"-")
	if !found {
		return
	}
	if rest, found = strings.CutSuffix(rest, ext); !found || len(rest) < len(rotateStamp) {
		return
	}
	start, err := time.Parse(rotateStamp, rest[:len(rotateStamp)])
	if err != nil || start.Format(rotateStamp) != rest[:len(rotateStamp)] {
		return
	}
	if rest = rest[len(rotateStamp):]; rest != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(rest, "_"))
		if err != nil || n < 1 || rest != "_"+strconv.Itoa(n) {
			return
		}
		part = n
	}
	return start, part, temp, true
}

// rotator is what rotating rows and rotating lines share: the clock, the
// names, the current period's file and its finishing.
type rotator struct {
	path  string
	rot   Rotation
	lines bool // the files are lines (CSV, JSON Lines, alerts), not Parquet

	start, end time.Time // the current period
	part       int
	temp       string
	fh         *os.File
	continued  bool // the current file held an earlier run's lines

	files        []string // the latest files this run finished, in order (see finished)
	first        string   // the first file this run finished
	finished     int      // files this run finished
	removed      int      // files deleted by Keep
	warnedFuture bool     // prune found files dated after the current period
}

func newRotator(path string, rot Rotation, lines bool) (*rotator, error) {
	if err := rot.Check(); err != nil {
		return nil, fmt.Errorf("export: %s: rotation %w", path, err)
	}
	if rot.Now == nil {
		rot.Now = time.Now
	}
	return &rotator{path: path, rot: rot, lines: lines}, nil
}

func (r *rotator) now() time.Time { return r.rot.Now() }

// due reports whether now is outside the current period: past it, or
// before it when the clock was stepped back (a clock that ran ahead
// would otherwise keep every row in a future period's file, unfinished,
// until the clock caught up with it).
func (r *rotator) due(now time.Time) bool { return now.Before(r.start) || !now.Before(r.end) }

// openPeriod creates (or, with Append, continues) the temporary file of
// the period holding now, under the first part whose finished name is
// free: a finished file is never written again.
func (r *rotator) openPeriod(now time.Time) (existed bool, err error) {
	r.start = PeriodStart(now, r.rot.Every)
	r.end = r.start.Add(r.rot.Every)
	for r.part = 0; ; r.part++ {
		final := RotatedName(r.path, r.start, r.part)
		_, err := os.Lstat(final)
		if errors.Is(err, fs.ErrNotExist) {
			r.temp = TempName(final)
			break
		}
		if err != nil {
			return false, fmt.Errorf("export: %w", err)
		}
	}
	flags := os.O_RDWR | os.O_CREATE | os.O_TRUNC | noFollow
	if r.rot.Append {
		flags = os.O_RDWR | os.O_CREATE | os.O_APPEND | noFollow
		if st, err := os.Lstat(r.temp); err == nil && st.Size() > 0 {
			existed = true
		}
	}
	if r.fh, err = os.OpenFile(r.temp, flags, FileMode); err != nil {
		if noFollow != 0 && errors.Is(err, syscall.ELOOP) {
			return false, fmt.Errorf("export: %s is a symbolic link, which a temporary file's name must not be (remove it): %w", r.temp, err)
		}
		return false, fmt.Errorf("export: %w", err)
	}
	r.continued = existed
	return existed, nil
}

// finish syncs and closes the current file and renames it into place.
func (r *rotator) finish() error {
	fh := r.fh
	r.fh = nil
	err := fh.Sync()
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	final, err := r.place(r.temp, r.start, r.part)
	if err != nil {
		return err
	}
	r.note(final)
	r.prune()
	return nil
}

// recentFiles is how many of the latest finished names a rotator keeps
// for the summary: an agent rotating every minute for months kept every
// name (about 4 MB a month) to print two of them.
const recentFiles = 64

// note records a finished file: the first, the count, and the latest
// recentFiles to 2*recentFiles names.
func (r *rotator) note(final string) {
	if r.finished == 0 {
		r.first = final
	}
	r.finished++
	if len(r.files) == 2*recentFiles {
		r.files = append(r.files[:0], r.files[recentFiles:]...)
	}
	r.files = append(r.files, final)
}

// rotated is what Rotated reports.
func (r *rotator) rotated() RotatedFiles {
	return RotatedFiles{Files: slices.Clone(r.files), First: r.first, Count: r.finished, Removed: r.removed}
}

// abandon closes the current file without finishing it: what it holds
// may be cut short (a failed write), so it keeps its temporary name, for
// a run with Append to continue; a Parquet file, without its footer,
// cannot be, and the warning must not send the operator to --append.
func (r *rotator) abandon() {
	if r.fh != nil {
		r.fh.Close()
		r.fh = nil
		if !r.lines {
			slog.Warn("the output's Parquet file of this period is left under its temporary name, without its footer: it cannot be read or continued, and its flows are lost; delete it", "file", r.temp)
			return
		}
		slog.Warn("the output's file of this period is left under its temporary name, unfinished; a run with --append continues it", "file", r.temp)
	}
}

// discard closes the current file unfinished and, unless it continues
// an earlier run's, removes it: a run that fails to start leaves no file
// (a service restarted in a loop would leave one per try).
func (r *rotator) discard() {
	if r.fh == nil {
		return
	}
	r.fh.Close()
	r.fh = nil
	if !r.continued {
		os.Remove(r.temp)
	}
}

// place renames temp to the finished name of its period, the first from
// part on that is free, never over another file.
func (r *rotator) place(temp string, start time.Time, part int) (string, error) {
	for ; ; part++ {
		final := RotatedName(r.path, start, part)
		err := renameNoReplace(temp, final)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("export: rename %s to %s: %w", temp, final, err)
		}
		syncDir(filepath.Dir(final))
		return final, nil
	}
}

// renameNoReplace renames from to to unless to exists (fs.ErrExist).
// renameat2's RENAME_NOREPLACE where the file system has it, else a hard
// link and an unlink, else a check and a rename.
func renameNoReplace(from, to string) error {
	err := renameat2NoReplace(from, to)
	if err == nil || errors.Is(err, fs.ErrExist) || !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	if err := os.Link(from, to); err == nil {
		return os.Remove(from)
	} else if errors.Is(err, fs.ErrExist) {
		return err
	}
	if _, err := os.Lstat(to); err == nil {
		return fs.ErrExist
	}
	return os.Rename(from, to)
}

// syncDir makes a rename in dir durable; file systems that cannot sync a
// directory need not.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// recoverLeftovers deals, at start, with the temporary files a killed run left
// (other than the one this run continues): with Append, line files are
// cut back to their last whole line and renamed into place (an empty one
// is removed); Parquet files, which have no footer, and every such file
// without Append are left, with a warning naming them.
func (r *rotator) recoverLeftovers() {
	entries, err := os.ReadDir(filepath.Dir(r.path))
	if err != nil {
		slog.Warn("cannot list the output's directory for files a killed run left", "dir", filepath.Dir(r.path), "err", err)
		return
	}
	for _, e := range entries {
		start, part, temp, ok := parseRotated(r.path, e.Name())
		p := filepath.Join(filepath.Dir(r.path), e.Name())
		if !ok || !temp || p == r.temp || !e.Type().IsRegular() {
			continue
		}
		switch {
		case !r.lines:
			slog.Warn("a killed run left this Parquet file unfinished, without its footer: it cannot be read; delete it", "file", p)
		case !r.rot.Append:
			slog.Warn("a killed run left this file unfinished under its temporary name; a run with --append finishes it", "file", p)
		default:
			final, err := r.finishLeftover(p, start, part)
			if err != nil {
				slog.Warn("cannot finish a file a killed run left", "file", p, "err", err)
			} else if final != "" {
				slog.Info("finished a file a killed run left", "file", p, "as", final)
			}
		}
	}
	r.prune()
}

// finishLeftover cuts a torn last line from the line file p and renames
// it into place ("" if it held nothing and was removed).
func (r *rotator) finishLeftover(p string, start time.Time, part int) (string, error) {
	fh, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return "", err
	}
	err = TrimTornLine(fh, p)
	st, serr := fh.Stat()
	if err == nil {
		err = serr
	}
	if err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	if st.Size() == 0 {
		return "", os.Remove(p)
	}
	return r.place(p, start, part)
}

// prune deletes, with Keep, the finished files of all but the Keep most
// recent periods that have finished files. It matches only this output's
// names (parseRotated), never a temporary file, and leaves files dated
// after the current period alone.
func (r *rotator) prune() {
	if r.rot.Keep <= 0 {
		return
	}
	dir := filepath.Dir(r.path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		slog.Warn("--rotate-keep: cannot list the output's directory", "dir", dir, "err", err)
		return
	}
	type file struct {
		start time.Time
		name  string
	}
	var files []file
	future := 0
	for _, e := range entries {
		if start, _, temp, ok := parseRotated(r.path, e.Name()); ok && !temp && e.Type().IsRegular() {
			if start.After(r.start) {
				// Written while the clock ran ahead. Counted, they would
				// be the newest periods, and each period now would be
				// deleted as it finished.
				future++
				continue
			}
			files = append(files, file{start, e.Name()})
		}
	}
	if future > 0 && !r.warnedFuture {
		r.warnedFuture = true
		slog.Warn("--rotate-keep: files dated after the current period are kept and not counted (the clock went back?)",
			"files", future, "dir", dir, "period", r.start.UTC().Format(time.RFC3339))
	}
	slices.SortFunc(files, func(a, b file) int { return b.start.Compare(a.start) })
	periods := 0
	for i, f := range files {
		if i == 0 || !f.start.Equal(files[i-1].start) {
			periods++
		}
		if periods <= r.rot.Keep || f.start.Equal(r.start) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, f.name)); err != nil {
			slog.Warn("--rotate-keep: cannot delete an old file", "file", filepath.Join(dir, f.name), "err", err)
			continue
		}
		r.removed++
	}
}

// RotatedFiles says what a rotating output did, for a run's summary.
type RotatedFiles struct {
	// Files are the latest files the run finished (renamed into place),
	// in order: every one while Count is at most 64, at least the last
	// 64 after that, so that a run of months does not keep every name.
	Files []string
	// First is the first file the run finished, and Count how many it
	// finished.
	First string
	Count int
	// Removed counts the older files Keep deleted.
	Removed int
}

// RotatingWriter is a RowWriter that writes each period of its Rotation
// to a file of its own (RotatedName), under a temporary name (TempName)
// renamed into place when the period ends or the writer closes. It turns
// to the next period's file between rows, when a row is written or the
// output flushed after the period's end: a row goes to the file of the
// period in which it is written. CSV files each have their header.
type RotatingWriter struct {
	r      *rotator
	format Format
	cols   []features.Column
	extra  []string
	w      RowWriter     // on r.fh; nil once closed or failed
	enc    recordEncoder // the first file's: it reads only the columns
	err    error         // sticky: a failed turn
	done   uint64        // rows written by the closed files' writers
}

// RowsWritten implements RowsWritten: the rows of every period's file.
func (w *RotatingWriter) RowsWritten() uint64 {
	n := w.done
	if r, ok := w.w.(RowsWritten); ok {
		n += r.RowsWritten()
	}
	return n
}

// CreateRotating opens the current period's file of path (whose
// extension gives the format, as for Create) and, with rot.Append,
// finishes what a killed run left. Parquet cannot be appended to.
func CreateRotating(path string, cols []features.Column, extra []string, rot Rotation) (*RotatingWriter, error) {
	format, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	if rot.Append && format == Parquet {
		return nil, fmt.Errorf("export: %s: a Parquet file cannot be appended to (use .csv or .jsonl)", path)
	}
	r, err := newRotator(path, rot, format != Parquet)
	if err != nil {
		return nil, err
	}
	w := &RotatingWriter{r: r, format: format, cols: cols, extra: extra}
	if err := w.open(r.now()); err != nil {
		return nil, err
	}
	w.enc, _ = w.w.(recordEncoder)
	r.recoverLeftovers()
	return w, nil
}

// Writer returns the RowWriter to hand to a pipeline: w, and for CSV and
// JSON Lines w with the methods that let the pipeline encode rows on its
// workers.
func (w *RotatingWriter) Writer() RowWriter {
	if w.enc != nil {
		return rotatingEncoder{w}
	}
	return w
}

// Rotated reports the files finished so far and those Keep deleted.
func (w *RotatingWriter) Rotated() RotatedFiles {
	return w.r.rotated()
}

func (w *RotatingWriter) open(now time.Time) error {
	existed, err := w.r.openPeriod(now)
	if err != nil {
		return err
	}
	if existed {
		w.w, err = appendWriter(w.r.fh, w.r.temp, w.format, w.cols, w.extra)
	} else {
		w.w, err = NewWriter(w.r.fh, w.format, w.cols, w.extra)
	}
	if err != nil {
		w.r.fh.Close()
		w.r.fh = nil
	}
	if oc := (*otherColumnsError)(nil); errors.As(err, &oc) {
		// A killed run of other columns (before a flag such as --model
		// was added): its file is finished as it is, and the period goes
		// on in a file of its own, rather than the start failing until
		// the period ends.
		final, ferr := w.r.finishLeftover(w.r.temp, w.r.start, w.r.part)
		if ferr != nil {
			return fmt.Errorf("export: %s: %w", w.r.temp, ferr)
		}
		slog.Warn("the period's unfinished file has other columns than this run's: it is finished as it is, and the period goes on in a file of its own", "file", final)
		return w.open(now)
	}
	return err
}

// turn moves to the next period's file when the clock is past the
// current one.
func (w *RotatingWriter) turn() error {
	if w.err != nil {
		return w.err
	}
	now := w.r.now()
	if !w.r.due(now) {
		return nil
	}
	err := w.closeFile()
	if err == nil {
		err = w.open(now)
	}
	if err != nil {
		w.err = err
	}
	return err
}

// closeFile closes the format writer and finishes its file; a file whose
// writer fails to close is left unfinished.
func (w *RotatingWriter) closeFile() error {
	err := w.w.Close()
	if r, ok := w.w.(RowsWritten); ok {
		w.done += r.RowsWritten() // a CSV file's rows stay, unfinished, for --append
	}
	w.w = nil
	if err != nil {
		w.r.abandon()
		return err
	}
	return w.r.finish()
}

// Write implements RowWriter.
func (w *RotatingWriter) Write(row *features.Row, extra []string) error {
	if err := w.turn(); err != nil {
		return err
	}
	return w.w.Write(row, extra)
}

// Flush turns to the next period's file if it is due (a quiet link may
// write no row for a while) and writes out what the format buffered.
func (w *RotatingWriter) Flush() error {
	if err := w.turn(); err != nil {
		return err
	}
	if f, ok := w.w.(Flusher); ok {
		return f.Flush()
	}
	return nil
}

// Close finishes the current file. A writer that failed returns its
// error again.
func (w *RotatingWriter) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.w == nil {
		return errors.New("export: rotating writer closed twice")
	}
	w.err = w.closeFile()
	if w.err == nil {
		w.err = fmt.Errorf("export: %s: closed", w.r.path)
		return nil
	}
	return w.err
}

// Discard ends a writer that was never used, for a run that fails to
// start: its file is removed unless it continues an earlier run's.
func (w *RotatingWriter) Discard() {
	if w.w != nil {
		w.w = nil
		w.r.discard()
	}
	w.err = fmt.Errorf("export: %s: discarded", w.r.path)
}

// rotatingEncoder adds the record encoder methods for CSV and JSON Lines.
type rotatingEncoder struct{ *RotatingWriter }

func (e rotatingEncoder) AppendRecord(b []byte, row *features.Row, extra []string) []byte {
	return e.enc.AppendRecord(b, row, extra)
}

func (e rotatingEncoder) WriteRecords(b []byte) error {
	if err := e.turn(); err != nil {
		return err
	}
	return e.w.(recordEncoder).WriteRecords(b)
}

// RotatingFile is an io.Writer of lines (the --alerts JSON lines) that
// writes each period of its Rotation to a file of its own, as
// RotatingWriter does for rows. It turns only at a line's end, so no line
// is split between files, and is safe for concurrent use.
type RotatingFile struct {
	mu      sync.Mutex
	r       *rotator
	midLine bool // the last byte written was not a line end
	err     error
}

// CreateRotatingFile opens the current period's file of path and, with
// rot.Append, cuts a torn last line from it and finishes the files a
// killed run left.
func CreateRotatingFile(path string, rot Rotation) (*RotatingFile, error) {
	r, err := newRotator(path, rot, true)
	if err != nil {
		return nil, err
	}
	f := &RotatingFile{r: r}
	if err := f.open(r.now()); err != nil {
		return nil, err
	}
	r.recoverLeftovers()
	return f, nil
}

func (f *RotatingFile) open(now time.Time) error {
	existed, err := f.r.openPeriod(now)
	if err != nil {
		return err
	}
	if existed {
		if err := TrimTornLine(f.r.fh, f.r.temp); err != nil {
			f.r.fh.Close()
			f.r.fh = nil
			return fmt.Errorf("export: %w", err)
		}
	}
	return nil
}

// Write writes p, turning to the next period's file first if it is due
// and the file ends with a whole line, or after the line p ends.
func (f *RotatingFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return 0, f.err
	}
	now := f.r.now()
	n := 0
	if f.r.due(now) && f.midLine {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			return f.write(p)
		}
		m, err := f.write(p[:i+1])
		n += m
		if err != nil {
			return n, err
		}
		p = p[i+1:]
	}
	if err := f.turn(now); err != nil {
		return n, err
	}
	if len(p) == 0 {
		return n, nil
	}
	m, err := f.write(p)
	return n + m, err
}

func (f *RotatingFile) write(p []byte) (int, error) {
	n, err := f.r.fh.Write(p)
	if n > 0 {
		f.midLine = p[n-1] != '\n'
	}
	if err != nil {
		f.fail(fmt.Errorf("export: %w", err))
		return n, f.err
	}
	return n, nil
}

// turn finishes the current file and opens the next one if the period is
// over and the file ends with a whole line.
func (f *RotatingFile) turn(now time.Time) error {
	if f.midLine || !f.r.due(now) {
		return nil
	}
	err := f.r.finish()
	if err == nil {
		err = f.open(now)
	}
	if err != nil {
		f.fail(err)
	}
	return err
}

// fail records the first error and says so at once: the alerts after it
// are dropped (and counted) until the run ends.
func (f *RotatingFile) fail(err error) {
	f.err = err
	f.r.abandon()
	slog.Error("writing the rotating file failed; nothing more is written to it", "file", f.r.path, "err", err)
}

// Tick turns to the next period's file if it is due: call it regularly
// (after flushing what buffers lines for it), so a period's file is
// finished even when nothing is written after its end.
func (f *RotatingFile) Tick() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	return f.turn(f.r.now())
}

// Close finishes the current file. A file that failed returns its error.
func (f *RotatingFile) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if f.midLine {
		f.err = fmt.Errorf("export: %s: closed after a line cut short", f.r.temp)
		f.r.abandon()
		return f.err
	}
	if err := f.r.finish(); err != nil {
		f.err = err
		return err
	}
	f.err = fmt.Errorf("export: %s: closed", f.r.path)
	return nil
}

// Discard ends a file that was never used, as RotatingWriter.Discard.
func (f *RotatingFile) Discard() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.r.discard()
	f.err = fmt.Errorf("export: %s: discarded", f.r.path)
}

// Rotated reports the files finished so far and those Keep deleted.
func (f *RotatingFile) Rotated() RotatedFiles {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.r.rotated()
}

var _ io.Writer = (*RotatingFile)(nil)
