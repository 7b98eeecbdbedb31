package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowhawk/flowhawk/classifier"
	"github.com/flowhawk/flowhawk/internal/testshared"
)

// kddHead writes the first n rows of KDDTest-21.txt to dir, as the .txt
// and, with NSL-KDD's column names in a header, as a CSV.
func kddHead(t *testing.T, dir string, n int) (txt, csvPath string) {
	t.Helper()
	b, err := os.ReadFile(testshared.Path(t, "datasets/nsl-kdd/KDDTest-21.txt"))
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Join(strings.SplitAfter(string(b), "\n")[:n], "")
	txt, csvPath = filepath.Join(dir, "kdd.txt"), filepath.Join(dir, "kdd.csv")
	os.WriteFile(txt, []byte(rows), 0o644)
	os.WriteFile(csvPath, []byte(strings.Join(classifier.NSLKDDFeatures, ",")+",label,difficulty\n"+rows), 0o644)
	return txt, csvPath
}

// TestNSLKDDClassesAnyFormat: train --nslkdd-classes 2 on NSL-KDD rows in
// a CSV trained on every raw attack name (38 classes) without a word.
func TestNSLKDDClassesAnyFormat(t *testing.T) {
	dir := t.TempDir()
	_, csvPath := kddHead(t, dir, 300)
	model := filepath.Join(dir, "m.json")
	if code, _, errOut := runCLI(t, "train", "--data", csvPath, "--nslkdd-classes", "2", "--model", "dt", "-o", model); code != 0 {
		t.Fatalf("train: exit %d: %s", code, errOut)
	}
	var mf struct {
		Classes  []string `json:"classes"`
		LabelMap string   `json:"label_map"`
	}
	b, _ := os.ReadFile(model)
	if err := json.Unmarshal(b, &mf); err != nil || len(mf.Classes) != 2 || mf.LabelMap != "nslkdd2" {
		t.Fatalf("model: %v, classes %q, label map %q; want normal/attack, nslkdd2", err, mf.Classes, mf.LabelMap)
	}
}

// TestTrainChecksTestFilesFirst: train --test nosuch.csv trained the whole
// model, then failed on the test file and threw the model away.
func TestTrainChecksTestFilesFirst(t *testing.T) {
	dir := t.TempDir()
	txt, _ := kddHead(t, dir, 100)
	model := filepath.Join(dir, "m.json")
	code, _, errOut := runCLI(t, "train", "--data", txt, "--model", "dt", "--test", txt+","+filepath.Join(dir, "nosuch.csv"), "-o", model)
	if code != 1 || !strings.Contains(errOut, "--test "+filepath.Join(dir, "nosuch.csv")+": no such file or directory") || strings.Contains(errOut, "training") {
		t.Errorf("exit %d: %s; want an error naming --test and the file, before training", code, errOut)
	}
	if code, _, errOut := runCLI(t, "train", "--data", txt, "--model", "dt", "--test", dir, "-o", model); code != 1 || !strings.Contains(errOut, "is a directory") {
		t.Errorf("--test DIR: exit %d: %s", code, errOut)
	}
}

// TestEvalByPacketsOff: eval --by-packets=false did not turn the table of
// accuracy by packets seen off for a model on splt_* features.
func TestEvalByPacketsOff(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("splt_len_1,splt_len_2,Label\n")
	for i := range 100 {
		fmt.Fprintf(&b, "%d,%d,%s\n", 40+i%2*1000, i%7, []string{"a", "b"}[i%2])
	}
	data, model := filepath.Join(dir, "s.csv"), filepath.Join(dir, "m.json")
	os.WriteFile(data, []byte(b.String()), 0o644)
	if code, _, errOut := runCLI(t, "train", "--data", data, "--model", "dt", "-o", model); code != 0 {
		t.Fatalf("train: exit %d: %s", code, errOut)
	}
	for args, want := range map[string]bool{"": true, "--by-packets=false": false, "--by-packets": true} {
		cmd := []string{"eval", "--model", model, "--data", data, "--json"}
		if args != "" {
			cmd = append(cmd, args)
		}
		code, out, errOut := runCLI(t, cmd...)
		if code != 0 {
			t.Fatalf("eval %s: exit %d: %s", args, code, errOut)
		}
		if got := strings.Contains(out, `"by_packets"`); got != want {
			t.Errorf("eval %q: by_packets %v, want %v", args, got, want)
		}
	}
}
