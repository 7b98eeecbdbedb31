package classifier

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"

	"gonum.org/v1/gonum/floats"
)

// logistic is multinomial logistic regression with an L2 penalty, fitted
// by L-BFGS on standardized features.
type logistic struct {
	k, p int
	w    []float64 // k*p
	b    []float64 // k
}

type logisticFile struct {
	Classes   int       `json:"classes"`
	Features  int       `json:"features"`
	Weights   []float64 `json:"weights"`
	Intercept []float64 `json:"intercept"`
}

func (l *logistic) marshal() (json.RawMessage, error) {
	return json.Marshal(logisticFile{Classes: l.k, Features: l.p, Weights: l.w, Intercept: l.b})
}

func (l *logistic) predict(x, out []float64, _ *workspace) {
	for c := 0; c < l.k; c++ {
		out[c] = l.b[c] + floats.Dot(l.w[c*l.p:(c+1)*l.p], x)
	}
	softmaxInto(out, out[:l.k])
}

// trainLogistic minimises mean weighted cross-entropy + l2/(2*sum w)*|W|^2,
// the same objective as scikit-learn's LogisticRegression(C=1/l2).
func trainLogistic(x []float64, n, p int, y []int32, w []float64, k int, l2 float64, maxIter, workers int) (*logistic, error) {
	if k == 2 {
		// scikit-learn fits two classes with one weight vector w and
		// penalty |w|²/(2C); here each class has one, w0 = -w1 = w/2 at
		// the optimum, so |W|² is |w|²/2: doubling l2 gives its
		// objective (the penalty was half of it until 2026-12-07).
		l2 *= 2
	}
	dim := k*p + k
	sw := floats.Sum(w)
	// A fixed chunking (not one per worker) keeps the floating-point sum
	// order, and so the model, independent of the number of workers.
	chunks := 8
	sem := make(chan struct{}, max(1, workers))
	grads := make([][]float64, chunks)
	losses := make([]float64, chunks)
	for i := range grads {
		grads[i] = make([]float64, dim)
	}
	var lastX []float64
	var lastF float64
	lastG := make([]float64, dim)
	eval := func(theta []float64) {
		if lastX != nil && floats.Equal(lastX, theta) {
			return
		}
		var wg sync.WaitGroup
		for c := 0; c < chunks; c++ {
			lo, hi := c*n/chunks, (c+1)*n/chunks
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				g := grads[c]
				for i := range g {
					g[i] = 0
				}
				z := make([]float64, k)
				loss := 0.0
				for i := lo; i < hi; i++ {
					xi := x[i*p : i*p+p]
					for cl := 0; cl < k; cl++ {
						z[cl] = theta[k*p+cl] + floats.Dot(theta[cl*p:(cl+1)*p], xi)
					}
					m := floats.Max(z)
					s := 0.0
					for cl := range z {
						z[cl] = math.Exp(z[cl] - m)
						s += z[cl]
					}
					yi := int(y[i])
					loss += w[i] * -math.Log(math.Max(z[yi]/s, 1e-300))
					for cl := 0; cl < k; cl++ {
						d := z[cl] / s
						if cl == yi {
							d--
						}
						d *= w[i]
						floats.AddScaled(g[cl*p:(cl+1)*p], d, xi)
						g[k*p+cl] += d
					}
				}
				losses[c] = loss
			}()
		}
		wg.Wait()
		f := 0.0
		for i := range lastG {
			lastG[i] = 0
		}
		for c := 0; c < chunks; c++ {
			f += losses[c]
			floats.Add(lastG, grads[c])
		}
		reg := 0.0
		for i := 0; i < k*p; i++ {
			reg += theta[i] * theta[i]
			lastG[i] += l2 * theta[i]
		}
		f += 0.5 * l2 * reg
		f /= sw
		floats.Scale(1/sw, lastG)
		lastF = f
		lastX = append(lastX[:0], theta...)
	}
	theta, err := lbfgs(dim, maxIter, func(theta, g []float64) float64 {
		eval(theta)
		copy(g, lastG)
		return lastF
	})
	if err != nil {
		return nil, fmt.Errorf("logistic regression: %w", err)
	}
	if !allFinite(theta) {
		return nil, errors.New("logistic regression diverged")
	}
	return &logistic{k: k, p: p, w: theta[:k*p], b: theta[k*p:]}, nil
}

