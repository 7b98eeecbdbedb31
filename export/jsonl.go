package export

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/flowhawk/flowhawk/features"
)

// JSONLWriter writes one JSON object per line, keys in column order: the
// columns' Name (unique, no leading space), then the extra names trimmed.
// Numeric columns are JSON numbers, the others strings.
type JSONLWriter struct {
	w      *bufio.Writer
	out    *lineCounter
	cols   []features.Column
	keys   [][]byte // `"name":` per column, then per extra
	nextra int
	num    []bool // per extra: NumericExtra
	buf    []byte
}

// NewJSONLWriter returns a JSON Lines writer on w.
func NewJSONLWriter(w io.Writer, cols []features.Column, extra []string) (*JSONLWriter, error) {
	names, err := extraNames(cols, extra)
	if err != nil {
		return nil, err
	}
	out := &lineCounter{w: w}
	j := &JSONLWriter{w: bufio.NewWriterSize(out, 256<<10), out: out, cols: cols, nextra: len(extra), buf: make([]byte, 0, 8192)}
	for i := range cols {
		j.keys = append(j.keys, append(appendJSONString(nil, cols[i].Name), ':'))
	}
	for _, n := range names {
		j.keys = append(j.keys, append(appendJSONString(nil, n), ':'))
		j.num = append(j.num, NumericExtra(n))
	}
	return j, nil
}

// Write implements RowWriter.
func (j *JSONLWriter) Write(row *features.Row, extra []string) error {
	if err := checkExtra(extra, j.nextra); err != nil {
		return err
	}
	j.buf = j.AppendRecord(j.buf[:0], row, extra)
	return j.WriteRecords(j.buf)
}

// AppendRecord appends one JSON line (with its line end) to b. It only
// reads the writer's immutable keys, so many goroutines may encode at once
// and hand the bytes to WriteRecords in order.
func (j *JSONLWriter) AppendRecord(b []byte, row *features.Row, extra []string) []byte {
	b = append(b, '{')
	for i := range j.cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, j.keys[i]...)
		if j.cols[i].Kind == features.String {
			b = appendJSONBytes(b, row.Str[i])
		} else {
			b = AppendValue(b, row.Num[i], j.cols[i].Kind)
		}
	}
	for i, e := range extra {
		if i > 0 || len(j.cols) > 0 {
			b = append(b, ',')
		}
		b = append(b, j.keys[len(j.cols)+i]...)
		if j.num[i] {
			if v, err := strconv.ParseFloat(e, 64); err == nil && !math.IsInf(v, 0) && !math.IsNaN(v) {
				b = AppendValue(b, v, features.Float)
				continue
			}
		}
		b = appendJSONString(b, e)
	}
	return append(b, '}', '\n')
}

// WriteRecords writes lines encoded by AppendRecord.
func (j *JSONLWriter) WriteRecords(b []byte) error {
	if _, err := j.w.Write(b); err != nil {
		return fmt.Errorf("export: jsonl: %w", err)
	}
	return nil
}

// Close flushes buffered rows.
// Flush writes the buffered rows to the underlying writer.
func (j *JSONLWriter) Flush() error {
	if err := j.w.Flush(); err != nil {
		return fmt.Errorf("export: jsonl: %w", err)
	}
	return nil
}

// Close flushes the buffered rows; the io.Writer stays open for its owner
// (Create's writer closes its file after this).
func (j *JSONLWriter) Close() error {
	if err := j.w.Flush(); err != nil {
		return fmt.Errorf("export: jsonl: %w", err)
	}
	return nil
}

const hexDigits = "0123456789abcdef"

// appendJSONBytes appends s as a JSON string, escaping quotes, backslashes
// and control characters and replacing invalid UTF-8 with U+FFFD.
func appendJSONBytes(b, s []byte) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, "\ufffd"...)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}

func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			return appendJSONBytes(b, []byte(s))
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// RowsWritten implements RowsWritten: JSON escapes a line break inside a
// value, so each line is a row.
func (j *JSONLWriter) RowsWritten() uint64 { return j.out.lines }
