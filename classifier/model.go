// Package classifier trains, evaluates, stores and applies flow classifiers:
// CART trees, random forests, gradient-boosted trees, multinomial logistic
// regression, Gaussian naive Bayes, k-nearest neighbours and isolation
// forests. Models are data: a model file carries its feature names,
// preprocessing and classes, and columns are always matched by name.
package classifier

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// FormatName and FormatVersion identify flowhawk model files.
const (
	FormatName    = "flowhawk-model"
	FormatVersion = 1
)

// Kinds lists the model kinds Train accepts.
var Kinds = []string{"rf", "gbdt", "dt", "lr", "nb", "knn", "iforest"}

// Config holds the training settings of every model kind; each kind reads
// the fields it needs. Zero values mean the documented default.
type Config struct {
	Kind string `json:"kind"`
	Seed uint64 `json:"seed"`
	// Workers bounds parallelism (0: GOMAXPROCS). Results do not depend on it.
	Workers int `json:"-"`
	// ClassWeight is "none" or "balanced".
	ClassWeight string `json:"class_weight"`

	Trees           int     `json:"trees,omitempty"`             // rf, iforest (100), gbdt rounds (100)
	MaxDepth        int     `json:"max_depth,omitempty"`         // rf/dt: 0 unlimited; gbdt: 6
	MinSamplesLeaf  int     `json:"min_samples_leaf,omitempty"`  // rf/dt: 1; gbdt: 20
	MinSamplesSplit int     `json:"min_samples_split,omitempty"` // rf/dt: 2
	MaxFeatures     int     `json:"max_features,omitempty"`      // rf: 0 = sqrt(features)
	LearningRate    float64 `json:"learning_rate,omitempty"`     // gbdt: 0.1
	L2              float64 `json:"l2,omitempty"`                // gbdt lambda (1), lr: 1/C (1)
	MaxIter         int     `json:"max_iter,omitempty"`          // lr: 200
	K               int     `json:"k,omitempty"`                 // knn: 5
	Subsample       int     `json:"subsample,omitempty"`         // iforest: 256
	Contamination   float64 `json:"contamination,omitempty"`     // iforest: 0 = threshold 0.5
	VarSmoothing    float64 `json:"var_smoothing,omitempty"`     // nb: 1e-9
	// Gate lists categorical input columns whose values gate predictions:
	// a class is predicted only for values it had in training, otherwise
	// the prediction is "Unknown" (gate.go).
	Gate []string `json:"gate,omitempty"`
}

func (c *Config) defaults() {
	if c.ClassWeight == "" {
		c.ClassWeight = "none"
	}
	switch c.Kind {
	case "rf":
		if c.Trees == 0 {
			c.Trees = 100
		}
	case "gbdt":
		if c.Trees == 0 {
			c.Trees = 100
		}
		if c.MaxDepth == 0 {
			c.MaxDepth = 6
		}
		if c.MinSamplesLeaf == 0 {
			c.MinSamplesLeaf = 20
		}
		if c.LearningRate == 0 {
			c.LearningRate = 0.1
		}
		if c.L2 == 0 {
			c.L2 = 1
		}
	case "lr":
		if c.L2 == 0 {
			c.L2 = 1
		}
		if c.MaxIter == 0 {
			c.MaxIter = 200
		}
	case "knn":
		if c.K == 0 {
			c.K = 5
		}
	case "nb":
		if c.VarSmoothing == 0 {
			c.VarSmoothing = 1e-9
		}
	case "iforest":
		if c.Trees == 0 {
			c.Trees = 100
		}
		if c.Subsample == 0 {
			c.Subsample = 256
		}
	}
}

// maxLearningRate bounds gbdt's shrinkage: leaf values are float32, and
// --learning-rate 1e40 trained to infinite leaves, refused only when the
// model was written.
const maxLearningRate = 1000

