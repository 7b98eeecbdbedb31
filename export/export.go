// Package export writes feature rows to files (CSV, JSON Lines, Parquet)
// and reads them back, so datasets, the classifier and other tools share
// one format layer. Subpackages hold the other outputs (metrics, IPFIX,
// streams, reports).
package export

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/flowhawk/flowhawk/features"
)

// RowWriter writes feature rows. Write is not safe for concurrent use:
// one goroutine writes rows in order. Close flushes (and closes the file
// for writers made by Create).
type RowWriter interface {
	// Write writes one row; extra holds the values of the extra columns
	// named at creation (Label, Predicted Label, Confidence, ...).
	Write(row *features.Row, extra []string) error
	Close() error
}

// Format is an output file format.
type Format uint8

// The formats FormatOf picks from a file's extension.
const (
	CSV Format = iota
	JSONL
	Parquet
)

// String names the format (csv, jsonl, parquet), so a Format prints as a
// name, not a number.
func (f Format) String() string {
	switch f {
	case CSV:
		return "csv"
	case JSONL:
		return "jsonl"
	case Parquet:
		return "parquet"
	}
	return "unknown"
}

// FormatOf chooses the format from a path's extension: .csv, .jsonl (or
// .ndjson), .parquet; "-" is CSV on stdout. A device or named pipe whose
// name has none of those extensions (/dev/null, /dev/stdout, a FIFO a
// consumer reads) gets CSV: users name them for where the rows go, not
// for a format.
func FormatOf(path string) (Format, error) {
	if path == "-" {
		return CSV, nil
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return CSV, nil
	case ".jsonl", ".ndjson":
		return JSONL, nil
	case ".parquet":
		return Parquet, nil
	}
	if st, err := os.Stat(path); err == nil && st.Mode()&(os.ModeDevice|os.ModeCharDevice|os.ModeNamedPipe) != 0 {
		return CSV, nil
	}
	return 0, fmt.Errorf("export: %s: unknown extension (want .csv, .jsonl or .parquet, or - for stdout)", path)
}

// Create opens path for writing and returns a writer for its format
// (FormatOf); "-" writes CSV to stdout. cols are the feature columns
// (Extractor.Columns) and extra the names of string columns appended
// after them.
func Create(path string, cols []features.Column, extra []string) (RowWriter, error) {
	return create(path, cols, extra, false)
}

// CreateAppend is Create for a file that may already hold rows of the same
// columns, from an earlier run: rows are appended after them (a CSV header
// only when the file is new), so a restarted agent keeps what it wrote
// before. A CSV file whose header differs, or a JSONL file whose first
// record has other keys or another key order, is refused, since readers
// take the columns from the first line; a last line cut short (a crash
// mid-write) is cut away first, with a warning, so every row stays whole.
// Parquet cannot be appended to.
func CreateAppend(path string, cols []features.Column, extra []string) (RowWriter, error) {
	return create(path, cols, extra, true)
}

// FileMode is the mode Create and CreateAppend give a file they create,
// less the umask: flow records say who talked to whom, so other users
// may not read them (an existing file keeps its mode).
const FileMode = 0o640

func create(path string, cols []features.Column, extra []string, appending bool) (RowWriter, error) {
	format, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	if path == "-" {
		return NewWriter(os.Stdout, CSV, cols, extra)
	}
	if appending && format == Parquet {
		return nil, fmt.Errorf("export: %s: a Parquet file cannot be appended to (use .csv or .jsonl)", path)
	}
	fh, err := openOutput(path, appending)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	var w RowWriter
	if appending {
		w, err = appendWriter(fh, path, format, cols, extra)
	} else {
		w, err = NewWriter(fh, format, cols, extra)
	}
	if err != nil {
		fh.Close()
		return nil, err
	}
	if enc, ok := w.(recordEncoder); ok {
		// Keep the encoder methods visible through the file wrapper, so a
		// pipeline can encode rows on its workers.
		return &encodingFileWriter{fileWriter{RowWriter: w, fh: fh}, enc}, nil
	}
	return &fileWriter{RowWriter: w, fh: fh}, nil
}

