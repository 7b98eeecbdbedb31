package classifier

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
)

// forest is a random forest or, with one tree, no bootstrap and all
// features per split, a CART decision tree. Leaves hold class
// probabilities; the forest averages them.
type forest struct {
	fd  *forestData
	k   int
	imp []float64 // impurity importance per encoded feature, sums to 1

	chain *chainWalk // nil: walk fd in groups of eight
	slots sync.Pool  // *[]uint32 of chain.trees+1 leaf offsets
}

// newForest wraps fd and builds its chained walk when it fits.
func newForest(fd *forestData, k int, imp []float64) *forest {
	f := &forest{fd: fd, k: k, imp: imp, chain: fd.chain()}
	if f.chain != nil {
		n := f.chain.trees + 1
		f.slots.New = func() any { s := make([]uint32, n); return &s }
	}
	return f
}

type forestFile struct {
	Classes    int        `json:"classes"`
	Importance []float64  `json:"importance"`
	Trees      forestJSON `json:"trees"`
}

func (f *forest) marshal() (json.RawMessage, error) {
	return json.Marshal(forestFile{Classes: f.k, Importance: f.imp, Trees: f.fd.toJSON()})
}

func (f *forest) importance() []float64 { return f.imp }

func (f *forest) predict(x, out []float64, _ *workspace) {
	for c := range out {
		out[c] = 0
	}
	fd := f.fd
	vals := fd.values
	k := len(out)
	if c := f.chain; c != nil && len(x) > c.maxFeat {
		sp := f.slots.Get().(*[]uint32)
		slots := *sp
		c.walk(x, slots)
		if k >= 1 && k <= 8 {
			sumLeaves8(c, slots[:len(fd.roots)], out)
		} else {
			for _, o := range slots[:len(fd.roots)] {
				off := c.payload(o)
				v := c.values[off : off+k]
				for j := range out {
					out[j] += float64(v[j])
				}
			}
		}
		f.slots.Put(sp)
		inv := 1 / float64(len(fd.roots))
		for c := range out {
			out[c] *= inv
		}
		return
	}
	t := 0
	var leaves [8]int32
	for ; t+8 <= len(fd.roots); t += 8 {
		fd.leaves8(t, x, &leaves)
		for _, off := range leaves {
			v := vals[off : int(off)+k]
			for j := range out {
				out[j] += float64(v[j])
			}
		}
	}
	for ; t < len(fd.roots); t++ {
		off := int(fd.leaf(t, x))
		v := vals[off : off+k]
		for c := range out {
			out[c] += float64(v[c])
		}
	}
	inv := 1 / float64(len(fd.roots))
	for c := range out {
		out[c] *= inv
	}
}

// sumLeaves8 sets out (at most 8 classes) to the sums of the walked
// leaves' payloads, tree after tree as the general loop adds them, so the
// sums are the same to the bit. The running sums stay in registers: adding
// into out makes a store-to-load chain per class through every tree (5 %
// of a 5-class prediction). The tests on k are the same on every tree, so
// they predict perfectly.
func sumLeaves8(c *chainWalk, slots []uint32, out []float64) {
	k := len(out)
	vals := c.values
	var a0, a1, a2, a3, a4, a5, a6, a7 float64
	for _, o := range slots {
		off := c.payload(o)
		v := vals[off : off+k : off+k]
		a0 += float64(v[0])
		if k > 1 {
			a1 += float64(v[1])
		}
		if k > 2 {
			a2 += float64(v[2])
		}
		if k > 3 {
			a3 += float64(v[3])
		}
		if k > 4 {
			a4 += float64(v[4])
		}
		if k > 5 {
			a5 += float64(v[5])
		}
		if k > 6 {
			a6 += float64(v[6])
		}
		if k > 7 {
			a7 += float64(v[7])
		}
	}
	acc := [8]float64{a0, a1, a2, a3, a4, a5, a6, a7}
	copy(out, acc[:k])
}

// forestParams configures trainForest.
type forestParams struct {
	trees     int
	bootstrap bool
	cart      cartParams
	seed      uint64
	workers   int
}