// ZeroMeansDefault lists, per model kind, the train flags whose 0 stands
// for the kind's default (Config's zero values): a command refuses them
// given as 0, which trained with the default (gbdt --l2 0 with lambda 1).
var ZeroMeansDefault = map[string][]string{
	"rf":      {"trees"},
	"gbdt":    {"trees", "max-depth", "min-samples-leaf", "learning-rate", "l2"},
	"lr":      {"l2", "max-iter"},
	"knn":     {"k"},
	"nb":      {"var-smoothing"},
	"iforest": {"trees", "subsample"},
}

// Check rejects settings no model can use, as Train would, so that a
// command refuses bad flags before it reads the data (train --trees -1
// failed only after reading gigabytes).
func (c Config) Check() error {
	c.defaults()
	return c.validate()
}

// validate rejects settings no model can use, after defaults: a negative
// count crashed the forest, and a negative learning rate or iteration count
// trained a useless model without a word. Names are the train flags'.
func (c *Config) validate() error {
	bad := func(name string, v any, want string) error {
		return fmt.Errorf("--%s %v: must be %s", name, v, want)
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case c.Workers < 0:
		return bad("workers", c.Workers, "0 (all cores) or more")
	case c.MaxDepth < 0 && c.Kind != "gbdt":
		return bad("max-depth", c.MaxDepth, "0 (unlimited) or more")
	case c.MinSamplesLeaf < 0:
		return bad("min-samples-leaf", c.MinSamplesLeaf, "0 (the default) or more")
	case c.MinSamplesSplit < 0:
		return bad("min-samples-split", c.MinSamplesSplit, "0 (the default) or more")
	case c.MaxFeatures < 0:
		return bad("max-features", c.MaxFeatures, "0 (the default) or more")
	case c.ClassWeight != "none" && c.ClassWeight != "balanced":
		return bad("class-weight", c.ClassWeight, "none or balanced")
	}
	switch c.Kind {
	case "rf", "gbdt", "iforest":
		if c.Trees < 1 {
			return bad("trees", c.Trees, "at least 1")
		}
	}
	switch c.Kind {
	case "gbdt":
		// 0 stands for the default (defaults), so these are positive.
		if !(c.LearningRate > 0 && c.LearningRate <= maxLearningRate) {
			return bad("learning-rate", c.LearningRate, fmt.Sprintf("a positive number up to %g", float64(maxLearningRate)))
		}
		if !(c.L2 > 0) || !finite(c.L2) {
			return bad("l2", c.L2, "a positive number")
		}
		if c.MaxDepth < 1 {
			return bad("max-depth", c.MaxDepth, "at least 1 (gbdt trees are depth-bound; default 6)")
		}
	case "lr":
		if !(c.L2 > 0) || !finite(c.L2) {
			return bad("l2", c.L2, "a positive number (1/C)")
		}
		if c.MaxIter < 1 {
			return bad("max-iter", c.MaxIter, "at least 1")
		}
	case "knn":
		if c.K < 1 {
			return bad("k", c.K, "at least 1")
		}
	case "nb":
		if !(c.VarSmoothing > 0) || !finite(c.VarSmoothing) {
			return bad("var-smoothing", c.VarSmoothing, "a positive number")
		}
	case "iforest":
		if c.Subsample < 2 {
			return bad("subsample", c.Subsample, "at least 2")
		}
		if !(c.Contamination >= 0 && c.Contamination < 0.5) {
			return bad("contamination", c.Contamination, "0 or more and below 0.5")
		}
		if len(c.Gate) > 0 {
			// The gate records the values each class had in training;
			// iforest learns no classes, and every training row counted
			// as normal, so anomaly was never allowed: always Unknown.
			return fmt.Errorf("--gate %s: iforest learns no classes, so there is nothing to gate (a gate records the values each class of a supervised model had in training)", strings.Join(c.Gate, ","))
		}
	}
	return nil
}

// TrainInfo describes the data a model was trained on.
type TrainInfo struct {
	Rows       int            `json:"rows"`
	SHA256     string         `json:"sha256"`
	Files      []string       `json:"files,omitempty"`
	ClassCount map[string]int `json:"class_count"`
	Seconds    float64        `json:"seconds"`
	Time       string         `json:"time"`
}

