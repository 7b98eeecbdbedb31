package export

import (
	"io"
	"strconv"
	"testing"

	"github.com/flowhawk/flowhawk/features"
)

func benchSetup(b *testing.B) (*features.Extractor, *features.Row, features.WindowValues) {
	x, err := features.New(features.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	flows := testFlows(b)
	w := features.NewWindows(features.WindowConfig{})
	wv := w.Observe(flows[0])
	row := x.NewRow()
	x.Fill(flows[0], &wv, row)
	return x, row, wv
}

// benchCSVWriter is a CSV writer of x's columns, whose AppendRecord is
// the encoder the pipeline's workers run.
func benchCSVWriter(b *testing.B, x *features.Extractor) *CSVWriter {
	w, err := NewCSVWriter(io.Discard, x.Columns(), nil)
	if err != nil {
		b.Fatal(err)
	}
	return w
}

// BenchmarkFillCSV is Fill plus CSV encoding of one TCP session's row
// (every group, SPLT 10) into a reused buffer.
func BenchmarkFillCSV(b *testing.B) {
	x, row, wv := benchSetup(b)
	f := testFlows(b)[0]
	w := benchCSVWriter(b, x)
	buf := w.AppendRecord(nil, row, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		x.Fill(f, &wv, row)
		buf = w.AppendRecord(buf[:0], row, nil)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkEncodeCSV is the CSV encoding alone, as a CSV writer's
// AppendRecord does it (with the line end).
func BenchmarkEncodeCSV(b *testing.B) {
	x, row, _ := benchSetup(b)
	w := benchCSVWriter(b, x)
	buf := w.AppendRecord(nil, row, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buf = w.AppendRecord(buf[:0], row, nil)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkStrconvBaseline encodes the same row's numeric values with
// plain strconv.AppendFloat(v, 'g', -1) and commas: the floor a CSV
// encoder can hope for.
func BenchmarkStrconvBaseline(b *testing.B) {
	x, row, _ := benchSetup(b)
	cols := x.Columns()
	var buf []byte
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buf = buf[:0]
		for i := range cols {
			buf = strconv.AppendFloat(buf, row.Num[i], 'g', -1, 64)
			buf = append(buf, ',')
		}
	}
	b.SetBytes(int64(len(buf)))
}

func benchWriter(b *testing.B, f Format) {
	x, row, _ := benchSetup(b)
	w, err := NewWriter(io.Discard, f, x.Columns(), []string{"Label"})
	if err != nil {
		b.Fatal(err)
	}
	extra := []string{"BENIGN"}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := w.Write(row, extra); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkWriteCSV(b *testing.B)     { benchWriter(b, CSV) }
func BenchmarkWriteJSONL(b *testing.B)   { benchWriter(b, JSONL) }
func BenchmarkWriteParquet(b *testing.B) { benchWriter(b, Parquet) }