// openOutput opens path for writing. Only an existing regular file
// opened to append is opened for reading too (appendWriter reads its
// header and last line): a FIFO or a terminal opened read-write would
// hold a read end of itself, so when its reader went away a write would
// block forever on the full pipe instead of failing with EPIPE.
func openOutput(path string, appending bool) (*os.File, error) {
	if !appending {
		return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, FileMode)
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
		flags = os.O_RDWR | os.O_APPEND
	}
	return os.OpenFile(path, flags, FileMode)
}

// hasHeader reports whether fh, whose complete lines end at end, starts
// with the header line want.
func hasHeader(fh *os.File, end int64, want []byte) bool {
	got := make([]byte, len(want))
	n, _ := fh.ReadAt(got, 0)
	return int64(n) <= end && bytes.Equal(got[:n], want)
}

// appendWriter checks what fh holds and returns a writer that continues it.
// A last line cut short (a process killed mid-write, which the systemd
// unit then restarts with --append) is cut away first: left in place, it
// sat mid-file after the new rows and readers failed on it.
func appendWriter(fh *os.File, path string, format Format, cols []features.Column, extra []string) (RowWriter, error) {
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	size := st.Size()
	if size == 0 {
		return NewWriter(fh, format, cols, extra)
	}
	end, err := lastRowEnd(fh, size, format == CSV)
	if err != nil {
		return nil, fmt.Errorf("export: %s: %w", path, err)
	}
	torn := end < size
	if torn && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("export: %s: its last line is cut short and it is not a regular file to cut it back; not appending", path)
	}
	// The checks read only the complete lines: a refused file is left as
	// it was, torn line included.
	if format == CSV && end > 0 {
		if !hasHeader(fh, end, csvHeader(nil, cols, extra)) && !hasHeader(fh, end, legacyCSVHeader(cols, extra)) {
			return nil, &otherColumnsError{fmt.Sprintf("export: %s: its header is not this run's columns; not appending (write to a new file)", path)}
		}
	}
	if format == JSONL && end > 0 {
		if err := checkJSONLKeys(fh, end, path, cols, extra); err != nil {
			return nil, err
		}
	}
	if torn {
		if err := fh.Truncate(end); err != nil {
			return nil, fmt.Errorf("export: %s: cut back its last line, cut short: %w", path, err)
		}
		slog.Warn("the output's last line was cut short (the process was killed mid-write); it is cut away before appending",
			"file", path, "bytes_cut", size-end)
	}
	if end == 0 {
		// Nothing complete was left (a first line, or a CSV header, cut
		// short): the file starts over.
		return NewWriter(fh, format, cols, extra)
	}
	if format == CSV {
		return newCSVWriter(fh, cols, extra)
	}
	return NewJSONLWriter(fh, cols, extra)
}

// TrimTornLine cuts from fh, the line-oriented file at path opened for
// appending, a last line (a CSV row, for a .csv path or its temporary
// name) that a process killed mid-write left cut short,
// and warns with path and the bytes cut: the next line would otherwise
// continue it.
func TrimTornLine(fh *os.File, path string) error {
	st, err := fh.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() == 0 {
		return err
	}
	r, err := os.Open(path) // fh may be open for writing only
	if err != nil {
		return err
	}
	defer r.Close()
	csv := strings.HasSuffix(strings.TrimSuffix(strings.ToLower(path), ".tmp"), ".csv") // a rotated file's temporary name too
	end, err := lastRowEnd(r, st.Size(), csv)
	if err != nil || end == st.Size() {
		return err
	}
	if err := fh.Truncate(end); err != nil {
		return fmt.Errorf("%s: cut back its last line, cut short: %w", path, err)
	}
	slog.Warn("the file's last line was cut short (the process was killed mid-write); it is cut away before appending",
		"file", path, "bytes_cut", st.Size()-end)
	return nil
}

// quoteWindow is the tail of a CSV file that, free of quotes, shows its
// last line end is a row end: a quoted field (a label, the only text
// flowhawk quotes) longer than this could hide one.
const quoteWindow = 1 << 20

