package export

import (
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"

	"github.com/flowhawk/flowhawk/features"
)

// orderedGroup is a parquet group whose fields keep the order they were
// given (parquet.Group sorts them by name), so a Parquet file lists the
// columns in the same order as the CSV.
type orderedGroup []parquet.Field

type namedNode struct {
	parquet.Node
	name string
}

func (n namedNode) Name() string { return n.name }

func (n namedNode) Value(base reflect.Value) reflect.Value { return reflect.Value{} }

func (g orderedGroup) ID() int                     { return 0 }
func (g orderedGroup) String() string              { return "flowhawk row" }
func (g orderedGroup) Type() parquet.Type          { return parquet.Group{}.Type() }
func (g orderedGroup) Optional() bool              { return false }
func (g orderedGroup) Repeated() bool              { return false }
func (g orderedGroup) Required() bool              { return true }
func (g orderedGroup) Leaf() bool                  { return false }
func (g orderedGroup) Fields() []parquet.Field     { return g }
func (g orderedGroup) Encoding() encoding.Encoding { return nil }
func (g orderedGroup) Compression() compress.Codec { return nil }
func (g orderedGroup) GoType() reflect.Type        { return reflect.TypeOf(map[string]any{}) }

// ParquetSchema builds the Parquet schema of a row file: one required
// column per feature (DOUBLE for Float, INT64 for Int, UTF-8 string for
// String) named by Column.Name, then one column per extra name: DOUBLE
// for NumericExtra names, else a string.
func ParquetSchema(cols []features.Column, extra []string) (*parquet.Schema, error) {
	names, err := extraNames(cols, extra)
	if err != nil {
		return nil, err
	}
	g := make(orderedGroup, 0, len(cols)+len(names))
	for i := range cols {
		var n parquet.Node
		switch cols[i].Kind {
		case features.Float:
			n = parquet.Leaf(parquet.DoubleType)
		case features.Int:
			n = parquet.Int(64)
		default:
			n = parquet.String()
		}
		g = append(g, namedNode{Node: n, name: cols[i].Name})
	}
	for _, name := range names {
		if NumericExtra(name) {
			g = append(g, namedNode{Node: parquet.Leaf(parquet.DoubleType), name: name})
			continue
		}
		g = append(g, namedNode{Node: parquet.String(), name: name})
	}
	return parquet.NewSchema("flowhawk", g), nil
}

// ParquetWriter writes rows to a Parquet file (zstd-compressed, typed
// columns, see ParquetSchema). Rows are copied into a batch that goes to
// the Parquet encoder every parquetBatch rows; Close writes the rest and
// the footer.
type ParquetWriter struct {
	pw     *parquet.Writer
	given  uint64 // rows given to Write
	done   uint64 // rows of the file, once closed without error
	cols   []features.Column
	nextra int
	num    []bool          // per extra: NumericExtra (a DOUBLE column)
	vals   []parquet.Value // parquetBatch rows of values
	rows   []parquet.Row
	arena  []byte // string bytes of the batch; never grown in place
}

const (
	parquetBatch = 512
	parquetArena = 256 << 10
	// parquetRowGroup bounds a row group: the encoder holds a row group's
	// compressed pages in memory until it is complete, and by default a
	// file is one row group, so memory grew with the output (632 MB for
	// 2M flows). 65,536 rows of ~165 columns is ~85 MB uncompressed.
	parquetRowGroup = 1 << 16
)

// NewParquetWriter returns a Parquet writer on w.
func NewParquetWriter(w io.Writer, cols []features.Column, extra []string) (*ParquetWriter, error) {
	schema, err := ParquetSchema(cols, extra)
	if err != nil {
		return nil, err
	}
	pw := parquet.NewWriter(w, schema, parquet.Compression(&parquet.Zstd), parquet.CreatedBy("flowhawk", "", ""),
		parquet.MaxRowsPerRowGroup(parquetRowGroup))
	n := len(cols) + len(extra)
	num := make([]bool, len(extra))
	for i, e := range extra {
		num[i] = NumericExtra(e)
	}
	return &ParquetWriter{pw: pw, cols: cols, nextra: len(extra), num: num, vals: make([]parquet.Value, 0, parquetBatch*n),
		rows: make([]parquet.Row, 0, parquetBatch), arena: make([]byte, 0, parquetArena)}, nil
}