// estimator is a fitted model on encoded feature vectors.
type estimator interface {
	// predict writes class probabilities for one encoded row; no allocation.
	predict(x, out []float64, ws *workspace)
	marshal() (json.RawMessage, error)
}

// importancer is implemented by tree models with impurity importance.
type importancer interface{ importance() []float64 }

// workspace is per-call scratch, pooled so Predict does not allocate.
type workspace struct {
	raw, x, proba []float64
	knnD          []float64
	knnI          []int32
	knnOff        []float64
}

// Model is a trained classifier with its preprocessing. It is safe for
// concurrent use.
type Model struct {
	Kind     string
	Config   Config
	Classes  []string
	Pre      *Preprocessor
	LabelMap string
	// LabelColumn is the --label the model was trained with ("": Label,
	// any case), so eval and importance score against the same column
	// when --label is not given (ReadOptions.ForModel).
	LabelColumn string
	Train       TrainInfo
	Metrics     *Metrics
	// MetricsOn names the data Metrics were measured on.
	MetricsOn string
	// EarlyPackets is the number of first packets (splt_*_k columns) the
	// model uses, 0 when it uses none.
	EarlyPackets int

	est     estimator
	support *support // nil: no gate
	pool    sync.Pool
}

// Allows reports whether the model's gate (Config.Gate) lets it predict
// class for raw, a row in Features order with category codes; always true
// without a gate.
func (m *Model) Allows(raw []float64, class int) bool { return m.support.allows(raw, class) }

func (m *Model) newWorkspace() any {
	return &workspace{raw: make([]float64, len(m.Pre.Columns)), x: make([]float64, m.Pre.Width()),
		proba: make([]float64, len(m.Classes))}
}

// Features are the input column names the model needs, in model order.
func (m *Model) Features() []string {
	out := make([]string, len(m.Pre.Columns))
	for i, c := range m.Pre.Columns {
		out[i] = c.Name
	}
	return out
}

// Label returns the name of class i.
func (m *Model) Label(i int) string {
	if i < 0 || i >= len(m.Classes) {
		return Unknown
	}
	return m.Classes[i]
}

// NumClasses is the number of classes the model predicts.
func (m *Model) NumClasses() int { return len(m.Classes) }

// PredictEncoded writes class probabilities for a raw row in Features order
// (numeric values; category codes from Code for categorical columns).
func (m *Model) PredictRaw(raw, proba []float64) {
	ws := m.pool.Get().(*workspace)
	m.Pre.Transform(raw, ws.x)
	m.est.predict(ws.x, proba, ws)
	m.pool.Put(ws)
}

// Predict returns the most probable class and its probability for a raw
// row in Features order. It does not allocate.
func (m *Model) Predict(raw []float64) (int, float64) {
	ws := m.pool.Get().(*workspace)
	m.Pre.Transform(raw, ws.x)
	m.est.predict(ws.x, ws.proba, ws)
	c, p := argmax(ws.proba)
	m.pool.Put(ws)
	return c, p
}

func argmax(p []float64) (int, float64) {
	best, bv := 0, math.Inf(-1)
	for i, v := range p {
		if v > bv {
			best, bv = i, v
		}
	}
	return best, bv
}

// Binder maps a caller's column layout onto the model's features once, so
// per-flow prediction is a gather plus the model: no lookups, no allocation.
type Binder struct {
	m   *Model
	pos []int // input position of each model column
}

// Bind matches the caller's column names (trimmed, exact) to the model's
// features. The error names every missing column.
func (m *Model) Bind(columns []string) (*Binder, error) {
	idx := map[string]int{}
	for i, c := range columns {
		c = strings.TrimSpace(c)
		if _, dup := idx[c]; !dup {
			idx[c] = i
		}
	}
	b := &Binder{m: m, pos: make([]int, len(m.Pre.Columns))}
	var missing []string
	for i, c := range m.Pre.Columns {
		j, ok := idx[c.Name]
		if !ok {
			missing = append(missing, c.Name)
		}
		b.pos[i] = j
	}
	if len(missing) > 0 {
		return nil, &MissingColumnsError{Columns: missing}
	}
	return b, nil
}