// trainForest grows the trees in parallel. Each tree draws from its own
// random stream seeded by (seed, tree index), so the result does not depend
// on the number of workers or their scheduling.
func trainForest(x []float64, n, p int, y []int32, w []float64, k int, par forestParams) *forest {
	workers := par.workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	bn := fitBinner(x, n, p, workers)
	bins := bn.apply(x, n, p, workers)
	bn.fitFine(x, n, p, workers)
	return trainForestBinned(x, bins, bn, n, p, y, w, k, par)
}

func trainForestBinned(x []float64, bins []uint8, bn *binner, n, p int, y []int32, w []float64, k int, par forestParams) *forest {
	workers := par.workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, par.trees)
	trees := make([]*forestData, par.trees)
	imps := make([][]float64, par.trees)
	var next atomic.Int64
	var wg sync.WaitGroup
	prog := startFitProgress(par.trees, "trees")
	defer prog.end()
	for wk := 0; wk < workers; wk++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := newCartBuilder(x, bins, p, bn, y, k, par.cart)
			idx := make([]int32, 0, n)
			bw := make([]float64, n)
			for {
				t := int(next.Add(1) - 1)
				if t >= par.trees {
					return
				}
				rng := rand.New(rand.NewPCG(par.seed, uint64(t)+0x9e3779b97f4a7c15))
				idx = idx[:0]
				if par.bootstrap {
					for i := range bw {
						bw[i] = 0
					}
					for j := 0; j < n; j++ {
						bw[rng.IntN(n)]++
					}
					for i := 0; i < n; i++ {
						if bw[i] > 0 {
							bw[i] *= w[i]
							idx = append(idx, int32(i))
						}
					}
				} else {
					copy(bw, w)
					for i := 0; i < n; i++ {
						if w[i] > 0 {
							idx = append(idx, int32(i))
						}
					}
				}
				for i := range b.imp {
					b.imp[i] = 0
				}
				trees[t] = b.grow(idx, bw, rng)
				imp := make([]float64, p)
				normalizeInto(imp, b.imp)
				imps[t] = imp
				prog.add()
			}
		}()
	}
	wg.Wait()
	fd := &forestData{width: k}
	imp := make([]float64, p)
	for t, tr := range trees {
		fd.append(tr)
		for i, v := range imps[t] {
			imp[i] += v
		}
	}
	normalizeInto(imp, imp)
	fd.compile()
	return newForest(fd, k, imp)
}

func normalizeInto(dst, src []float64) {
	s := 0.0
	for _, v := range src {
		s += v
	}
	for i, v := range src {
		if s > 0 {
			dst[i] = v / s
		} else {
			dst[i] = 0
		}
	}
}

func decodeForest(raw json.RawMessage, nfeat, k int) (*forest, error) {
	var ff forestFile
	if err := json.Unmarshal(raw, &ff); err != nil {
		return nil, err
	}
	// Each message names the field that disagrees: "got 3, want 3" for a
	// class list cut short named neither the leaves nor the list.
	if ff.Classes != k {
		return nil, fmt.Errorf("model.classes is %d but the file lists %d classes", ff.Classes, k)
	}
	if ff.Trees.Width != k {
		return nil, fmt.Errorf("trees.leaf_width is %d but the file lists %d classes (one leaf value each)", ff.Trees.Width, k)
	}
	fd, err := ff.Trees.toForest(nfeat)
	if err != nil {
		return nil, err
	}
	// Leaves are class distributions the forest averages: a negative or
	// oversized entry would give confidences outside [0, 1].
	for i := 0; i < len(fd.values); i += k {
		s := float32(0)
		for c, v := range fd.values[i : i+k] {
			if v < 0 || v > 1 {
				return nil, fmt.Errorf("trees.values[%d] = %g: not a probability", i+c, v)
			}
			s += v
		}
		if s > 1+1e-4 {
			return nil, fmt.Errorf("trees.values[%d:%d] sum to %g, more than 1", i, i+k, s)
		}
	}
	for _, v := range ff.Importance {
		if math.IsNaN(v) {
			return nil, errors.New("importance has a NaN")
		}
	}
	if len(ff.Importance) != nfeat {
		ff.Importance = make([]float64, nfeat)
	}
	return newForest(fd, k, ff.Importance), nil
}
