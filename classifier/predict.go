package classifier

import (
	"encoding/csv"
	"io"
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
	pr, err := m.PredictFrame(f)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	header := []string{"Row"}
	if f.Labels != nil {
		header = append(header, "Label")
	}
	header = append(header, "Predicted Label", "Confidence")
	if err := cw.Write(header); err != nil {
		return err
	}
	rec := make([]string, len(header))
	for i, c := range pr.Class {
		conf := pr.Proba[i*pr.K+c]
		lab := m.Classes[c]
		if conf < minConfidence || (pr.Gated != nil && pr.Gated[i]) {
			lab = Unknown
		}
		j := 0
		rec[j] = strconv.Itoa(i + 1)
		j++
		if f.Labels != nil {
			rec[j] = f.Labels[i]
			j++
		}
		rec[j] = lab
		rec[j+1] = strconv.FormatFloat(conf, 'f', 4, 64)
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
