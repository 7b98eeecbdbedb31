package classifier

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowhawk/flowhawk/export"
	"github.com/flowhawk/flowhawk/features"
)

func TestRowPredictorOnExtractorColumns(t *testing.T) {
	x, err := features.New(features.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	n := 300
	dur := make([]float64, n)
	proto := make([]string, n)
	labels := make([]string, n)
	for i := 0; i < n; i++ {
		dur[i] = float64(i % 50)
		proto[i] = []string{"tcp", "udp"}[i%2]
		labels[i] = "BENIGN"
		if proto[i] == "udp" && dur[i] > 20 {
			labels[i] = "DDoS"
		}
	}
	f := &Frame{Names: []string{"Flow Duration", "protocol_type"}, Num: [][]float64{dur, nil}, Cat: [][]string{nil, proto},
		Labels: labels, Rows: n}
	m := trainOrFatal(t, f, Config{Kind: "rf", Trees: 10})
	p, err := NewRowPredictor(m, x.Columns(), 0.6)
	if err != nil {
		t.Fatal(err)
	}
	row := x.NewRow()
	row.Num[x.Index("Flow Duration")] = 40
	row.Str[x.Index("protocol_type")] = append(row.Str[x.Index("protocol_type")][:0], "udp"...)
	if lab, conf := p.Predict(row); lab != "DDoS" || conf < 0.6 {
		t.Errorf("predicted %s %v, want DDoS", lab, conf)
	}
	row.Str[x.Index("protocol_type")] = append(row.Str[x.Index("protocol_type")][:0], "tcp"...)
	if lab, _ := p.Predict(row); lab != "BENIGN" {
		t.Errorf("predicted %s, want BENIGN", lab)
	}
	if a := testing.AllocsPerRun(100, func() { p.Predict(row) }); a != 0 && !raceEnabled {
		t.Errorf("RowPredictor.Predict allocates %v per row", a)
	}
	// an NSL-KDD model needs columns the extractor does not produce
	g := &Frame{Names: []string{"hot", "num_failed_logins", "count"}, Num: [][]float64{dur, dur, dur},
		Cat: make([][]string, 3), Labels: labels, Rows: n}
	m2 := trainOrFatal(t, g, Config{Kind: "dt"})
	_, err = NewRowPredictor(m2, x.Columns(), 0)
	if err == nil || !strings.Contains(err.Error(), `"hot"`) || !strings.Contains(err.Error(), `"num_failed_logins"`) || strings.Contains(err.Error(), `"count"`) {
		t.Errorf("error %v should name hot and num_failed_logins only", err)
	}
}

func TestReadFlowhawkParquet(t *testing.T) {
	x, err := features.New(features.Config{SPLT: 2})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "flows.parquet")
	writeRows(t, x, path, 40, func(i int, row *features.Row) string {
		row.Num[x.Index("Flow Duration")] = float64(i)
		row.Num[x.Index("splt_len_1")] = float64(100 + i%2)
		return []string{"BENIGN", "attack"}[i%2]
	})
	f, err := ReadFiles([]string{path}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Rows != 40 || f.Column("splt_len_1") < 0 || f.Column("Flow ID") >= 0 {
		t.Fatalf("rows %d, columns %v", f.Rows, f.Names)
	}
	m := trainOrFatal(t, f, Config{Kind: "dt"})
	if met, _ := m.Evaluate(f); met.Accuracy != 1 {
		t.Errorf("accuracy %v on parquet rows separable by splt_len_1", met.Accuracy)
	}
}

// writeFlows writes rows of the extractor's columns (Flow Duration and
// Fwd Header Length set, two classes) to path in the format of its
// extension.
func writeFlows(t *testing.T, x *features.Extractor, path string) {
	t.Helper()
	writeRows(t, x, path, 60, func(i int, row *features.Row) string {
		row.Num[x.Index("Flow Duration")] = float64(i)
		hdr := float64(20 + 20*(i%3))
		row.Num[x.Index("Fwd Header Length")] = hdr
		row.Num[x.Index("Fwd Header Length.1")] = hdr
		return []string{"BENIGN", "attack", "other"}[i%3]
	})
}

// writeRows writes n rows of the extractor's columns with a Label to path
// in the format of its extension; fill sets row i and returns its label.
func writeRows(t *testing.T, x *features.Extractor, path string, n int, fill func(i int, row *features.Row) string) {
	t.Helper()
	format, err := export.FormatOf(path)
	if err != nil {
		t.Fatal(err)
	}
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := export.NewWriter(fh, format, x.Columns(), []string{"Label"})
	if err != nil {
		t.Fatal(err)
	}
	row := x.NewRow()
	for i := range n {
		if err := w.Write(row, []string{fill(i, row)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	fh.Close()
}

// The same flows read from flowhawk's CSV, JSON Lines and Parquet files
// give the same columns in the same order, hence the same model (JSON
// Lines read its keys sorted): the CSV's repeated " Fwd Header Length" header is
// read once, so the others' "Fwd Header Length.1" is left out too, and
// --drop leaves a column out of each (JSON Lines ignored it). A model
// trained on a frame with "Fwd Header Length.1" (before the readers left it
// out) still reads it from the column it repeats.
func TestSameColumnsInEveryFormat(t *testing.T) {
	x, err := features.New(features.Config{SPLT: 1})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var frames []*Frame
	for _, ext := range []string{"csv", "jsonl", "parquet"} {
		path := filepath.Join(dir, "flows."+ext)
		writeFlows(t, x, path)
		f, err := ReadFiles([]string{path}, ReadOptions{Drop: []string{"Flow Duration"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"Fwd Header Length.1", "Flow Duration"} {
			if f.Column(n) >= 0 {
				t.Errorf("%s: column %q read", ext, n)
			}
		}
		frames = append(frames, f)
	}
	for i, ext := range []string{"jsonl", "parquet"} {
		var extra, lacks []string
		for _, n := range frames[i+1].Names {
			if frames[0].Column(n) < 0 {
				extra = append(extra, n)
			}
		}
		for _, n := range frames[0].Names {
			if frames[i+1].Column(n) < 0 {
				lacks = append(lacks, n)
			}
		}
		if len(extra)+len(lacks) > 0 {
			t.Errorf("%s has columns %q the CSV has not, lacks %q", ext, extra, lacks)
		} else if !slices.Equal(frames[i+1].Names, frames[0].Names) {
			// JSON Lines read its keys sorted: the same columns in
			// another order drew other features, another forest
			t.Errorf("%s columns in another order than the CSV's: %q", ext, frames[i+1].Names[:3])
		}
	}
	var forests [][]byte
	for _, f := range frames {
		raw, err := trainOrFatal(t, f, Config{Kind: "rf", Trees: 5, Seed: 3}).est.marshal()
		if err != nil {
			t.Fatal(err)
		}
		forests = append(forests, raw)
	}
	if !bytes.Equal(forests[0], forests[1]) || !bytes.Equal(forests[0], forests[2]) {
		t.Error("the same flows in CSV, JSON Lines and Parquet train different forests")
	}
	csv := frames[0]
	old := &Frame{Names: []string{"Fwd Header Length.1"}, Num: [][]float64{csv.Num[csv.Column("Fwd Header Length")]},
		Cat: make([][]string, 1), Labels: csv.Labels, Rows: csv.Rows}
	m := trainOrFatal(t, old, Config{Kind: "dt"})
	met, err := m.Evaluate(csv)
	if err != nil {
		t.Fatal(err)
	}
	if met.Accuracy != 1 {
		t.Errorf("accuracy %v, want 1", met.Accuracy)
	}
}
