package classifier

import (
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"sync"
)

// gbdt is gradient-boosted trees on histogram-binned features: one logistic
// tree per round for two classes, k softmax trees per round otherwise.
type gbdt struct {
	fd       *forestData // width 1: leaf values already scaled by the learning rate
	k        int
	perRound int
	init     []float64
	imp      []float64
}

type gbdtFile struct {
	Classes    int        `json:"classes"`
	PerRound   int        `json:"trees_per_round"`
	Init       []float64  `json:"init"`
	Importance []float64  `json:"importance"`
	Trees      forestJSON `json:"trees"`
}

func (g *gbdt) marshal() (json.RawMessage, error) {
	return json.Marshal(gbdtFile{Classes: g.k, PerRound: g.perRound, Init: g.init, Importance: g.imp, Trees: g.fd.toJSON()})
}

func (g *gbdt) importance() []float64 { return g.imp }

func (g *gbdt) predict(x, out []float64, _ *workspace) {
	var raw [64]float64
	var r []float64
	if g.perRound <= len(raw) {
		r = raw[:g.perRound]
	} else {
		r = out[:g.perRound] // k > 64: reuse out, perRound == k
	}
	copy(r, g.init)
	fd := g.fd
	pr := g.perRound
	t := 0
	var leaves [8]int32
	for ; t+8 <= len(fd.roots); t += 8 {
		fd.leaves8(t, x, &leaves)
		for j, off := range leaves {
			r[(t+j)%pr] += float64(fd.values[off])
		}
	}
	for ; t < len(fd.roots); t++ {
		r[t%pr] += float64(fd.values[fd.leaf(t, x)])
	}
	if pr == 1 {
		p := sigmoid(r[0])
		out[0], out[1] = 1-p, p
		return
	}
	softmaxInto(out, r)
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// softmaxInto writes softmax(r) to out; out and r may alias.
func softmaxInto(out, r []float64) {
	m := math.Inf(-1)
	for _, v := range r {
		m = math.Max(m, v)
	}
	s := 0.0
	for i, v := range r {
		e := math.Exp(v - m)
		out[i] = e
		s += e
	}
	for i := range out[:len(r)] {
		out[i] /= s
	}
}

type gbdtParams struct {
	rounds   int
	lr       float64
	maxDepth int
	minLeaf  int
	lambda   float64
	workers  int
}

// gbdtBuilder grows one regression tree on gradients with histogram
// subtraction: only the smaller child's histogram is summed from rows.
type gbdtBuilder struct {
	bins    []uint8
	p       int
	bn      *binner
	g, h    []float64
	par     gbdtParams
	out     *forestData
	imp     []float64
	scores  []float64 // raw scores to update, stride perRound
	stride  int
	col     int
	pool    [][]float64
	workers int
}

const histStride = 3 // grad, hess, count per bin

func (b *gbdtBuilder) getHist() []float64 {
	if n := len(b.pool); n > 0 {
		h := b.pool[n-1]
		b.pool = b.pool[:n-1]
		return h
	}
	return make([]float64, b.p*(maxBins+1)*histStride)
}

func (b *gbdtBuilder) putHist(h []float64) { b.pool = append(b.pool, h) }

func (b *gbdtBuilder) buildHist(idx []int32, h []float64) {
	p := b.p
	work := func(f0, f1 int) {
		seg := h[f0*(maxBins+1)*histStride : f1*(maxBins+1)*histStride]
		for i := range seg {
			seg[i] = 0
		}
		for _, i := range idx {
			row := b.bins[int(i)*p : int(i)*p+p]
			gi, hi := b.g[i], b.h[i]
			for f := f0; f < f1; f++ {
				o := (f*(maxBins+1) + int(row[f])) * histStride
				h[o] += gi
				h[o+1] += hi
				h[o+2]++
			}
		}
	}
	w := b.workers
	if w <= 1 || len(idx)*p < 1<<15 {
		work(0, p)
		return
	}
	var wg sync.WaitGroup
	for k := 0; k < w; k++ {
		f0, f1 := k*p/w, (k+1)*p/w
		wg.Add(1)
		go func() { defer wg.Done(); work(f0, f1) }()
	}
	wg.Wait()
}

func (b *gbdtBuilder) grow(idx []int32) *forestData {
	b.out = &forestData{width: 1, roots: []int32{0}, nodes: []node{{}}}
	h := b.getHist()
	b.buildHist(idx, h)
	b.split(0, idx, h, 0)
	return b.out
}

func (b *gbdtBuilder) leaf(ni int32, idx []int32, G, H float64) {
	v := -G / (H + b.par.lambda) * b.par.lr
	off := int32(len(b.out.values))
	b.out.values = append(b.out.values, float32(v))
	b.out.nodes[ni] = node{feat: -1, child: off}
	v = float64(float32(v)) // the exact value inference will add
	for _, i := range idx {
		b.scores[int(i)*b.stride+b.col] += v
	}
}

func (b *gbdtBuilder) split(ni int32, idx []int32, h []float64, depth int) {
	// node totals from feature 0's histogram
	G, H := 0.0, 0.0
	for bin := 0; bin <= maxBins; bin++ {
		G += h[bin*histStride]
		H += h[bin*histStride+1]
	}
	n := len(idx)
	lam := b.par.lambda
	if depth >= b.par.maxDepth || n < 2*b.par.minLeaf {
		b.putHist(h)
		b.leaf(ni, idx, G, H)
		return
	}
	parent := G * G / (H + lam)
	bestGain, bestF, bestB := 1e-12, -1, 0
	for f := 0; f < b.p; f++ {
		nb := b.bn.nbins(f)
		hf := h[f*(maxBins+1)*histStride:]
		gl, hl, nl := 0.0, 0.0, 0
		for bin := 0; bin < nb-1; bin++ {
			o := bin * histStride
			gl += hf[o]
			hl += hf[o+1]
			nl += int(hf[o+2])
			if nl < b.par.minLeaf {
				continue
			}
			if n-nl < b.par.minLeaf {
				break
			}
			gr, hr := G-gl, H-hl
			if hl < 1e-3 || hr < 1e-3 {
				continue
			}
			gain := gl*gl/(hl+lam) + gr*gr/(hr+lam) - parent
			if gain > bestGain {
				bestGain, bestF, bestB = gain, f, bin
			}
		}
	}
	if bestF < 0 {
		b.putHist(h)
		b.leaf(ni, idx, G, H)
		return
	}
	b.imp[bestF] += bestGain
	p := b.p
	bb := uint8(bestB)
	lo, hi := 0, n-1
	for lo <= hi {
		if b.bins[int(idx[lo])*p+bestF] <= bb {
			lo++
		} else {
			idx[lo], idx[hi] = idx[hi], idx[lo]
			hi--
		}
	}
	child := int32(len(b.out.nodes))
	b.out.nodes = append(b.out.nodes, node{}, node{})
	b.out.nodes[ni] = node{feat: int32(bestF), thr: b.bn.edges[bestF][bestB], child: child}
	left, right := idx[:lo], idx[lo:]
	small := b.getHist()
	var hl, hr []float64
	if len(left) <= len(right) {
		b.buildHist(left, small)
		for i := range h {
			h[i] -= small[i]
		}
		hl, hr = small, h
	} else {
		b.buildHist(right, small)
		for i := range h {
			h[i] -= small[i]
		}
		hl, hr = h, small
	}
	b.split(child, left, hl, depth+1)
	b.split(child+1, right, hr, depth+1)
}

func trainGBDT(x []float64, n, p int, y []int32, w []float64, k int, par gbdtParams) (*gbdt, error) {
	if k < 2 {
		return nil, fmt.Errorf("gbdt needs at least 2 classes, got %d", k)
	}
	bn := fitBinner(x, n, p)
	bins := bn.apply(x, n, p)
	pr := k
	if k == 2 {
		pr = 1
	}
	workers := par.workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	m := &gbdt{k: k, perRound: pr, init: make([]float64, pr), fd: &forestData{width: 1}}
	// initial scores: log prior (multiclass) or log odds (binary)
	prior := make([]float64, k)
	tw := 0.0
	for i, c := range y {
		prior[c] += w[i]
		tw += w[i]
	}
	for c := range prior {
		prior[c] = math.Max(prior[c]/tw, 1e-12)
	}
	if pr == 1 {
		m.init[0] = math.Log(prior[1] / prior[0])
	} else {
		for c := range prior {
			m.init[c] = math.Log(prior[c])
		}
	}
	scores := make([]float64, n*pr)
	for i := 0; i < n; i++ {
		copy(scores[i*pr:], m.init)
	}
	grads := make([][]float64, pr)
	hess := make([][]float64, pr)
	for j := range grads {
		grads[j] = make([]float64, n)
		hess[j] = make([]float64, n)
	}
	b := &gbdtBuilder{bins: bins, p: p, bn: bn, par: par, imp: make([]float64, p), scores: scores, stride: pr, workers: workers}
	idx := make([]int32, n)
	prob := make([]float64, k)
	for r := 0; r < par.rounds; r++ {
		for i := 0; i < n; i++ {
			s := scores[i*pr : i*pr+pr]
			if pr == 1 {
				q := sigmoid(s[0])
				t := 0.0
				if y[i] == 1 {
					t = 1
				}
				grads[0][i] = (q - t) * w[i]
				hess[0][i] = math.Max(q*(1-q), 1e-16) * w[i]
				continue
			}
			softmaxInto(prob, s)
			for c := 0; c < k; c++ {
				t := 0.0
				if int(y[i]) == c {
					t = 1
				}
				grads[c][i] = (prob[c] - t) * w[i]
				hess[c][i] = math.Max(prob[c]*(1-prob[c]), 1e-16) * w[i]
			}
		}
		for j := 0; j < pr; j++ {
			for i := range idx {
				idx[i] = int32(i)
			}
			b.g, b.h, b.col = grads[j], hess[j], j
			m.fd.append(b.grow(idx))
		}
	}
	m.imp = make([]float64, p)
	normalizeInto(m.imp, b.imp)
	m.fd.compile()
	return m, nil
}

func decodeGBDT(raw json.RawMessage, nfeat, k int) (*gbdt, error) {
	var gf gbdtFile
	if err := json.Unmarshal(raw, &gf); err != nil {
		return nil, err
	}
	if gf.Classes != k {
		return nil, errMismatch("gbdt classes", gf.Classes, k)
	}
	want := k
	if k == 2 {
		want = 1
	}
	if gf.PerRound != want || len(gf.Init) != want || gf.Trees.Width != 1 {
		return nil, errMismatch("gbdt trees per round", gf.PerRound, want)
	}
	fd, err := gf.Trees.toForest(nfeat)
	if err != nil {
		return nil, err
	}
	if len(fd.roots)%want != 0 {
		return nil, errMismatch("gbdt tree count", len(fd.roots), want)
	}
	if len(gf.Importance) != nfeat {
		gf.Importance = make([]float64, nfeat)
	}
	return &gbdt{fd: fd, k: k, perRound: want, init: gf.Init, imp: gf.Importance}, nil
}
