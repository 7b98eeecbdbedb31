package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/flowhawk/flowhawk/internal/testshared"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestClassifierCommands(t *testing.T) {
	train := testshared.Path(t, "datasets/nsl-kdd/KDDTrain+_20Percent.txt")
	test := testshared.Path(t, "datasets/nsl-kdd/KDDTest-21.txt")
	cic := testshared.Path(t, "datasets/cicids2017/Wednesday-workingHours.pcap_ISCX.sample1k.csv")
	dir := t.TempDir()
	model := filepath.Join(dir, "m.json")
	if code, _, errOut := runCLI(t, "train", "--data", train, "--nslkdd-classes", "2", "--model", "dt", "--seed", "3",
		"--test", test, "-o", model); code != 0 {
		t.Fatalf("train: exit %d: %s", code, errOut)
	}
	code, out, errOut := runCLI(t, "eval", "--model", model, "--data", test, "--json")
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, errOut)
	}
	var ev struct {
		Metrics struct {
			Rows     int      `json:"rows"`
			Accuracy float64  `json:"accuracy"`
			AUC      *float64 `json:"roc_auc"`
		} `json:"metrics"`
	}
	if err := json.Unmarshal([]byte(out), &ev); err != nil || ev.Metrics.Rows != 11850 || ev.Metrics.AUC == nil || ev.Metrics.Accuracy < 0.4 {
		t.Fatalf("eval JSON %v: %+v", err, ev)
	}
	// The metrics train stores (--test's first file, read in chunks; the
	// training rows, scored from the training matrix, without --test) are
	// eval's on the same file.
	sameMetrics := func(model, data, on string) {
		t.Helper()
		code, out, errOut := runCLI(t, "eval", "--model", model, "--data", data, "--json")
		if code != 0 {
			t.Fatalf("eval: exit %d: %s", code, errOut)
		}
		var e struct {
			Metrics json.RawMessage `json:"metrics"`
		}
		var mf struct {
			Metrics   json.RawMessage `json:"metrics"`
			MetricsOn string          `json:"metrics_on"`
		}
		b, _ := os.ReadFile(model)
		if err := json.Unmarshal([]byte(out), &e); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &mf); err != nil {
			t.Fatal(err)
		}
		var a, b2 bytes.Buffer
		if err := json.Compact(&a, mf.Metrics); err != nil {
			t.Fatal(err)
		}
		if err := json.Compact(&b2, e.Metrics); err != nil {
			t.Fatal(err)
		}
		if mf.MetricsOn != on || a.String() != b2.String() {
			t.Errorf("model's metrics on %q:\n%s\neval's on %s:\n%s", mf.MetricsOn, mf.Metrics, data, e.Metrics)
		}
	}
	sameMetrics(model, test, test)
	trainOnly := filepath.Join(dir, "train-only.json")
	if code, _, errOut := runCLI(t, "train", "--data", train, "--nslkdd-classes", "2", "--model", "rf", "--trees", "5", "-o", trainOnly); code != 0 {
		t.Fatalf("train: exit %d: %s", code, errOut)
	}
	sameMetrics(trainOnly, train, "training data")
	pred := filepath.Join(dir, "p.csv")
	if code, _, errOut := runCLI(t, "predict", "--model", model, "--data", test, "--min-confidence", "0.99", "-o", pred); code != 0 {
		t.Fatalf("predict: exit %d: %s", code, errOut)
	}
	b, _ := os.ReadFile(pred)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 11851 || lines[0] != "Row,Label,Predicted Label,Confidence" {
		t.Fatalf("predict: %d lines, header %q", len(lines), lines[0])
	}
	if code, out, errOut := runCLI(t, "importance", "--model", model); code != 0 || !strings.Contains(out, "src_bytes") {
		t.Fatalf("importance: exit %d: %s%s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "cv", "--data", cic, "--folds", "2", "--models", "dt,nb"); code != 0 || !strings.Contains(out, "±") {
		t.Fatalf("cv: exit %d: %s%s", code, out, errOut)
	}
	// the model lacks CIC columns: the error names them
	if code, _, errOut := runCLI(t, "eval", "--model", model, "--data", cic); code != 1 || !strings.Contains(errOut, `"src_bytes"`) {
		t.Errorf("eval on foreign data: exit %d: %s", code, errOut)
	}
	if code, _, _ := runCLI(t, "train", "--data", train, "--model", "svm"); code != 2 {
		t.Errorf("unknown model kind: exit %d, want 2", code)
	}
	// NaN passed the range check and turned the threshold off.
	for _, args := range [][]string{{"predict", "--model", model, "--data", test, "-o", pred}, {"replay", "--model", model, "-o", "none", "../../testdata/demo.pcap"}} {
		if code, _, errOut := runCLI(t, append(args, "--min-confidence", "NaN")...); code != 2 || !strings.Contains(errOut, "--min-confidence NaN") {
			t.Errorf("%s --min-confidence NaN: exit %d: %s", args[0], code, errOut)
		}
	}
}

