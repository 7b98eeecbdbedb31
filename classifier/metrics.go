package classifier

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
)

// ClassMetrics are per-class precision, recall and F1.
type ClassMetrics struct {
	Label     string  `json:"label"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int     `json:"support"`
}

// Metrics summarise predictions against true labels.
type Metrics struct {
	Rows     int            `json:"rows"`
	Accuracy float64        `json:"accuracy"`
	MacroF1  float64        `json:"macro_f1"`
	PerClass []ClassMetrics `json:"per_class"`
	// Labels index the confusion matrix rows (true) and columns (predicted).
	Labels    []string `json:"labels"`
	Confusion [][]int  `json:"confusion"`
	// AUC is the ROC AUC of the positive class for binary models.
	AUC         *float64 `json:"roc_auc,omitempty"`
	PositiveFor string   `json:"auc_positive_class,omitempty"`
}

// Score computes metrics from true and predicted labels. Macro-F1
// averages over every label that occurs as truth or prediction, as
// scikit-learn's f1_score(average="macro") does.
func Score(truth, pred []string) *Metrics {
	set := map[string]bool{}
	for i := range truth {
		set[truth[i]] = true
		set[pred[i]] = true
	}
	labels := make([]string, 0, len(set))
	for l := range set {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	idx := map[string]int{}
	for i, l := range labels {
		idx[l] = i
	}
	m := &Metrics{Rows: len(truth), Labels: labels, Confusion: make([][]int, len(labels))}
	for i := range m.Confusion {
		m.Confusion[i] = make([]int, len(labels))
	}
	correct := 0
	for i := range truth {
		m.Confusion[idx[truth[i]]][idx[pred[i]]]++
		if truth[i] == pred[i] {
			correct++
		}
	}
	if len(truth) > 0 {
		m.Accuracy = float64(correct) / float64(len(truth))
	}
	for i, l := range labels {
		tp := m.Confusion[i][i]
		rowSum, colSum := 0, 0
		for j := range labels {
			rowSum += m.Confusion[i][j]
			colSum += m.Confusion[j][i]
		}
		cm := ClassMetrics{Label: l, Support: rowSum}
		if colSum > 0 {
			cm.Precision = float64(tp) / float64(colSum)
		}
		if rowSum > 0 {
			cm.Recall = float64(tp) / float64(rowSum)
		}
		if cm.Precision+cm.Recall > 0 {
			cm.F1 = 2 * cm.Precision * cm.Recall / (cm.Precision + cm.Recall)
		}
		m.PerClass = append(m.PerClass, cm)
		m.MacroF1 += cm.F1
	}
	if len(labels) > 0 {
		m.MacroF1 /= float64(len(labels))
	}
	return m
}

// ROCAUC is the area under the ROC curve of scores for positives
// (Mann-Whitney with tied scores counted half). NaN without both classes,
// and when a score is NaN: it has no rank (and would never tie itself).
func ROCAUC(scores []float64, positive []bool) float64 {
	n := len(scores)
	for _, s := range scores {
		if math.IsNaN(s) {
			return math.NaN()
		}
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return scores[order[a]] < scores[order[b]] })
	var np, nn float64
	rankSum := 0.0
	for i := 0; i < n; {
		j := i
		for j < n && scores[order[j]] == scores[order[i]] {
			j++
		}
		r := float64(i+j+1) / 2 // average 1-based rank
		for t := i; t < j; t++ {
			if positive[order[t]] {
				rankSum += r
				np++
			} else {
				nn++
			}
		}
		i = j
	}
	if np == 0 || nn == 0 {
		return math.NaN()
	}
	return (rankSum - np*(np+1)/2) / (np * nn)
}

// Predictions holds per-row output of a model over a frame.
type Predictions struct {
	Class []int
	Proba []float64 // rows * classes
	K     int
	// Gated marks rows whose class the model's gate (Config.Gate) does
	// not allow; nil for a model without a gate.
	Gated []bool
}

// PredictFrame runs the model over every row of the frame in parallel.
// The frame must have all model features (error names missing ones).
func (m *Model) PredictFrame(f *Frame) (*Predictions, error) {
	src, err := m.Pre.source(f)
	if err != nil {
		return nil, err
	}
	return m.predictSource(src.fill, f.Rows, false), nil
}

func (m *Model) predictCodes(raw []float64, n int) *Predictions {
	nc := len(m.Pre.Columns)
	return m.predictSource(func(r int, buf []float64) { copy(buf, raw[r*nc:(r+1)*nc]) }, n, false)
}

// predictSource predicts rows 0..n-1 that fill writes into a buffer: raw
// rows (Features order, category codes), or with encoded rows of the
// encoded matrix the model trained on, which skip the preprocessing and
// the gate (Gated stays nil).
func (m *Model) predictSource(fill func(r int, buf []float64), n int, encoded bool) *Predictions {
	k := len(m.Classes)
	nc := len(m.Pre.Columns)
	if encoded {
		nc = m.Pre.Width()
	}
	pr := &Predictions{Class: make([]int, n), Proba: make([]float64, n*k), K: k}
	if m.support != nil && !encoded {
		pr.Gated = make([]bool, n)
	}
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*n/workers, (w+1)*n/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]float64, nc)
			var ws *workspace
			if encoded {
				ws = m.pool.Get().(*workspace)
				defer m.pool.Put(ws)
			}
			for i := lo; i < hi; i++ {
				out := pr.Proba[i*k : i*k+k]
				fill(i, buf)
				if encoded {
					m.est.predict(buf, out, ws)
				} else {
					m.PredictRaw(buf, out)
				}
				pr.Class[i], _ = argmax(out)
				if pr.Gated != nil {
					pr.Gated[i] = !m.Allows(buf, pr.Class[i])
				}
			}
		}()
	}
	wg.Wait()
	return pr
}

// positiveClass is the class scored by ROC AUC for a binary model: the one
// that is not normal/benign, else the second.
func (m *Model) positiveClass() int {
	if len(m.Classes) != 2 {
		return -1
	}
	if anomalyClass(m.Classes[0]) == 1 && anomalyClass(m.Classes[1]) == 0 {
		return 0
	}
	return 1
}

// TrueLabels returns the frame's labels as the model names them (the
// isolation forest maps them to normal/anomaly).
func (m *Model) TrueLabels(f *Frame) []string {
	if m.Kind != "iforest" {
		return f.Labels
	}
	out := make([]string, len(f.Labels))
	for i, l := range f.Labels {
		out[i] = m.Classes[anomalyClass(l)]
	}
	return out
}

// Evaluate predicts the frame and scores against its labels.
func (m *Model) Evaluate(f *Frame) (*Metrics, error) {
	e := m.newEvaluation(false)
	if err := e.add(f); err != nil {
		return nil, err
	}
	return e.metrics(), nil
}

// evaluation gathers what Evaluate and EvaluateEarly score, a frame at a
// time: each row's true and predicted label (strings shared with the
// classes and the reader's labels) and, for a binary model, its score,
// not the rows themselves.
type evaluation struct {
	m      *Model
	pc     int // positiveClass, -1 for none
	truth  []string
	pred   []string
	scores []float64 // pc's probability, for ROC AUC
	pos    []bool
	// byK holds, with early, the labels predicted from the first k
	// packets' features: byK[k-1][row]; nil without.
	byK [][]string
	// alias maps a label as the readers now spell a number (numLabel)
	// to the class of a model trained when they did not ("1.0"); nil
	// when no class is such a number.
	alias map[string]string
}

func (m *Model) newEvaluation(early bool) *evaluation {
	e := &evaluation{m: m, pc: m.positiveClass()}
	if early {
		e.byK = make([][]string, m.EarlyPackets)
	}
	for _, c := range m.Classes {
		if n := numLabel(c); n != c && !slices.Contains(m.Classes, n) {
			if e.alias == nil {
				e.alias = map[string]string{}
			}
			e.alias[n] = c
		}
	}
	return e
}

// trueLabels returns f's labels as the model's classes spell them
// (alias).
func (e *evaluation) trueLabels(f *Frame) []string {
	truth := e.m.TrueLabels(f)
	if e.alias != nil {
		truth = slices.Clone(truth)
		for i, l := range truth {
			if c, ok := e.alias[l]; ok {
				truth[i] = c
			}
		}
	}
	return truth
}

// add predicts a frame's rows and keeps what the metrics need.
func (e *evaluation) add(f *Frame) error {
	m := e.m
	if f.Labels == nil {
		return fmt.Errorf("evaluation data has no labels")
	}
	pr, err := m.PredictFrame(f)
	if err != nil {
		return err
	}
	e.addPredictions(e.trueLabels(f), pr)
	if e.byK != nil {
		return m.predictEarly(f, e.byK)
	}
	return nil
}

// addPredictions keeps the true labels of rows and what was predicted for them.
func (e *evaluation) addPredictions(truth []string, pr *Predictions) {
	m := e.m
	e.truth = append(e.truth, truth...)
	for i, c := range pr.Class {
		e.pred = append(e.pred, m.Classes[c])
		if e.pc >= 0 {
			e.scores = append(e.scores, pr.Proba[i*pr.K+e.pc])
			e.pos = append(e.pos, truth[i] == m.Classes[e.pc])
		}
	}
}

// metrics scores the predictions add gathered, with a warning when no
// true label is a class of the model: every row is then wrong because of
// the labels (another label column, labels mapped otherwise), not the
// model, and an accuracy of 0 must not pass for a result.
func (e *evaluation) metrics() *Metrics {
	if len(e.truth) > 0 {
		classes := map[string]bool{}
		for _, c := range e.m.Classes {
			classes[c] = true
		}
		if !slices.ContainsFunc(e.truth, func(l string) bool { return classes[l] }) {
			var seen []string
			for _, l := range e.truth {
				if !slices.Contains(seen, l) {
					if seen = append(seen, l); len(seen) == 5 {
						break
					}
				}
			}
			slog.Warn("no true label of the data is a class of the model: the scores measure a label mismatch, not the model (another label column than the model's? give --label; labels mapped otherwise?)",
				"labels", seen, "classes", e.m.Classes)
		}
	}
	met := Score(e.truth, e.pred)
	if e.pc >= 0 {
		if auc := ROCAUC(e.scores, e.pos); !math.IsNaN(auc) {
			met.AUC = &auc
			met.PositiveFor = e.m.Classes[e.pc]
		}
	}
	return met
}

// byPackets scores the predictions from the first k packets, with early.
func (e *evaluation) byPackets() []EarlyAccuracy {
	var out []EarlyAccuracy
	for k, pred := range e.byK {
		met := Score(e.truth, pred)
		out = append(out, EarlyAccuracy{Packets: k + 1, Accuracy: met.Accuracy, MacroF1: met.MacroF1})
	}
	return out
}

// EvaluateFiles is Evaluate, and with early EvaluateEarly, over data
// files read chunk rows at a time (PredictChunk when chunk is 0), so
// memory follows the chunk and the labels, not the rows. The files' rows
// are matched to the model's columns by name each, as PredictFiles does.
func (m *Model) EvaluateFiles(paths []string, opt ReadOptions, early bool, chunk int) (*Metrics, []EarlyAccuracy, error) {
	if early && m.EarlyPackets == 0 {
		return nil, nil, errNoEarly
	}
	e := m.newEvaluation(early)
	if err := readChunks(m, paths, opt, chunk, nil, e.add); err != nil {
		return nil, nil, err
	}
	return e.metrics(), e.byPackets(), nil
}

// WriteTable prints metrics as a human-readable report.
func (met *Metrics) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "rows %d  accuracy %.4f  macro-F1 %.4f", met.Rows, met.Accuracy, met.MacroF1)
	if met.AUC != nil {
		fmt.Fprintf(w, "  ROC AUC (%s) %.4f", met.PositiveFor, *met.AUC)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "class\tprecision\trecall\tF1\tsupport\t")
	for _, c := range met.PerClass {
		fmt.Fprintf(tw, "%s\t%.4f\t%.4f\t%.4f\t%d\t\n", c.Label, c.Precision, c.Recall, c.F1, c.Support)
	}
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(w, "confusion matrix (rows: true, columns: predicted)")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "\t")
	for _, l := range met.Labels {
		fmt.Fprintf(tw, "%s\t", l)
	}
	fmt.Fprintln(tw)
	for i, l := range met.Labels {
		fmt.Fprintf(tw, "%s\t", l)
		for _, v := range met.Confusion[i] {
			fmt.Fprintf(tw, "%d\t", v)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

// EarlyAccuracy is accuracy when only the first K packets are known.
type EarlyAccuracy struct {
	Packets  int     `json:"packets"`
	Accuracy float64 `json:"accuracy"`
	MacroF1  float64 `json:"macro_f1"`
}

// EvaluateEarly reports accuracy by number of packets seen (1..N) for a
// model on first-N-packet features: columns splt_*_j for j > k are masked
// to 0, the value the features package writes for packets not seen.
func (m *Model) EvaluateEarly(f *Frame) ([]EarlyAccuracy, error) {
	if m.EarlyPackets == 0 {
		return nil, errNoEarly
	}
	e := m.newEvaluation(true)
	e.truth = e.trueLabels(f)
	if err := m.predictEarly(f, e.byK); err != nil {
		return nil, err
	}
	return e.byPackets(), nil
}

var errNoEarly = errors.New("model uses no splt_len_k, splt_dir_k or splt_gap_k features")

// predictEarly appends to byK[k-1] the labels predicted for f's rows
// from the features of their first k packets, for each k.
func (m *Model) predictEarly(f *Frame, byK [][]string) error {
	raw, err := m.Pre.codes(f)
	if err != nil {
		return err
	}
	nc := len(m.Pre.Columns)
	pk := make([]int, nc) // packet index of each column, 0 if none
	for i, c := range m.Pre.Columns {
		for _, pre := range []string{"splt_len_", "splt_dir_", "splt_gap_"} {
			if strings.HasPrefix(c.Name, pre) {
				fmt.Sscanf(c.Name[len(pre):], "%d", &pk[i])
			}
		}
	}
	masked := make([]float64, len(raw))
	for k := 1; k <= len(byK); k++ {
		copy(masked, raw)
		for r := 0; r < f.Rows; r++ {
			for i := 0; i < nc; i++ {
				if pk[i] > k {
					masked[r*nc+i] = 0
				}
			}
		}
		pr := m.predictCodes(masked, f.Rows)
		for _, c := range pr.Class {
			byK[k-1] = append(byK[k-1], m.Classes[c])
		}
	}
	return nil
}
