package classifier

import (
	"math"
	"testing"
)

// TestBinaryLogisticMatchesScikitObjective: two-class lr minimises
// scikit-learn's LogisticRegression(C=1/l2) objective, one weight vector
// w with penalty |w|²/(2C), solved here by Newton's method on the
// standardized feature. With a weight vector per class the penalty was
// half of it, and every probability more extreme (P(b) 0.255 for 0.332).
func TestBinaryLogisticMatchesScikitObjective(t *testing.T) {
	xs := []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	lab := []string{"a", "a", "a", "b", "a", "b", "a", "b", "b", "b"}
	const l2 = 5.0
	f := synthFrame([]string{"x"}, [][]float64{xs}, lab)
	m := trainOrFatal(t, f, Config{Kind: "lr", L2: l2, MaxIter: 1000})
	z := make([]float64, len(xs))
	for i, v := range xs {
		out := make([]float64, 1)
		m.Pre.Transform([]float64{v}, out)
		z[i] = out[0]
	}
	w, b := 0.0, 0.0
	for range 100 {
		gw, gb := l2*w, 0.0
		hww, hwb, hbb := l2, 0.0, 0.0
		for i, zi := range z {
			p := 1 / (1 + math.Exp(-(w*zi + b)))
			y := 0.0
			if lab[i] == "b" {
				y = 1
			}
			gw += (p - y) * zi
			gb += p - y
			s := p * (1 - p)
			hww += s * zi * zi
			hwb += s * zi
			hbb += s
		}
		det := hww*hbb - hwb*hwb
		w -= (hbb*gw - hwb*gb) / det
		b -= (hww*gb - hwb*gw) / det
	}
	for i, zi := range z {
		want := 1 / (1 + math.Exp(-(w*zi + b)))
		proba := make([]float64, 2)
		m.PredictRaw([]float64{xs[i]}, proba)
		if math.Abs(proba[1]-want) > 1e-4 {
			t.Errorf("x=%v: P(b) = %.5f, scikit-learn's objective gives %.5f", xs[i], proba[1], want)
		}
	}
}

// TestKNNTieByRowIndex: of two training rows at the same distance from
// the query, k=1 keeps the one of the lower row index, wherever the k-d
// tree puts them: a tie was dropped before insert saw it, so the first
// visited won.
func TestKNNTieByRowIndex(t *testing.T) {
	for _, swap := range []bool{false, true} {
		n := 70
		a, b := make([]float64, n), make([]float64, n)
		lab := make([]string, n)
		a[0], b[0], lab[0] = 2, 0, "B"
		a[1], b[1], lab[1] = 0, 2, "A"
		if swap {
			a[0], b[0], a[1], b[1] = 0, 2, 2, 0
		}
		for i := 2; i < n; i++ {
			a[i], b[i], lab[i] = float64(1000+i), float64(1000+i), "A"
		}
		f := synthFrame([]string{"a", "b"}, [][]float64{a, b}, lab)
		m := trainOrFatal(t, f, Config{Kind: "knn", K: 1})
		c, _ := m.Predict([]float64{0, 0})
		if got := m.Classes[c]; got != "B" {
			t.Errorf("swap=%v: predicted %s, want B (row 0, the lower index of the two nearest)", swap, got)
		}
	}
}