// lastRowEnd is lastLineEnd, and for CSV the end of the last whole row: a
// quoted field may hold a line break (a label with one), so a row cut
// just after it ended in a newline, looked whole, and the next run's rows
// went on inside its open quote, which no reader could then parse. When
// the file's last quoteWindow bytes hold a quote, the file is read once
// from its start, where the quotes are known to be closed.
func lastRowEnd(r io.ReaderAt, size int64, csv bool) (int64, error) {
	end, err := lastLineEnd(r, size)
	if err != nil || !csv || end == 0 {
		return end, err
	}
	tail := make([]byte, min(size, quoteWindow))
	if _, err := r.ReadAt(tail, size-int64(len(tail))); err != nil {
		return 0, err
	}
	if bytes.IndexByte(tail, '"') < 0 {
		return end, nil
	}
	return lastUnquotedNewline(r, size)
}

// lastUnquotedNewline returns the offset just past the last newline of
// r's size bytes that is outside a quoted field (0 if none), reading
// forward: a doubled quote inside a quoted field toggles twice.
func lastUnquotedNewline(r io.ReaderAt, size int64) (int64, error) {
	buf := make([]byte, 1<<20)
	var end int64
	quoted := false
	for off := int64(0); off < size; {
		b := buf[:min(int64(len(buf)), size-off)]
		if _, err := r.ReadAt(b, off); err != nil {
			return 0, err
		}
		for i := 0; i < len(b); {
			q := bytes.IndexByte(b[i:], '"')
			if q < 0 {
				q = len(b) - i
			}
			if !quoted {
				if n := bytes.LastIndexByte(b[i:i+q], '\n'); n >= 0 {
					end = off + int64(i+n) + 1
				}
			}
			if i += q; i < len(b) {
				quoted = !quoted
				i++
			}
		}
		off += int64(len(b))
	}
	return end, nil
}