// Code returns the value to pass for a categorical input column (by the
// caller's position) holding the text s; -1 for an unseen category.
func (b *Binder) Code(position int, s string) float64 {
	for i, p := range b.pos {
		if p == position {
			return b.m.Pre.Code(i, s)
		}
	}
	return -1
}

// Predict classifies one row in the caller's column layout (as bound) and
// returns the class index and its probability. It does not allocate and is
// safe for concurrent use.
func (b *Binder) Predict(values []float64) (int, float64) {
	m := b.m
	ws := m.pool.Get().(*workspace)
	for i, p := range b.pos {
		ws.raw[i] = values[p]
	}
	m.Pre.Transform(ws.raw, ws.x)
	m.est.predict(ws.x, ws.proba, ws)
	c, p := argmax(ws.proba)
	m.pool.Put(ws)
	return c, p
}

// Label returns the name of class i.
func (b *Binder) Label(i int) string { return b.m.Label(i) }

// Train fits a model of cfg.Kind on the frame's labelled rows.
func Train(f *Frame, cfg Config) (*Model, error) {
	m, _, err := train(f, cfg, false)
	return m, err
}

// TrainScored is Train that also scores the model on its training rows
// (what Evaluate on f gives), from the encoded matrix it trained on: the
// frame is not needed once that matrix is built, so a caller that drops
// its own reference lets the columns be freed while the model trains.
func TrainScored(f *Frame, cfg Config) (*Model, *Metrics, error) {
	return train(f, cfg, true)
}

