package classifier

import (
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
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

// softmaxInto writes softmax(r) to out; out and r may alias. Scores that
// overflow (a hand-edited lr or nb file whose finite parameters sum to
// ±Inf, or to Inf-Inf) still give probabilities, never NaN, which would pass
// any --min-confidence: the +Inf classes share 1, NaN scores get 0, and
// with no score above -Inf every class gets 1/k.
func softmaxInto(out, r []float64) {
	m := math.Inf(-1)
	for _, v := range r {
		if v > m { // skips NaN, which math.Max would return
			m = v
		}
	}
	if math.IsInf(m, 0) {
		n := 0
		for _, v := range r {
			if v == m || m < 0 {
				n++
			}
		}
		for i, v := range r {
			out[i] = 0
			if v == m || m < 0 {
				out[i] = 1 / float64(n)
			}
		}
		return
	}
	s := 0.0
	for i, v := range r {
		e := math.Exp(v - m)
		if e != e {
			e = 0
		}
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

// gpair is one row's gradient and hessian, stored together so that summing
// a row into a histogram reads one 16-byte value.
type gpair struct{ g, h float64 }

// hbin is one histogram bin: gradient and hessian sums and the row count
// (minLeaf needs exact per-bin counts).
type hbin struct {
	g, h float64
	n    int32
}

// gbdtBuilder grows one regression tree on gradients with histogram
// subtraction: only the smaller child's histogram is summed from rows.
//
// Bins are column-major so that summing feature f touches one column and
// one histogram of at most 256 bins that stays in L1; features are summed
// four at a time so that rows falling into the same bin (most rows, for
// the many near-constant features) do not serialise on one add chain.
// Every bin is still the sum of its rows in idx order, as a row-major pass
// would add them, so trees do not depend on the layout or the workers.
type gbdtBuilder struct {
	binsT   []uint8 // feature f of row i at binsT[f*n+i]
	n, p    int
	bn      *binner
	off     []int   // feature f's bins are hist[off[f]:off[f]+bn.nbins(f)]
	rootCnt []int32 // rows per bin of all rows, laid out like a histogram
	gh      []gpair
	ghn     []gpair // gh gathered in idx order for the node being summed
	par     gbdtParams
	out     *forestData
	scores  []float64 // this tree's column of the raw scores
	pool    [][]hbin
	splits  []splitGain // this tree's splits in the order made, for importance

	// feature-parallel summing: a node's histogram is offered on help
	// to workers that have no tree of their own left; they and the
	// builder take feature groups of job from an atomic counter. nil help
	// sums serially.
	help     chan func()
	open     atomic.Bool // a job has groups left: spinning helpers poll this
	maxHelp  int
	job      histJob
	helperFn func()
}

// splitGain is one split's feature and gain. Trees grown at once log their
// gains and the log is added to the importance in tree order afterwards,
// so the float sums are the ones a serial fit makes.
type splitGain struct {
	f    int
	gain float64
}

// histJob is one node's feature-parallel histogram pass: sum rows idx into
// small and, when parent is set, subtract small from parent. A helper that
// arrives after the last group was taken finds next past the end (or, if
// the builder has moved on, a group of the next job, which is as good).
type histJob struct {
	idx           []int32
	ghn           []gpair
	small, parent []hbin
	next, done    atomic.Int32
}

// histGroup is the number of features per work item of a histJob: the
// four a pass sums together.
const histGroup = 4

// parMinWork is the rows*features below which a node is summed serially.
// A spinning helper joins within microseconds, so even nodes of a few
// hundred rows gain (KDDTrain+ binary: 1<<13 fits faster than 1<<15 or
// larger thresholds).
const parMinWork = 1 << 13

func newGBDTBuilder(binsT []uint8, n, p int, bn *binner, rootCnt []int32, par gbdtParams) *gbdtBuilder {
	off := gbdtOffsets(bn, p)
	b := &gbdtBuilder{binsT: binsT, n: n, p: p, bn: bn, off: off, rootCnt: rootCnt, ghn: make([]gpair, n), par: par}
	b.helperFn = b.helper
	b.job.next.Store(math.MaxInt32 / 2) // no job yet
	return b
}

// gbdtOffsets lays out a histogram: feature f's bins start at off[f].
func gbdtOffsets(bn *binner, p int) []int {
	off := make([]int, p+1)
	for f := 0; f < p; f++ {
		off[f+1] = off[f] + bn.nbins(f)
		if (f+1)%histGroup == 0 {
			// groups start on a cache line (8 bins are 3 lines) so that
			// workers summing neighbouring groups do not share one: the
			// hot bin of a near-constant feature is hit by every row
			off[f+1] = (off[f+1] + 7) &^ 7
		}
	}
	return off
}

// gbdtBins bins x column-major (feature f of row i at [f*n+i]), as
// binner.apply would, splitting features over workers.
func gbdtBins(bn *binner, x []float64, n, p, workers int) []uint8 {
	binsT := make([]uint8, n*p)
	eachColumn(p, 0, workers, func(f int, _, _ []float64) {
		edges, col := bn.edges[f], binsT[f*n:f*n+n]
		for i := range col {
			col[i] = uint8(sort.SearchFloat64s(edges, x[i*p+f]))
		}
	})
	return binsT
}

// gbdtRootCounts counts all rows per bin, laid out like a histogram.
func gbdtRootCounts(binsT []uint8, n, p int, off []int) []int32 {
	cnt := make([]int32, off[p])
	for f := 0; f < p; f++ {
		c := cnt[off[f]:]
		for _, v := range binsT[f*n : f*n+n] {
			c[v]++
		}
	}
	return cnt
}

func (b *gbdtBuilder) groups() int32 { return int32((b.p + histGroup - 1) / histGroup) }

// helper sums feature groups of b.job until none are left.
func (b *gbdtBuilder) helper() {
	j := &b.job
	ng := b.groups()
	for {
		g := j.next.Add(1) - 1
		if g >= ng {
			return
		}
		f0 := int(g) * histGroup
		f1 := min(f0+histGroup, b.p)
		b.sumRange(j.idx, j.ghn, j.small, j.parent, f0, f1)
		j.done.Add(1)
	}
}

// subHist subtracts s from h bin by bin.
func subHist(h, s []hbin) {
	s = s[:len(h)]
	for i := range h {
		e := &h[i]
		e.g -= s[i].g
		e.h -= s[i].h
		e.n -= s[i].n
	}
}

func (b *gbdtBuilder) getHist() []hbin {
	if n := len(b.pool); n > 0 {
		h := b.pool[n-1]
		b.pool = b.pool[:n-1]
		return h
	}
	// padded so that every feature's bins can be addressed as a
	// *[maxBins+1]hbin, which needs no bounds check for a uint8 bin
	return make([]hbin, b.off[b.p]+maxBins+1)
}

func (b *gbdtBuilder) putHist(h []hbin) { b.pool = append(b.pool, h) }

// buildHist sums the rows idx into h (all features) and subtracts h from
// parent; a nil parent means the root, whose idx is every row in order.
func (b *gbdtBuilder) buildHist(idx []int32, h, parent []hbin) {
	var ghn []gpair
	if parent != nil { // the root needs no gather: idx is every row in order
		ghn = b.ghn[:len(idx)]
		for j, i := range idx {
			ghn[j] = b.gh[i]
		}
	}
	if b.help == nil || len(idx)*b.p < parMinWork {
		b.sumRange(idx, ghn, h, parent, 0, b.p)
		return
	}
	j := &b.job
	j.idx, j.ghn, j.small, j.parent = idx, ghn, h, parent
	j.done.Store(0)
	j.next.Store(0)
offer:
	for range b.maxHelp {
		select {
		case b.help <- b.helperFn:
		default:
			break offer // the other workers are busy with trees
		}
	}
	b.open.Store(true)
	b.helper()
	b.open.Store(false)
	// wait for the groups helpers took; each is a few hundred µs at most
	for ng := b.groups(); j.done.Load() < ng; {
		runtime.Gosched()
	}
}

// sumLeafTotals sums only feature 0 of rows idx into h and subtracts it
// from parent, for children that will both be leaves: a leaf needs only its
// totals, which split takes from feature 0's bins. A third or so of the
// rows a tree sums are in such children.
func (b *gbdtBuilder) sumLeafTotals(idx []int32, h, parent []hbin) {
	nb := b.bn.nbins(0)
	clear(h[:nb])
	c0 := b.binsT[:b.n]
	h0 := (*[maxBins + 1]hbin)(h)
	for _, i := range idx {
		gp := b.gh[i]
		e := &h0[c0[i]]
		e.g += gp.g
		e.h += gp.h
		e.n++
	}
	subHist(parent[:nb], h[:nb])
}

// sumRange sums features [f0,f1) of the job's rows into h: the root when
// parent is nil, else a child, whose sums are then subtracted from parent.
func (b *gbdtBuilder) sumRange(idx []int32, ghn []gpair, h, parent []hbin, f0, f1 int) {
	lo, hi := b.off[f0], b.off[f1]
	if parent == nil {
		for i, c := range b.rootCnt[lo:hi] {
			h[lo+i] = hbin{n: c}
		}
		b.sumRoot(h, f0, f1)
		return
	}
	clear(h[lo:hi])
	b.sumFeatures(idx, ghn, h, f0, f1)
	subHist(parent[lo:hi], h[lo:hi])
}

// sumRoot sums features [f0,f1) of every row, in order, into h. Root counts
// are the same for every tree, so they are copied from rootCnt rather than
// counted: with no count and no idx to follow, the pass does a third less
// work, and the root is two thirds of the rows a tree sums.
func (b *gbdtBuilder) sumRoot(h []hbin, f0, f1 int) {
	n := b.n
	gh := b.gh[:n]
	f := f0
	for ; f+4 <= f1; f += 4 {
		c0, c1, c2, c3 := b.binsT[f*n:][:n], b.binsT[(f+1)*n:][:n], b.binsT[(f+2)*n:][:n], b.binsT[(f+3)*n:][:n]
		h0 := (*[maxBins + 1]hbin)(h[b.off[f]:])
		h1 := (*[maxBins + 1]hbin)(h[b.off[f+1]:])
		h2 := (*[maxBins + 1]hbin)(h[b.off[f+2]:])
		h3 := (*[maxBins + 1]hbin)(h[b.off[f+3]:])
		for i, gp := range gh {
			e := &h0[c0[i]]
			e.g += gp.g
			e.h += gp.h
			e = &h1[c1[i]]
			e.g += gp.g
			e.h += gp.h
			e = &h2[c2[i]]
			e.g += gp.g
			e.h += gp.h
			e = &h3[c3[i]]
			e.g += gp.g
			e.h += gp.h
		}
	}
	for ; f < f1; f++ {
		c0 := b.binsT[f*n:][:n]
		h0 := (*[maxBins + 1]hbin)(h[b.off[f]:])
		for i, gp := range gh {
			e := &h0[c0[i]]
			e.g += gp.g
			e.h += gp.h
		}
	}
}

// sumFeatures sums features [f0,f1) of rows idx (gradients ghn, gathered
// in idx order) into h, which is zero there.
func (b *gbdtBuilder) sumFeatures(idx []int32, ghn []gpair, h []hbin, f0, f1 int) {
	n := b.n
	f := f0
	for ; f+4 <= f1; f += 4 {
		c0, c1, c2, c3 := b.binsT[f*n:][:n], b.binsT[(f+1)*n:][:n], b.binsT[(f+2)*n:][:n], b.binsT[(f+3)*n:][:n]
		h0 := (*[maxBins + 1]hbin)(h[b.off[f]:])
		h1 := (*[maxBins + 1]hbin)(h[b.off[f+1]:])
		h2 := (*[maxBins + 1]hbin)(h[b.off[f+2]:])
		h3 := (*[maxBins + 1]hbin)(h[b.off[f+3]:])
		for j, i := range idx {
			gp := ghn[j]
			e := &h0[c0[i]]
			e.g += gp.g
			e.h += gp.h
			e.n++
			e = &h1[c1[i]]
			e.g += gp.g
			e.h += gp.h
			e.n++
			e = &h2[c2[i]]
			e.g += gp.g
			e.h += gp.h
			e.n++
			e = &h3[c3[i]]
			e.g += gp.g
			e.h += gp.h
			e.n++
		}
	}
	for ; f < f1; f++ {
		c0 := b.binsT[f*n:][:n]
		h0 := (*[maxBins + 1]hbin)(h[b.off[f]:])
		for j, i := range idx {
			gp := ghn[j]
			e := &h0[c0[i]]
			e.g += gp.g
			e.h += gp.h
			e.n++
		}
	}
}

// grow fits a tree to gradients gh over rows idx (all rows, in order; idx
// is permuted) and adds its leaf values to scores, one value per row.
func (b *gbdtBuilder) grow(idx []int32, gh []gpair, scores []float64) *forestData {
	b.out = &forestData{width: 1, roots: []int32{0}, nodes: []node{{}}}
	b.gh, b.scores, b.splits = gh, scores, b.splits[:0]
	h := b.getHist()
	b.buildHist(idx, h, nil)
	b.split(0, idx, h, 0)
	return b.out
}

func (b *gbdtBuilder) leaf(ni int32, idx []int32, G, H float64) {
	// Leaves are float32: a value beyond its range (a tiny --l2 on a
	// saturated leaf) is held at the largest, not made infinite.
	v := max(-math.MaxFloat32, min(-G/(H+b.par.lambda)*b.par.lr, math.MaxFloat32))
	off := int32(len(b.out.values))
	b.out.values = append(b.out.values, float32(v))
	b.out.nodes[ni] = node{feat: -1, child: off}
	v = float64(float32(v)) // the exact value inference will add
	for _, i := range idx {
		b.scores[i] += v
	}
}

// bestSplit finds the best split of a node with n rows and totals G, H on
// features [f0,f1): the first (feature, bin) of the largest gain, so that
// ranges searched apart and merged in order with a strict > agree with one
// search over all features.
func (b *gbdtBuilder) bestSplit(h []hbin, n int, G, H float64, f0, f1 int) (bestGain float64, bestF, bestB int) {
	lam := b.par.lambda
	minLeaf := b.par.minLeaf
	parent := G * G / (H + lam)
	bestGain, bestF, bestB = 1e-12, -1, 0
	for f := f0; f < f1; f++ {
		hf := h[b.off[f] : b.off[f]+b.bn.nbins(f)]
		gl, hl, nl := 0.0, 0.0, 0
		for bin := 0; bin < len(hf)-1; bin++ {
			e := &hf[bin]
			gl += e.g
			hl += e.h
			nl += int(e.n)
			if nl < minLeaf {
				continue
			}
			if n-nl < minLeaf {
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
	return bestGain, bestF, bestB
}

func (b *gbdtBuilder) split(ni int32, idx []int32, h []hbin, depth int) {
	// node totals from feature 0's histogram
	G, H := 0.0, 0.0
	for _, e := range h[:b.bn.nbins(0)] {
		G += e.g
		H += e.h
	}
	n := len(idx)
	if depth >= b.par.maxDepth || n < 2*b.par.minLeaf {
		b.putHist(h)
		b.leaf(ni, idx, G, H)
		return
	}
	bestGain, bestF, bestB := b.bestSplit(h, n, G, H, 0, b.p)
	if bestF < 0 {
		b.putHist(h)
		b.leaf(ni, idx, G, H)
		return
	}
	b.splits = append(b.splits, splitGain{bestF, bestGain})
	col := b.binsT[bestF*b.n:][:b.n]
	bb := uint8(bestB)
	lo, hi := 0, n-1
	for lo <= hi {
		if col[idx[lo]] <= bb {
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
	hl, hr := small, h
	smallIdx := left
	if len(left) > len(right) {
		hl, hr = h, small
		smallIdx = right
	}
	if depth+1 < b.par.maxDepth && (len(left) >= 2*b.par.minLeaf || len(right) >= 2*b.par.minLeaf) {
		b.buildHist(smallIdx, small, h)
	} else {
		b.sumLeafTotals(smallIdx, small, h)
	}
	b.split(child, left, hl, depth+1)
	b.split(child+1, right, hr, depth+1)
}

func trainGBDT(x []float64, n, p int, y []int32, w []float64, k int, par gbdtParams) (*gbdt, error) {
	if k < 2 {
		return nil, fmt.Errorf("gbdt needs at least 2 classes, got %d", k)
	}
	pr := k
	if k == 2 {
		pr = 1
	}
	workers := par.workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	bn := fitBinner(x, n, p, workers)
	binsT := gbdtBins(bn, x, n, p, workers)
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
	// scores and gradients are column-major, one column per tree of a
	// round, so that trees grown at once write apart
	scores := make([]float64, n*pr)
	for c := 0; c < pr; c++ {
		col := scores[c*n : c*n+n]
		for i := range col {
			col[i] = m.init[c]
		}
	}
	grads := make([]gpair, n*pr)
	nb := min(workers, pr)
	bs := make([]*gbdtBuilder, nb)
	idxs := make([][]int32, nb)
	rootCnt := gbdtRootCounts(binsT, n, p, gbdtOffsets(bn, p))
	for t := range bs {
		bs[t] = newGBDTBuilder(binsT, n, p, bn, rootCnt, par)
		idxs[t] = make([]int32, n)
	}
	imp := make([]float64, p)
	trees := make([]*forestData, pr)
	logs := make([][]splitGain, pr)
	// grow fits tree j of the round with builder t
	grow := func(t, j int) {
		idx := idxs[t]
		for i := range idx {
			idx[i] = int32(i)
		}
		trees[j] = bs[t].grow(idx, grads[j*n:j*n+n], scores[j*n:j*n+n])
		logs[j] = append(logs[j][:0], bs[t].splits...)
	}
	var help chan func()
	if workers > 1 {
		help = make(chan func())
		for _, b := range bs {
			b.help, b.maxHelp = help, workers-1
		}
	}
	// Each round, the workers take the trees of the round one by one and
	// grow them serially (no synchronisation per node); a worker with no
	// tree left helps sum the histograms of the trees still growing, so
	// that the last tree of a round, or the one tree of a binary fit, is
	// not grown on one core. Trees do not depend on who sums what.
	prog := startFitProgress(par.rounds, "rounds")
	defer prog.end()
	for r := 0; r < par.rounds; r++ {
		gbdtGradients(grads, scores, y, w, n, pr, workers)
		if workers == 1 {
			for j := 0; j < pr; j++ {
				grow(0, j)
			}
		} else {
			var next, finished atomic.Int32
			roundDone := make(chan struct{})
			var wg sync.WaitGroup
			for t := 0; t < workers; t++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for t < nb {
						j := int(next.Add(1) - 1)
						if j >= pr {
							break
						}
						grow(t, j)
						if finished.Add(1) == int32(pr) {
							close(roundDone)
						}
					}
					helpOut(bs, help, roundDone)
				}()
			}
			wg.Wait()
		}
		for j := 0; j < pr; j++ {
			m.fd.append(trees[j])
			for _, s := range logs[j] {
				imp[s.f] += s.gain
			}
		}
		prog.add()
	}
	m.imp = make([]float64, p)
	normalizeInto(m.imp, imp)
	m.fd.compile()
	return m, nil
}

// helpSpin is how long a worker with no tree left polls for histogram jobs
// before it parks: a builder's jobs come every few hundred µs (the root's
// partition takes about that), and a parked goroutine is woken on the
// builder's own core, so it would help late. On KDDTrain+ binary, 1 ms of
// spinning fits in 1.4 s where parking at once takes 1.6-1.9 s.
const helpSpin = time.Millisecond

// helpOut sums feature groups of the builders' histogram jobs until done
// is closed.
func helpOut(bs []*gbdtBuilder, help chan func(), done chan struct{}) {
	last := time.Now()
	for {
		select {
		case fn := <-help:
			fn()
			last = time.Now()
			continue
		case <-done:
			return
		default:
		}
		worked := false
		for _, b := range bs {
			if b.open.Load() {
				b.helper()
				worked = true
			}
		}
		if worked {
			last = time.Now()
			continue
		}
		if time.Since(last) < helpSpin {
			runtime.Gosched()
			continue
		}
		select {
		case fn := <-help:
			fn()
			last = time.Now()
		case <-done:
			return
		}
	}
}

// hessFloor is math.Max(h, 1e-16) for the h >= 0 (or NaN) of a hessian,
// without math.Max's signed-zero handling.
func hessFloor(h float64) float64 {
	if h < 1e-16 {
		return 1e-16
	}
	return h
}

// gbdtGradients writes each row's gradient and hessian for every tree of
// the round (column-major, like scores), splitting rows over workers: rows
// are independent, so the values do not depend on the split.
func gbdtGradients(grads []gpair, scores []float64, y []int32, w []float64, n, pr, workers int) {
	rows := func(i0, i1 int) {
		s := make([]float64, pr)
		for i := i0; i < i1; i++ {
			wi := w[i]
			if pr == 1 {
				q := sigmoid(scores[i])
				t := 0.0
				if y[i] == 1 {
					t = 1
				}
				grads[i] = gpair{(q - t) * wi, hessFloor(q*(1-q)) * wi}
				continue
			}
			// softmaxInto inlined, with the same operations in the same
			// order: the max of non-NaN scores is the same without
			// math.Max's NaN and signed-zero cases, and a NaN score makes
			// every probability NaN either way
			m := math.Inf(-1)
			for c := range s {
				v := scores[c*n+i]
				s[c] = v
				if v > m {
					m = v
				}
			}
			sum := 0.0
			for c, v := range s {
				e := math.Exp(v - m)
				s[c] = e
				sum += e
			}
			yi := int(y[i])
			for c, e := range s {
				q := e / sum
				t := 0.0
				if c == yi {
					t = 1
				}
				grads[c*n+i] = gpair{(q - t) * wi, hessFloor(q*(1-q)) * wi}
			}
		}
	}
	if workers <= 1 {
		rows(0, n)
		return
	}
	var wg sync.WaitGroup
	for t := 0; t < workers; t++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rows(t*n/workers, (t+1)*n/workers)
		}()
	}
	wg.Wait()
}

func decodeGBDT(raw json.RawMessage, nfeat, k int) (*gbdt, error) {
	var gf gbdtFile
	if err := json.Unmarshal(raw, &gf); err != nil {
		return nil, err
	}
	// Each message names the field that disagrees (an init cut short read
	// "trees per round: got 5, want 5").
	if gf.Classes != k {
		return nil, fmt.Errorf("model.classes is %d but the file lists %d classes", gf.Classes, k)
	}
	want := k
	if k == 2 {
		want = 1
	}
	switch {
	case gf.PerRound != want:
		return nil, fmt.Errorf("trees_per_round is %d, want %d for %d classes", gf.PerRound, want, k)
	case len(gf.Init) != want:
		return nil, fmt.Errorf("init has %d values, want %d for %d classes", len(gf.Init), want, k)
	case gf.Trees.Width != 1:
		return nil, fmt.Errorf("trees.leaf_width is %d, want 1", gf.Trees.Width)
	}
	fd, err := gf.Trees.toForest(nfeat)
	if err != nil {
		return nil, err
	}
	if len(fd.roots)%want != 0 {
		return nil, fmt.Errorf("%d trees, not a whole number of rounds of %d", len(fd.roots), want)
	}
	if len(gf.Importance) != nfeat {
		gf.Importance = make([]float64, nfeat)
	}
	return &gbdt{fd: fd, k: k, perRound: want, init: gf.Init, imp: gf.Importance}, nil
}
