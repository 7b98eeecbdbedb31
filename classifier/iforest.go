package classifier

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
)

// isolationForest scores how easily a row is isolated by random splits
// (Liu, Ting, Zhou 2008). It is unsupervised: labels are used only to
// report evaluation as normal vs anomaly.
type isolationForest struct {
	fd        *forestData // leaf value: depth + c(leaf size)
	psi       int
	threshold float64 // score at which a row is called an anomaly
}

type iforestFile struct {
	Subsample int        `json:"subsample"`
	Threshold float64    `json:"threshold"`
	Trees     forestJSON `json:"trees"`
}

func (f *isolationForest) marshal() (json.RawMessage, error) {
	return json.Marshal(iforestFile{Subsample: f.psi, Threshold: f.threshold, Trees: f.fd.toJSON()})
}

// avgPath is c(n), the average unsuccessful-search path length of a BST.
func avgPath(n int) float64 {
	switch {
	case n <= 1:
		return 0
	case n == 2:
		return 1
	}
	fn := float64(n)
	return 2*(math.Log(fn-1)+0.5772156649015329) - 2*(fn-1)/fn
}

// score is the anomaly score in (0, 1]; above 0.5 is anomalous-looking.
func (f *isolationForest) score(x []float64) float64 {
	s := 0.0
	for t := range f.fd.roots {
		s += float64(f.fd.values[f.fd.leaf(t, x)])
	}
	h := s / float64(len(f.fd.roots))
	return math.Pow(2, -h/avgPath(f.psi))
}

// predict maps the score to [P(normal), P(anomaly)], monotone, with
// P(anomaly) = 0.5 at the threshold.
func (f *isolationForest) predict(x, out []float64, _ *workspace) {
	s := f.score(x)
	t := f.threshold
	var pa float64
	if s < t {
		pa = 0.5 * s / t
	} else {
		pa = 0.5 + 0.5*(s-t)/math.Max(1-t, 1e-12)
	}
	pa = math.Min(1, math.Max(0, pa))
	out[0], out[1] = 1-pa, pa
}

func trainIsolationForest(x []float64, n, p, trees, psi int, contamination float64, seed uint64, workers int) (*isolationForest, error) {
	if trees < 1 {
		return nil, fmt.Errorf("trees = %d", trees)
	}
	psi = min(psi, n)
	if psi < 2 {
		return nil, errors.New("isolation forest needs at least 2 rows")
	}
	maxDepth := int(math.Ceil(math.Log2(float64(psi))))
	parts := make([]*forestData, trees)
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(1, workers))
	for t := 0; t < trees; t++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			rng := rand.New(rand.NewPCG(seed, uint64(t)+0x5851f42d4c957f2d))
			sample := rng.Perm(n)[:psi]
			fd := &forestData{width: 1, roots: []int32{0}, nodes: []node{{}}}
			growIsolation(fd, 0, x, p, sample, 0, maxDepth, rng)
			parts[t] = fd
		}()
	}
	wg.Wait()
	f := &isolationForest{fd: &forestData{width: 1}, psi: psi, threshold: 0.5}
	for _, fd := range parts {
		f.fd.append(fd)
	}
	if contamination > 0 {
		if contamination >= 0.5 {
			return nil, fmt.Errorf("contamination %v must be below 0.5", contamination)
		}
		scores := make([]float64, n)
		for i := 0; i < n; i++ {
			scores[i] = f.score(x[i*p : i*p+p])
		}
		sort.Float64s(scores)
		// A row scoring above the threshold is an anomaly: the
		// threshold is the score just below the k highest, so k rows,
		// n·contamination of them, are (it was the lowest of the k, and
		// only k-1 were: 10 rows at 0.1 gave none).
		k := int(math.Round(float64(n) * contamination))
		f.threshold = scores[max(0, n-k-1)]
	}
	return f, nil
}

func growIsolation(fd *forestData, ni int32, x []float64, p int, rows []int, depth, maxDepth int, rng *rand.Rand) {
	leaf := func() {
		fd.nodes[ni] = node{feat: -1, child: int32(len(fd.values))}
		fd.values = append(fd.values, float32(float64(depth)+avgPath(len(rows))))
	}
	if depth >= maxDepth || len(rows) <= 1 {
		leaf()
		return
	}
	// random feature among those not constant here
	var cands []int
	for f := 0; f < p; f++ {
		lo, hi := x[rows[0]*p+f], x[rows[0]*p+f]
		for _, r := range rows[1:] {
			v := x[r*p+f]
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		if hi > lo {
			cands = append(cands, f)
		}
	}
	if len(cands) == 0 {
		leaf()
		return
	}
	f := cands[rng.IntN(len(cands))]
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range rows {
		lo, hi = math.Min(lo, x[r*p+f]), math.Max(hi, x[r*p+f])
	}
	thr := lo + rng.Float64()*(hi-lo)
	if thr >= hi {
		thr = lo
	}
	var left, right []int
	for _, r := range rows {
		if x[r*p+f] <= thr {
			left = append(left, r)
		} else {
			right = append(right, r)
		}
	}
	child := int32(len(fd.nodes))
	fd.nodes = append(fd.nodes, node{}, node{})
	fd.nodes[ni] = node{feat: int32(f), thr: thr, child: child}
	growIsolation(fd, child, x, p, left, depth+1, maxDepth, rng)
	growIsolation(fd, child+1, x, p, right, depth+1, maxDepth, rng)
}

func decodeIsolationForest(raw json.RawMessage, nfeat, k int) (*isolationForest, error) {
	var f iforestFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, err
	}
	if k != 2 {
		return nil, errMismatch("isolation forest classes", k, 2)
	}
	if f.Subsample < 2 || !(f.Threshold > 0 && f.Threshold < 1) || f.Trees.Width != 1 {
		return nil, fmt.Errorf("subsample %d, threshold %v invalid", f.Subsample, f.Threshold)
	}
	fd, err := f.Trees.toForest(nfeat)
	if err != nil {
		return nil, err
	}
	return &isolationForest{fd: fd, psi: f.Subsample, threshold: f.Threshold}, nil
}
