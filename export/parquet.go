package export

import (
	"fmt"
	"io"
	"reflect"

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
// String) named by Column.Name, then one string column per extra name.
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
		g = append(g, namedNode{Node: parquet.String(), name: name})
	}
	return parquet.NewSchema("flowhawk", g), nil
}

// ParquetWriter writes rows to a Parquet file (zstd-compressed, typed
// columns, see ParquetSchema). Rows are buffered into row groups; Close
// writes the footer.
type ParquetWriter struct {
	pw     *parquet.Writer
	cols   []features.Column
	nextra int
	vals   []parquet.Value
	rows   []parquet.Row
}

// NewParquetWriter returns a Parquet writer on w.
func NewParquetWriter(w io.Writer, cols []features.Column, extra []string) (*ParquetWriter, error) {
	schema, err := ParquetSchema(cols, extra)
	if err != nil {
		return nil, err
	}
	pw := parquet.NewWriter(w, schema, parquet.Compression(&parquet.Zstd), parquet.CreatedBy("flowhawk", "", ""))
	return &ParquetWriter{pw: pw, cols: cols, nextra: len(extra), vals: make([]parquet.Value, len(cols)+len(extra)), rows: make([]parquet.Row, 1)}, nil
}

// Write implements RowWriter.
func (p *ParquetWriter) Write(row *features.Row, extra []string) error {
	if err := checkExtra(extra, p.nextra); err != nil {
		return err
	}
	for i := range p.cols {
		var v parquet.Value
		switch p.cols[i].Kind {
		case features.Float:
			v = parquet.DoubleValue(finite(row.Num[i]))
		case features.Int:
			v = parquet.Int64Value(int64(finite(row.Num[i])))
		default:
			v = parquet.ByteArrayValue(row.Str[i])
		}
		p.vals[i] = v.Level(0, 0, i)
	}
	for i, e := range extra {
		k := len(p.cols) + i
		p.vals[k] = parquet.ByteArrayValue([]byte(e)).Level(0, 0, k)
	}
	p.rows[0] = p.vals
	if _, err := p.pw.WriteRows(p.rows); err != nil {
		return fmt.Errorf("export: parquet: %w", err)
	}
	return nil
}

// Close flushes the last row group and writes the footer.
func (p *ParquetWriter) Close() error {
	if err := p.pw.Close(); err != nil {
		return fmt.Errorf("export: parquet: %w", err)
	}
	return nil
}