// lastLineEnd returns the offset just past the last newline among the
// size bytes of r (0 if none), read backwards in blocks: a torn row is
// at most one row long, the file may be gigabytes.
func lastLineEnd(r io.ReaderAt, size int64) (int64, error) {
	buf := make([]byte, 64<<10)
	for end := size; end > 0; {
		start := max(end-int64(len(buf)), 0)
		b := buf[:end-start]
		if _, err := r.ReadAt(b, start); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return 0, nil
}

// checkJSONLKeys refuses to append to a JSONL file whose first record's
// keys are not this run's, in order: JSONLReader learns the columns from
// the first record and rejects every later line with other keys, so such a
// file could no longer be read.
func checkJSONLKeys(fh *os.File, size int64, path string, cols []features.Column, extra []string) error {
	names, err := extraNames(cols, extra)
	if err != nil {
		return err
	}
	want := make([]string, 0, len(cols)+len(names))
	for i := range cols {
		want = append(want, cols[i].Name)
	}
	want = append(want, names...)
	r, err := NewJSONLReader(io.NewSectionReader(fh, 0, size))
	if err != nil {
		return fmt.Errorf("export: %s: its first record cannot be read, so its columns are unknown; not appending (write to a new file): %w", path, err)
	}
	got := r.Columns()
	if len(got) == 0 {
		return nil // only blank lines: nothing to match
	}
	if slices.Equal(got, want) {
		return nil
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	var diff string
	switch {
	case i == len(got):
		diff = fmt.Sprintf("it has %d keys, this run writes %d, the first new one %q", len(got), len(want), want[i])
	case i == len(want):
		diff = fmt.Sprintf("it has %d keys, this run writes %d, without %q and after", len(got), len(want), got[i])
	default:
		diff = fmt.Sprintf("its key %d is %q, this run writes %q there", i+1, got[i], want[i])
	}
	return &otherColumnsError{fmt.Sprintf("export: %s: its first record's keys are not this run's columns (%s); not appending (write to a new file)", path, diff)}
}

// otherColumnsError refuses to append to a file of other columns; a
// rotating output then finishes that file and starts one of its own.
type otherColumnsError struct{ msg string }

func (e *otherColumnsError) Error() string { return e.msg }

// recordEncoder is implemented by the writers whose rows can be encoded
// concurrently (CSV, JSONL) and written in order afterwards.
type recordEncoder interface {
	AppendRecord(b []byte, row *features.Row, extra []string) []byte
	WriteRecords(b []byte) error
}

type encodingFileWriter struct {
	fileWriter
	recordEncoder
}

// NewWriter returns a writer of the given format on w. Close flushes but
// does not close w.
func NewWriter(w io.Writer, format Format, cols []features.Column, extra []string) (RowWriter, error) {
	switch format {
	case CSV:
		return NewCSVWriter(w, cols, extra)
	case JSONL:
		return NewJSONLWriter(w, cols, extra)
	case Parquet:
		return NewParquetWriter(w, cols, extra)
	}
	return nil, fmt.Errorf("export: unknown format %d", format)
}

type fileWriter struct {
	RowWriter
	fh *os.File
}

// Flusher is a RowWriter that can push what it buffered to its file now:
// a live capture flushes after each scan of the kernel map, so records
// show within a scan interval. Parquet cannot (its file is readable only
// once closed, with its footer).
type Flusher interface {
	Flush() error
}

// Flush writes out what the format's writer buffered, if it can.
func (w *fileWriter) Flush() error {
	if f, ok := w.RowWriter.(Flusher); ok {
		return f.Flush()
	}
	return nil
}

// RowsWritten implements RowsWritten for the format's writer.
func (w *fileWriter) RowsWritten() uint64 {
	if r, ok := w.RowWriter.(RowsWritten); ok {
		return r.RowsWritten()
	}
	return 0
}

func (w *fileWriter) Close() error {
	err := w.RowWriter.Close()
	if cerr := w.fh.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("export: %w", cerr)
	}
	return err
}

// AppendValue appends the text of a numeric value: integral values without
// a fraction, others in the shortest form that reads back to the same
// float64, with an exponent only below 1e-6 or from 1e21 (the JSON rule).
// NaN and Inf are written as 0: no output ever holds them.
func AppendValue(b []byte, v float64, kind features.Kind) []byte {
	// Most values of a row are small whole numbers (counts, ports, flags,
	// zeros), so they go first and skip strconv; the comparisons are false
	// for NaN, which falls through to the general path.
	if v >= 0 && v < 1e15 {
		u := int64(v) // a single instruction, unlike a conversion to uint64
		if kind == features.Int || float64(u) == v {
			if u < 10 {
				return append(b, byte('0'+u))
			}
			return appendUint(b, uint64(u))
		}
		if v >= 1e-6 {
			return appendFixed(b, v)
		}
	} else if v < 0 && v > -1e15 {
		u := int64(-v)
		if kind == features.Int || float64(u) == -v {
			if u == 0 { // an Int column's -0.5 truncates to 0, without a sign
				return append(b, '0')
			}
			return appendUint(append(b, '-'), uint64(u))
		}
		if v <= -1e-6 {
			return appendFixed(append(b, '-'), -v)
		}
	}
	return appendValueSlow(b, v, kind)
}

// appendValueSlow is AppendValue for NaN, Inf, values of magnitude 1e15 and
// over, and non-integral values below 1e-6.
func appendValueSlow(b []byte, v float64, kind features.Kind) []byte {
	if v != v || math.IsInf(v, 0) {
		return append(b, '0')
	}
	// An Int column's value beyond int64 (only a corrupt input makes
	// one) is written as the float it is: int64(v) would print a wrong,
	// negative number.
	if (kind == features.Int && v >= -(1<<63) && v < 1<<63) || (v == math.Trunc(v) && math.Abs(v) < 1e15) {
		if v == 0 {
			return append(b, '0') // also -0
		}
		return strconv.AppendInt(b, int64(v), 10)
	}
	if a := math.Abs(v); a < 1e-6 || a >= 1e21 {
		return strconv.AppendFloat(b, v, 'e', -1, 64)
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

// digits2 holds "00" to "99", so integers are written two digits a step.
const digits2 = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

// appendUint is strconv.AppendUint(b, u, 10) without its generic set-up,
// which dominates for the one- and two-digit values that fill most rows.
// Longer numbers are written in place, with no scratch buffer to copy.
func appendUint(b []byte, u uint64) []byte {
	if u < 10 {
		return append(b, byte('0'+u))
	}
	if u < 100 {
		return append(b, digits2[2*u], digits2[2*u+1])
	}
	n := decimalLen(u)
	b = slices.Grow(b, n)
	b = b[:len(b)+n]
	putDigits(b[len(b)-n:], u)
	return b
}

// pow10u holds the powers of ten that fit in a uint64.
var pow10u = [...]uint64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// decimalLen returns the number of decimal digits of u (1 for 0).
func decimalLen(u uint64) int {
	// 1233/4096 is log10(2) to 4 digits: t is the digits of 2^bits.Len,
	// which u has or one less.
	t := (bits.Len64(u) * 1233) >> 12
	if t < len(pow10u) && u >= pow10u[t] {
		t++
	}
	return max(t, 1)
}

// putDigits writes u into d as exactly len(d) decimal digits, padded with
// leading zeros; u must have at most len(d) digits.
func putDigits(d []byte, u uint64) {
	i := len(d)
	for i >= 2 {
		q := u / 100
		r := 2 * (u - 100*q)
		i -= 2
		d[i], d[i+1] = digits2[r], digits2[r+1]
		u = q
	}
	if i == 1 {
		d[0] = byte('0' + u)
	}
}

// NumericExtra reports whether an extra column holds a number (the
// classifier's Confidence): JSON Lines writes it as a JSON number and
// Parquet as a DOUBLE, so `Confidence > 0.8` works in pandas or DuckDB.
// A value that does not parse stays text in JSON Lines and is NaN in
// Parquet. CSV has no types.
func NumericExtra(name string) bool { return strings.TrimSpace(name) == "Confidence" }

var errExtra = errors.New("export: wrong number of extra values")

func checkExtra(extra []string, n int) error {
	if len(extra) != n {
		return fmt.Errorf("%w: got %d, want %d", errExtra, len(extra), n)
	}
	return nil
}

// extraNames trims the extra column names for formats whose names are
// keys (JSON, Parquet) and checks that no name repeats a column's.
func extraNames(cols []features.Column, extra []string) ([]string, error) {
	seen := make(map[string]bool, len(cols)+len(extra))
	for i := range cols {
		seen[cols[i].Name] = true
	}
	out := make([]string, len(extra))
	for i, e := range extra {
		out[i] = strings.TrimSpace(e)
		if out[i] == "" || seen[out[i]] {
			return nil, fmt.Errorf("export: extra column %q is empty or repeats a column name", e)
		}
		seen[out[i]] = true
	}
	return out, nil
}

// finite maps NaN and Inf to 0.
func finite(v float64) float64 {
	if v != v || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// toInt64 is v for an Int64 column: 0 for NaN and infinities, and
// saturated beyond int64 (only a corrupt input makes such a value), where
// int64(v) wraps to a wrong, negative number.
func toInt64(v float64) int64 {
	switch {
	case v != v || math.IsInf(v, 0):
		return 0
	case v >= 1<<63:
		return math.MaxInt64
	case v < -(1 << 63):
		return math.MinInt64
	}
	return int64(v)
}

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// appendFixed appends a non-integral v, 1e-6 <= v < 1e15, exactly as
// strconv.AppendFloat(b, v, 'f', -1, 64) does. Many such values (durations
// in seconds, means of a few integers, halves) are decimals of at most 15
// significant digits, and for those the shortest form is that decimal:
// two decimals of 15 digits or fewer never round to the same float64, so
// when m/10^k (m < 10^15) rounds to v no shorter text reads back as v.
// Checking that costs a multiplication and a division, a fraction of
// strconv's shortest-digit search; any other value goes to strconv.
func appendFixed(b []byte, v float64) []byte {
	// d is floor(log10(v)) or one less: 2^e <= v < 2^(e+1) and
	// 78913/2^18 is log10(2) to 6 digits, exact enough for |e| < 1000.
	e := int(math.Float64bits(v)>>52) - 1023
	d := (e * 78913) >> 18
	k := 14 - d // scale v into [1e14, 1e15), 15 digits
	if k > 20 {
		k = 20
	}
	x := v * pow10[k]
	if x >= 1e15 {
		k--
		x = v * pow10[k]
	}
	if k < 1 {
		return strconv.AppendFloat(b, v, 'f', -1, 64)
	}
	m := uint64(x + 0.5)
	// m/10^k is correctly rounded (both exact): equal to v means the
	// decimal m*10^-k reads back as v.
	if m >= 1e15 || float64(m)/pow10[k] != v {
		return appendLong(b, v)
	}
	return appendDecimal(b, m, k)
}

// appendLong is appendFixed for the values that need 16 or 17 significant
// digits (rates, ratios and deviations: about ten in each row), where
// strconv's shortest-digit search costs about 50 ns. v*10^k is computed
// exactly as hi+lo with a fused multiply-add, so the closest decimal of
// 16 digits, m, and its distance from v are exact up to a rounding far
// below the margins tested; m reads back as v when that distance is less
// than half of v's ulp scaled by 10^k, and otherwise no 16-digit decimal
// does and the closest 17-digit one is the shortest. Anything close to a
// tie, and powers of two (whose ulp below is half the ulp above), go to
// strconv.
func appendLong(b []byte, v float64) []byte {
	bits := math.Float64bits(v)
	if bits&(1<<52-1) == 0 {
		return strconv.AppendFloat(b, v, 'f', -1, 64)
	}
	e := int(bits>>52) - 1023
	k := 15 - (e*78913)>>18 // v*10^k in [1e15, 1e16) or [1e16, 1e17)
	if k < 1 || k > 22 {
		return strconv.AppendFloat(b, v, 'f', -1, 64)
	}
	hi := v * pow10[k]
	if hi >= 1e16 {
		k--
		hi = v * pow10[k]
	}
	if hi < 1e15 || hi >= 1e16 { // v within rounding of a power of ten
		return strconv.AppendFloat(b, v, 'f', -1, 64)
	}
	lo := math.FMA(v, pow10[k], -hi)
	fl := math.Floor(hi)
	f := hi - fl // exact
	n := math.Round(f + lo)
	dist := (f - n) + lo                                           // v*10^k - m
	half := pow10[k] * math.Float64frombits(uint64(e-53+1023)<<52) // ulp/2 * 10^k; e-53 > -1022
	const eps = 1e-9                                               // far above the rounding of f+lo and dist, far below 0.5 and half
	if a := math.Abs(dist); math.Abs(a-0.5) < eps || math.Abs(a-half) < eps*half {
		return strconv.AppendFloat(b, v, 'f', -1, 64)
	} else if a < half {
		return appendDecimal(b, uint64(fl)+uint64(int64(n)), k)
	}
	// 17 digits: hi is in [1e16, 1e17), where doubles are even integers.
	if k++; k > 22 {
		return strconv.AppendFloat(b, v, 'f', -1, 64)
	}
	hi = v * pow10[k]
	lo = math.FMA(v, pow10[k], -hi)
	n = math.Round(lo)
	if math.Abs(math.Abs(lo-n)-0.5) < eps || hi < 1e16 || hi >= 1e17 {
		return strconv.AppendFloat(b, v, 'f', -1, 64)
	}
	return appendDecimal(b, uint64(hi)+uint64(int64(n)), k)
}

// appendDecimal appends m*10^-k, k >= 1, without trailing zeros (the
// value is not integral, so k stays >= 1 as they are dropped).
func appendDecimal(b []byte, m uint64, k int) []byte {
	for m%10 == 0 && k > 1 {
		m /= 10
		k--
	}
	// The text is the integral digits (a 0 when there are none), the
	// point and k digits, written from the end in one go.
	n := decimalLen(m)
	ni := max(n-k, 1)
	b = slices.Grow(b, ni+1+k)
	at := len(b)
	b = b[:at+ni+1+k]
	d := b[at:]
	var q uint64 // m < 10^17: no integral digits when k is 20 or more
	if k < len(pow10u) {
		q = m / pow10u[k]
	}
	putDigits(d[ni+1:], m-q*pow10u[min(k, len(pow10u)-1)])
	d[ni] = '.'
	putDigits(d[:ni], q)
	return b
}