func train(f *Frame, cfg Config, score bool) (*Model, *Metrics, error) {
	start := time.Now()
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		return nil, nil, err
	}
	if f.Labels == nil {
		return nil, nil, errors.New("training data has no labels")
	}
	if f.Rows < 2 {
		return nil, nil, fmt.Errorf("training data has %d rows", f.Rows)
	}
	if cfg.Kind == "knn" && cfg.K > f.Rows {
		return nil, nil, fmt.Errorf("--k %d: more neighbours than the %d training rows", cfg.K, f.Rows)
	}
	var encoding string
	standardize := false
	switch cfg.Kind {
	case "rf", "gbdt", "dt", "iforest":
		encoding = "ordinal"
	case "lr", "knn":
		encoding, standardize = "onehot", true
	case "nb":
		encoding = "onehot"
	default:
		return nil, nil, fmt.Errorf("unknown model kind %q (want one of %s)", cfg.Kind, strings.Join(Kinds, ", "))
	}
	if cfg.ClassWeight != "none" && cfg.ClassWeight != "balanced" {
		return nil, nil, fmt.Errorf("class weight %q: want none or balanced", cfg.ClassWeight)
	}
	if cfg.Kind == "iforest" && cfg.ClassWeight != "none" {
		// The isolation forest learns no classes: the model file must not
		// say weights were applied.
		slog.Warn("class weights do not apply to iforest, which learns no classes; ignored", "class_weight", cfg.ClassWeight)
		cfg.ClassWeight = "none"
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	pre, err := fitPreprocessor(f, encoding, standardize, workers)
	if err != nil {
		return nil, nil, err
	}
	m := &Model{Kind: cfg.Kind, Config: cfg, Pre: pre, LabelMap: f.LabelMap, LabelColumn: f.LabelColumn}
	counts := map[string]int{}
	for _, l := range f.Labels {
		counts[l]++
	}
	if cfg.Kind == "iforest" {
		m.Classes = []string{"normal", "anomaly"}
	} else {
		for c := range counts {
			m.Classes = append(m.Classes, c)
		}
		sort.Strings(m.Classes)
		if len(m.Classes) < 2 {
			return nil, nil, fmt.Errorf("training data has a single class %q", m.Classes[0])
		}
		if slices.Contains(m.Classes, Unknown) {
			slog.Warn("a class is named "+Unknown+", as predict, replay and capture call a flow below --min-confidence or gated: their output will not tell the two apart; rename the class", "class", Unknown)
		}
	}
	m.EarlyPackets = earlyPackets(m.Features())
	if m.support, err = fitSupport(f, pre, m.Classes, cfg.Gate); err != nil {
		return nil, nil, err
	}
	x, err := pre.matrix(f, workers)
	if err != nil {
		return nil, nil, err
	}
	n, p, k := f.Rows, pre.Width(), len(m.Classes)
	y := make([]int32, n)
	ci := map[string]int32{}
	for i, c := range m.Classes {
		ci[c] = int32(i)
	}
	for i, l := range f.Labels {
		if cfg.Kind == "iforest" {
			y[i] = int32(anomalyClass(l))
		} else {
			y[i] = ci[l]
		}
	}
	w := make([]float64, n)
	for i := range w {
		w[i] = 1
	}
	if cfg.ClassWeight == "balanced" && cfg.Kind != "iforest" {
		for i, l := range f.Labels {
			w[i] = float64(n) / (float64(k) * float64(counts[l]))
		}
	}
	// Nothing below reads the frame: without this reference (and the
	// caller's), its columns can be freed while the estimator trains.
	hash, truth := f.Hash, m.TrueLabels(f)
	cells := f.Rows * len(f.Names)
	f = nil
	// One collection now (milliseconds against the training's seconds)
	// lets the training's allocations reuse the frame's memory, which the
	// heap would otherwise keep beside them until its next goal. A small
	// frame is not worth a full collection: cv's folds and the fuzz
	// tests' trainings of a few rows each paid one.
	if cells >= 1<<20 {
		runtime.GC()
	}
	switch cfg.Kind {
	case "rf":
		mtry := cfg.MaxFeatures
		if mtry <= 0 {
			mtry = max(1, int(math.Sqrt(float64(p))))
		}
		m.est = trainForest(x, n, p, y, w, k, forestParams{trees: cfg.Trees, bootstrap: true, seed: cfg.Seed, workers: workers,
			cart: cartParams{maxDepth: cfg.MaxDepth, minSplit: cfg.MinSamplesSplit, minLeaf: cfg.MinSamplesLeaf, mtry: mtry}})
	case "dt":
		// One tree grows on one goroutine whatever workers says; the
		// binning before it uses them all.
		m.est = trainForest(x, n, p, y, w, k, forestParams{trees: 1, seed: cfg.Seed, workers: workers,
			cart: cartParams{maxDepth: cfg.MaxDepth, minSplit: cfg.MinSamplesSplit, minLeaf: cfg.MinSamplesLeaf, mtry: cfg.MaxFeatures}})
	case "gbdt":
		m.est, err = trainGBDT(x, n, p, y, w, k, gbdtParams{rounds: cfg.Trees, lr: cfg.LearningRate, maxDepth: cfg.MaxDepth,
			minLeaf: cfg.MinSamplesLeaf, lambda: cfg.L2, workers: workers})
	case "lr":
		m.est, err = trainLogistic(x, n, p, y, w, k, cfg.L2, cfg.MaxIter, workers)
	case "nb":
		m.est, err = trainNaiveBayes(x, n, p, y, w, k, cfg.VarSmoothing, pre.FeatureNames())
	case "knn":
		var cw []float64 // the balanced weight of each class, as w's rows have
		if cfg.ClassWeight == "balanced" {
			cw = make([]float64, k)
			for l, c := range ci {
				cw[c] = float64(n) / (float64(k) * float64(counts[l]))
			}
		}
		m.est, err = trainKNN(x, n, p, y, k, cfg.K, cw)
	case "iforest":
		m.est, err = trainIsolationForest(x, n, p, cfg.Trees, cfg.Subsample, cfg.Contamination, cfg.Seed, workers)
	}
	if err != nil {
		return nil, nil, err
	}
	m.pool.New = m.newWorkspace
	m.Train = TrainInfo{Rows: n, SHA256: hash, ClassCount: counts, Seconds: time.Since(start).Seconds(),
		Time: time.Now().UTC().Format(time.RFC3339)}
	if !score {
		return m, nil, nil
	}
	e := m.newEvaluation(false)
	e.addPredictions(truth, m.predictSource(func(r int, buf []float64) { copy(buf, x[r*p:(r+1)*p]) }, n, true))
	return m, e.metrics(), nil
}

