package classifier

import (
	"encoding/csv"
	"errors"
	"io"
	"math"
	"strconv"
)

// Unknown is the predicted label of a row below the minimum confidence or
// outside the model's gate.
const Unknown = "Unknown"

// WritePredictions writes one CSV row per frame row: the row number, the
// true label when the data has one, "Predicted Label" ("Unknown" when the
// top probability is below minConfidence or the model's gate does not
// allow the class) and "Confidence".
func WritePredictions(w io.Writer, m *Model, f *Frame, minConfidence float64) error {
	pw := predictionWriter{cw: csv.NewWriter(w), m: m, minConfidence: minConfidence}
	if err := pw.write(f); err != nil {
		return err
	}
	pw.cw.Flush()
	return pw.cw.Error()
}

// PredictChunk is how many rows PredictFiles holds at a time: a few
// hundred MB at most with CICFlowMeter's columns, and enough rows for
// every core.
const PredictChunk = 1 << 16

// PredictFiles writes predictions for data files as WritePredictions does
// for their rows read whole, numbering rows on across files, and returns
// how many rows it wrote. It reads chunk rows at a time (PredictChunk when
// chunk is 0), so memory follows the chunk, not the files. Each file's
// rows are matched to the model's columns by name on their own: files may
// order their columns differently, and a column that looks like an
// identifier in a few rows is still read (a whole read drops such
// columns).
func PredictFiles(w io.Writer, m *Model, paths []string, opt ReadOptions, minConfidence float64, chunk int) (int, error) {
	pw := predictionWriter{cw: csv.NewWriter(w), m: m, minConfidence: minConfidence}
	if err := readChunks(m, paths, opt, chunk, func() { pw.fileStart = true }, pw.write); err != nil {
		return pw.rows, err
	}
	pw.cw.Flush()
	return pw.rows, pw.cw.Error()
}

// predictionWriter writes the predictions of frames in turn under one
// header, which the first frame decides: with a Label column when it has
// labels.
type predictionWriter struct {
	cw            *csv.Writer
	m             *Model
	minConfidence float64
	started       bool
	labels        bool // the header has a Label column
	// fileStart is set before a file's first frame, which says whether
	// the file has labels: a JSON Lines file whose labels start after
	// its first chunk has none, as when read whole.
	fileStart bool
	rows      int // rows written
	rec       []string
}

func (pw *predictionWriter) write(f *Frame) error {
	pr, err := pw.m.PredictFrame(f)
	if err != nil {
		return err
	}
	if !pw.started {
		pw.started, pw.labels = true, f.Labels != nil
		header := []string{"Row"}
		if pw.labels {
			header = append(header, "Label")
		}
		header = append(header, "Predicted Label", "Confidence")
		if err := pw.cw.Write(header); err != nil {
			return err
		}
		pw.rec = make([]string, len(header))
	} else if pw.fileStart && pw.labels != (f.Labels != nil) || pw.labels && f.Labels == nil {
		return errors.New("label column present in some files only: predict the files apart")
	}
	pw.fileStart = false
	rec := pw.rec
	for i, c := range pr.Class {
		conf := pr.Proba[i*pr.K+c]
		lab := pw.m.Classes[c]
		if belowConfidence(conf, pw.minConfidence) || (pr.Gated != nil && pr.Gated[i]) {
			lab = Unknown
		}
		j := 0
		pw.rows++
		rec[j] = strconv.Itoa(pw.rows)
		j++
		if pw.labels {
			rec[j] = f.Labels[i]
			j++
		}
		rec[j] = lab
		rec[j+1] = strconv.FormatFloat(conf, 'f', 4, 64)
		if err := pw.cw.Write(rec); err != nil {
			return err
		}
	}
	return nil
}

// belowConfidence reports whether a top probability conf is below
// --min-confidence min as the outputs write it, to four decimals: a row
// with 0.49996 was Unknown at 0.5 and written "Unknown,0.5000", so
// filtering the file on Confidence >= 0.5 kept rows the tool called
// unknown.
func belowConfidence(conf, min float64) bool {
	return math.Round(conf*1e4)/1e4 < min
}
