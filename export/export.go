// Package export writes feature rows to files (CSV, JSON Lines, Parquet)
// and reads them back, so datasets, the classifier and other tools share
// one format layer. Subpackages hold the other outputs (metrics, IPFIX,
// streams, reports).
package export

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
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

const (
	CSV Format = iota
	JSONL
	Parquet
)

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
// .ndjson), .parquet; "-" is CSV on stdout.
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
	return 0, fmt.Errorf("export: %s: unknown extension (want .csv, .jsonl or .parquet, or - for stdout)", path)
}

// Create opens path for writing and returns a writer for its format
// (FormatOf); "-" writes CSV to stdout. cols are the feature columns
// (Extractor.Columns) and extra the names of string columns appended
// after them.
func Create(path string, cols []features.Column, extra []string) (RowWriter, error) {
	format, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	if path == "-" {
		return NewWriter(os.Stdout, CSV, cols, extra)
	}
	fh, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	w, err := NewWriter(fh, format, cols, extra)
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
	if v != v || math.IsInf(v, 0) {
		return append(b, '0')
	}
	if kind == features.Int || (v == math.Trunc(v) && math.Abs(v) < 1e15) {
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