// anomalyClass maps a label to the isolation forest's classes: 0 for
// benign traffic (normal, BENIGN), 1 for everything else.
func anomalyClass(label string) int {
	switch strings.ToLower(label) {
	case "normal", "benign":
		return 0
	}
	return 1
}

// earlyPackets returns the largest k of the first-packet features
// splt_len_k, splt_dir_k and splt_gap_k among the features: a model on any
// of them can be judged by packets seen (EvaluateEarly).
func earlyPackets(features []string) int {
	n := 0
	for _, f := range features {
		for _, pre := range []string{"splt_len_", "splt_dir_", "splt_gap_"} {
			var k int
			if _, err := fmt.Sscanf(f, pre+"%d", &k); err == nil && k > n {
				n = k
			}
		}
	}
	return n
}

// modelFile is the JSON layout of a model file.
type modelFile struct {
	Format       string          `json:"format"`
	Version      int             `json:"version"`
	Kind         string          `json:"kind"`
	Features     []string        `json:"features"`
	Classes      []string        `json:"classes"`
	LabelMap     string          `json:"label_map,omitempty"`
	LabelColumn  string          `json:"label_column,omitempty"`
	EarlyPackets int             `json:"early_packets,omitempty"`
	Preprocess   *Preprocessor   `json:"preprocessing"`
	Config       Config          `json:"params"`
	Train        TrainInfo       `json:"training_data"`
	Metrics      *Metrics        `json:"metrics,omitempty"`
	MetricsOn    string          `json:"metrics_on,omitempty"`
	Support      supportFile     `json:"support,omitempty"`
	Model        json.RawMessage `json:"model"`
}

// Save writes the model as self-describing JSON.
func (m *Model) Save(w io.Writer) error {
	raw, err := m.est.marshal()
	if err != nil {
		return err
	}
	mf := modelFile{Format: FormatName, Version: FormatVersion, Kind: m.Kind, Features: m.Features(), Classes: m.Classes,
		LabelMap: m.LabelMap, LabelColumn: m.LabelColumn, EarlyPackets: m.EarlyPackets, Preprocess: m.Pre, Config: m.Config, Train: m.Train,
		Metrics: m.Metrics, MetricsOn: m.MetricsOn, Support: m.support.toFile(m.Pre, m.Classes), Model: raw}
	enc := json.NewEncoder(w)
	return enc.Encode(&mf)
}

// SaveFile writes the model to path.
func (m *Model) SaveFile(path string) error {
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		return err
	}
	return writeAtomic(path, buf.Bytes())
}

