package export

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// Record is one row read back: every field as text and, where the text is
// a number (Infinity and NaN included, as in CIC's CSVs), its value;
// Num[i] is NaN when field i is not a number.
type Record struct {
	Str []string
	Num []float64
}

// Reader reads rows written by this package (and CIC-IDS2017 CSVs).
type Reader interface {
	// Columns returns the column names: CSV headers stripped of
	// surrounding spaces, repeated names suffixed ".1", ".2", ... as
	// pandas does, so they match features.Column.Name.
	Columns() []string
	// Next reads the next row into rec (reusing its slices); it returns
	// io.EOF after the last row.
	Next(rec *Record) error
	Close() error
}

// OpenReader opens a .csv, .jsonl or .parquet file by its extension ("-"
// reads CSV from stdin).
func OpenReader(path string) (Reader, error) {
	format, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	if path == "-" {
		return NewCSVReader(os.Stdin)
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	var r Reader
	switch format {
	case CSV:
		r, err = NewCSVReader(fh)
	case JSONL:
		r, err = NewJSONLReader(fh)
	case Parquet:
		var st os.FileInfo
		if st, err = fh.Stat(); err == nil {
			r, err = NewParquetReader(fh, st.Size())
		}
	}
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &fileReader{Reader: r, fh: fh, path: path}, nil
}

type fileReader struct {
	Reader
	fh   *os.File
	path string
}

func (r *fileReader) Next(rec *Record) error {
	err := r.Reader.Next(rec)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s: %w", r.path, err)
	}
	return err
}

func (r *fileReader) Close() error {
	err := r.Reader.Close()
	if cerr := r.fh.Close(); err == nil {
		err = cerr
	}
	return err
}

// parseNum is the numeric value of a field, NaN when it is not a number.
func parseNum(s string) float64 {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return math.NaN()
	}
	return v
}

func (rec *Record) resize(n int) {
	if cap(rec.Str) < n {
		rec.Str = make([]string, n)
		rec.Num = make([]float64, n)
	}
	rec.Str, rec.Num = rec.Str[:n], rec.Num[:n]
}

// uniqueNames strips names and suffixes repeats the pandas way
// ("a", "a" -> "a", "a.1").
func uniqueNames(in []string) []string {
	out := make([]string, len(in))
	used := make(map[string]bool, len(in))
	last := make(map[string]int)
	for i, n := range in {
		n = strings.TrimSpace(n)
		cand := n
		for k := last[n]; used[cand]; {
			k++
			cand = n + "." + strconv.Itoa(k)
			last[n] = k
		}
		used[cand] = true
		out[i] = cand
	}
	return out
}

// CSVReader reads CSV rows (LF or CRLF line ends, header first).
type CSVReader struct {
	r     *csv.Reader
	names []string
	line  int
}

// NewCSVReader reads the header from r.
func NewCSVReader(r io.Reader) (*CSVReader, error) {
	cr := csv.NewReader(bufio.NewReaderSize(r, 256<<10))
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("export: csv header: %w", err)
	}
	head = append([]string(nil), head...)
	if len(head) > 0 {
		head[0] = strings.TrimPrefix(head[0], "\ufeff")
	}
	return &CSVReader{r: cr, names: uniqueNames(head), line: 1}, nil
}

// Columns implements Reader.
func (c *CSVReader) Columns() []string { return c.names }

// Next implements Reader.
func (c *CSVReader) Next(rec *Record) error {
	fields, err := c.r.Read()
	c.line++
	if err == io.EOF {
		return io.EOF
	}
	if err != nil {
		return fmt.Errorf("export: csv: %w", err)
	}
	if len(fields) != len(c.names) {
		return fmt.Errorf("export: csv line %d: %d fields, header has %d", c.line, len(fields), len(c.names))
	}
	rec.resize(len(fields))
	for i, f := range fields {
		rec.Str[i] = strings.Clone(f)
		rec.Num[i] = parseNum(f)
	}
	return nil
}

// Close implements Reader.
func (c *CSVReader) Close() error { return nil }

// JSONLReader reads one JSON object per line; the first object's keys, in
// order, are the columns, and every later object must have the same keys.
type JSONLReader struct {
	sc    *bufio.Scanner
	names []string
	index map[string]int
	first []byte
	line  int
	seen  []bool // per column: its key was read in the current row
}

// NewJSONLReader reads the first line of r to learn the columns.
func NewJSONLReader(r io.Reader) (*JSONLReader, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	j := &JSONLReader{sc: sc, index: map[string]int{}}
	for sc.Scan() {
		j.line++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		j.first = append([]byte(nil), sc.Bytes()...)
		err := eachField(j.first, func(k, _ string, _ bool) error {
			if _, dup := j.index[k]; dup {
				return fmt.Errorf("repeated key %q", k)
			}
			j.index[k] = len(j.names)
			j.names = append(j.names, k)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("export: jsonl line %d: %w", j.line, err)
		}
		return j, nil
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("export: jsonl: %w", err)
	}
	return j, nil
}

// eachField calls fn for every key of a flat JSON object in order, with the
// value as text (numbers as written, strings unquoted).
func eachField(line []byte, fn func(key, val string, isNum bool) error) error {
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("not a JSON object")
	}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return err
		}
		key, _ := t.(string)
		if t, err = d.Token(); err != nil {
			return err
		}
		var val string
		isNum := false
		switch v := t.(type) {
		case string:
			val = v
		case json.Number:
			val, isNum = string(v), true
		case bool:
			val = strconv.FormatBool(v)
		case nil:
			val = ""
		default:
			return fmt.Errorf("key %q: nested values are not supported", key)
		}
		if err := fn(key, val, isNum); err != nil {
			return err
		}
	}
	// The object must end, and the line with it: a cut line ({"a":1) or
	// text after the object is not a row.
	if t, err := d.Token(); err != nil || t != json.Delim('}') {
		return fmt.Errorf("object not closed")
	}
	if _, err := d.Token(); err != io.EOF {
		return fmt.Errorf("text after the object")
	}
	return nil
}

