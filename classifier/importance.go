package classifier

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"text/tabwriter"
)

// FeatureImportance is one input column's importance.
type FeatureImportance struct {
	Feature string `json:"feature"`
	// Impurity is the share of total impurity decrease (Gini for rf/dt,
	// gain for gbdt) from splits on this column; absent for other models.
	Impurity *float64 `json:"impurity,omitempty"`
	// Permutation is the mean accuracy drop when this column is shuffled.
	Permutation *float64 `json:"permutation,omitempty"`
	// PermutationStd is the standard deviation over repeats.
	PermutationStd *float64 `json:"permutation_std,omitempty"`
}

// MaxRepeats bounds the shuffles per column: each is a prediction of the
// whole data, and their drops are kept (2^63 panicked allocating them,
// 10^9 took 8 GB).
const MaxRepeats = 100_000

// Importances returns impurity importance (tree models) and, when data is
// given, permutation importance over repeats shuffles of each column.
func Importances(m *Model, data *Frame, repeats int, seed uint64) ([]FeatureImportance, error) {
	feats := m.Features()
	out := make([]FeatureImportance, len(feats))
	for i, f := range feats {
		out[i].Feature = f
	}
	if imp := m.Importance(); imp != nil {
		for i := range out {
			v := imp[i]
			out[i].Impurity = &v
		}
	}
	if data == nil {
		if m.Importance() == nil {
			return nil, fmt.Errorf("%s models have no impurity importance: give --data for permutation importance", m.Kind)
		}
		return out, nil
	}
	if data.Labels == nil {
		return nil, errors.New("permutation importance needs labelled data")
	}
	if repeats < 1 {
		repeats = 1
	}
	if repeats > MaxRepeats {
		return nil, fmt.Errorf("%d shuffles per column: at most %d", repeats, MaxRepeats)
	}
	raw, err := m.Pre.codes(data)
	if err != nil {
		return nil, err
	}
	n, nc := data.Rows, len(feats)
	truth := m.TrueLabels(data)
	accuracy := func(codes []float64) float64 {
		pr := m.predictCodes(codes, n)
		ok := 0
		for i, c := range pr.Class {
			if m.Classes[c] == truth[i] {
				ok++
			}
		}
		return float64(ok) / float64(n)
	}
	base := accuracy(raw)
	rng := rand.New(rand.NewPCG(seed, 0x1f))
	// Column c is shuffled in raw itself and put back after: a copy of
	// the whole matrix for each shuffle was the data's size again in
	// memory, and n times the columns in copying per column.
	orig := make([]float64, n)
	col := make([]float64, n)
	drops := make([]float64, repeats)
	for c := 0; c < nc; c++ {
		for i := 0; i < n; i++ {
			orig[i] = raw[i*nc+c]
		}
		for r := 0; r < repeats; r++ {
			copy(col, orig)
			rng.Shuffle(n, func(i, j int) { col[i], col[j] = col[j], col[i] })
			for i := 0; i < n; i++ {
				raw[i*nc+c] = col[i]
			}
			drops[r] = base - accuracy(raw)
		}
		for i := 0; i < n; i++ {
			raw[i*nc+c] = orig[i]
		}
		s := stat(drops)
		mean, std := s.Mean, s.Std
		out[c].Permutation, out[c].PermutationStd = &mean, &std
	}
	return out, nil
}

// WriteImportanceTable prints importances, most important first.
func WriteImportanceTable(w io.Writer, imp []FeatureImportance) {
	sorted := append([]FeatureImportance(nil), imp...)
	key := func(f FeatureImportance) float64 {
		if f.Permutation != nil {
			return *f.Permutation
		}
		if f.Impurity != nil {
			return *f.Impurity
		}
		return 0
	}
	sort.SliceStable(sorted, func(a, b int) bool { return key(sorted[a]) > key(sorted[b]) })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "feature\timpurity\tpermutation (accuracy drop)\t")
	for _, f := range sorted {
		a, b := "-", "-"
		if f.Impurity != nil {
			a = fmt.Sprintf("%.4f", *f.Impurity)
		}
		if f.Permutation != nil {
			b = fmt.Sprintf("%.4f ± %.4f", *f.Permutation, *f.PermutationStd)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", f.Feature, a, b)
	}
	tw.Flush()
}