// lbfgs minimises a smooth function from zero with limited-memory BFGS
// (memory 10) and a backtracking Armijo line search. gonum's optimize
// package would pull gonum/stat/distmv and more modules into the build.
func lbfgs(dim, maxIter int, fg func(x, g []float64) float64) ([]float64, error) {
	const mem = 10
	x := make([]float64, dim)
	g := make([]float64, dim)
	f := fg(x, g)
	s := make([][]float64, 0, mem)
	yv := make([][]float64, 0, mem)
	rho := make([]float64, 0, mem)
	alpha := make([]float64, mem)
	d := make([]float64, dim)
	xn := make([]float64, dim)
	gn := make([]float64, dim)
	for it := 0; it < maxIter; it++ {
		if floats.Norm(g, math.Inf(1)) < 1e-6 {
			break
		}
		// two-loop recursion: d = -H g
		copy(d, g)
		for i := len(s) - 1; i >= 0; i-- {
			alpha[i] = rho[i] * floats.Dot(s[i], d)
			floats.AddScaled(d, -alpha[i], yv[i])
		}
		if len(s) > 0 {
			l := len(s) - 1
			floats.Scale(floats.Dot(s[l], yv[l])/floats.Dot(yv[l], yv[l]), d)
		} else {
			floats.Scale(1/math.Max(1, floats.Norm(g, 2)), d)
		}
		for i := range s {
			beta := rho[i] * floats.Dot(yv[i], d)
			floats.AddScaled(d, alpha[i]-beta, s[i])
		}
		floats.Scale(-1, d)
		slope := floats.Dot(g, d)
		if slope >= 0 { // not a descent direction: restart with steepest descent
			s, yv, rho = s[:0], yv[:0], rho[:0]
			copy(d, g)
			floats.Scale(-1/math.Max(1, floats.Norm(g, 2)), d)
			slope = floats.Dot(g, d)
		}
		step := 1.0
		var fn float64
		ok := false
		for ls := 0; ls < 40; ls++ {
			floats.AddScaledTo(xn, x, step, d)
			fn = fg(xn, gn)
			if fn <= f+1e-4*step*slope {
				ok = true
				break
			}
			step *= 0.5
		}
		if !ok {
			break // no progress possible at float precision
		}
		sv := make([]float64, dim)
		yy := make([]float64, dim)
		floats.SubTo(sv, xn, x)
		floats.SubTo(yy, gn, g)
		sy := floats.Dot(sv, yy)
		if sy > 1e-12 {
			if len(s) == mem {
				s, yv, rho = s[1:], yv[1:], rho[1:]
			}
			s = append(s, sv)
			yv = append(yv, yy)
			rho = append(rho, 1/sy)
		}
		done := math.Abs(f-fn) <= 1e-10*math.Max(1, math.Abs(f))
		copy(x, xn)
		copy(g, gn)
		f = fn
		if done {
			break
		}
	}
	if math.IsNaN(f) {
		return nil, errors.New("objective is NaN")
	}
	return x, nil
}

func decodeLogistic(raw json.RawMessage, nfeat, k int) (*logistic, error) {
	var lf logisticFile
	if err := json.Unmarshal(raw, &lf); err != nil {
		return nil, err
	}
	if lf.Classes != k || lf.Features != nfeat || len(lf.Weights) != k*nfeat || len(lf.Intercept) != k {
		return nil, fmt.Errorf("weights shape %dx%d (%d values), want %dx%d", lf.Classes, lf.Features, len(lf.Weights), k, nfeat)
	}
	if !allFinite(lf.Weights) || !allFinite(lf.Intercept) {
		return nil, errors.New("non-finite weight")
	}
	return &logistic{k: k, p: nfeat, w: lf.Weights, b: lf.Intercept}, nil
}

