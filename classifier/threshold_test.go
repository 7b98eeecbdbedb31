package classifier

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"strconv"
	"testing"
)

// TestIForestContaminationShare: --contamination c calls n·c of the n
// training rows anomalies. The threshold was the lowest score of those
// rows, and a score at the threshold is normal, so one row too few was
// (10 rows at 0.1: none).
func TestIForestContaminationShare(t *testing.T) {
	for _, n := range []int{10, 20, 100} {
		x := make([]float64, n)
		labels := make([]string, n)
		for i := range x {
			x[i] = float64(i * i)
			labels[i] = "normal"
		}
		f := synthFrame([]string{"x"}, [][]float64{x}, labels)
		m := trainOrFatal(t, f, Config{Kind: "iforest", Contamination: 0.1, Trees: 50, Seed: 1})
		pr, err := m.PredictFrame(f)
		if err != nil {
			t.Fatal(err)
		}
		an := 0
		for _, c := range pr.Class {
			an += c
		}
		if want := n / 10; an != want {
			t.Errorf("%d rows, --contamination 0.1: %d called anomalies, want %d", n, an, want)
		}
	}
}

// TestUnknownAtPrintedThreshold: a row is Unknown when its Confidence as
// written (four decimals) is below --min-confidence: a top probability of
// 0.49996 was Unknown at 0.5 and written "Unknown,0.5000".
func TestUnknownAtPrintedThreshold(t *testing.T) {
	f := quadrants(200, 5)
	m := trainOrFatal(t, f, Config{Kind: "lr"})
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(buf.Bytes(), &obj); err != nil {
		t.Fatal(err)
	}
	mod := obj["model"].(map[string]any)
	w := mod["weights"].([]any)
	for i := range w {
		w[i] = 0
	}
	mod["intercept"] = []any{math.Log(0.49996), math.Log(0.3), math.Log(0.2), math.Log(0.00004)}
	b, _ := json.Marshal(obj)
	em, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		min  float64
		want string
	}{{0.5, "q0"}, {0.50001, Unknown}} {
		var out bytes.Buffer
		if err := WritePredictions(&out, em, quadrants(1, 1), c.min); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&out).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		row := recs[1]
		conf, _ := strconv.ParseFloat(row[len(row)-1], 64)
		if row[len(row)-2] != c.want || conf != 0.5 {
			t.Errorf("--min-confidence %v: %q, want %s with Confidence 0.5000", c.min, row, c.want)
		}
	}
}
