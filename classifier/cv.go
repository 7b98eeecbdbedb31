package classifier

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"text/tabwriter"
)

// FoldResult is one model's score on one cross-validation fold.
type FoldResult struct {
	Fold         int      `json:"fold"`
	TrainRows    int      `json:"train_rows"`
	TestRows     int      `json:"test_rows"`
	Accuracy     float64  `json:"accuracy"`
	MacroF1      float64  `json:"macro_f1"`
	AUC          *float64 `json:"roc_auc,omitempty"`
	TrainSeconds float64  `json:"train_seconds"`
}

// Stat is a mean and sample standard deviation over folds.
type Stat struct {
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	N    int     `json:"n"`
}

// CVResult summarises one model kind over all folds.
type CVResult struct {
	Kind         string       `json:"model"`
	Folds        []FoldResult `json:"folds"`
	Accuracy     Stat         `json:"accuracy"`
	MacroF1      Stat         `json:"macro_f1"`
	AUC          *Stat        `json:"roc_auc,omitempty"`
	TrainSeconds Stat         `json:"train_seconds"`
}

// Splits returns (train, test) row sets. "random" shuffles each class with
// the seed and deals its rows to the k folds in turn, each test once, so
// every fold holds a class's share of rows (stratified) and a class of two
// rows or more is in every fold's training data; a class of one row is
// kept in every fold's training data, as no model could be tested on it
// without having trained on it. "time" orders rows by timestamp (file
// order when there is none) into k+1 blocks and tests block i+1 on a model
// trained on blocks 0..i, so no fold trains on the future; a timestamp
// that is no time, or a Timestamp column in some files only, is an error
// naming the file (and the row and cell).
func Splits(f *Frame, k int, mode string, seed uint64) (train, test [][]int, err error) {
	if k < 2 {
		return nil, nil, fmt.Errorf("folds = %d, want at least 2", k)
	}
	n := f.Rows
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	switch mode {
	case "random":
		byClass := map[string][]int{}
		for i := 0; i < n; i++ {
			l := ""
			if f.Labels != nil {
				l = f.Labels[i]
			}
			byClass[l] = append(byClass[l], i)
		}
		classes := make([]string, 0, len(byClass))
		for c := range byClass {
			classes = append(classes, c)
		}
		sort.Strings(classes)
		rng := rand.New(rand.NewPCG(seed, 0xcf))
		fold := make([]int, n) // the fold that tests each row; -1: none
		dealt := 0
		for _, c := range classes {
			rows := byClass[c]
			if len(rows) == 1 && f.Labels != nil {
				fold[rows[0]] = -1
				slog.Warn("cv: a class with a single row is in every fold's training data and tested in none", "class", c)
				continue
			}
			rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
			for _, r := range rows {
				fold[r] = dealt % k
				dealt++
			}
		}
		if dealt < k {
			return nil, nil, fmt.Errorf("%d rows to test for %d folds", dealt, k)
		}
		for fo := 0; fo < k; fo++ {
			var tr, te []int
			for r, t := range fold {
				if t == fo {
					te = append(te, r)
				} else {
					tr = append(tr, r)
				}
			}
			train, test = append(train, tr), append(test, te)
		}
	case "time":
		if n < k+1 {
			return nil, nil, fmt.Errorf("%d rows for %d time folds", n, k)
		}
		if f.timeErr != nil {
			// File order would silently stand in for time order.
			return nil, nil, fmt.Errorf("--split time cannot order the rows by time: %w", f.timeErr)
		}
		if f.Times != nil {
			sort.SliceStable(order, func(a, b int) bool { return f.Times[order[a]] < f.Times[order[b]] })
		}
		b := k + 1
		for fo := 0; fo < k; fo++ {
			hi := (fo + 1) * n / b
			te := append([]int(nil), order[hi:(fo+2)*n/b]...)
			tr := append([]int(nil), order[:hi]...)
			train, test = append(train, tr), append(test, te)
		}
	default:
		return nil, nil, fmt.Errorf("split %q: want random or time", mode)
	}
	return train, test, nil
}

