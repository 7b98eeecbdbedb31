package classifier

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowhawk/flowhawk/features"
	"github.com/flowhawk/flowhawk/internal/testshared"
)

// wholePredictions is what flowhawk predict wrote before it read in
// chunks: every file read whole into one frame, then predicted.
func wholePredictions(t *testing.T, m *Model, paths []string, opt ReadOptions) []byte {
	t.Helper()
	f, err := ReadFiles(paths, opt)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WritePredictions(&b, m, f, 0.6); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// chunkFlows writes writeFlows' rows in dir as CSV, JSON Lines and
// Parquet, and trains a forest on the CSV.
func chunkFlows(t *testing.T, dir string) ([]string, *Model) {
	t.Helper()
	x, err := features.New(features.Config{SPLT: 1})
	if err != nil {
		t.Fatal(err)
	}
	var flows []string
	for _, ext := range []string{"csv", "jsonl", "parquet"} {
		path := filepath.Join(dir, "flows."+ext)
		writeFlows(t, x, path)
		flows = append(flows, path)
	}
	train, err := ReadFiles(flows[:1], ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return flows, trainOrFatal(t, train, Config{Kind: "rf", Trees: 5, Seed: 3})
}

// TestPredictFilesChunked: predictions read a chunk of rows at a time are
// byte for byte those of the files read whole, in every format, at chunk
// sizes that split the files anywhere, and over several files, whose rows
// are numbered on.
func TestPredictFilesChunked(t *testing.T) {
	dir := t.TempDir()
	flows, flowModel := chunkFlows(t, dir)

	shared := testshared.Path(t, "datasets")
	cic := filepath.Join(shared, "cicids2017", "Wednesday-workingHours.pcap_ISCX.sample1k.csv")
	cicFrame, err := ReadFiles([]string{cic}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cicModel := trainOrFatal(t, cicFrame, Config{Kind: "rf", Trees: 5, Seed: 1})
	kdd := filepath.Join(shared, "nsl-kdd", "KDDTest-21.txt")
	kddFrame, err := ReadFiles([]string{filepath.Join(shared, "nsl-kdd", "KDDTrain+_20Percent.txt")}, ReadOptions{NSLKDDClasses: 5})
	if err != nil {
		t.Fatal(err)
	}
	kddModel := trainOrFatal(t, kddFrame, Config{Kind: "dt", MaxDepth: 8})

	for _, c := range []struct {
		name  string
		m     *Model
		paths []string
	}{
		{"csv", flowModel, flows[:1]}, {"jsonl", flowModel, flows[1:2]}, {"parquet", flowModel, flows[2:]},
		{"three formats", flowModel, flows}, {"cicids2017", cicModel, []string{cic}}, {"nsl-kdd", kddModel, []string{kdd}},
	} {
		opt := ReadOptions{Unlabelled: true}.ForModel(c.m)
		if c.m == flowModel {
			opt.Only = []string{"Flow Duration", "Fwd*"}
		}
		want := wholePredictions(t, c.m, c.paths, opt)
		for _, chunk := range []int{1, 7, 59, 60, 61, 0} {
			var got bytes.Buffer
			rows, err := PredictFiles(&got, c.m, c.paths, opt, 0.6, chunk)
			if err != nil {
				t.Fatalf("%s, chunk %d: %v", c.name, chunk, err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s, chunk %d: predictions differ from the whole read's", c.name, chunk)
			}
			if n := bytes.Count(want, []byte("\n")) - 1; rows != n {
				t.Errorf("%s, chunk %d: %d rows, want %d", c.name, chunk, rows, n)
			}
		}
	}
}

// TestPredictFilesChunkedErrors: an error in a later chunk names the file
// and the data row of the file, not of the chunk; an empty file is an
// error, as when read whole.
func TestPredictFilesChunkedErrors(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("x,y,Label\n")
	for i := 1; i <= 30; i++ {
		x := fmt.Sprint(i)
		if i == 20 {
			x = "oops"
		}
		fmt.Fprintf(&b, "%s,%d,%s\n", x, i%2, []string{"a", "b"}[i%2])
	}
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	f := synthFrame([]string{"x", "y"}, [][]float64{{1, 2, 3, 4}, {0, 1, 0, 1}}, []string{"a", "b", "a", "b"})
	m := trainOrFatal(t, f, Config{Kind: "dt"})
	for _, chunk := range []int{7, 0} {
		_, err := PredictFiles(&bytes.Buffer{}, m, []string{bad}, ReadOptions{Unlabelled: true}, 0, chunk)
		if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), `data row 20 has "oops"`) {
			t.Errorf("chunk %d: error %v, want one naming %s and data row 20", chunk, err, bad)
		}
	}
	// --only applies to every chunk: a pattern that matches nothing is
	// an error, as in a whole read.
	if _, err := PredictFiles(&bytes.Buffer{}, m, []string{bad}, ReadOptions{Unlabelled: true, Only: []string{"x", "nosuch*"}}, 0, 7); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("--only nosuch*: error %v, want one naming it", err)
	}
	empty := filepath.Join(dir, "empty.csv")
	if err := os.WriteFile(empty, []byte("x,y,Label\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := PredictFiles(&bytes.Buffer{}, m, []string{empty}, ReadOptions{Unlabelled: true}, 0, 7); err == nil || !strings.Contains(err.Error(), "no rows") {
		t.Errorf("empty file: error %v, want no rows", err)
	}
	// A file without the label column after one with it: the header has
	// a Label column the rows could not fill.
	good := filepath.Join(dir, "good.csv")
	if err := os.WriteFile(good, []byte("x,y,Label\n1,0,a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	nolabel := filepath.Join(dir, "nolabel.csv")
	if err := os.WriteFile(nolabel, []byte("y,x\n0,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := PredictFiles(&bytes.Buffer{}, m, []string{good, nolabel}, ReadOptions{Unlabelled: true}, 0, 0); err == nil || !strings.Contains(err.Error(), nolabel) {
		t.Errorf("labelled then unlabelled: error %v, want one naming %s", err, nolabel)
	}
}

// TestEvaluateFilesChunked: metrics (accuracy, per-class figures, the
// confusion matrix, ROC AUC of a binary model, accuracy by packets seen)
// from files read a chunk at a time equal those of the files read whole.
func TestEvaluateFilesChunked(t *testing.T) {
	dir := t.TempDir()
	flows, flowModel := chunkFlows(t, dir)
	shared := testshared.Path(t, "datasets")
	kdd := filepath.Join(shared, "nsl-kdd", "KDDTest-21.txt")
	kddFrame, err := ReadFiles([]string{filepath.Join(shared, "nsl-kdd", "KDDTrain+_20Percent.txt")}, ReadOptions{NSLKDDClasses: 2})
	if err != nil {
		t.Fatal(err)
	}
	kddModel := trainOrFatal(t, kddFrame, Config{Kind: "rf", Trees: 5, Seed: 1})

	// First-N packet columns: the class shows from packet 2 on.
	var b strings.Builder
	b.WriteString("splt_len_1,splt_len_2,splt_len_3,Label\n")
	for i := 0; i < 300; i++ {
		lab, l2 := "small", 100+i%50
		if i%3 == 0 {
			lab, l2 = "big", 1000+i%400
		}
		fmt.Fprintf(&b, "60,%d,%d,%s\n", l2, (i*37)%1500, lab)
	}
	early := filepath.Join(dir, "early.csv")
	if err := os.WriteFile(early, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	earlyFrame, err := ReadFiles([]string{early}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	earlyModel := trainOrFatal(t, earlyFrame, Config{Kind: "rf", Trees: 10, Seed: 2})
	if earlyModel.EarlyPackets != 3 {
		t.Fatalf("early packets %d, want 3", earlyModel.EarlyPackets)
	}

	for _, c := range []struct {
		name  string
		m     *Model
		paths []string
	}{
		{"three formats", flowModel, flows}, {"nsl-kdd binary", kddModel, []string{kdd}}, {"first packets", earlyModel, []string{early, early}},
	} {
		opt := ReadOptions{}.ForModel(c.m)
		whole, err := ReadFiles(c.paths, opt)
		if err != nil {
			t.Fatal(err)
		}
		met, err := c.m.Evaluate(whole)
		if err != nil {
			t.Fatal(err)
		}
		var byK []EarlyAccuracy
		if c.m.EarlyPackets > 0 {
			if byK, err = c.m.EvaluateEarly(whole); err != nil {
				t.Fatal(err)
			}
		}
		want, _ := json.Marshal(struct {
			M *Metrics
			K []EarlyAccuracy
		}{met, byK})
		if c.name == "nsl-kdd binary" && met.AUC == nil {
			t.Fatal("binary model without ROC AUC")
		}
		for _, chunk := range []int{1, 7, 61, 0} {
			gm, gk, err := c.m.EvaluateFiles(c.paths, opt, c.m.EarlyPackets > 0, chunk)
			if err != nil {
				t.Fatalf("%s, chunk %d: %v", c.name, chunk, err)
			}
			got, _ := json.Marshal(struct {
				M *Metrics
				K []EarlyAccuracy
			}{gm, gk})
			if !bytes.Equal(got, want) {
				t.Errorf("%s, chunk %d: metrics\n%s\nwant\n%s", c.name, chunk, got, want)
			}
		}
	}
	// An empty label in a later chunk names the file's data row; data
	// without labels, and --by-packets for a model without first-packet
	// columns, are errors.
	blank := filepath.Join(dir, "blank.csv")
	if err := os.WriteFile(blank, []byte(strings.Replace(b.String(), ",small\n", ",\n", 150)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := earlyModel.EvaluateFiles([]string{blank}, ReadOptions{}, false, 7); err == nil || !strings.Contains(err.Error(), "data row 2 has no label") {
		t.Errorf("empty label: error %v, want data row 2", err)
	}
	noLabel := filepath.Join(dir, "nolabel.csv")
	if err := os.WriteFile(noLabel, []byte("splt_len_1,splt_len_2,splt_len_3\n60,100,5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := earlyModel.EvaluateFiles([]string{noLabel}, ReadOptions{}, false, 7); err == nil || !strings.Contains(err.Error(), "no label column") {
		t.Errorf("no labels: error %v", err)
	}
	if _, _, err := kddModel.EvaluateFiles([]string{kdd}, ReadOptions{NSLKDDClasses: 2}, true, 0); err == nil || !strings.Contains(err.Error(), "splt_len_k") {
		t.Errorf("--by-packets without first-packet columns: error %v", err)
	}
}

// TestTextColumnNumbersAlike: a number in a text column is the same
// category before and after the column's first text cell, and in a chunk
// without text. "1.0" was the category "1" before the first text and
// "1.0" after it, so one value had two codes.
func TestTextColumnNumbersAlike(t *testing.T) {
	var b colBuilder
	for _, s := range []string{"1.0", "x", "1.0", "", "7"} {
		b.add(s)
	}
	if want := []string{"1", "x", "1", "NaN", "7"}; !slices.Equal(b.cat, want) {
		t.Errorf("cells %q, want %q", b.cat, want)
	}
}

// TestChunkedTextColumnOfNumbers: a text column whose first chunk is
// numbers and a single word is read as the whole file reads it, a text
// column, in predict and eval. Each chunk was checked on its own for a
// stray word in a column of numbers, so a chunked read refused a file
// the whole read (and train) took. In a column the model reads as
// numbers, such a word is still an error naming the file's data row and
// the rows of the chunk counted.
func TestChunkedTextColumnOfNumbers(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("x,svc,Label\n")
	for i := 1; i <= 400; i++ {
		svc := fmt.Sprint(80 + i%3)
		if i == 3 || i > 250 {
			svc = []string{"http", "dns", "ssh", "ntp"}[i%4]
		}
		fmt.Fprintf(&b, "%d,%s,%s\n", i%10, svc, []string{"a", "b"}[i%2])
	}
	path := filepath.Join(dir, "svc.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	train, err := ReadFiles([]string{path}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if train.Cat[train.Column("svc")] == nil {
		t.Fatal("svc is not a text column read whole")
	}
	m := trainOrFatal(t, train, Config{Kind: "dt"})
	opt := ReadOptions{Unlabelled: true}.ForModel(m)
	want := wholePredictions(t, m, []string{path}, opt)
	whole, err := m.Evaluate(train)
	if err != nil {
		t.Fatal(err)
	}
	for _, chunk := range []int{200, 300} {
		var got bytes.Buffer
		if _, err := PredictFiles(&got, m, []string{path}, opt, 0.6, chunk); err != nil {
			t.Errorf("predict, chunk %d: %v", chunk, err)
		} else if !bytes.Equal(got.Bytes(), want) {
			t.Errorf("predict, chunk %d: predictions differ from the whole read's", chunk)
		}
		met, _, err := m.EvaluateFiles([]string{path}, ReadOptions{}.ForModel(m), false, chunk)
		if err != nil {
			t.Errorf("eval, chunk %d: %v", chunk, err)
		} else if met.Accuracy != whole.Accuracy || met.Rows != whole.Rows {
			t.Errorf("eval, chunk %d: accuracy %v over %d rows, want %v over %d", chunk, met.Accuracy, met.Rows, whole.Accuracy, whole.Rows)
		}
	}
	// x is numeric in the model: a word among its numbers is refused.
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte(strings.Replace(b.String(), "\n7,", "\noops,", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = PredictFiles(&bytes.Buffer{}, m, []string{bad}, opt, 0.6, 200)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), `data row 7 has "oops", yet 199 of the 200 cells of data rows 1-200`) {
		t.Errorf("a word in x: error %v, want one naming %s, data row 7 and rows 1-200", err, bad)
	}
}

// TestPredictFilesLabelsInSomeFiles: files with and without a label
// column cannot share one output, in either order; the whole read
// refused both. A file without labels before one with them was
// predicted without a Label column, the second file's labels dropped.
func TestPredictFilesLabelsInSomeFiles(t *testing.T) {
	dir := t.TempDir()
	labelled := filepath.Join(dir, "labelled.csv")
	if err := os.WriteFile(labelled, []byte("x,y,Label\n1,0,a\n2,1,b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unlabelled := filepath.Join(dir, "unlabelled.csv")
	if err := os.WriteFile(unlabelled, []byte("y,x\n0,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := synthFrame([]string{"x", "y"}, [][]float64{{1, 2, 3, 4}, {0, 1, 0, 1}}, []string{"a", "b", "a", "b"})
	m := trainOrFatal(t, f, Config{Kind: "dt"})
	opt := ReadOptions{Unlabelled: true}
	for _, paths := range [][]string{{labelled, unlabelled}, {unlabelled, labelled}} {
		if _, err := ReadFiles(paths, opt); err == nil {
			t.Fatalf("%q read whole: no error", paths)
		}
		if _, err := PredictFiles(&bytes.Buffer{}, m, paths, opt, 0, 0); err == nil || !strings.Contains(err.Error(), paths[1]) || !strings.Contains(err.Error(), "label column present in some files only") {
			t.Errorf("%q: error %v, want one naming %s", paths, err, paths[1])
		}
	}
	// Within a file, records whose labels start after the first chunk
	// are predicted without a Label column, as when read whole.
	var b strings.Builder
	for i := 0; i < 20; i++ {
		if i < 12 {
			fmt.Fprintf(&b, "{\"x\":%d,\"y\":%d}\n", i, i%2)
		} else {
			fmt.Fprintf(&b, "{\"x\":%d,\"y\":%d,\"Label\":\"a\"}\n", i, i%2)
		}
	}
	late := filepath.Join(dir, "late.jsonl")
	if err := os.WriteFile(late, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	want := wholePredictions(t, m, []string{late}, opt)
	var got bytes.Buffer
	if _, err := PredictFiles(&got, m, []string{late}, opt, 0.6, 5); err != nil {
		t.Fatal(err)
	} else if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("labels from a later chunk:\n%s\nwant\n%s", got.Bytes(), want)
	}
}