// writeAtomic replaces the regular file at path (or creates it) by b
// through a temporary file renamed over it, so a run killed mid-write, or
// a full disk, leaves the previous model whole instead of a truncated one
// that no later run can load. The file keeps an existing file's mode,
// else 0644; a path that is no regular file (a FIFO, /dev/stdout) is
// written directly.
func writeAtomic(path string, b []byte) error {
	mode := os.FileMode(0o644)
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	if st, err := os.Stat(path); err == nil {
		if !st.Mode().IsRegular() {
			return os.WriteFile(path, b, mode)
		}
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Load reads a model file.
func Load(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Decode parses a model file's bytes, validating every index so a corrupt
// or foreign file gives an error, never a panic at load or predict time.
func Decode(b []byte) (*Model, error) {
	var mf modelFile
	if err := json.Unmarshal(b, &mf); err != nil {
		return nil, fmt.Errorf("not a flowhawk model file: %w", err)
	}
	if mf.Format != FormatName {
		return nil, fmt.Errorf("not a flowhawk model file (format %q, want %q)", mf.Format, FormatName)
	}
	if mf.Version != FormatVersion {
		return nil, fmt.Errorf("model file version %d not supported (want %d)", mf.Version, FormatVersion)
	}
	if mf.Preprocess == nil {
		return nil, errors.New("model file has no preprocessing")
	}
	if err := mf.Preprocess.init(); err != nil {
		return nil, fmt.Errorf("preprocessing: %w", err)
	}
	if len(mf.Features) != len(mf.Preprocess.Columns) {
		return nil, fmt.Errorf("%d features but %d preprocessing columns", len(mf.Features), len(mf.Preprocess.Columns))
	}
	// Inputs are mapped to features by name: two features of one name
	// would both read the same input column, and the model would run on
	// data it was not trained on without a word.
	feats := make(map[string]bool, len(mf.Features))
	for i, c := range mf.Preprocess.Columns {
		if mf.Features[i] != c.Name {
			return nil, fmt.Errorf("feature %d is %q but preprocessing column is %q", i, mf.Features[i], c.Name)
		}
		if feats[c.Name] {
			return nil, fmt.Errorf("feature %q appears twice in features", c.Name)
		}
		feats[c.Name] = true
	}
	if len(mf.Classes) < 2 || len(mf.Classes) > 1<<16 {
		return nil, fmt.Errorf("model has %d classes", len(mf.Classes))
	}
	// Two outputs of one name would split its probability, and eval
	// would count one of them as never predicted.
	seen := make(map[string]bool, len(mf.Classes))
	for _, c := range mf.Classes {
		if seen[c] {
			return nil, fmt.Errorf("class %q appears twice in classes", c)
		}
		seen[c] = true
	}
	m := &Model{Kind: mf.Kind, Config: mf.Config, Classes: mf.Classes, Pre: mf.Preprocess, LabelMap: mf.LabelMap, LabelColumn: mf.LabelColumn,
		Train: mf.Train, Metrics: mf.Metrics, MetricsOn: mf.MetricsOn, EarlyPackets: earlyPackets(mf.Features)}
	p, k := mf.Preprocess.Width(), len(mf.Classes)
	var err error
	switch mf.Kind {
	case "rf", "dt":
		m.est, err = decodeForest(mf.Model, p, k)
	case "gbdt":
		m.est, err = decodeGBDT(mf.Model, p, k)
	case "lr":
		m.est, err = decodeLogistic(mf.Model, p, k)
	case "nb":
		m.est, err = decodeNaiveBayes(mf.Model, p, k)
	case "knn":
		m.est, err = decodeKNN(mf.Model, p, k)
	case "iforest":
		m.est, err = decodeIsolationForest(mf.Model, p, k)
	default:
		return nil, fmt.Errorf("unknown model kind %q", mf.Kind)
	}
	if err != nil {
		return nil, fmt.Errorf("%s model: %w", mf.Kind, err)
	}
	if m.support, err = decodeSupport(mf.Support, mf.Preprocess, mf.Classes); err != nil {
		return nil, err
	}
	m.pool.New = m.newWorkspace
	return m, nil
}

func errMismatch(what string, got, want int) error {
	return fmt.Errorf("%s: got %d, want %d", what, got, want)
}

// Importance returns impurity importance per input column (one-hot
// categories summed), or nil for models without it.
func (m *Model) Importance() []float64 {
	im, ok := m.est.(importancer)
	if !ok {
		return nil
	}
	enc := im.importance()
	out := make([]float64, len(m.Pre.Columns))
	for j, c := range m.Pre.OutputColumn() {
		if j < len(enc) {
			out[c] += enc[j]
		}
	}
	return out
}