func allFinite(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// naiveBayes is Gaussian naive Bayes with scikit-learn's variance
// smoothing (a fraction of the largest feature variance).
type naiveBayes struct {
	k, p     int
	logPrior []float64
	mean     []float64 // k*p
	vari     []float64 // k*p
	logNorm  []float64 // k: -0.5*sum(log(2*pi*var))
}

type naiveBayesFile struct {
	Classes  int       `json:"classes"`
	Features int       `json:"features"`
	LogPrior []float64 `json:"log_prior"`
	Mean     []float64 `json:"mean"`
	Var      []float64 `json:"var"`
}

func (nb *naiveBayes) marshal() (json.RawMessage, error) {
	return json.Marshal(naiveBayesFile{Classes: nb.k, Features: nb.p, LogPrior: nb.logPrior, Mean: nb.mean, Var: nb.vari})
}

func (nb *naiveBayes) predict(x, out []float64, _ *workspace) {
	p := nb.p
	for c := 0; c < nb.k; c++ {
		mu, v := nb.mean[c*p:(c+1)*p], nb.vari[c*p:(c+1)*p]
		s := 0.0
		for j, xv := range x[:p] {
			d := xv - mu[j]
			s += d * d / v[j]
		}
		out[c] = nb.logPrior[c] + nb.logNorm[c] - 0.5*s
	}
	softmaxInto(out, out[:nb.k])
}

func (nb *naiveBayes) finish() {
	nb.logNorm = make([]float64, nb.k)
	for c := 0; c < nb.k; c++ {
		s := 0.0
		for _, v := range nb.vari[c*nb.p : (c+1)*nb.p] {
			s += math.Log(2 * math.Pi * v)
		}
		nb.logNorm[c] = -0.5 * s
	}
}

// trainNaiveBayes fits the model on x (n rows of p features named by
// names). A feature whose variance overflows float64 is an error naming
// it: its probabilities would all be NaN.
func trainNaiveBayes(x []float64, n, p int, y []int32, w []float64, k int, smoothing float64, names []string) (*naiveBayes, error) {
	lo, hi := make([]float64, p), make([]float64, p)
	for j := range lo {
		lo[j], hi[j] = math.Inf(1), math.Inf(-1)
	}
	for i := 0; i < n; i++ {
		for j, v := range x[i*p : i*p+p] {
			lo[j], hi[j] = math.Min(lo[j], v), math.Max(hi[j], v)
		}
	}
	overflow := func(j int) error {
		return fmt.Errorf("nb: the variance of column %q (values from %g to %g) overflows float64: rescale the column or leave it out with --drop", names[j], lo[j], hi[j])
	}
	for j := range lo {
		// Every deviation from a mean, in training and (inputs clamp to
		// the training range) in prediction, is at most hi-lo.
		if r := hi[j] - lo[j]; math.IsInf(r*r, 0) {
			return nil, overflow(j)
		}
	}
	nb := &naiveBayes{k: k, p: p, logPrior: make([]float64, k), mean: make([]float64, k*p), vari: make([]float64, k*p)}
	cw := make([]float64, k)
	for i := 0; i < n; i++ {
		c := int(y[i])
		cw[c] += w[i]
		floats.AddScaled(nb.mean[c*p:(c+1)*p], w[i], x[i*p:i*p+p])
	}
	for c := 0; c < k; c++ {
		if cw[c] > 0 {
			floats.Scale(1/cw[c], nb.mean[c*p:(c+1)*p])
		}
	}
	for i := 0; i < n; i++ {
		c := int(y[i])
		mu := nb.mean[c*p : (c+1)*p]
		v := nb.vari[c*p : (c+1)*p]
		for j, xv := range x[i*p : i*p+p] {
			d := xv - mu[j]
			v[j] += w[i] * d * d
		}
	}
	for c := 0; c < k; c++ {
		if cw[c] > 0 {
			floats.Scale(1/cw[c], nb.vari[c*p:(c+1)*p])
		}
	}
	// Sums over many rows can overflow where one deviation does not.
	for i := range nb.vari {
		if !allFinite([]float64{nb.mean[i], nb.vari[i]}) {
			return nil, overflow(i % p)
		}
	}
	// epsilon = smoothing * largest variance over all data
	mean := make([]float64, p)
	for i := 0; i < n; i++ {
		floats.Add(mean, x[i*p:i*p+p])
	}
	floats.Scale(1/float64(n), mean)
	maxVar := 0.0
	for j := 0; j < p; j++ {
		s := 0.0
		for i := 0; i < n; i++ {
			d := x[i*p+j] - mean[j]
			s += d * d
		}
		if math.IsInf(s, 0) || math.IsNaN(s) {
			return nil, overflow(j)
		}
		maxVar = math.Max(maxVar, s/float64(n))
	}
	eps := smoothing * maxVar
	if eps <= 0 {
		eps = 1e-12
	}
	if math.IsInf(eps, 0) {
		return nil, fmt.Errorf("nb: --var-smoothing %g times the largest feature variance %g overflows float64", smoothing, maxVar)
	}
	for i := range nb.vari {
		if nb.vari[i] += eps; math.IsInf(nb.vari[i], 0) {
			return nil, overflow(i % p)
		}
	}
	tw := floats.Sum(cw)
	for c := range cw {
		nb.logPrior[c] = math.Log(math.Max(cw[c]/tw, 1e-300))
	}
	nb.finish()
	return nb, nil
}

func decodeNaiveBayes(raw json.RawMessage, nfeat, k int) (*naiveBayes, error) {
	var f naiveBayesFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, err
	}
	if f.Classes != k || f.Features != nfeat || len(f.LogPrior) != k || len(f.Mean) != k*nfeat || len(f.Var) != k*nfeat {
		return nil, fmt.Errorf("parameter shapes do not match %d classes x %d features", k, nfeat)
	}
	if !allFinite(f.Mean) || !allFinite(f.Var) || !allFinite(f.LogPrior) {
		return nil, errors.New("non-finite parameter")
	}
	for _, v := range f.Var {
		if v <= 0 {
			return nil, errors.New("non-positive variance")
		}
	}
	nb := &naiveBayes{k: k, p: nfeat, logPrior: f.LogPrior, mean: f.Mean, vari: f.Var}
	nb.finish()
	return nb, nil
}
