package classifier

import (
	"math"
	"slices"
	"testing"
)

// standardizedMoments returns the mean and variance of every output
// feature of the frame through the preprocessor, failing on a value that
// is not finite.
func standardizedMoments(t *testing.T, p *Preprocessor, f *Frame) (mean, variance []float64) {
	t.Helper()
	x, err := p.matrix(f, 2)
	if err != nil {
		t.Fatal(err)
	}
	w, n := p.Width(), float64(f.Rows)
	mean, variance = make([]float64, w), make([]float64, w)
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("feature %s of row %d is %v", p.FeatureNames()[i%w], i/w, v)
		}
		mean[i%w] += v / n
	}
	for i, v := range x {
		d := v - mean[i%w]
		variance[i%w] += d * d / n
	}
	return mean, variance
}

func TestStandardizeHugeValues(t *testing.T) {
	f := quadrants(400, 3)
	skewed := make([]float64, f.Rows)
	for i := range f.Rows {
		f.Num[0][i] *= 1e300 // x: the sum of squares overflowed to +Inf
		// noise spans both float64 extremes
		f.Num[2][i] = (2*f.Num[2][i] - 1) * math.MaxFloat64
		// mostly near +max, a tenth near -max: value minus mean overflows
		skewed[i] = math.MaxFloat64 / 1.01
		if i%10 == 0 {
			skewed[i] = -skewed[i]
		}
	}
	f.Names = append(f.Names, "skewed")
	f.Num = append(f.Num, skewed)
	f.Cat = append(f.Cat, nil)
	p, err := fitPreprocessor(f, "onehot", true, 2)
	if err != nil {
		t.Fatal(err)
	}
	for k, name := range p.FeatureNames() {
		if math.IsNaN(p.Mean[k]) || math.IsInf(p.Mean[k], 0) || math.IsInf(p.Scale[k], 0) {
			t.Errorf("%s: mean %v, scale %v", name, p.Mean[k], p.Scale[k])
		}
	}
	mean, variance := standardizedMoments(t, p, f)
	for k, name := range p.FeatureNames() {
		if math.Abs(mean[k]) > 1e-9 || math.Abs(variance[k]-1) > 1e-9 {
			t.Errorf("%s standardized to mean %g, variance %g; want 0 and 1", name, mean[k], variance[k])
		}
	}
	m := trainOrFatal(t, f, Config{Kind: "lr"})
	met, err := m.Evaluate(f)
	if err != nil {
		t.Fatal(err)
	}
	if met.Accuracy < 0.9 {
		t.Errorf("lr training accuracy %v on quadrants with x scaled by 1e300, want at least 0.9", met.Accuracy)
	}
}

func TestStandardizeTinyValues(t *testing.T) {
	f := quadrants(400, 4)
	constTiny, constHuge := make([]float64, f.Rows), make([]float64, f.Rows)
	for i := range f.Rows {
		f.Num[2][i] = 1e-12 + f.Num[2][i]*1e-12 // noise: all about 1e-12
		// constant but for missing values, so kept (imputed, not dropped)
		constTiny[i], constHuge[i] = 3e-12, 7e300
		if i%7 == 0 {
			constTiny[i], constHuge[i] = math.NaN(), math.NaN()
		}
	}
	f.Names = append(f.Names, "const_tiny", "const_huge")
	f.Num = append(f.Num, constTiny, constHuge)
	f.Cat = append(f.Cat, nil, nil)
	p, err := fitPreprocessor(f, "onehot", true, 2)
	if err != nil {
		t.Fatal(err)
	}
	mean, variance := standardizedMoments(t, p, f)
	names := p.FeatureNames()
	for k, name := range names {
		want := 1.0
		if name == "const_tiny" || name == "const_huge" {
			want = 0
		}
		if math.Abs(mean[k]) > 1e-9 || math.Abs(variance[k]-want) > 1e-9 {
			t.Errorf("%s standardized to mean %g, variance %g; want 0 and %g", name, mean[k], variance[k], want)
		}
	}
	// A constant feature gives exactly 0 for any input: inputs clamp to
	// the training range, and it is centred on its value.
	raw, out := make([]float64, len(p.Columns)), make([]float64, p.Width())
	for _, v := range []float64{0, -1, 5e-12, 1e308, math.Inf(1), math.NaN()} {
		for i := range raw {
			raw[i] = v
		}
		p.Transform(raw, out)
		for k, name := range names {
			if (name == "const_tiny" || name == "const_huge") && out[k] != 0 {
				t.Errorf("%s: input %v standardized to %v, want 0", name, v, out[k])
			}
			if math.IsNaN(out[k]) || math.IsInf(out[k], 0) {
				t.Errorf("%s: input %v standardized to %v", name, v, out[k])
			}
		}
	}
}

// TestMatrixWorkers checks that the encoded matrix is the same on any
// number of workers, over several blocks and a short last one.
func TestMatrixWorkers(t *testing.T) {
	f := quadrants(3*4096+17, 5)
	for _, enc := range []string{"ordinal", "onehot"} {
		p, err := fitPreprocessor(f, enc, enc == "onehot", 2)
		if err != nil {
			t.Fatal(err)
		}
		one, err := p.matrix(f, 1)
		if err != nil {
			t.Fatal(err)
		}
		buf, want := make([]float64, len(p.Columns)), make([]float64, p.Width())
		src, _ := p.source(f)
		for i := 0; i < f.Rows; i += 4095 {
			src.fill(i, buf)
			p.Transform(buf, want)
			if !slices.Equal(one[i*p.Width():(i+1)*p.Width()], want) {
				t.Fatalf("%s: row %d", enc, i)
			}
		}
		for _, w := range []int{2, 3, 16} {
			got, err := p.matrix(f, w)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, one) {
				t.Errorf("%s: %d workers give another matrix than 1", enc, w)
			}
		}
	}
}
