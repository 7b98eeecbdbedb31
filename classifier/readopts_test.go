package classifier

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/features"
	"github.com/flowhawk/flowhawk/internal/testshared"
)

// nslkddHead writes the first n lines of KDDTest-21.txt to a file of its
// own and returns its path.
func nslkddHead(t *testing.T, n int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testshared.Path(t, "datasets/nsl-kdd"), "KDDTest-21.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	path := filepath.Join(t.TempDir(), "head.txt")
	if err := os.WriteFile(path, []byte(strings.Join(lines[:n], "")), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestNSLKDDDrop: --drop leaves NSL-KDD columns out as it does CSV ones,
// in whole reads (train, cv, importance) and chunked ones (eval, predict),
// where the NSL-KDD reader ignored it and kept every column.
func TestNSLKDDDrop(t *testing.T) {
	path := nslkddHead(t, 300)
	f, err := ReadFiles([]string{path}, ReadOptions{NSLKDDClasses: 2, Drop: []string{"protocol_type", " service"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Names) != 39 || slices.Contains(f.Names, "protocol_type") || slices.Contains(f.Names, "service") {
		t.Fatalf("columns %q: want the 41 less protocol_type and service", f.Names)
	}
	if f.Cat[f.Column("flag")] == nil || f.Num[f.Column("src_bytes")] == nil {
		t.Errorf("flag text %v, src_bytes numbers %v", f.Cat[f.Column("flag")] != nil, f.Num[f.Column("src_bytes")] != nil)
	}
	whole, err := ReadFiles([]string{path}, ReadOptions{NSLKDDClasses: 2})
	if err != nil {
		t.Fatal(err)
	}
	m := trainOrFatal(t, whole, Config{Kind: "dt"})
	if !slices.Contains(m.Features(), "src_bytes") {
		t.Fatalf("model features %q lack src_bytes", m.Features())
	}
	_, _, err = m.EvaluateFiles([]string{path}, ReadOptions{NSLKDDClasses: 2, Drop: []string{"src_bytes"}}, false, 0)
	var mc *MissingColumnsError
	if !errors.As(err, &mc) || !slices.Equal(mc.Columns, []string{"src_bytes"}) {
		t.Errorf("eval --drop src_bytes: error %v, want src_bytes missing", err)
	}
}

// withCells rewrites column col (0-based) of every 20th data row of the
// CIC-IDS2017 sample to cell(row), and returns the new file's path.
func withCells(t *testing.T, col int, cell func(row int) string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testshared.Path(t, "datasets/cicids2017"), "Wednesday-workingHours.pcap_ISCX.sample1k.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for i := 1; i < len(lines); i++ {
		if i%20 == 0 && lines[i] != "" {
			f := strings.Split(lines[i], ",")
			f[col] = cell(i)
			lines[i] = strings.Join(f, ",")
		}
	}
	path := filepath.Join(t.TempDir(), "cells.csv")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestMissingMarkersInNumberColumn: Zeek's "-", "?", "N/A" and the like in
// 5 % of a column of numbers are missing values, where the column turned
// to text, then looked like an identifier and vanished from the model
// without a word; words that are not missing markers are logged, and a
// column left out for them is listed in preprocessing.dropped.
func TestMissingMarkersInNumberColumn(t *testing.T) {
	markers := []string{"-", "?", "N/A", "n/a", "#N/A", "NA", "null", "None"}
	path := withCells(t, 1, func(row int) string { return markers[row%len(markers)] })
	f, err := ReadFiles([]string{path}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := f.Column("Flow Duration")
	if c < 0 || f.Num[c] == nil {
		t.Fatalf("Flow Duration: column %d, numbers %v; want a column of numbers", c, c >= 0 && f.Num[c] != nil)
	}
	if v := f.Num[c][19]; v == v {
		t.Errorf("data row 20 reads %v, want NaN (missing)", v)
	}

	var logged bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	// Words with many distinct numbers: text with nearly one value per
	// row, left out.
	path = withCells(t, 1, func(row int) string { return "gone" + strconv.Itoa(row%7) })
	f, err = ReadFiles([]string{path}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Column("Flow Duration") >= 0 || !slices.Equal(f.Dropped, []string{"Flow Duration"}) {
		t.Fatalf("Flow Duration kept %v, dropped %q", f.Column("Flow Duration") >= 0, f.Dropped)
	}
	m := trainOrFatal(t, f, Config{Kind: "dt"})
	if !slices.Contains(m.Pre.Dropped, "Flow Duration") {
		t.Errorf("preprocessing.dropped %q lacks Flow Duration", m.Pre.Dropped)
	}
	if s := logged.String(); !strings.Contains(s, `column="Flow Duration" file=`+path+` row=20 cell=gone6`) || !strings.Contains(s, "left out") {
		t.Errorf("log %q: want a warning naming the column, row 20 and its cell", s)
	}
	// Words in a column of few distinct numbers: read as text, logged.
	logged.Reset()
	path = withCells(t, 30, func(row int) string { return "flag" + strconv.Itoa(row%5) }) // Fwd PSH Flags
	if f, err = ReadFiles([]string{path}, ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	if c := f.Column("Fwd PSH Flags"); c < 0 || f.Cat[c] == nil {
		t.Fatalf("Fwd PSH Flags: column %d, want text", c)
	}
	if s := logged.String(); !strings.Contains(s, `column="Fwd PSH Flags" file=`+path+` row=20 cell=flag0`) || !strings.Contains(s, "read as text") {
		t.Errorf("log %q: want a warning naming the column, row 20 and its cell", s)
	}
}

// TestTimeSplitRefusesBadTimestamps: --split time with a timestamp that is
// no time, or a Timestamp column in some files only, is an error naming
// the file, row and cell, where the rows silently kept file order; an ISO
// 8601 time without a zone is a time (UTC).
func TestTimeSplitRefusesBadTimestamps(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, stamp func(i int) string) string {
		var b strings.Builder
		if stamp != nil {
			b.WriteString("Timestamp,")
		}
		b.WriteString("x,Label\n")
		for i := range 30 {
			if stamp != nil {
				b.WriteString(stamp(i) + ",")
			}
			fmt.Fprintf(&b, "%d,%s\n", i, []string{"a", "b"}[i%2])
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// Written newest first: a time split must reverse the file order.
	iso := write("iso.csv", func(i int) string { return fmt.Sprintf("2017-07-05T10:%02d:00", 59-i) })
	f, err := ReadFiles([]string{iso}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Times == nil || f.Times[0] != float64(time.Date(2017, 7, 5, 10, 59, 0, 0, time.UTC).Unix()) {
		t.Fatalf("times %v: want 2017-07-05T10:59:00 UTC first", f.Times)
	}
	train, _, err := Splits(f, 2, "time", 1)
	if err != nil || train[0][0] != 29 {
		t.Fatalf("time split: %v, first training row %v; want the last row of the file (the earliest)", err, train)
	}
	bad := write("bad.csv", func(i int) string {
		if i == 16 {
			return "yesterday"
		}
		return fmt.Sprintf("2017-07-05 10:%02d:00", i)
	})
	f, err = ReadFiles([]string{bad}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Splits(f, 2, "time", 1); err == nil || !strings.Contains(err.Error(), bad+`: data row 17: timestamp "yesterday"`) {
		t.Errorf("error %v, want one naming the file, data row 17 and the cell", err)
	}
	if _, _, err := Splits(f, 2, "random", 1); err != nil {
		t.Errorf("random split: %v", err)
	}
	none := write("none.csv", nil)
	f, err = ReadFiles([]string{iso, none}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Splits(f, 2, "time", 1); err == nil || !strings.Contains(err.Error(), iso+" has a Timestamp column, "+none+" has none") {
		t.Errorf("error %v, want one naming both files", err)
	}
}

// TestByteOrderMark: a UTF-8 byte order mark before a quoted header (as
// PowerShell's Export-Csv writes) left the quotes in the first column's
// name, and failed NSL-KDD and JSON Lines files; it is skipped in each.
func TestByteOrderMark(t *testing.T) {
	const bom = "\xef\xbb\xbf"
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString(bom + `"Destination Port","Flow Duration","Label"` + "\n")
	for i := range 20 {
		fmt.Fprintf(&b, "\"%d\",\"%d\",\"%s\"\n", 80+i%3, i*10, []string{"BENIGN", "DoS"}[i%2])
	}
	csvPath := filepath.Join(dir, "ps.csv")
	os.WriteFile(csvPath, []byte(b.String()), 0o644)
	f, err := ReadFiles([]string{csvPath}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Names, []string{"Destination Port", "Flow Duration"}) || f.Num[0] == nil {
		t.Errorf("CSV columns %q (first numeric %v)", f.Names, f.Num[0] != nil)
	}
	jsonPath := filepath.Join(dir, "bom.jsonl")
	os.WriteFile(jsonPath, []byte(bom+`{"x":1,"Label":"a"}`+"\n"+`{"x":2,"Label":"b"}`+"\n"), 0o644)
	if f, err := ReadFiles([]string{jsonPath}, ReadOptions{}); err != nil || f.Rows != 2 || !slices.Equal(f.Names, []string{"x"}) {
		t.Errorf("JSON Lines: %v", err)
	}
	head, err := os.ReadFile(nslkddHead(t, 50))
	if err != nil {
		t.Fatal(err)
	}
	txtPath := filepath.Join(dir, "bom.txt")
	os.WriteFile(txtPath, append([]byte(bom), head...), 0o644)
	if f, err := ReadFiles([]string{txtPath}, ReadOptions{NSLKDDClasses: 2}); err != nil || f.Rows != 50 || f.Num[0] == nil {
		t.Errorf("NSL-KDD: %v", err)
	}
}

// TestNSLKDDLabelsInAnyFormat: NSL-KDD rows saved as a CSV with a header
// were scored against raw attack names by a model trained on mapped labels
// (accuracy 0.16 for a 2-class model), and trained on them whatever
// --nslkdd-classes said; the model's or the asked-for scheme now maps them.
func TestNSLKDDLabelsInAnyFormat(t *testing.T) {
	txt := nslkddHead(t, 400)
	b, err := os.ReadFile(txt)
	if err != nil {
		t.Fatal(err)
	}
	csvPath := filepath.Join(t.TempDir(), "kdd.csv")
	header := strings.Join(NSLKDDFeatures, ",") + ",label,difficulty\n"
	os.WriteFile(csvPath, append([]byte(header), b...), 0o644)

	f, err := ReadFiles([]string{txt}, ReadOptions{NSLKDDClasses: 2})
	if err != nil {
		t.Fatal(err)
	}
	m := trainOrFatal(t, f, Config{Kind: "dt"})
	want, _, err := m.EvaluateFiles([]string{txt}, ReadOptions{}.ForModel(m), false, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := m.EvaluateFiles([]string{csvPath}, ReadOptions{}.ForModel(m), false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got.Accuracy != want.Accuracy || !slices.Equal(got.Labels, want.Labels) {
		t.Errorf("CSV: accuracy %v labels %q; .txt: %v %q", got.Accuracy, got.Labels, want.Accuracy, want.Labels)
	}
	for classes, n := range map[int]int{2: 2, 5: 5} {
		g, err := ReadFiles([]string{csvPath}, ReadOptions{NSLKDDClasses: classes, NSLKDDLabels: true})
		if err != nil {
			t.Fatal(err)
		}
		set := map[string]bool{}
		for _, l := range g.Labels {
			set[l] = true
		}
		if len(set) > n || !set["normal"] || g.LabelMap != nslkddMapName(classes) {
			t.Errorf("%d classes: labels %v, label map %q", classes, set, g.LabelMap)
		}
	}
	if g, err := ReadFiles([]string{csvPath}, ReadOptions{NSLKDDClasses: 2}); err != nil || g.LabelMap != "" || !slices.Contains(g.Labels, "neptune") {
		t.Errorf("without the scheme asked for: %v, label map %q; want raw names", err, g.LabelMap)
	}
	cic := filepath.Join(testshared.Path(t, "datasets/cicids2017"), "Wednesday-workingHours.pcap_ISCX.sample1k.csv")
	if _, err := ReadFiles([]string{cic}, ReadOptions{NSLKDDClasses: 2, NSLKDDLabels: true}); err == nil || !strings.Contains(err.Error(), "no label is an NSL-KDD attack name") {
		t.Errorf("CIC-IDS2017 labels in 2 NSL-KDD classes: error %v", err)
	}
}

// TestKDD99LabelDots: KDD Cup '99 rows (42 fields, labels "normal.",
// "smurf.") were all attacks in 2 classes and an error in 5; one trailing
// dot is dropped, so they map as NSL-KDD's do.
func TestKDD99LabelDots(t *testing.T) {
	txt := nslkddHead(t, 300)
	b, err := os.ReadFile(txt)
	if err != nil {
		t.Fatal(err)
	}
	var kdd99 strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(line, ",")
		kdd99.WriteString(strings.Join(f[:41], ",") + "," + f[41] + ".\n") // no difficulty
	}
	path := filepath.Join(t.TempDir(), "kddcup.data")
	os.WriteFile(path, []byte(kdd99.String()), 0o644)
	for _, classes := range []int{2, 5, 0} {
		want, err := ReadFiles([]string{txt}, ReadOptions{NSLKDDClasses: classes})
		if err != nil {
			t.Fatal(err)
		}
		got, err := ReadFiles([]string{path}, ReadOptions{NSLKDDClasses: classes})
		if err != nil {
			t.Fatalf("%d classes: %v", classes, err)
		}
		if !slices.Equal(got.Labels, want.Labels) {
			t.Errorf("%d classes: labels %q..., want %q...", classes, got.Labels[:5], want.Labels[:5])
		}
	}
}

// TestModelKeepsLabelColumn: a model trained with --label Protocol was
// scored by eval and importance against the Label column; it records its
// label column, which they use without a --label of their own. An
// evaluation whose labels are none of the model's classes warns, and
// labels 1.0 (JSON Lines, pandas) and 1 (CSV) are one class.
func TestModelKeepsLabelColumn(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("x,y,Protocol,Label\n")
	for i := range 200 {
		fmt.Fprintf(&b, "%d,%d,%d,%s\n", i%7, i%11, []int{6, 17}[i%7%2], []string{"BENIGN", "DoS"}[i%11%2])
	}
	path := filepath.Join(dir, "p.csv")
	os.WriteFile(path, []byte(b.String()), 0o644)
	f, err := ReadFiles([]string{path}, ReadOptions{Label: "Protocol"})
	if err != nil {
		t.Fatal(err)
	}
	m := trainOrFatal(t, f, Config{Kind: "dt"})
	mpath := filepath.Join(dir, "m.json")
	if err := m.SaveFile(mpath); err != nil {
		t.Fatal(err)
	}
	if m, err = Load(mpath); err != nil || m.LabelColumn != "Protocol" {
		t.Fatalf("loaded: %v, label column %q", err, m.LabelColumn)
	}
	met, _, err := m.EvaluateFiles([]string{path}, ReadOptions{}.ForModel(m), false, 0)
	if err != nil || met.Accuracy != 1 || !slices.Equal(met.Labels, []string{"17", "6"}) {
		t.Fatalf("eval: %v, labels %q, accuracy %v; want Protocol's, 1", err, met.Labels, met.Accuracy)
	}

	var logged bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	named := filepath.Join(dir, "named.csv") // protocols by name: none is a class
	var nb strings.Builder
	nb.WriteString("x,y,Protocol,Label\n")
	for i := range 50 {
		fmt.Fprintf(&nb, "%d,%d,%s,BENIGN\n", i%7, i%11, []string{"tcp", "udp"}[i%7%2])
	}
	os.WriteFile(named, []byte(nb.String()), 0o644)
	if _, _, err := m.EvaluateFiles([]string{named}, ReadOptions{}.ForModel(m), false, 0); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logged.String(), "no true label of the data is a class of the model") {
		t.Errorf("labels tcp and udp for classes 6 and 17, no warning: %q", logged.String())
	}
	logged.Reset()

	// Labels 1.0 in JSON Lines are the class 1 of a CSV, and a model that
	// has the class "1.0" (trained when they were not) scores them.
	jpath := filepath.Join(dir, "p.jsonl")
	var j strings.Builder
	for i := range 200 {
		fmt.Fprintf(&j, `{"x":%d,"y":%d,"Protocol":%d.0,"Label":"%s"}`+"\n", i%7, i%11, []int{6, 17}[i%7%2], []string{"BENIGN", "DoS"}[i%11%2])
	}
	os.WriteFile(jpath, []byte(j.String()), 0o644)
	g, err := ReadFiles([]string{jpath, path}, ReadOptions{Label: "Protocol"})
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for _, l := range g.Labels {
		set[l] = true
	}
	if len(set) != 2 || !set["6"] || !set["17"] {
		t.Errorf("labels of JSON Lines 6.0 and CSV 6: %v, want 6 and 17", set)
	}
	old := trainOrFatal(t, g, Config{Kind: "dt"})
	old.Classes = []string{"17.0", "6.0"}
	if met, _, err := old.EvaluateFiles([]string{path}, ReadOptions{}.ForModel(old), false, 0); err != nil || met.Accuracy != 1 {
		t.Errorf("model of classes 17.0, 6.0 on labels 17, 6: %v, accuracy %v", err, met)
	}
	if logged.Len() > 0 {
		t.Errorf("warnings: %s", logged.String())
	}
}

// TestDropPatterns: --drop takes --only's prefix* patterns, in every
// format, and a pattern that drops no column is an error naming it: both
// were ignored, and the columns kept as features without a word.
func TestDropPatterns(t *testing.T) {
	cic := filepath.Join(testshared.Path(t, "datasets/cicids2017"), "Wednesday-workingHours.pcap_ISCX.sample1k.csv")
	f, err := ReadFiles([]string{cic}, ReadOptions{Drop: []string{"Flow*", "Destination Port"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range f.Names {
		if strings.HasPrefix(n, "Flow") || n == "Destination Port" {
			t.Errorf("column %q kept", n)
		}
	}
	if len(f.Names) != 77-7-1 {
		t.Errorf("%d columns, want 77 less 7 Flow* and Destination Port", len(f.Names))
	}
	kdd := nslkddHead(t, 60)
	if f, err := ReadFiles([]string{kdd}, ReadOptions{Drop: []string{"dst_host_*"}}); err != nil || len(f.Names) != 41-10 {
		t.Errorf("NSL-KDD dst_host_*: %v", err)
	}
	jpath := filepath.Join(t.TempDir(), "d.jsonl")
	os.WriteFile(jpath, []byte(`{"x1":1,"x2":2,"y":3,"Label":"a"}`+"\n"+`{"x1":2,"x2":1,"y":3,"Label":"b"}`+"\n"), 0o644)
	if f, err := ReadFiles([]string{jpath}, ReadOptions{Drop: []string{"x*"}}); err != nil || !slices.Equal(f.Names, []string{"y"}) {
		t.Errorf("JSON Lines x*: %v", err)
	}
	for _, drop := range [][]string{{"Flow Durration"}, {"*Duration"}, {"Flow*", "nosuch*"}} {
		if _, err := ReadFiles([]string{cic}, ReadOptions{Drop: drop}); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("--drop %q matches no feature column", drop[len(drop)-1:])) {
			t.Errorf("--drop %q: error %v", drop, err)
		}
	}
	g, err := ReadFiles([]string{kdd}, ReadOptions{NSLKDDClasses: 2})
	if err != nil {
		t.Fatal(err)
	}
	m := trainOrFatal(t, g, Config{Kind: "dt"})
	if _, _, err := m.EvaluateFiles([]string{kdd}, ReadOptions{NSLKDDClasses: 2, Drop: []string{"nosuch"}}, false, 0); err == nil || !strings.Contains(err.Error(), `--drop ["nosuch"]`) {
		t.Errorf("eval --drop nosuch: %v", err)
	}
}

// TestFormatForcesReader: --format parquet read a Parquet file named .csv
// (or .dat) as CSV, the extension choosing the reader; it now forces the
// Parquet reader, which refuses a file without the PAR1 magic, and auto
// knows Parquet by its content.
func TestFormatForcesReader(t *testing.T) {
	x, err := features.New(features.Config{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pq := filepath.Join(dir, "flows.parquet")
	writeRows(t, x, pq, 60, func(i int, row *features.Row) string {
		for c := range row.Num {
			row.Num[c] = float64(i % (c + 2))
		}
		return []string{"BENIGN", "attack"}[i%2]
	})
	want, err := ReadFiles([]string{pq}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(pq)
	if err != nil {
		t.Fatal(err)
	}
	dat := filepath.Join(dir, "flows.dat")
	os.WriteFile(dat, b, 0o644)
	for _, format := range []string{"parquet", "auto"} {
		got, err := ReadFiles([]string{dat}, ReadOptions{Format: format})
		if err != nil {
			t.Fatalf("--format %s: %v", format, err)
		}
		sameFrame(t, want, got)
	}
	if _, err := ReadFiles([]string{dat}, ReadOptions{Format: "csv"}); err == nil || !strings.Contains(err.Error(), "a Parquet file") {
		t.Errorf("--format csv of a Parquet file: %v", err)
	}
	notPq := filepath.Join(dir, "x.parquet")
	os.WriteFile(notPq, []byte("x,Label\n1,a\n2,b\n"), 0o644)
	if _, err := ReadFiles([]string{notPq}, ReadOptions{Format: "parquet"}); err == nil || !strings.Contains(err.Error(), "not a Parquet file") {
		t.Errorf("--format parquet of a CSV: %v", err)
	}
}

// TestNSLKDDWithoutLabels: rows of the 41 NSL-KDD features alone (cut
// -d, -f1-41) failed predict ("41 fields, want 42 or 43"); predict reads
// them, and a labelled read says what they lack.
func TestNSLKDDWithoutLabels(t *testing.T) {
	labelled := nslkddHead(t, 200)
	b, err := os.ReadFile(labelled)
	if err != nil {
		t.Fatal(err)
	}
	var cut strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		cut.WriteString(strings.Join(strings.Split(line, ",")[:41], ",") + "\n")
	}
	path := filepath.Join(t.TempDir(), "features.txt")
	os.WriteFile(path, []byte(cut.String()), 0o644)
	f, err := ReadFiles([]string{labelled}, ReadOptions{NSLKDDClasses: 2})
	if err != nil {
		t.Fatal(err)
	}
	m := trainOrFatal(t, f, Config{Kind: "dt"})
	var want, got bytes.Buffer
	if _, err := PredictFiles(&want, m, []string{labelled}, ReadOptions{Unlabelled: true}.ForModel(m), 0, 64); err != nil {
		t.Fatal(err)
	}
	if _, err := PredictFiles(&got, m, []string{path}, ReadOptions{Unlabelled: true}.ForModel(m), 0, 64); err != nil {
		t.Fatalf("predict of 41 fields: %v", err)
	}
	// The same predictions, without the Label column.
	var wantNoLabel strings.Builder
	for i, line := range strings.Split(strings.TrimSpace(want.String()), "\n") {
		c := strings.Split(line, ",")
		if i == 0 && c[1] != "Label" {
			t.Fatalf("header %q", line)
		}
		wantNoLabel.WriteString(strings.Join(append(c[:1:1], c[2:]...), ",") + "\n")
	}
	if got.String() != wantNoLabel.String() {
		t.Errorf("predictions of the 41 fields differ from those of the labelled rows")
	}
	if _, err := ReadFiles([]string{path}, ReadOptions{NSLKDDClasses: 2}); err == nil || !strings.Contains(err.Error(), "41 features without a label") {
		t.Errorf("labelled read of 41 fields: %v", err)
	}
}

// TestIdentifierColumnsOverFiles: a text column of a few values in one file
// and one value a row in another was left out of the second file only,
// which then "missed" it (or, files the other way round, kept it); it is
// judged over all the files, and a column of a later file only is an
// error as one of an earlier file only is.
func TestIdentifierColumnsOverFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, host func(i int) string, extra bool) string {
		var b strings.Builder
		b.WriteString("x,host,Label")
		if extra {
			b.WriteString(",more")
		}
		b.WriteString("\n")
		for i := range 100 {
			fmt.Fprintf(&b, "%d,%s,%s", i%9, host(i), []string{"a", "b"}[i%2])
			if extra {
				b.WriteString(",1")
			}
			b.WriteString("\n")
		}
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(b.String()), 0o644)
		return p
	}
	a := write("hostA.csv", func(i int) string { return []string{"web", "db", "dns"}[i%3] }, false)
	b := write("hostB.csv", func(i int) string { return fmt.Sprintf("h%d", i) }, false)
	ba, err := ReadFiles([]string{b, a}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ab, err := ReadFiles([]string{a, b}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ab.Names, ba.Names) || !slices.Equal(ab.Names, []string{"x"}) {
		t.Errorf("columns %q and %q: want x alone either way (host: 103 values in 200 rows)", ab.Names, ba.Names)
	}
	c := write("hostC.csv", func(i int) string { return "web" }, true)
	for _, paths := range [][]string{{a, c}, {c, a}} {
		if _, err := ReadFiles(paths, ReadOptions{}); err == nil || !strings.Contains(err.Error(), `"more"`) {
			t.Errorf("%q: error %v, want one naming the column more", paths, err)
		}
	}
}

// TestWideColumnFreedEarly: a text column with more than 1000 values in
// one file is left out however the other files look, so ReadFiles frees
// its cells as soon as that file is read instead of holding every file's
// strings until the last (judging identifier-like columns over all files
// had made that column's memory grow with the whole data). The result is
// the same in either file order.
func TestWideColumnFreedEarly(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, rows int, host func(i int) string) string {
		var b strings.Builder
		b.WriteString("x,host,Label\n")
		for i := range rows {
			fmt.Fprintf(&b, "%d,%s,%s\n", i%9, host(i), []string{"a", "b"}[i%2])
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	wide := write("wide.csv", 1500, func(i int) string { return fmt.Sprintf("h%d", i) })
	few := write("few.csv", 3000, func(i int) string { return []string{"web", "db", "dns"}[i%3] })
	for _, paths := range [][]string{{wide, few}, {few, wide}} {
		// The frame after the files, before judgeColumns: read as
		// ReadFiles reads them.
		var out *Frame
		for _, p := range paths {
			f, err := readFile(p, ReadOptions{}, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if out == nil {
				out = f
				out.freeWide(out)
				continue
			}
			out.freeWide(f)
			if err := out.appendFrame(f); err != nil {
				t.Fatal(err)
			}
		}
		if c := out.Column("host"); !out.wide["host"] || len(out.Cat[c]) != 0 {
			t.Errorf("%q: host wide %v with %d cells held; want it marked and freed", paths, out.wide["host"], len(out.Cat[out.Column("host")]))
		}
		got, err := ReadFiles(paths, ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Names, []string{"x"}) || got.Rows != 4500 || len(got.Num[0]) != 4500 || len(got.Labels) != 4500 {
			t.Errorf("%q: columns %q, %d rows; want x alone and 4500 rows", paths, got.Names, got.Rows)
		}
	}
}

// TestReadFilesOrderIndependent checks that files whose column is text
// in one and numbers (or only missing cells, as a capture without any
// such value gives) in another read the same whichever comes first: the
// numbers-first order was refused ("numeric in one file and text in
// another") while the text-first order trained.
func TestReadFilesOrderIndependent(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "text.csv")
	empty := filepath.Join(dir, "empty.csv")
	nums := filepath.Join(dir, "nums.csv")
	os.WriteFile(text, []byte("proto,bytes,Label\ntcp,10,a\nudp,20,b\ntcp,30,a\nudp,40,b\n"), 0o644)
	os.WriteFile(empty, []byte("proto,bytes,Label\n,11,a\n,21,b\n"), 0o644)
	os.WriteFile(nums, []byte("proto,bytes,Label\n6,12,a\n17.0,22,b\n"), 0o644)
	for _, other := range []string{empty, nums} {
		ab, err := ReadFiles([]string{text, other}, ReadOptions{})
		if err != nil {
			t.Fatalf("text file first: %v", err)
		}
		ba, err := ReadFiles([]string{other, text}, ReadOptions{})
		if err != nil {
			t.Fatalf("%s first: %v", filepath.Base(other), err)
		}
		c, d := ab.Column("proto"), ba.Column("proto")
		if ab.Cat[c] == nil || ba.Cat[d] == nil {
			t.Fatalf("%s: proto is not text in both orders", filepath.Base(other))
		}
		// The same cells, the other file's first.
		n := len(ab.Cat[c]) - 4
		got := append(slices.Clone(ba.Cat[d][n:]), ba.Cat[d][:n]...)
		if !slices.Equal(got, ab.Cat[c]) {
			t.Errorf("%s: proto reads %q one way, %q the other", filepath.Base(other), ab.Cat[c], ba.Cat[d])
		}
	}
}
