package export

import (
	"bufio"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/flowhawk/flowhawk/features"
)

// CSVWriter writes rows as RFC 4180 CSV with LF line ends. The header is
// the columns' Header text (CIC's exact header, leading spaces included)
// followed by the extra names as given.
type CSVWriter struct {
	w      *bufio.Writer
	out    *lineCounter
	header uint64 // header lines written (0 when appending)
	cols   []features.Column
	kinds  []features.Kind // cols' kinds, packed: a row reads no Column
	nextra int
	buf    []byte
}

// NewCSVWriter writes the header to w and returns the writer.
func NewCSVWriter(w io.Writer, cols []features.Column, extra []string) (*CSVWriter, error) {
	c, err := newCSVWriter(w, cols, extra)
	if err != nil {
		return nil, err
	}
	c.buf = csvHeader(c.buf[:0], cols, extra)
	if _, err := c.w.Write(c.buf); err != nil {
		return nil, fmt.Errorf("export: csv header: %w", err)
	}
	c.header = 1
	return c, nil
}

// newCSVWriter returns a CSV writer on w that writes no header (appending
// to a file that has it).
func newCSVWriter(w io.Writer, cols []features.Column, extra []string) (*CSVWriter, error) {
	if _, err := extraNames(cols, extra); err != nil {
		return nil, err
	}
	out := &lineCounter{w: w, csv: true}
	return &CSVWriter{w: bufio.NewWriterSize(out, 256<<10), out: out, cols: cols, kinds: kindsOf(cols), nextra: len(extra), buf: make([]byte, 0, 4096)}, nil
}

// RowsWritten implements RowsWritten.
func (c *CSVWriter) RowsWritten() uint64 { return c.out.lines - min(c.out.lines, c.header) }

// kindsOf returns the kind of each column.
func kindsOf(cols []features.Column) []features.Kind {
	k := make([]features.Kind, len(cols))
	for i := range cols {
		k[i] = cols[i].Kind
	}
	return k
}

// csvExtraHeader is CIC-IDS2017's header text of an extra column: its
// " Label" has a leading space, and a pipeline keyed by CIC's raw names
// (row[" Label"]) found no label in our files when we wrote "Label".
var csvExtraHeader = map[string]string{"Label": " Label"}

// csvHeader appends the header line of cols and extra to b.
func csvHeader(b []byte, cols []features.Column, extra []string) []byte {
	return appendHeader(b, cols, extra, csvExtraHeader)
}

// legacyCSVHeader is the header line flowhawk wrote before csvExtraHeader,
// each extra column as named: a file begun then is still appended to.
func legacyCSVHeader(cols []features.Column, extra []string) []byte {
	return appendHeader(nil, cols, extra, nil)
}

// appendHeader appends the header line of cols and extra to b, each extra
// column under its text in rename if it has one there.
func appendHeader(b []byte, cols []features.Column, extra []string, rename map[string]string) []byte {
	for i := range cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCSVField(b, []byte(cols[i].Header))
	}
	for i, e := range extra {
		if i > 0 || len(cols) > 0 {
			b = append(b, ',')
		}
		if h, ok := rename[e]; ok {
			e = h
		}
		b = appendCSVField(b, []byte(e))
	}
	return append(b, '\n')
}

// AppendCSV appends one CSV record (without the line end) of row and extra
// to b; it is the encoder behind CSVWriter.Write.
func AppendCSV(b []byte, cols []features.Column, row *features.Row, extra []string) []byte {
	var buf [256]features.Kind
	kinds := buf[:0]
	for i := range cols {
		kinds = append(kinds, cols[i].Kind)
	}
	return appendCSV(b, kinds, row, extra)
}

// appendCSV is AppendCSV on the columns' kinds. Each value is followed by
// a comma, the last one cut off after the loop: a zero, most values of a
// row, is then one append of two bytes.
func appendCSV(b []byte, kinds []features.Kind, row *features.Row, extra []string) []byte {
	num, str := row.Num[:len(kinds)], row.Str[:len(kinds)]
	for i, k := range kinds {
		if k == features.String {
			b = append(appendCSVField(b, str[i]), ',')
		} else if v := num[i]; v == 0 {
			b = append(b, '0', ',') // also -0
		} else {
			b = append(AppendValue(b, v, k), ',')
		}
	}
	if len(kinds) > 0 {
		b = b[:len(b)-1]
	}
	for i, e := range extra {
		if i > 0 || len(kinds) > 0 {
			b = append(b, ',')
		}
		b = appendCSVString(b, e)
	}
	return b
}

// Write implements RowWriter.
func (c *CSVWriter) Write(row *features.Row, extra []string) error {
	if err := checkExtra(extra, c.nextra); err != nil {
		return err
	}
	b := appendCSV(c.buf[:0], c.kinds, row, extra)
	b = append(b, '\n')
	c.buf = b
	if _, err := c.w.Write(b); err != nil {
		return fmt.Errorf("export: csv: %w", err)
	}
	return nil
}

// Close flushes buffered rows.
// Flush writes the buffered rows to the underlying writer.
func (c *CSVWriter) Flush() error {
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("export: csv: %w", err)
	}
	return nil
}

// Close flushes the buffered rows; the io.Writer stays open for its owner
// (Create's writer closes its file after this).
func (c *CSVWriter) Close() error {
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("export: csv: %w", err)
	}
	return nil
}

// csvClass marks the bytes that make a field need quotes (csvQuote) and
// the non-ASCII ones (csvHigh), after which a field may not be UTF-8. A
// table lookup per byte beats bytes.ContainsAny on the short fields of a
// row (addresses, timestamps, names), which never need either.
var csvClass = func() (t [256]uint8) {
	t[','], t['"'], t['\r'], t['\n'] = csvQuote, csvQuote, csvQuote, csvQuote
	for c := utf8.RuneSelf; c < len(t); c++ {
		t[c] = csvHigh
	}
	return t
}()

const (
	csvQuote = 1 << iota
	csvHigh
)

// appendValidUTF8 appends s to b with each byte that is not UTF-8
// replaced by U+FFFD, as appendJSONBytes and encoding/json do, so the
// three formats hold one value.
func appendValidUTF8(b, s []byte) []byte {
	for len(s) > 0 {
		r, n := utf8.DecodeRune(s)
		if r == utf8.RuneError && n == 1 {
			b = append(b, "\uFFFD"...)
		} else {
			b = append(b, s[:n]...)
		}
		s = s[n:]
	}
	return b
}

// appendCSVField appends s, quoted if it needs it, with bytes that are not
// UTF-8 replaced by U+FFFD: JSON Lines and Parquet hold the same value, and
// the CSV file is UTF-8.
func appendCSVField(b, s []byte) []byte {
	var c uint8
	for _, ch := range s {
		c |= csvClass[ch]
	}
	if c&csvHigh != 0 && !utf8.Valid(s) {
		s = appendValidUTF8(make([]byte, 0, len(s)+8), s) // allocates, for invalid text only
	}
	if c&csvQuote == 0 {
		return append(b, s...)
	}
	b = append(b, '"')
	for _, ch := range s {
		if ch == '"' {
			b = append(b, '"')
		}
		b = append(b, ch)
	}
	return append(b, '"')
}

func appendCSVString(b []byte, s string) []byte {
	var c uint8
	for i := 0; i < len(s); i++ {
		c |= csvClass[s[i]]
	}
	if c == 0 || (c == csvHigh && utf8.ValidString(s)) {
		return append(b, s...)
	}
	return appendCSVField(b, []byte(s))
}