// Columns implements Reader.
func (j *JSONLReader) Columns() []string { return j.names }

// Next implements Reader.
func (j *JSONLReader) Next(rec *Record) error {
	var line []byte
	if j.first != nil {
		line, j.first = j.first, nil
	} else {
		for {
			if !j.sc.Scan() {
				if err := j.sc.Err(); err != nil {
					return fmt.Errorf("export: jsonl: %w", err)
				}
				return io.EOF
			}
			j.line++
			if len(bytes.TrimSpace(j.sc.Bytes())) > 0 {
				line = j.sc.Bytes()
				break
			}
		}
	}
	rec.resize(len(j.names))
	if len(j.seen) != len(j.names) {
		j.seen = make([]bool, len(j.names))
	}
	clear(j.seen)
	n := 0
	err := eachField(line, func(k, v string, _ bool) error {
		i, ok := j.index[k]
		if !ok {
			return fmt.Errorf("unknown key %q", k)
		}
		// Counting keys is not enough: a repeated key stood in for a
		// missing one, whose column kept the previous row's value.
		if j.seen[i] {
			return fmt.Errorf("repeated key %q", k)
		}
		j.seen[i] = true
		rec.Str[i], rec.Num[i] = v, parseNum(v)
		n++
		return nil
	})
	if err == nil && n != len(j.names) {
		err = fmt.Errorf("%d keys, want %d", n, len(j.names))
	}
	if err != nil {
		return fmt.Errorf("export: jsonl line %d: %w", j.line, err)
	}
	return nil
}

// Close implements Reader.
func (j *JSONLReader) Close() error { return nil }

// ParquetReader reads flat Parquet files (one leaf per column), such as
// those ParquetWriter writes. Numbers are formatted as the CSV writer
// formats them.
type ParquetReader struct {
	r     *parquet.Reader
	names []string
	buf   []parquet.Row
	text  []byte
}

// NewParquetReader opens a Parquet file of the given size.
func NewParquetReader(r io.ReaderAt, size int64) (_ *ParquetReader, err error) {
	defer recoverCorrupt(&err)
	f, err := parquet.OpenFile(r, size)
	if err != nil {
		return nil, fmt.Errorf("export: parquet: %w", err)
	}
	p := &ParquetReader{r: parquet.NewReader(f), buf: make([]parquet.Row, 1)}
	for _, c := range f.Root().Columns() {
		if !c.Leaf() || c.MaxRepetitionLevel() > 0 {
			return nil, fmt.Errorf("export: parquet: column %q is not a flat leaf", c.Name())
		}
		p.names = append(p.names, c.Name())
	}
	return p, nil
}

// Columns implements Reader.
func (p *ParquetReader) Columns() []string { return p.names }

// recoverCorrupt turns a panic of the Parquet library on a corrupt file
// into an error.
func recoverCorrupt(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("export: parquet: corrupt file: %v", r)
	}
}

// Next implements Reader.
func (p *ParquetReader) Next(rec *Record) (err error) {
	defer recoverCorrupt(&err)
	n, err := p.r.ReadRows(p.buf)
	if n == 0 {
		if err == nil || err == io.EOF {
			return io.EOF
		}
		return fmt.Errorf("export: parquet: %w", err)
	}
	rec.resize(len(p.names))
	for _, v := range p.buf[0] {
		i := v.Column()
		if i < 0 || i >= len(p.names) {
			return fmt.Errorf("export: parquet: value for column %d of %d", i, len(p.names))
		}
		switch v.Kind() {
		case parquet.ByteArray, parquet.FixedLenByteArray:
			rec.Str[i] = string(v.ByteArray())
			rec.Num[i] = parseNum(rec.Str[i])
		case parquet.Boolean:
			rec.Str[i] = strconv.FormatBool(v.Boolean())
			rec.Num[i] = math.NaN()
		default:
			var x float64
			switch v.Kind() {
			case parquet.Int32:
				x = float64(v.Int32())
			case parquet.Int64:
				x = float64(v.Int64())
			case parquet.Float:
				x = float64(v.Float())
			case parquet.Double:
				x = v.Double()
			}
			if v.IsNull() || math.IsNaN(x) { // NaN: a numeric extra without a value
				rec.Str[i], rec.Num[i] = "", math.NaN()
				continue
			}
			p.text = AppendValue(p.text[:0], x, 0)
			rec.Str[i], rec.Num[i] = string(p.text), x
		}
	}
	return nil
}

// Close implements Reader.
func (p *ParquetReader) Close() error { return p.r.Close() }