func TestImportancePositionalDataReadOnce(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "d.csv")
	var b strings.Builder
	b.WriteString("x,y,Label\n")
	for i := range 200 {
		fmt.Fprintf(&b, "%d,%d,%s\n", i, (i*7919)%101, []string{"a", "b"}[(i/10)%2])
	}
	if err := os.WriteFile(data, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "m.json")
	if code, _, errOut := runCLI(t, "train", "--data", data, "--model", "dt", "--max-depth", "3", "-o", model); code != 0 {
		t.Fatalf("train: exit %d: %s", code, errOut)
	}
	// A positional file was added to the --data list twice, so the
	// permutations ran over every row twice.
	_, want, _ := runCLI(t, "importance", "--model", model, "--data", data, "--json")
	code, got, errOut := runCLI(t, "importance", "--model", model, data, "--json")
	if code != 0 || got != want {
		t.Errorf("importance with a positional file: exit %d: %s%s\nwant as with --data:\n%s", code, got, errOut, want)
	}
	if !strings.Contains(want, `"permutation"`) {
		t.Errorf("no permutation importance: %s", want)
	}
}

func TestModelCommandsDropOnly(t *testing.T) {
	for _, cmd := range []string{"eval", "predict", "importance"} {
		_, out, _ := runCLI(t, cmd, "--help")
		// The help said "to ignore as features", as train's does, though
		// the model file picks the features.
		if !strings.Contains(out, "a model column dropped is reported missing") || !strings.Contains(out, "a model column left out is reported missing") {
			t.Errorf("%s --help does not say what --drop and --only do with a model:\n%s", cmd, out)
		}
	}
	dir := t.TempDir()
	write := func(name string, broken bool) string {
		var b strings.Builder
		b.WriteString("x,y,Label\n")
		for i := range 200 {
			y := strconv.Itoa(i % 13)
			if broken && i == 50 {
				y = "oops"
			}
			fmt.Fprintf(&b, "%d,%s,%s\n", i, y, []string{"a", "b"}[(i/10)%2])
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	clean, broken := write("clean.csv", false), write("broken.csv", true)
	model := filepath.Join(dir, "m.json")
	if code, _, errOut := runCLI(t, "train", "--data", clean, "--drop", "y", "--model", "dt", "-o", model); code != 0 {
		t.Fatalf("train: exit %d: %s", code, errOut)
	}
	// importance reads whole: a broken column fails it, used or not.
	// eval and predict read in chunks and check the stray words only in
	// the columns the model reads as numbers: y, not the model's, does
	// not fail them, and fails a model that reads it.
	if code, _, errOut := runCLI(t, "importance", "--model", model, "--data", broken); code != 1 || !strings.Contains(errOut, `column "y"`) {
		t.Errorf("importance on a broken column: exit %d: %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "eval", "--model", model, "--data", broken); code != 0 {
		t.Errorf("eval on a broken column the model does not use: exit %d: %s", code, errOut)
	}
	withY := filepath.Join(dir, "my.json")
	if code, _, errOut := runCLI(t, "train", "--data", clean, "--model", "dt", "-o", withY); code != 0 {
		t.Fatalf("train with y: exit %d: %s", code, errOut)
	}
	for _, args := range [][]string{
		{"eval", "--model", withY, "--data", broken},
		{"predict", "--model", withY, "--data", broken, "-o", filepath.Join(dir, "p.csv")},
	} {
		if code, _, errOut := runCLI(t, args...); code != 1 || !strings.Contains(errOut, `column "y"`) {
			t.Errorf("%q on a broken model column: exit %d: %s", args, code, errOut)
		}
	}
	for _, args := range [][]string{
		{"eval", "--model", model, "--data", broken, "--drop", "y"},
		{"predict", "--model", model, "--data", broken, "--drop", "y", "-o", filepath.Join(dir, "p.csv")},
		{"importance", "--model", model, "--data", broken, "--drop", "y"},
		{"eval", "--model", model, "--data", clean, "--only", "x"},
	} {
		if code, _, errOut := runCLI(t, args...); code != 0 {
			t.Errorf("%q: exit %d: %s", args, code, errOut)
		}
	}
	for _, args := range [][]string{{"--drop", "x"}, {"--only", "y"}} {
		if code, _, errOut := runCLI(t, append([]string{"eval", "--model", model, "--data", clean}, args...)...); code != 1 || !strings.Contains(errOut, `"x"`) {
			t.Errorf("eval %q: exit %d: %s (want the model column x reported missing)", args, code, errOut)
		}
	}
}