// keep copies s into the arena (or the heap when s is larger than it).
func (p *ParquetWriter) keep(s []byte) []byte {
	if len(s) > cap(p.arena)-len(p.arena) {
		return append([]byte(nil), s...)
	}
	start := len(p.arena)
	p.arena = append(p.arena, s...)
	return p.arena[start:len(p.arena):len(p.arena)]
}

// keepText is keep for a UTF-8 string column, with bytes that are not
// UTF-8 replaced by U+FFFD as in the other formats: Parquet readers refuse
// a UTF-8 column that holds them (Arrow's validation does).
func (p *ParquetWriter) keepText(s []byte) []byte {
	if !utf8.Valid(s) {
		s = appendValidUTF8(make([]byte, 0, len(s)+8), s) // allocates, for invalid text only
	}
	return p.keep(s)
}

// Write implements RowWriter.
func (p *ParquetWriter) Write(row *features.Row, extra []string) error {
	if err := checkExtra(extra, p.nextra); err != nil {
		return err
	}
	need := 0
	for i := range p.cols {
		if p.cols[i].Kind == features.String {
			need += len(row.Str[i])
		}
	}
	for _, e := range extra {
		need += len(e)
	}
	if len(p.rows) == cap(p.rows) || (need <= cap(p.arena) && need > cap(p.arena)-len(p.arena)) {
		if err := p.flush(); err != nil {
			return err
		}
	}
	start := len(p.vals)
	for i := range p.cols {
		var v parquet.Value
		switch p.cols[i].Kind {
		case features.Float:
			v = parquet.DoubleValue(finite(row.Num[i]))
		case features.Int:
			v = parquet.Int64Value(toInt64(row.Num[i]))
		default:
			v = parquet.ByteArrayValue(p.keepText(row.Str[i]))
		}
		p.vals = append(p.vals, v.Level(0, 0, i))
	}
	for i, e := range extra {
		k := len(p.cols) + i
		if p.num[i] {
			// "inf" parses, as +Inf, which no output holds: a value that
			// is no finite number is NaN, as JSON Lines keeps it text.
			v, err := strconv.ParseFloat(e, 64)
			if err != nil || math.IsInf(v, 0) {
				v = math.NaN()
			}
			p.vals = append(p.vals, parquet.DoubleValue(v).Level(0, 0, k))
			continue
		}
		p.vals = append(p.vals, parquet.ByteArrayValue(p.keepText([]byte(e))).Level(0, 0, k))
	}
	p.rows = append(p.rows, p.vals[start:len(p.vals):len(p.vals)])
	p.given++
	return nil
}

func (p *ParquetWriter) flush() error {
	if len(p.rows) > 0 {
		if _, err := p.pw.WriteRows(p.rows); err != nil {
			return fmt.Errorf("export: parquet: %w", err)
		}
	}
	clear(p.rows)
	p.rows, p.vals, p.arena = p.rows[:0], p.vals[:0], p.arena[:0]
	return nil
}

// Close writes the buffered rows, the last row group and the footer.
func (p *ParquetWriter) Close() error {
	if err := p.flush(); err != nil {
		return err
	}
	if err := p.pw.Close(); err != nil {
		return fmt.Errorf("export: parquet: %w", err)
	}
	p.done = p.given
	return nil
}

// RowsWritten implements RowsWritten: a Parquet file is readable only
// once closed, with its footer.
func (p *ParquetWriter) RowsWritten() uint64 { return p.done }