// checkFoldClasses refuses, before anything is trained, data or folds
// whose training rows hold a single class, saying why: a model needs two
// classes, and the failure otherwise came from the first model's first
// fold, after the data was read and perhaps other models trained.
func checkFoldClasses(f *Frame, train [][]int, mode string) error {
	if f.Rows == 0 {
		return errors.New("cross-validation data has no rows")
	}
	if !slices.ContainsFunc(f.Labels, func(l string) bool { return l != f.Labels[0] }) {
		return fmt.Errorf("cross-validation data has a single class %q: a classifier needs rows of two classes or more", f.Labels[0])
	}
	for fo, rows := range train {
		one := f.Labels[rows[0]]
		single := true
		for _, r := range rows[1:] {
			if f.Labels[r] != one {
				single = false
				break
			}
		}
		if single {
			if mode == "time" {
				return fmt.Errorf("--split time: fold %d trains on the %d earliest rows, all of class %q: the classes are not spread over time (a capture per class?); use --split random", fo+1, len(rows), one)
			}
			return fmt.Errorf("fold %d trains on %d rows, all of class %q", fo+1, len(rows), one)
		}
	}
	return nil
}

// CrossValidate trains and scores each configuration on every split.
func CrossValidate(f *Frame, cfgs []Config, folds int, mode string, seed uint64, progress func(kind string, fold int)) ([]CVResult, error) {
	if f.Labels == nil {
		return nil, errors.New("cross-validation data has no labels")
	}
	train, test, err := Splits(f, folds, mode, seed)
	if err != nil {
		return nil, err
	}
	if err := checkFoldClasses(f, train, mode); err != nil {
		return nil, err
	}
	var out []CVResult
	for _, cfg := range cfgs {
		res := CVResult{Kind: cfg.Kind}
		for fo := range train {
			if progress != nil {
				progress(cfg.Kind, fo)
			}
			// The training rows' copy is used only by Train, which lets
			// it go once its matrix is built, and the test rows' is made
			// after: a fold holds one copy at a time beside f.
			m, err := Train(f.Subset(train[fo]), cfg)
			if err != nil {
				return nil, fmt.Errorf("%s fold %d: %w", cfg.Kind, fo+1, err)
			}
			teF := f.Subset(test[fo])
			met, err := m.Evaluate(teF)
			if err != nil {
				return nil, fmt.Errorf("%s fold %d: %w", cfg.Kind, fo+1, err)
			}
			res.Folds = append(res.Folds, FoldResult{Fold: fo + 1, TrainRows: len(train[fo]), TestRows: teF.Rows,
				Accuracy: met.Accuracy, MacroF1: met.MacroF1, AUC: met.AUC, TrainSeconds: m.Train.Seconds})
		}
		var acc, f1, auc, secs []float64
		for _, r := range res.Folds {
			acc = append(acc, r.Accuracy)
			f1 = append(f1, r.MacroF1)
			secs = append(secs, r.TrainSeconds)
			if r.AUC != nil {
				auc = append(auc, *r.AUC)
			}
		}
		res.Accuracy, res.MacroF1, res.TrainSeconds = stat(acc), stat(f1), stat(secs)
		if len(auc) > 0 {
			s := stat(auc)
			res.AUC = &s
		}
		out = append(out, res)
	}
	return out, nil
}

func stat(v []float64) Stat {
	s := Stat{N: len(v)}
	if len(v) == 0 {
		return s
	}
	for _, x := range v {
		s.Mean += x
	}
	s.Mean /= float64(len(v))
	if len(v) > 1 {
		ss := 0.0
		for _, x := range v {
			ss += (x - s.Mean) * (x - s.Mean)
		}
		s.Std = math.Sqrt(ss / float64(len(v)-1))
	}
	return s
}

// WriteCVTable prints the comparison table, mean ± std per metric. ROC AUC
// exists only for folds whose model has two classes; when some folds lack
// it, the cell says over how many folds its mean was taken.
func WriteCVTable(w io.Writer, res []CVResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "model\tfolds\taccuracy\tmacro-F1\tROC AUC\ttrain s\t")
	for _, r := range res {
		auc := "-"
		if r.AUC != nil {
			auc = fmt.Sprintf("%.4f ± %.4f", r.AUC.Mean, r.AUC.Std)
			if r.AUC.N < len(r.Folds) {
				auc += fmt.Sprintf(" (%d of %d folds)", r.AUC.N, len(r.Folds))
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%.4f ± %.4f\t%.4f ± %.4f\t%s\t%.2f ± %.2f\t\n", r.Kind, len(r.Folds),
			r.Accuracy.Mean, r.Accuracy.Std, r.MacroF1.Mean, r.MacroF1.Std, auc, r.TrainSeconds.Mean, r.TrainSeconds.Std)
	}
	tw.Flush()
}
