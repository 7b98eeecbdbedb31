package classifier

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/flowhawk/flowhawk/internal/testshared"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// synthFrame builds a frame from numeric columns and labels.
func synthFrame(names []string, cols [][]float64, labels []string) *Frame {
	f := &Frame{Names: names, Num: cols, Cat: make([][]string, len(names)), Labels: labels, Rows: len(labels), Hash: "test"}
	return f
}

// quadrants: class = which quadrant of [0,1)^2, plus a noise column; the
// classes are separable by axis-aligned splits.
func quadrants(n int, seed uint64) *Frame {
	rng := rand.New(rand.NewPCG(seed, 7))
	x, y, z := make([]float64, n), make([]float64, n), make([]float64, n)
	labels := make([]string, n)
	for i := 0; i < n; i++ {
		x[i], y[i], z[i] = rng.Float64(), rng.Float64(), rng.Float64()
		c := 0
		if x[i] > 0.5 {
			c++
		}
		if y[i] > 0.3 {
			c += 2
		}
		labels[i] = fmt.Sprintf("q%d", c)
	}
	return synthFrame([]string{"x", "y", "noise"}, [][]float64{x, y, z}, labels)
}

func trainOrFatal(t testing.TB, f *Frame, cfg Config) *Model {
	t.Helper()
	m, err := Train(f, cfg)
	if err != nil {
		t.Fatalf("train %s: %v", cfg.Kind, err)
	}
	return m
}

func TestTreesSeparateSeparableDataExactly(t *testing.T) {
	f := quadrants(600, 1)
	for _, cfg := range []Config{{Kind: "dt"}, {Kind: "rf", Trees: 30}, {Kind: "gbdt", Trees: 60, MinSamplesLeaf: 1}} {
		m := trainOrFatal(t, f, cfg)
		met, err := m.Evaluate(f)
		if err != nil {
			t.Fatal(err)
		}
		if met.Accuracy != 1 {
			t.Errorf("%s: training accuracy %v on separable data, want 1", cfg.Kind, met.Accuracy)
		}
	}
	// a single tree needs exactly the two true thresholds: depth 2
	m := trainOrFatal(t, f, Config{Kind: "dt"})
	fo := m.est.(*forest)
	if got := len(fo.fd.nodes); got != 7 {
		t.Errorf("dt has %d nodes, want 7 (3 splits, 4 leaves)", got)
	}
	fresh := quadrants(400, 99)
	met, _ := m.Evaluate(fresh)
	if met.Accuracy < 0.98 {
		t.Errorf("dt accuracy on fresh quadrant data %v, want >= 0.98", met.Accuracy)
	}
}

func TestProbabilitiesSumToOne(t *testing.T) {
	f := quadrants(400, 2)
	for _, kind := range Kinds {
		m := trainOrFatal(t, f, Config{Kind: kind, Trees: 10})
		test := quadrants(50, 3)
		pr, err := m.PredictFrame(test)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < test.Rows; i++ {
			s := 0.0
			for _, v := range pr.Proba[i*pr.K : (i+1)*pr.K] {
				if v < 0 || v > 1 || math.IsNaN(v) {
					t.Fatalf("%s row %d: probability %v", kind, i, v)
				}
				s += v
			}
			if math.Abs(s-1) > 1e-9 {
				t.Fatalf("%s row %d: probabilities sum to %v", kind, i, s)
			}
		}
	}
}

func TestSaveLoadIdenticalPredictions(t *testing.T) {
	f := quadrants(300, 4)
	test := quadrants(200, 5)
	for _, kind := range Kinds {
		m := trainOrFatal(t, f, Config{Kind: kind, Trees: 15, Seed: 3})
		var buf bytes.Buffer
		if err := m.Save(&buf); err != nil {
			t.Fatal(err)
		}
		m2, err := Decode(buf.Bytes())
		if err != nil {
			t.Fatalf("%s: decode: %v", kind, err)
		}
		p1, _ := m.PredictFrame(test)
		p2, _ := m2.PredictFrame(test)
		if !reflect.DeepEqual(p1, p2) {
			t.Errorf("%s: predictions differ after save and load", kind)
		}
		var buf2 bytes.Buffer
		m2.Save(&buf2)
		if !bytes.Equal(buf.Bytes(), buf2.Bytes()) {
			t.Errorf("%s: re-saved model differs", kind)
		}
	}
}

func TestDeterministicWithSeedAcrossWorkers(t *testing.T) {
	f := quadrants(500, 6)
	for _, kind := range []string{"rf", "gbdt", "iforest", "lr"} {
		var outs [][]byte
		for _, w := range []int{1, 2, 3} {
			m := trainOrFatal(t, f, Config{Kind: kind, Trees: 20, Seed: 42, Workers: w})
			raw, err := m.est.marshal()
			if err != nil {
				t.Fatal(err)
			}
			outs = append(outs, raw)
		}
		if !bytes.Equal(outs[0], outs[1]) || !bytes.Equal(outs[0], outs[2]) {
			t.Errorf("%s: model differs between 1, 2 and 3 workers with the same seed", kind)
		}
	}
	a := trainOrFatal(t, f, Config{Kind: "rf", Trees: 5, Seed: 1})
	b := trainOrFatal(t, f, Config{Kind: "rf", Trees: 5, Seed: 2})
	ra, _ := a.est.marshal()
	rb, _ := b.est.marshal()
	if bytes.Equal(ra, rb) {
		t.Error("rf: different seeds gave the same forest")
	}
}

func TestScoreHandComputed(t *testing.T) {
	truth := []string{"a", "a", "a", "b", "b", "c", "c", "c", "c", "a"}
	pred := []string{"a", "b", "a", "b", "c", "c", "c", "a", "c", "a"}
	m := Score(truth, pred)
	want := [][]int{{3, 1, 0}, {0, 1, 1}, {1, 0, 3}}
	if !reflect.DeepEqual(m.Labels, []string{"a", "b", "c"}) || !reflect.DeepEqual(m.Confusion, want) {
		t.Fatalf("confusion %v %v, want %v", m.Labels, m.Confusion, want)
	}
	if m.Accuracy != 0.7 {
		t.Errorf("accuracy %v, want 0.7", m.Accuracy)
	}
	// a: P=3/4 R=3/4 F1=.75; b: P=1/2 R=1/2 F1=.5; c: P=3/4 R=3/4 F1=.75
	wantF1 := []float64{0.75, 0.5, 0.75}
	for i, c := range m.PerClass {
		if math.Abs(c.F1-wantF1[i]) > 1e-12 {
			t.Errorf("class %s F1 %v, want %v", c.Label, c.F1, wantF1[i])
		}
	}
	if math.Abs(m.MacroF1-2.0/3) > 1e-12 {
		t.Errorf("macro-F1 %v, want 2/3", m.MacroF1)
	}
	// a predicted label never true still counts in macro-F1 (as sklearn)
	m = Score([]string{"a", "a"}, []string{"a", "x"})
	if math.Abs(m.MacroF1-(2.0/3)/2) > 1e-12 {
		t.Errorf("macro-F1 with spurious label %v, want 1/3", m.MacroF1)
	}
}

func TestROCAUC(t *testing.T) {
	// pairs (pos,neg): pos scores .9,.4 ; neg .5,.1 -> 3 of 4 pairs ordered
	auc := ROCAUC([]float64{0.9, 0.4, 0.5, 0.1}, []bool{true, true, false, false})
	if auc != 0.75 {
		t.Errorf("AUC %v, want 0.75", auc)
	}
	if auc := ROCAUC([]float64{0.5, 0.5}, []bool{true, false}); auc != 0.5 {
		t.Errorf("tied AUC %v, want 0.5", auc)
	}
}

func TestROCAUCNaNScore(t *testing.T) {
	// A NaN score never equals itself, so the tie loop never advanced
	// past it: ROCAUC spun forever.
	done := make(chan float64, 1)
	go func() {
		done <- ROCAUC([]float64{0.1, math.NaN(), 0.9, 0.5}, []bool{false, true, true, false})
	}()
	select {
	case auc := <-done:
		if !math.IsNaN(auc) {
			t.Errorf("AUC %v with a NaN score, want NaN (undefined)", auc)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ROCAUC did not return with a NaN score")
	}
}

func TestNaiveBayesVarianceOverflow(t *testing.T) {
	// x*1e200: one squared deviation overflows; x*1.2e154: each fits, but
	// a class's sum of them does not. Both gave NaN probabilities.
	for _, scale := range []float64{1e200, 1.2e154} {
		f := quadrants(400, 5)
		for i := range f.Num[0] {
			f.Num[0][i] *= scale
		}
		_, err := Train(f, Config{Kind: "nb"})
		if err == nil || !strings.Contains(err.Error(), `column "x"`) || !strings.Contains(err.Error(), "overflows") {
			t.Errorf("x scaled by %g: error %v, want one saying the variance of column \"x\" overflows", scale, err)
		}
	}
	f := quadrants(400, 5)
	for i := range f.Num[0] {
		f.Num[0][i] *= 1e150 // large, but its variance fits
	}
	m := trainOrFatal(t, f, Config{Kind: "nb"})
	pr, err := m.PredictFrame(f)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range pr.Proba {
		if math.IsNaN(p) {
			t.Fatalf("probability %d is NaN", i)
		}
	}
}

func TestReadCICIDS2017AsPublished(t *testing.T) {
	dir := testshared.Path(t, "datasets/cicids2017")
	f, err := ReadFiles([]string{filepath.Join(dir, "Wednesday-workingHours.pcap_ISCX.sample1k.csv")}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Rows != 1000 {
		t.Errorf("rows %d, want 1000", f.Rows)
	}
	if len(f.Names) != 77 { // 79 columns less Label less the duplicate Fwd Header Length
		t.Errorf("%d feature columns, want 77", len(f.Names))
	}
	for _, n := range f.Names {
		if n != strings.TrimSpace(n) {
			t.Errorf("column %q not trimmed", n)
		}
	}
	c := f.Column("Flow Packets/s")
	inf, nan := 0, 0
	for _, v := range f.Num[c] {
		if math.IsInf(v, 1) {
			inf++
		}
	}
	for _, v := range f.Num[f.Column("Flow Bytes/s")] {
		if math.IsNaN(v) {
			nan++
		}
	}
	if inf != 1 || nan != 1 {
		t.Errorf("Infinity %d, NaN %d; want 1 and 1", inf, nan)
	}
	counts := map[string]int{}
	for _, l := range f.Labels {
		counts[l]++
	}
	if counts["BENIGN"] != 630 || counts["DoS Hulk"] != 332 {
		t.Errorf("label counts %v", counts)
	}
	g, err := ReadFiles([]string{filepath.Join(dir, "Friday-WorkingHours-Afternoon-DDos.pcap_ISCX.head299.TrafficLabelling.csv")}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"Flow ID", "Source IP", "Destination IP", "Timestamp", "Source Port"} {
		if g.Column(id) >= 0 {
			t.Errorf("identifier column %q kept as a feature", id)
		}
	}
	if g.Times == nil || g.Rows != 299 {
		t.Errorf("TrafficLabelling: rows %d, timestamps parsed %v", g.Rows, g.Times != nil)
	} else if got := time.Unix(int64(g.Times[0]), 0).UTC().Format("2006-01-02 15:04"); got != "2017-07-07 15:30" {
		// "7/7/2017 3:30": CIC-IDS2017's 12-hour clock without PM; read as
		// 03:30 the afternoon sorted before the morning in time-ordered cv.
		t.Errorf("TrafficLabelling: first time %s, want 2017-07-07 15:30", got)
	}
	// a model from the ML CSV applies to the TrafficLabelling layout by name
	m := trainOrFatal(t, f, Config{Kind: "rf", Trees: 10})
	met, err := m.Evaluate(g)
	if err != nil {
		t.Fatal(err)
	}
	if met.Accuracy < 0.5 {
		t.Errorf("accuracy on BENIGN TrafficLabelling rows %v", met.Accuracy)
	}
}

func TestWindows1252Labels(t *testing.T) {
	// CIC-IDS2017's published CSVs are Windows-1252: the label byte 0x96
	// is an en dash. Kept as it was, the class name is not UTF-8, and the
	// model file's JSON turns it into U+FFFD, so eval never matched it.
	const want = "Web Attack \u2013 Brute Force"
	dir := t.TempDir()
	write := func(name, dash, cafe string) string {
		var b strings.Builder
		b.WriteString("Flow Duration,Service,Label\n")
		for i := range 60 {
			if i%2 == 0 {
				fmt.Fprintf(&b, "%d,%s,BENIGN\n", 10+i, []string{"dns", cafe}[i%4/2])
			} else {
				fmt.Fprintf(&b, "%d,%s,Web Attack %s Brute Force\n", 1000+i, []string{"http", cafe}[i%4/2], dash)
			}
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	cp := write("cp1252.csv", "\x96", "caf\xe9")
	utf := write("utf8.csv", "\u2013", "caf\u00e9")
	f, err := ReadFiles([]string{cp}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Labels[1] != want {
		t.Fatalf("label %q, want %q", f.Labels[1], want)
	}
	if c := f.Cat[f.Column("Service")]; c == nil {
		t.Errorf("Service is not a text column")
	} else if c[2] != "caf\u00e9" {
		t.Errorf("Service cell %q, want %q", c[2], "caf\u00e9")
	}
	// Both encodings are one class.
	both, err := ReadFiles([]string{cp, utf}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	classes := map[string]int{}
	for _, l := range both.Labels {
		classes[l]++
	}
	if len(classes) != 2 || classes[want] != 60 {
		t.Errorf("classes %v of the two files, want BENIGN and %q, 60 each", classes, want)
	}
	m := trainOrFatal(t, f, Config{Kind: "dt"})
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	m2, err := Decode(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if met, err := m2.Evaluate(f); err != nil || met.Accuracy != 1 {
		t.Errorf("saved model on its training file: accuracy %v (%v), classes %q; want 1", met.Accuracy, err, m2.Classes)
	}
	// A JSON Lines file saved as Windows-1252 reads the same.
	jl := filepath.Join(dir, "cp1252.jsonl")
	os.WriteFile(jl, []byte("{\"x\": 1, \"Label\": \"Web Attack \x96 Brute Force\"}\n{\"x\": 2, \"Label\": \"BENIGN\"}\n"), 0o644)
	if g, err := ReadFiles([]string{jl}, ReadOptions{}); err != nil || g.Labels[0] != want {
		t.Errorf("JSON Lines label %q (%v), want %q", g.Labels, err, want)
	}
}

func TestReadNSLKDDLabelSchemes(t *testing.T) {
	dir := testshared.Path(t, "datasets/nsl-kdd")
	path := filepath.Join(dir, "KDDTest-21.txt")
	for classes, want := range map[int]int{2: 2, 5: 5, 0: 0} {
		f, err := ReadFiles([]string{path}, ReadOptions{NSLKDDClasses: classes})
		if err != nil {
			t.Fatal(err)
		}
		set := map[string]bool{}
		for _, l := range f.Labels {
			set[l] = true
		}
		if want > 0 && len(set) != want {
			t.Errorf("classes %d: %d labels %v", classes, len(set), set)
		}
		if want == 0 && len(set) < 20 {
			t.Errorf("all attack names: only %d labels", len(set))
		}
		if f.Rows != 11850 || len(f.Names) != 41 {
			t.Errorf("rows %d columns %d", f.Rows, len(f.Names))
		}
	}
}

func TestMissingColumnsNamed(t *testing.T) {
	f := quadrants(100, 8)
	m := trainOrFatal(t, f, Config{Kind: "dt"})
	g := synthFrame([]string{"x"}, [][]float64{f.Num[0]}, f.Labels)
	_, err := m.Evaluate(g)
	var mc *MissingColumnsError
	if !errors.As(err, &mc) || !reflect.DeepEqual(mc.Columns, []string{"y", "noise"}) {
		t.Fatalf("error %v, want missing y and noise", err)
	}
	if _, err := m.Bind([]string{"noise", "x"}); err == nil || !strings.Contains(err.Error(), `"y"`) {
		t.Fatalf("Bind error %v does not name y", err)
	}
}

func TestBinderPredictNoAllocConcurrent(t *testing.T) {
	f := quadrants(400, 9)
	m := trainOrFatal(t, f, Config{Kind: "rf", Trees: 20})
	b, err := m.Bind([]string{"extra", "noise", "y", "x"})
	if err != nil {
		t.Fatal(err)
	}
	row := []float64{7, 0.5, 0.9, 0.9} // x>.5, y>.3 -> q3
	c, conf := b.Predict(row)
	if b.Label(c) != "q3" || conf < 0.5 {
		t.Errorf("predicted %s (%v), want q3", b.Label(c), conf)
	}
	if a := testing.AllocsPerRun(200, func() { b.Predict(row) }); a != 0 && !raceEnabled {
		t.Errorf("Binder.Predict allocates %v times per row", a)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				if c, _ := b.Predict(row); b.Label(c) != "q3" {
					t.Error("concurrent predict differs")
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestCategoricalOneHotAndOrdinal(t *testing.T) {
	n := 300
	proto := make([]string, n)
	v := make([]float64, n)
	labels := make([]string, n)
	for i := range proto {
		proto[i] = []string{"tcp", "udp", "icmp"}[i%3]
		v[i] = float64(i % 7)
		labels[i] = "normal"
		if proto[i] == "icmp" {
			labels[i] = "attack"
		}
	}
	f := &Frame{Names: []string{"proto", "v", "const"}, Num: [][]float64{nil, v, make([]float64, n)},
		Cat: [][]string{proto, nil, nil}, Labels: labels, Rows: n}
	for _, kind := range []string{"dt", "lr", "nb", "knn", "gbdt"} {
		m := trainOrFatal(t, f, Config{Kind: kind, Trees: 20, MinSamplesLeaf: 1})
		if len(m.Pre.Dropped) != 1 || m.Pre.Dropped[0] != "const" {
			t.Errorf("%s: dropped %v, want const", kind, m.Pre.Dropped)
		}
		met, _ := m.Evaluate(f)
		if met.Accuracy != 1 {
			t.Errorf("%s: accuracy %v on protocol-determined labels", kind, met.Accuracy)
		}
		b, _ := m.Bind([]string{"proto", "v"})
		c, _ := b.Predict([]float64{b.Code(0, "icmp"), 3})
		if b.Label(c) != "attack" {
			t.Errorf("%s: icmp predicted %s", kind, b.Label(c))
		}
	}
}

func TestEarlyClassificationByPackets(t *testing.T) {
	// class is decided by packet 2's length; packet 1 is uninformative
	n := 400
	rng := rand.New(rand.NewPCG(1, 2))
	var names []string
	cols := make([][]float64, 0)
	for _, pre := range []string{"splt_len_", "splt_dir_"} {
		for k := 1; k <= 3; k++ {
			names = append(names, fmt.Sprintf("%s%d", pre, k))
			cols = append(cols, make([]float64, n))
		}
	}
	labels := make([]string, n)
	for i := 0; i < n; i++ {
		cols[0][i] = 60
		big := rng.IntN(2) == 1
		cols[1][i] = 100 + rng.Float64()*50
		labels[i] = "small"
		if big {
			cols[1][i] = 1000 + rng.Float64()*400
			labels[i] = "big"
		}
		cols[2][i] = rng.Float64() * 1500
		for k := 3; k < 6; k++ {
			cols[k][i] = 1
		}
	}
	f := synthFrame(names, cols, labels)
	m := trainOrFatal(t, f, Config{Kind: "rf", Trees: 20})
	if m.EarlyPackets != 3 {
		t.Fatalf("early packets %d, want 3", m.EarlyPackets)
	}
	res, err := m.EvaluateEarly(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || res[0].Accuracy > 0.8 || res[1].Accuracy < 0.98 || res[2].Accuracy != 1 {
		t.Errorf("accuracy by packets %+v: want <= 0.8 at 1 packet, >= 0.98 at 2, 1 at 3", res)
	}

	// A model trained when the readers spelled a numeric label "1.0" is
	// scored against labels "1" as EvaluateFiles scores it: every row
	// was wrong.
	for i, l := range f.Labels {
		f.Labels[i] = map[string]string{"small": "0", "big": "1"}[l]
	}
	m = trainOrFatal(t, f, Config{Kind: "rf", Trees: 20})
	for i, c := range m.Classes {
		m.Classes[i] = c + ".0"
	}
	if res, err = m.EvaluateEarly(f); err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || res[2].Accuracy != 1 {
		t.Errorf("classes %q on labels 0 and 1: accuracy by packets %+v, want 1 at 3", m.Classes, res)
	}
}

// TestEarlyPacketsAnySPLT checks that a model on splt_gap_k or splt_dir_k
// alone is judged by packets seen too: only splt_len_k used to count, and
// eval --by-packets refused such a model.
func TestEarlyPacketsAnySPLT(t *testing.T) {
	for _, c := range []struct {
		features []string
		want     int
	}{{[]string{"splt_gap_2", "splt_gap_5"}, 5}, {[]string{"splt_dir_3", "Flow Duration"}, 3}, {[]string{"splt_len_4", "splt_gap_7"}, 7}, {[]string{"count"}, 0}} {
		if got := earlyPackets(c.features); got != c.want {
			t.Errorf("earlyPackets(%q) = %d, want %d", c.features, got, c.want)
		}
	}
}

func TestTimeSplitNeverTrainsOnFuture(t *testing.T) {
	f := quadrants(100, 10)
	f.Times = make([]float64, 100)
	for i := range f.Times {
		f.Times[i] = float64(100 - i) // reverse file order
	}
	train, test, err := Splits(f, 4, "time", 1)
	if err != nil {
		t.Fatal(err)
	}
	for k := range train {
		maxTrain := math.Inf(-1)
		for _, r := range train[k] {
			maxTrain = math.Max(maxTrain, f.Times[r])
		}
		for _, r := range test[k] {
			if f.Times[r] <= maxTrain {
				t.Fatalf("fold %d tests row at %v not after training max %v", k, f.Times[r], maxTrain)
			}
		}
	}
	res, err := CrossValidate(f, []Config{{Kind: "dt"}, {Kind: "nb"}}, 3, "random", 1, nil)
	if err != nil || len(res) != 2 || len(res[0].Folds) != 3 {
		t.Fatalf("cv: %v %+v", err, res)
	}
}

func TestCVStratifiedFolds(t *testing.T) {
	counts := map[string]int{"a": 100, "b": 7, "c": 2, "d": 1}
	var labels []string
	for _, c := range []string{"a", "b", "c", "d"} {
		for range counts[c] {
			labels = append(labels, c)
		}
	}
	x := make([]float64, len(labels))
	for i := range x {
		x[i] = float64(i)
	}
	f := synthFrame([]string{"x"}, [][]float64{x}, labels)
	const k = 5
	train, test, err := Splits(f, k, "random", 1)
	if err != nil {
		t.Fatal(err)
	}
	tested := map[int]int{}
	for fo := range test {
		per := map[string]int{}
		for _, r := range test[fo] {
			per[labels[r]]++
			tested[r]++
		}
		trained := map[string]int{}
		for _, r := range train[fo] {
			trained[labels[r]]++
		}
		if len(train[fo])+len(test[fo]) != f.Rows {
			t.Errorf("fold %d: %d training and %d test rows of %d", fo+1, len(train[fo]), len(test[fo]), f.Rows)
		}
		// each fold its share: 20 of a, 1 or 2 of b, at most 1 of c, no d
		if per["a"] != 20 || per["b"] < 1 || per["b"] > 2 || per["c"] > 1 || per["d"] != 0 {
			t.Errorf("fold %d tests %v, want 20 a, 1-2 b, at most 1 c, no d", fo+1, per)
		}
		for c := range counts {
			if trained[c] == 0 {
				t.Errorf("fold %d trains on no row of class %s: %v", fo+1, c, trained)
			}
		}
	}
	for r := range f.Rows {
		if want := map[bool]int{true: 0, false: 1}[labels[r] == "d"]; tested[r] != want {
			t.Errorf("row %d (class %s) tested %d times, want %d", r, labels[r], tested[r], want)
		}
	}
	// Two classes, one of a single row: the fold that tested it trained
	// on one class and failed.
	bin := quadrants(300, 8)
	for i := range bin.Labels {
		bin.Labels[i] = "benign"
	}
	bin.Labels[17] = "lonely"
	if _, err := CrossValidate(bin, []Config{{Kind: "dt"}, {Kind: "lr"}}, 5, "random", 1, nil); err != nil {
		t.Errorf("cv with a single-row class: %v", err)
	}
}

func TestImportanceFindsInformativeColumns(t *testing.T) {
	f := quadrants(500, 11)
	m := trainOrFatal(t, f, Config{Kind: "rf", Trees: 20})
	imp, err := Importances(m, f, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if *imp[2].Impurity > *imp[0].Impurity || *imp[2].Permutation > 0.02 || *imp[0].Permutation < 0.2 {
		t.Errorf("noise column looks important: %+v %+v %+v", imp[0], imp[1], imp[2])
	}
}

func TestDecodeRejectsCorruptFiles(t *testing.T) {
	f := quadrants(100, 12)
	m := trainOrFatal(t, f, Config{Kind: "dt"})
	var buf bytes.Buffer
	m.Save(&buf)
	var obj map[string]any
	json.Unmarshal(buf.Bytes(), &obj)
	cases := map[string]func(){
		"foreign format": func() { obj["format"] = "sklearn-pickle" },
		"future version": func() { obj["version"] = 99 },
		"bad child": func() {
			obj["model"].(map[string]any)["trees"].(map[string]any)["child"].([]any)[0] = 1e6
		},
		"feature mismatch": func() { obj["features"] = []any{"a"} },
		// found by FuzzDecode: leaves of [2, -0.5] gave confidence 1.33
		"negative leaf": func() {
			v := obj["model"].(map[string]any)["trees"].(map[string]any)["values"].([]any)
			v[0], v[1] = 2, -0.5
		},
		"leaf over one": func() {
			v := obj["model"].(map[string]any)["trees"].(map[string]any)["values"].([]any)
			v[0], v[1] = 0.8, 0.7
		},
	}
	for name, mutate := range cases {
		json.Unmarshal(buf.Bytes(), &obj)
		mutate()
		b, _ := json.Marshal(obj)
		if _, err := Decode(b); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
	if _, err := Decode([]byte("PK\x03\x04")); err == nil || !strings.Contains(err.Error(), "not a flowhawk model") {
		t.Errorf("zip file: %v", err)
	}
}

// loadEdited saves a small forest, applies a hand edit to its JSON and
// returns the path of the edited file and Load's error for it.
func loadEdited(t *testing.T, edit func(obj map[string]any)) (string, error) {
	t.Helper()
	m := trainOrFatal(t, quadrants(100, 12), Config{Kind: "rf", Trees: 3})
	var buf bytes.Buffer
	m.Save(&buf)
	var obj map[string]any
	json.Unmarshal(buf.Bytes(), &obj)
	edit(obj)
	b, _ := json.Marshal(obj)
	path := filepath.Join(t.TempDir(), "edited.json")
	os.WriteFile(path, b, 0o644)
	_, err := Load(path)
	return path, err
}

func TestLoadRejectsDuplicateClasses(t *testing.T) {
	path, err := loadEdited(t, func(obj map[string]any) {
		classes := obj["classes"].([]any)
		classes[2] = classes[0] // q0, q1, q0, q3
	})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `class "q0"`) {
		t.Errorf("model with class q0 twice: error %v, want one naming the file and the class", err)
	}
}

// TestLoadRejectsDuplicateFeatures checks that a (hand-edited) model file
// naming a feature twice is refused: both would read one input column.
func TestLoadRejectsDuplicateFeatures(t *testing.T) {
	var name any
	path, err := loadEdited(t, func(obj map[string]any) {
		feats := obj["features"].([]any)
		cols := obj["preprocessing"].(map[string]any)["columns"].([]any)
		name = feats[0]
		feats[1] = name
		cols[1].(map[string]any)["name"] = name
	})
	want := fmt.Sprintf("feature %q appears twice", name)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
		t.Errorf("model naming feature %v twice: error %v, want one naming the file and %q", name, err, want)
	}
}

func FuzzDecode(f *testing.F) {
	fr := quadrants(60, 13)
	for _, kind := range Kinds {
		m, err := Train(fr, Config{Kind: kind, Trees: 3})
		if err != nil {
			f.Fatal(err)
		}
		var buf bytes.Buffer
		m.Save(&buf)
		f.Add(buf.Bytes())
	}
	gated, err := Train(gateFrame(), Config{Kind: "dt", Gate: []string{"protocol_type"}})
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	gated.Save(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte(`{"format":"flowhawk-model","version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		// A model that loads saves, and loads again as the same model: a
		// file that cannot survive flowhawk train's own save would be
		// lost at the next retrain or edit.
		var saved bytes.Buffer
		if err := m.Save(&saved); err != nil {
			t.Fatalf("%s model decodes but does not save: %v", m.Kind, err)
		}
		m2, err := Decode(saved.Bytes())
		if err != nil {
			t.Fatalf("%s model decodes and saves, the saved file does not decode: %v", m.Kind, err)
		}
		raw := make([]float64, len(m.Features()))
		for _, v := range []float64{0, -1, 1e300, math.Inf(1), math.NaN()} {
			for i := range raw {
				raw[i] = v
			}
			c, p := m.Predict(raw)
			if c < 0 || c >= m.NumClasses() {
				t.Fatalf("%s model predicts class %d of %d for inputs %v", m.Kind, c, m.NumClasses(), v)
			}
			if math.IsNaN(p) || p > 1+1e-9 {
				t.Fatalf("%s model gives confidence %v for inputs %v", m.Kind, p, v)
			}
			if c2, p2 := m2.Predict(raw); c2 != c || p2 != p {
				t.Fatalf("%s model predicts %d (%v) for inputs %v, saved and decoded again %d (%v)", m.Kind, c, p, v, c2, p2)
			}
			m.Allows(raw, c) // the gate reads category codes: any value must do
		}
	})
}

func TestNSLKDDForestSanity(t *testing.T) {
	dir := testshared.Path(t, "datasets/nsl-kdd")
	tr, err := ReadFiles([]string{filepath.Join(dir, "KDDTrain+_20Percent.txt")}, ReadOptions{NSLKDDClasses: 2})
	if err != nil {
		t.Fatal(err)
	}
	te, err := ReadFiles([]string{filepath.Join(dir, "KDDTest+.txt")}, ReadOptions{NSLKDDClasses: 2})
	if err != nil {
		t.Fatal(err)
	}
	m := trainOrFatal(t, tr, Config{Kind: "rf", Trees: 20, Seed: 1})
	met, err := m.Evaluate(te)
	if err != nil {
		t.Fatal(err)
	}
	// published random forests score 0.75-0.80 on KDDTest+ (2 classes)
	if met.Accuracy < 0.72 || met.AUC == nil || *met.AUC < 0.85 {
		t.Errorf("rf on KDDTest+: accuracy %v AUC %v", met.Accuracy, met.AUC)
	}
}

func TestReadOnlyColumns(t *testing.T) {
	dir := testshared.Path(t, "datasets/cicids2017")
	f, err := ReadFiles([]string{filepath.Join(dir, "Wednesday-workingHours.pcap_ISCX.sample1k.csv")},
		ReadOptions{Only: []string{"Flow IAT*", "Destination Port"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Destination Port", "Flow IAT Mean", "Flow IAT Std", "Flow IAT Max", "Flow IAT Min"}
	if !reflect.DeepEqual(f.Names, want) {
		t.Errorf("columns %v, want %v", f.Names, want)
	}
	if _, err := ReadFiles([]string{filepath.Join(dir, "Wednesday-workingHours.pcap_ISCX.sample1k.csv")},
		ReadOptions{Only: []string{"splt_*"}}); err == nil {
		t.Error("no error when --only matches nothing")
	}
	// One pattern that matches nothing is an error too, naming it: "*Std"
	// kept no column, silently, beside ones that did.
	if _, err := ReadFiles([]string{filepath.Join(dir, "Wednesday-workingHours.pcap_ISCX.sample1k.csv")},
		ReadOptions{Only: []string{"Flow IAT*", "*Std", "Destination Port"}}); err == nil || !strings.Contains(err.Error(), `["*Std"] matches no column`) {
		t.Errorf("error %v, want one naming *Std", err)
	}
}

func FuzzReadCSV(f *testing.F) {
	f.Add([]byte(" Destination Port, Flow Duration, Label\n80,Infinity,BENIGN\n443,NaN,DoS\n"))
	f.Add([]byte("a,b,Label\n1,x,y\n2,,z\n"))
	f.Add([]byte("0,tcp,http,SF,1,2,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,1,1,0,0,0,0,1,0,0,1,1,1,0,0,0,0,0,0,0,normal,21\n"))
	f.Add([]byte("{\"x\":1,\"Label\":\"a\"}\n{\"x\":2,\"Label\":\"b\"}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "in.csv")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		fr, err := ReadFiles([]string{path}, ReadOptions{NSLKDDClasses: 2})
		if err != nil {
			return
		}
		if len(fr.Labels) != fr.Rows {
			t.Fatalf("%d labels for %d rows", len(fr.Labels), fr.Rows)
		}
		for c := range fr.Names {
			if (fr.Num[c] == nil) == (fr.Cat[c] == nil) {
				t.Fatalf("column %q is both or neither numeric and text", fr.Names[c])
			}
			if fr.Num[c] != nil && len(fr.Num[c]) != fr.Rows || fr.Cat[c] != nil && len(fr.Cat[c]) != fr.Rows {
				t.Fatalf("column %q has a different length", fr.Names[c])
			}
		}
		m, err := Train(fr, Config{Kind: "dt"})
		if err != nil {
			return
		}
		m.Evaluate(fr)
		// Read a few rows at a time, predict gives what the whole read
		// gives, where that succeeds.
		opt := ReadOptions{NSLKDDClasses: 2, Unlabelled: true}
		whole, err := ReadFiles([]string{path}, opt)
		if err != nil {
			return
		}
		var want, got bytes.Buffer
		if err := WritePredictions(&want, m, whole, 0.5); err != nil {
			return
		}
		if _, err := PredictFiles(&got, m, []string{path}, opt, 0.5, 3); err != nil {
			t.Fatalf("chunked predict: %v, where the whole read predicted", err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("chunked predictions\n%s\nwhole\n%s", got.Bytes(), want.Bytes())
		}
	})
}

// TestTrainRejectsBadSettings checks that settings no model can use are
// errors naming the flag: --trees -1 crashed the forest, and a negative
// learning rate or iteration count trained a useless model silently.
func TestTrainRejectsBadSettings(t *testing.T) {
	f := quadrants(60, 1)
	for _, c := range []struct {
		cfg  Config
		flag string
	}{
		{Config{Kind: "rf", Trees: -1}, "--trees"},
		{Config{Kind: "iforest", Trees: -3}, "--trees"},
		{Config{Kind: "gbdt", LearningRate: -1}, "--learning-rate"},
		{Config{Kind: "gbdt", L2: math.NaN()}, "--l2"},
		{Config{Kind: "lr", MaxIter: -1}, "--max-iter"},
		{Config{Kind: "lr", L2: -1}, "--l2"},
		{Config{Kind: "knn", K: -2}, "--k"},
		{Config{Kind: "knn", K: 61}, "--k"},
		{Config{Kind: "nb", VarSmoothing: -1}, "--var-smoothing"},
		{Config{Kind: "iforest", Subsample: -5}, "--subsample"},
		{Config{Kind: "iforest", Contamination: 0.7}, "--contamination"},
		{Config{Kind: "rf", MaxDepth: -1}, "--max-depth"},
		{Config{Kind: "rf", MinSamplesLeaf: -4}, "--min-samples-leaf"},
		{Config{Kind: "rf", MaxFeatures: -1}, "--max-features"},
		{Config{Kind: "rf", Workers: -1}, "--workers"},
		{Config{Kind: "rf", ClassWeight: "heavy"}, "--class-weight"},
		// every row counted as normal, so anomaly was always Unknown
		{Config{Kind: "iforest", Gate: []string{"proto"}}, "--gate"},
	} {
		_, err := Train(f, c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.flag+" ") {
			t.Errorf("%+v: error %v, want one naming %s", c.cfg, err, c.flag)
		}
	}
	if _, err := Train(f, Config{Kind: "knn", K: 60}); err != nil {
		t.Errorf("knn with k = rows: %v", err)
	}
}

// TestKNNClassWeight checks that --class-weight balanced weights the knn
// vote (it was ignored, while the model file said it was applied), that
// the weights survive a save and load, and that iforest, which learns no
// classes, records none.
func TestKNNClassWeight(t *testing.T) {
	var v []float64
	var labels []string
	for i := range 100 {
		v = append(v, float64(i)/100)
		labels = append(labels, "A")
	}
	v = append(v, 2, 2.02)
	labels = append(labels, "B", "B")
	f := synthFrame([]string{"v"}, [][]float64{v}, labels)
	q := synthFrame([]string{"v"}, [][]float64{{1.9}}, []string{"B"})
	for _, c := range []struct {
		weight string
		want   string
	}{{"none", "A"}, {"balanced", "B"}} {
		m := trainOrFatal(t, f, Config{Kind: "knn", K: 5, ClassWeight: c.weight})
		var buf bytes.Buffer
		if err := m.Save(&buf); err != nil {
			t.Fatal(err)
		}
		m2, err := Decode(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		for _, mm := range []*Model{m, m2} {
			p, _ := mm.PredictFrame(q)
			if got := mm.Classes[p.Class[0]]; got != c.want {
				t.Errorf("class weight %s: predicted %s, want %s", c.weight, got, c.want)
			}
		}
	}
	m := trainOrFatal(t, f, Config{Kind: "iforest", Trees: 10, ClassWeight: "balanced"})
	if m.Config.ClassWeight != "none" {
		t.Errorf("iforest records class weight %q", m.Config.ClassWeight)
	}
}

// TestStrayTextInNumberColumn checks that one unreadable cell in a column
// of numbers is an error naming the column, row and cell, where training
// made the column categorical without a word (eval and predict refused
// the same cell); a column that is text throughout stays categorical.
func TestStrayTextInNumberColumn(t *testing.T) {
	var b strings.Builder
	b.WriteString("Flow Duration,service,Label\n")
	for i := range 200 {
		d := strconv.Itoa(1000 + i*37)
		if i == 57 {
			d = "abc"
		}
		fmt.Fprintf(&b, "%s,%s,%s\n", d, []string{"http", "dns", "ssh"}[i%3], []string{"BENIGN", "DoS"}[i%2])
	}
	path := filepath.Join(t.TempDir(), "ds.csv")
	os.WriteFile(path, []byte(b.String()), 0o644)
	_, err := ReadFiles([]string{path}, ReadOptions{})
	if err == nil || !strings.Contains(err.Error(), `column "Flow Duration": data row 58 has "abc"`) {
		t.Fatalf("error %v, want one naming the column, row 58 and the cell", err)
	}
	fixed := strings.Replace(b.String(), "abc,", ",", 1) // empty: a missing value
	os.WriteFile(path, []byte(fixed), 0o644)
	f, err := ReadFiles([]string{path}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Num[0] == nil || f.Cat[1] == nil {
		t.Errorf("Flow Duration numeric %v, service categorical %v", f.Num[0] != nil, f.Cat[1] != nil)
	}
}

// TestCVTableSaysFoldsWithAUC: ROC AUC exists only for folds whose model
// has two classes (a time split's early folds may have seen only two of
// three). The table showed the mean of one fold as "0.9524 ± 0.0000" as if
// every fold agreed; it now says over how many folds the mean was taken.
func TestCVTableSaysFoldsWithAUC(t *testing.T) {
	auc := 0.9524
	one := func(a *float64) FoldResult { return FoldResult{Accuracy: 1, MacroF1: 1, AUC: a} }
	some := CVResult{Kind: "rf", Folds: []FoldResult{one(nil), one(nil), one(&auc)},
		AUC: &Stat{Mean: auc, N: 1}}
	all := CVResult{Kind: "dt", Folds: []FoldResult{one(&auc), one(&auc)}, AUC: &Stat{Mean: auc, N: 2}}
	var b strings.Builder
	WriteCVTable(&b, []CVResult{some, all})
	lines := strings.Split(b.String(), "\n")
	if !strings.Contains(lines[1], "0.9524 ± 0.0000 (1 of 3 folds)") {
		t.Errorf("rf row %q does not say the AUC is of 1 of 3 folds", lines[1])
	}
	if strings.Contains(lines[2], "folds)") || !strings.Contains(lines[2], "0.9524 ± 0.0000") {
		t.Errorf("dt row %q: want the AUC without a fold count (every fold has one)", lines[2])
	}
}

// TestEmptyLabelsAndBlankRows: a row of empty cells (",,,") is no row, and
// a row whose label cell is empty is an error naming it for train and eval,
// where it became a class named "". predict copies labels as they are.
func TestEmptyLabelsAndBlankRows(t *testing.T) {
	var b strings.Builder
	b.WriteString("Flow Duration,Total Fwd Packets,Label\n")
	for i := range 40 {
		fmt.Fprintf(&b, "%d,%d,%s\n", i, i%3, []string{"BENIGN", "DoS"}[i%2])
	}
	b.WriteString(",,\n , ,\n,,\n")
	dir := t.TempDir()
	path := filepath.Join(dir, "blank.csv")
	os.WriteFile(path, []byte(b.String()), 0o644)
	f, err := ReadFiles([]string{path}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Rows != 40 || len(f.Labels) != 40 {
		t.Fatalf("%d rows, %d labels; want 40", f.Rows, len(f.Labels))
	}
	noLabel := strings.Replace(b.String(), "7,1,DoS\n", "7,1,\n", 1)
	path = filepath.Join(dir, "nolabel.csv")
	os.WriteFile(path, []byte(noLabel), 0o644)
	if _, err := ReadFiles([]string{path}, ReadOptions{}); err == nil || !strings.Contains(err.Error(), "data row 8 has no label") {
		t.Errorf("error %v, want one naming data row 8", err)
	}
	if f, err := ReadFiles([]string{path}, ReadOptions{Unlabelled: true}); err != nil || f.Labels[7] != "" {
		t.Errorf("predict's read: %v", err)
	}
	jpath := filepath.Join(dir, "nolabel.jsonl")
	os.WriteFile(jpath, []byte(`{"Flow Duration":1,"Label":"BENIGN"}`+"\n"+`{"Flow Duration":2,"Label":null}`+"\n"), 0o644)
	if _, err := ReadFiles([]string{jpath}, ReadOptions{}); err == nil || !strings.Contains(err.Error(), "data row 2 has no label") {
		t.Errorf("JSON Lines: error %v, want one naming data row 2", err)
	}
}

// TestClassNamedUnknownWarns: a class named Unknown (a --label-dir
// directory of traffic nobody identified) reads in predict, replay and
// capture output like a flow below --min-confidence; training says so.
func TestClassNamedUnknownWarns(t *testing.T) {
	var logged bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	f := quadrants(60, 2)
	trainOrFatal(t, f, Config{Kind: "dt"})
	if strings.Contains(logged.String(), "named Unknown") {
		t.Errorf("warning without a class named Unknown: %s", logged.String())
	}
	for i, l := range f.Labels {
		if l == f.Labels[0] {
			f.Labels[i] = Unknown
		}
	}
	trainOrFatal(t, f, Config{Kind: "dt"})
	if !strings.Contains(logged.String(), "a class is named Unknown") {
		t.Errorf("no warning: %q", logged.String())
	}
}

// TestTrainScoredMatchesEvaluate checks that the training-data metrics
// TrainScored takes from its encoded matrix are those Evaluate gives on the
// frame, for every kind (one-hot, standardized and ordinal encodings,
// categorical columns, a gate, iforest's mapped labels), and that the
// model is the one Train fits.
func TestTrainScoredMatchesEvaluate(t *testing.T) {
	dir := testshared.Path(t, "datasets/nsl-kdd")
	f, err := ReadFiles([]string{filepath.Join(dir, "KDDTest-21.txt")}, ReadOptions{NSLKDDClasses: 5})
	if err != nil {
		t.Fatal(err)
	}
	f = f.Subset(func() []int {
		rows := make([]int, 3000)
		for i := range rows {
			rows[i] = i * 3
		}
		return rows
	}())
	for _, cfg := range []Config{
		{Kind: "rf", Trees: 5, Seed: 1, Gate: []string{"protocol_type"}}, {Kind: "dt"}, {Kind: "gbdt", Trees: 5},
		{Kind: "lr", MaxIter: 20}, {Kind: "nb"}, {Kind: "knn", K: 3}, {Kind: "iforest", Trees: 10, Seed: 1},
		{Kind: "rf", Trees: 3, ClassWeight: "balanced", Seed: 2},
	} {
		m, met, err := TrainScored(f, cfg)
		if err != nil {
			t.Fatalf("%s: %v", cfg.Kind, err)
		}
		want, err := m.Evaluate(f)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(met, want) {
			t.Errorf("%s: TrainScored's metrics\n%+v\nEvaluate's\n%+v", cfg.Kind, met, want)
		}
		m2 := trainOrFatal(t, f, cfg)
		var a, b bytes.Buffer
		m.Train.Seconds, m.Train.Time, m2.Train.Seconds, m2.Train.Time = 0, "", 0, ""
		if err := m.Save(&a); err != nil {
			t.Fatal(err)
		}
		if err := m2.Save(&b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: TrainScored's model differs from Train's", cfg.Kind)
		}
	}
}

// TestCVSingleClassFolds checks that cross-validation refuses data of one
// class, and time folds whose training rows are all one class (a dataset
// of one capture per class), before training, with the way out: the error
// came from the first model's first fold and said only "training data has
// a single class".
func TestCVSingleClassFolds(t *testing.T) {
	n := 60
	x := make([]float64, n)
	times := make([]float64, n)
	labels := make([]string, n)
	for i := range n {
		x[i], times[i] = float64(i%7), float64(i)
		labels[i] = "Scan"
		if i >= n/2 {
			labels[i] = "Browser"
		}
	}
	f := synthFrame([]string{"x"}, [][]float64{x}, labels)
	f.Times = times
	_, err := CrossValidate(f, []Config{{Kind: "dt"}}, 5, "time", 1, nil)
	if err == nil || !strings.Contains(err.Error(), "--split random") || !strings.Contains(err.Error(), `"Scan"`) {
		t.Errorf("time folds of one class: %v, want a hint at --split random", err)
	}
	if _, err := CrossValidate(f, []Config{{Kind: "dt"}}, 5, "random", 1, nil); err != nil {
		t.Errorf("random folds: %v", err)
	}
	one := synthFrame([]string{"x"}, [][]float64{x}, slices.Repeat([]string{"BENIGN"}, n))
	if _, err := CrossValidate(one, []Config{{Kind: "dt"}}, 5, "random", 1, nil); err == nil || !strings.Contains(err.Error(), `data has a single class "BENIGN"`) {
		t.Errorf("one class: %v", err)
	}
}

// TestReadCaptureAsData checks that a capture or a compressed file given
// as flow data is named for what it is: it read as a CSV with a nonsense
// header ("no label column", "57 fields, header has 1").
func TestReadCaptureAsData(t *testing.T) {
	dir := t.TempDir()
	for name, head := range map[string][]byte{
		"c.pcap":   {0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0},
		"c.pcapng": {0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0},
		"f.csv.gz": {0x1f, 0x8b, 8, 0, 0, 0, 0, 0},
		"f.zst":    {0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0},
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, append(head, make([]byte, 64)...), 0o644)
		_, err := ReadFiles([]string{p}, ReadOptions{})
		want := "packet capture"
		if strings.Contains(name, ".gz") {
			want = "gzip"
		} else if strings.Contains(name, ".zst") {
			want = "zstd"
		}
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v, want an error naming the file and %q", name, err, want)
		}
	}
}

// TestSaveFileReplacesWhole checks that a model file is replaced whole
// through a renamed temporary file (a run killed mid-write left a
// truncated model): the mode of an existing file and a symlink to it are
// kept, and no temporary file is left behind.
func TestSaveFileReplacesWhole(t *testing.T) {
	m := trainOrFatal(t, quadrants(200, 1), Config{Kind: "dt"})
	dir := t.TempDir()
	path := filepath.Join(dir, "m.json")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	if err := m.SaveFile(link); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced: %v %v", st.Mode(), err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v (%v), want the existing 0600", st.Mode(), err)
	}
	if _, err := Load(path); err != nil {
		t.Errorf("load: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("%d files in the directory, want the model and the link", len(ents))
	}
	if err := m.SaveFile(filepath.Join(dir, "no", "m.json")); err == nil {
		t.Error("saving into a missing directory: no error")
	}
}

// TestOverflowingScoresGiveProbabilities checks that an lr or nb file whose
// finite parameters were edited so that class scores overflow gives
// confidences in [0, 1], not NaN: a NaN confidence passed --min-confidence,
// and predict named the class ("dns,NaN") where replay wrote Unknown.
func TestOverflowingScoresGiveProbabilities(t *testing.T) {
	fr := quadrants(200, 5)
	for _, tc := range []struct {
		kind string
		edit func(mod map[string]any)
	}{
		{"lr", func(mod map[string]any) { // Inf-Inf and +Inf in the dot products
			w := mod["weights"].([]any)
			for i := range w {
				w[i] = 1e308
				if i%2 == 1 {
					w[i] = -1e308
				}
			}
		}},
		{"nb", func(mod map[string]any) { // every class's likelihood underflows to -Inf
			v := mod["var"].([]any)
			for i := range v {
				v[i] = 1e-300
			}
		}},
	} {
		m := trainOrFatal(t, fr, Config{Kind: tc.kind})
		var buf bytes.Buffer
		m.Save(&buf)
		var obj map[string]any
		json.Unmarshal(buf.Bytes(), &obj)
		tc.edit(obj["model"].(map[string]any))
		b, _ := json.Marshal(obj)
		em, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: edited file: %v", tc.kind, err)
		}
		proba := make([]float64, em.NumClasses())
		for _, v := range []float64{0, 1, -1, 1e300, -1e300} {
			raw := []float64{v, -v, v}
			em.PredictRaw(raw, proba)
			s := 0.0
			for c, p := range proba {
				if !(p >= 0 && p <= 1) {
					t.Fatalf("%s: inputs %v: class %d probability %v", tc.kind, raw, c, p)
				}
				s += p
			}
			if math.Abs(s-1) > 1e-9 {
				t.Errorf("%s: inputs %v: probabilities sum to %v", tc.kind, raw, s)
			}
		}
		pr, err := em.PredictFrame(fr)
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range pr.Class {
			if p := pr.Proba[i*pr.K+c]; !(p >= 0 && p <= 1) {
				t.Fatalf("%s: row %d: confidence %v", tc.kind, i, p)
			}
		}
	}
}

// TestEditedTreeShapesNameTheField checks that a tree model file whose class
// list, leaf width or init disagree names the field: a class list cut
// short read "forest classes: got 3, want 3".
func TestEditedTreeShapesNameTheField(t *testing.T) {
	fr := quadrants(200, 5)
	for _, tc := range []struct {
		kind, want string
		edit       func(obj, mod map[string]any)
	}{
		{"rf", "trees.leaf_width is 4 but the file lists 3 classes", func(obj, mod map[string]any) {
			obj["classes"] = obj["classes"].([]any)[:3]
			mod["classes"] = 3
		}},
		{"rf", "model.classes is 4 but the file lists 3 classes", func(obj, mod map[string]any) {
			obj["classes"] = obj["classes"].([]any)[:3]
		}},
		{"gbdt", "init has 3 values, want 4", func(obj, mod map[string]any) {
			mod["init"] = mod["init"].([]any)[:3]
		}},
		{"gbdt", "trees.leaf_width is 2, want 1", func(obj, mod map[string]any) {
			mod["trees"].(map[string]any)["leaf_width"] = 2
		}},
	} {
		m := trainOrFatal(t, fr, Config{Kind: tc.kind, Trees: 3})
		var buf bytes.Buffer
		m.Save(&buf)
		var obj map[string]any
		json.Unmarshal(buf.Bytes(), &obj)
		tc.edit(obj, obj["model"].(map[string]any))
		b, _ := json.Marshal(obj)
		if _, err := Decode(b); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", tc.kind, err, tc.want)
		}
	}
}
