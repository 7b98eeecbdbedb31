package classifier

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"unsafe"
)

// maxBins is the number of histogram bins per feature (bins fit a uint8).
const maxBins = 255

// binner maps feature values to histogram bins. edges[f][b] is the largest
// value of bin b, so "bin <= b" is exactly "x <= edges[f][b]": trees split on
// bins while training and on the same thresholds at inference.
type binner struct {
	edges [][]float64
	// lossy marks features with more distinct values than bins: CART
	// searches their exact thresholds instead (as scikit-learn does).
	lossy []bool
	// fine holds, for lossy features, thresholds between all distinct
	// values (at most 65535) and each row's fine bin, column-major.
	fineEdges [][]float64
	fine      [][]uint16
}

// maxFine is the number of fine bins for an exact-threshold feature.
const maxFine = 1 << 16

// fitFine computes exact bins for lossy features (CART only).
func (b *binner) fitFine(x []float64, n, p, workers int) {
	b.fineEdges = make([][]float64, p)
	b.fine = make([][]uint16, p)
	eachColumn(p, n, workers, func(f int, col, sorted []float64) {
		if !b.lossy[f] {
			return
		}
		for i := 0; i < n; i++ {
			col[i] = x[i*p+f]
		}
		copy(sorted, col)
		slices.Sort(sorted)
		vals := slices.Compact(sorted)
		var edges []float64
		if len(vals) <= maxFine {
			for i := 0; i+1 < len(vals); i++ {
				edges = append(edges, midpoint(vals[i], vals[i+1]))
			}
		} else {
			for q := 1; q < maxFine; q++ {
				j := q * len(vals) / maxFine
				e := midpoint(vals[j-1], vals[j])
				if len(edges) == 0 || e > edges[len(edges)-1] {
					edges = append(edges, e)
				}
			}
		}
		fb := make([]uint16, n)
		for i, v := range col {
			fb[i] = uint16(sort.SearchFloat64s(edges, v))
		}
		b.fineEdges[f], b.fine[f] = edges, fb
	})
}

// eachColumn runs fn for every feature column 0..p-1 on up to workers
// goroutines, each with two scratch slices of n values of its own: the
// binner's sorts are per column and independent, and on one core they were
// most of a small forest's training time.
func eachColumn(p, n, workers int, fn func(f int, a, b []float64)) {
	var next atomic.Int32
	var wg sync.WaitGroup
	for range max(1, min(workers, p)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, b := make([]float64, n), make([]float64, n)
			for f := int(next.Add(1) - 1); f < p; f = int(next.Add(1) - 1) {
				fn(f, a, b)
			}
		}()
	}
	wg.Wait()
}

func fitBinner(x []float64, n, p, workers int) *binner {
	b := &binner{edges: make([][]float64, p), lossy: make([]bool, p)}
	eachColumn(p, n, workers, func(f int, col, _ []float64) {
		for i := 0; i < n; i++ {
			col[i] = x[i*p+f]
		}
		sort.Float64s(col)
		// distinct values and counts
		var vals []float64
		var cnt []int
		for i, v := range col {
			if i == 0 || v != col[i-1] {
				vals = append(vals, v)
				cnt = append(cnt, 0)
			}
			cnt[len(cnt)-1]++
		}
		var edges []float64
		b.lossy[f] = len(vals) > maxBins+1
		if !b.lossy[f] {
			for i := 0; i+1 < len(vals); i++ {
				edges = append(edges, midpoint(vals[i], vals[i+1]))
			}
		} else {
			// quantile edges on the distinct-value boundaries
			cum := 0
			next := 1
			for i := 0; i+1 < len(vals) && next < maxBins; i++ {
				cum += cnt[i]
				if float64(cum) >= float64(next)*float64(n)/maxBins {
					edges = append(edges, midpoint(vals[i], vals[i+1]))
					for float64(cum) >= float64(next)*float64(n)/maxBins {
						next++
					}
				}
			}
		}
		b.edges[f] = edges
	})
	return b
}

func midpoint(a, b float64) float64 {
	m := a + (b-a)/2
	if m >= b || math.IsInf(m, 0) || m != m {
		return a
	}
	return m
}

// nbins is the number of bins of feature f.
func (b *binner) nbins(f int) int { return len(b.edges[f]) + 1 }

func (b *binner) apply(x []float64, n, p, workers int) []uint8 {
	out := make([]uint8, n*p)
	eachColumn(p, 0, workers, func(f int, _, _ []float64) {
		edges := b.edges[f]
		for i := f; i < n*p; i += p {
			out[i] = uint8(sort.SearchFloat64s(edges, x[i]))
		}
	})
	return out
}

// node is one tree node, 16 bytes, in a flat array. A leaf has feat < 0 and
// child = offset of its payload in the forest's values; a split sends
// x[feat] <= thr to child and the rest to child+1.
type node struct {
	thr   float64
	feat  int32
	child int32
}

// forestData is a set of trees in flat arrays, for fast allocation-free
// inference and a compact model file.
type forestData struct {
	walk    []node  // nodes with self-looping leaves (compile)
	payload []int32 // leaf payload offset per walk node
	nodes   []node
	roots   []int32
	values  []float32 // width per leaf
	width   int
}

// forestJSON is the model-file form of forestData.
type forestJSON struct {
	Width     int       `json:"leaf_width"`
	Roots     []int32   `json:"roots"`
	Feature   []int32   `json:"feature"`
	Threshold []float64 `json:"threshold"`
	Child     []int32   `json:"child"`
	Values    []float32 `json:"values"`
}

func (fd *forestData) toJSON() forestJSON {
	j := forestJSON{Width: fd.width, Roots: fd.roots, Values: fd.values,
		Feature: make([]int32, len(fd.nodes)), Threshold: make([]float64, len(fd.nodes)), Child: make([]int32, len(fd.nodes))}
	for i, n := range fd.nodes {
		j.Feature[i], j.Threshold[i], j.Child[i] = n.feat, n.thr, n.child
	}
	return j
}

// fromJSON validates a decoded forest so inference can never index out of
// range or loop: children point forward, leaves point inside values.
func (j *forestJSON) toForest(nfeat int) (*forestData, error) {
	n := len(j.Feature)
	if len(j.Threshold) != n || len(j.Child) != n {
		return nil, fmt.Errorf("tree arrays differ in length (%d, %d, %d)", n, len(j.Threshold), len(j.Child))
	}
	if j.Width < 1 {
		return nil, fmt.Errorf("leaf width %d", j.Width)
	}
	if len(j.Values)%j.Width != 0 {
		return nil, fmt.Errorf("%d leaf values not a multiple of width %d", len(j.Values), j.Width)
	}
	if len(j.Roots) == 0 {
		return nil, errors.New("no trees")
	}
	fd := &forestData{nodes: make([]node, n), roots: j.Roots, values: j.Values, width: j.Width}
	for i := 0; i < n; i++ {
		f, c := j.Feature[i], j.Child[i]
		if f >= 0 {
			if int(f) >= nfeat {
				return nil, fmt.Errorf("node %d: feature %d out of range (%d features)", i, f, nfeat)
			}
			if int(c) <= i || int(c)+1 >= n {
				return nil, fmt.Errorf("node %d: child %d out of range", i, c)
			}
		} else if c < 0 || int(c)+j.Width > len(j.Values) {
			return nil, fmt.Errorf("node %d: leaf value offset %d out of range", i, c)
		}
		if math.IsNaN(j.Threshold[i]) {
			return nil, fmt.Errorf("node %d: NaN threshold", i)
		}
		fd.nodes[i] = node{thr: j.Threshold[i], feat: f, child: c}
	}
	for t, r := range j.Roots {
		if r < 0 || int(r) >= n {
			return nil, fmt.Errorf("tree %d: root %d out of range", t, r)
		}
	}
	for _, v := range j.Values {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, errors.New("non-finite leaf value")
		}
	}
	if nfeat < 1 {
		return nil, errors.New("no features")
	}
	fd.compile()
	return fd, nil
}

// leaf returns the payload offset of the leaf x falls into in tree t.
func (fd *forestData) leaf(t int, x []float64) int32 {
	nodes := fd.nodes
	i := fd.roots[t]
	for {
		nd := &nodes[i]
		if nd.feat < 0 {
			return nd.child
		}
		// branch-free step: the comparison becomes SETcc+ADD, so random
		// split outcomes cost no mispredictions
		v, t := x[nd.feat], nd.thr
		right := int32(0)
		if v > t {
			right = 1
		}
		i = nd.child + right
	}
}

// compile builds the walking form of the trees: a copy of the nodes in
// which every leaf loops to itself (threshold +Inf, feature 0), with its
// payload offset moved to payload. Eight walkers can then step in lockstep
// without a branch per walker, stopping when none moved.
func (fd *forestData) compile() {
	fd.walk = make([]node, len(fd.nodes))
	fd.payload = make([]int32, len(fd.nodes))
	for i, nd := range fd.nodes {
		if nd.feat < 0 {
			fd.payload[i] = nd.child
			nd = node{thr: math.Inf(1), feat: 0, child: int32(i)}
		}
		fd.walk[i] = nd
	}
}

// leaves8 walks trees t..t+7 for x at once (eight independent chains of
// loads overlap) and stores their leaf payload offsets in out. x must have
// at least one feature.
func (fd *forestData) leaves8(t int, x []float64, out *[8]int32) {
	nodes := fd.walk
	r := fd.roots[t : t+8]
	a, b, c, d, e, f, g, h := r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]
	for {
		// one step without the termination check: a walker at a leaf
		// stays there, so only every second step needs the test
		na, nb, nc, nd := &nodes[a], &nodes[b], &nodes[c], &nodes[d]
		ne, nf, ng, nh := &nodes[e], &nodes[f], &nodes[g], &nodes[h]
		a = na.child + gt(x[na.feat], na.thr)
		b = nb.child + gt(x[nb.feat], nb.thr)
		c = nc.child + gt(x[nc.feat], nc.thr)
		d = nd.child + gt(x[nd.feat], nd.thr)
		e = ne.child + gt(x[ne.feat], ne.thr)
		f = nf.child + gt(x[nf.feat], nf.thr)
		g = ng.child + gt(x[ng.feat], ng.thr)
		h = nh.child + gt(x[nh.feat], nh.thr)
		na, nb, nc, nd = &nodes[a], &nodes[b], &nodes[c], &nodes[d]
		ne, nf, ng, nh = &nodes[e], &nodes[f], &nodes[g], &nodes[h]
		a2 := na.child + gt(x[na.feat], na.thr)
		b2 := nb.child + gt(x[nb.feat], nb.thr)
		c2 := nc.child + gt(x[nc.feat], nc.thr)
		d2 := nd.child + gt(x[nd.feat], nd.thr)
		e2 := ne.child + gt(x[ne.feat], ne.thr)
		f2 := nf.child + gt(x[nf.feat], nf.thr)
		g2 := ng.child + gt(x[ng.feat], ng.thr)
		h2 := nh.child + gt(x[nh.feat], nh.thr)
		if (a2^a)|(b2^b)|(c2^c)|(d2^d)|(e2^e)|(f2^f)|(g2^g)|(h2^h) == 0 {
			break
		}
		a, b, c, d, e, f, g, h = a2, b2, c2, d2, e2, f2, g2, h2
	}
	p := fd.payload
	out[0], out[1], out[2], out[3] = p[a], p[b], p[c], p[d]
	out[4], out[5], out[6], out[7] = p[e], p[f], p[g], p[h]
}

// gt is 1 when v > t, else 0, without a branch.
func gt(v, t float64) int32 {
	r := int32(0)
	if v > t {
		r = 1
	}
	return r
}

// append adds the trees of g (built separately) to fd.
func (fd *forestData) append(g *forestData) {
	base := int32(len(fd.nodes))
	vbase := int32(len(fd.values))
	for _, n := range g.nodes {
		if n.feat < 0 {
			n.child += vbase
		} else {
			n.child += base
		}
		fd.nodes = append(fd.nodes, n)
	}
	for _, r := range g.roots {
		fd.roots = append(fd.roots, r+base)
	}
	fd.values = append(fd.values, g.values...)
}

// cartParams are the growth limits of a classification tree.
type cartParams struct {
	maxDepth int // 0: unlimited
	minSplit int
	minLeaf  int
	mtry     int // features tried per split (0: all)
}

// cartBuilder grows one Gini classification tree on binned data.
type cartBuilder struct {
	x        []float64 // raw features, row-major: exact thresholds for lossy features
	sortv    []exactItem
	fineHist []float64
	fineCnt  []int32
	bins     []uint8
	p        int
	bn       *binner
	y        []int32
	w        []float64
	k        int
	par      cartParams
	rng      *rand.Rand
	out      *forestData
	imp      []float64
	hist     []float64 // per candidate feature: maxBins+1 bins * k
	cnt      []int32
	perm     []int
	tot      []float64
	left     []float64
	cands    []int
}

func newCartBuilder(x []float64, bins []uint8, p int, bn *binner, y []int32, k int, par cartParams) *cartBuilder {
	if par.mtry <= 0 || par.mtry > p {
		par.mtry = p
	}
	if par.minSplit < 2 {
		par.minSplit = 2
	}
	if par.minLeaf < 1 {
		par.minLeaf = 1
	}
	return &cartBuilder{x: x, bins: bins, p: p, bn: bn, y: y, k: k, par: par,
		imp: make([]float64, p), hist: make([]float64, par.mtry*(maxBins+1)*k),
		cnt: make([]int32, par.mtry*(maxBins+1)), perm: make([]int, p), tot: make([]float64, k), left: make([]float64, k)}
}

// grow builds a tree over the samples idx with weights w into a fresh
// forestData holding one tree.
func (b *cartBuilder) grow(idx []int32, w []float64, rng *rand.Rand) *forestData {
	b.w = w
	b.rng = rng
	b.out = &forestData{width: b.k, roots: []int32{0}}
	b.out.nodes = append(b.out.nodes, node{})
	b.split(0, idx, 0)
	return b.out
}

func (b *cartBuilder) makeLeaf(ni int32, tot []float64, wsum float64) {
	off := int32(len(b.out.values))
	for _, v := range tot {
		b.out.values = append(b.out.values, float32(v/wsum))
	}
	b.out.nodes[ni] = node{feat: -1, child: off}
}

func (b *cartBuilder) split(ni int32, idx []int32, depth int) {
	k := b.k
	tot := b.tot
	for c := range tot {
		tot[c] = 0
	}
	for _, i := range idx {
		tot[b.y[i]] += b.w[i]
	}
	wsum := 0.0
	nonzero := 0
	for _, v := range tot {
		wsum += v
		if v > 0 {
			nonzero++
		}
	}
	if nonzero <= 1 || len(idx) < b.par.minSplit || len(idx) < 2*b.par.minLeaf || (b.par.maxDepth > 0 && depth >= b.par.maxDepth) {
		b.makeLeaf(ni, tot, wsum)
		return
	}
	parentScore := 0.0
	for _, v := range tot {
		parentScore += v * v
	}
	parentScore /= wsum
	totCopy := make([]float64, k)
	copy(totCopy, tot)

	// Features in random order; evaluate until mtry non-constant ones were seen.
	for f := range b.perm {
		b.perm[f] = f
	}
	best := splitChoice{f: -1, score: math.Inf(-1)}
	seen := 0
	pos := 0
	for seen < b.par.mtry && pos < b.p {
		// draw the next batch of candidates
		need := b.par.mtry - seen
		b.cands = b.cands[:0]
		for len(b.cands) < need && pos < b.p {
			j := pos + b.rng.IntN(b.p-pos)
			b.perm[pos], b.perm[j] = b.perm[j], b.perm[pos]
			b.cands = append(b.cands, b.perm[pos])
			pos++
		}
		seen += b.evalBatch(idx, totCopy, wsum, &best)
	}
	if best.f < 0 {
		b.makeLeaf(ni, totCopy, wsum)
		return
	}
	b.imp[best.f] += best.score - parentScore
	// partition on the raw value: for binned features x <= edge[b] is
	// exactly bin <= b on training rows
	lo, hi := 0, len(idx)-1
	p := b.p
	for lo <= hi {
		if b.x[int(idx[lo])*p+best.f] <= best.thr {
			lo++
		} else {
			idx[lo], idx[hi] = idx[hi], idx[lo]
			hi--
		}
	}
	child := int32(len(b.out.nodes))
	b.out.nodes = append(b.out.nodes, node{}, node{})
	b.out.nodes[ni] = node{feat: int32(best.f), thr: best.thr, child: child}
	b.split(child, idx[:lo], depth+1)
	b.split(child+1, idx[lo:], depth+1)
}

// splitChoice is the best split found so far in a node.
type splitChoice struct {
	f     int
	thr   float64
	score float64
}

type exactItem struct {
	v float64
	y int32
	w float64
}

// evalFine is evalExact for large nodes: a dense histogram over the
// feature's fine bins costs O(rows + bins) instead of a sort.
func (b *cartBuilder) evalFine(f, nbf int, idx []int32, tot []float64, wsum float64, best *splitChoice) bool {
	k := b.k
	if cap(b.fineHist) < nbf*k {
		b.fineHist = make([]float64, nbf*k)
		b.fineCnt = make([]int32, nbf)
	}
	h, cnt := b.fineHist[:nbf*k], b.fineCnt[:nbf]
	clear(h)
	clear(cnt)
	fb := b.bn.fine[f]
	lo, hi := nbf, -1
	for _, i := range idx {
		bin := int(fb[i])
		h[bin*k+int(b.y[i])] += b.w[i]
		cnt[bin]++
		lo, hi = min(lo, bin), max(hi, bin)
	}
	if lo == hi {
		return false
	}
	left := b.left
	clear(left)
	wl := 0.0
	nl := 0
	edges := b.bn.fineEdges[f]
	for bin := lo; bin < hi; bin++ {
		if cnt[bin] == 0 {
			continue
		}
		for c := 0; c < k; c++ {
			v := h[bin*k+c]
			left[c] += v
			wl += v
		}
		nl += int(cnt[bin])
		if nl < b.par.minLeaf {
			continue
		}
		if len(idx)-nl < b.par.minLeaf {
			break
		}
		wr := wsum - wl
		if wl <= 1e-10*wsum || wr <= 1e-10*wsum {
			continue
		}
		sc := giniGain(left[:k], tot[:k], wl, wr)
		if sc > best.score+1e-12*wsum {
			// threshold: midpoint between this bin's values and the next
			// non-empty bin's, i.e. the fine edge just below the next bin
			nb := bin + 1
			for cnt[nb] == 0 {
				nb++
			}
			*best = splitChoice{f: f, thr: edges[nb-1], score: sc}
		}
	}
	return true
}

// evalExact searches every threshold between distinct node values of a
// lossy feature f. It reports whether f is non-constant in the node.
func (b *cartBuilder) evalExact(f int, idx []int32, tot []float64, wsum float64, best *splitChoice) bool {
	p, k := b.p, b.k
	if nbf := len(b.bn.fineEdges[f]) + 1; 4*len(idx) >= nbf {
		return b.evalFine(f, nbf, idx, tot, wsum, best)
	}
	items := b.sortv[:0]
	for _, i := range idx {
		items = append(items, exactItem{v: b.x[int(i)*p+f], y: b.y[i], w: b.w[i]})
	}
	b.sortv = items
	slices.SortFunc(items, func(a, c exactItem) int { return cmp.Compare(a.v, c.v) })
	if items[0].v == items[len(items)-1].v {
		return false
	}
	left := b.left
	for c := range left {
		left[c] = 0
	}
	wl := 0.0
	for j := 0; j+1 < len(items); j++ {
		left[items[j].y] += items[j].w
		wl += items[j].w
		if items[j].v == items[j+1].v {
			continue
		}
		nl := j + 1
		if nl < b.par.minLeaf {
			continue
		}
		if len(items)-nl < b.par.minLeaf {
			break
		}
		wr := wsum - wl
		if wl <= 1e-10*wsum || wr <= 1e-10*wsum {
			continue
		}
		sc := giniGain(left[:k], tot[:k], wl, wr)
		if sc > best.score+1e-12*wsum {
			*best = splitChoice{f: f, thr: midpoint(items[j].v, items[j+1].v), score: sc}
		}
	}
	return true
}

// evalBatch fills histograms for b.cands in one pass over the node's rows
// and updates the best split; it returns how many candidates were not
// constant in the node.
func (b *cartBuilder) evalBatch(idx []int32, tot []float64, wsum float64, best *splitChoice) int {
	k := b.k
	nc := len(b.cands)
	stride := (maxBins + 1) * k
	h := b.hist[:nc*stride]
	for i := range h {
		h[i] = 0
	}
	useCnt := b.par.minLeaf > 1
	if useCnt {
		c := b.cnt[:nc*(maxBins+1)]
		for i := range c {
			c[i] = 0
		}
	}
	p := b.p
	for _, i := range idx {
		row := b.bins[int(i)*p : int(i)*p+p]
		yi := int(b.y[i])
		wi := b.w[i]
		for ci, f := range b.cands {
			h[ci*stride+int(row[f])*k+yi] += wi
		}
		if useCnt {
			for ci, f := range b.cands {
				b.cnt[ci*(maxBins+1)+int(row[f])]++
			}
		}
	}
	nonConst := 0
	left := b.left
	for ci, f := range b.cands {
		if b.bn.lossy[f] {
			if b.evalExact(f, idx, tot, wsum, best) {
				nonConst++
			}
			continue
		}
		nb := b.bn.nbins(f)
		hf := h[ci*stride : ci*stride+nb*k]
		// constant in node?
		used := 0
		for bin := 0; bin < nb && used < 2; bin++ {
			for c := 0; c < k; c++ {
				if hf[bin*k+c] > 0 {
					used++
					break
				}
			}
		}
		if used < 2 {
			continue
		}
		nonConst++
		for c := range left {
			left[c] = 0
		}
		wl := 0.0
		nl := 0
		for bin := 0; bin < nb-1; bin++ {
			for c := 0; c < k; c++ {
				v := hf[bin*k+c]
				left[c] += v
				wl += v
			}
			if useCnt {
				nl += int(b.cnt[ci*(maxBins+1)+bin])
				if nl < b.par.minLeaf {
					continue
				}
				if len(idx)-nl < b.par.minLeaf {
					break
				}
			}
			wr := wsum - wl
			if wl <= 1e-10*wsum || wr <= 1e-10*wsum {
				continue
			}
			s := giniGain(left[:k], tot[:k], wl, wr)
			if s > best.score+1e-12*wsum {
				*best = splitChoice{f: f, thr: b.bn.edges[f][bin], score: s}
			}
		}
	}
	return nonConst
}

// chainLanes is the number of walkers of a chained walk.
const chainLanes = 8

// chainWalk is the random forest's walk for one row: the trees are dealt
// to chainLanes walkers and chained, each leaf leading to the root of its
// walker's next tree and the last one to a sink that loops to itself. In
// lockstep over separate trees (leaves8), every group waits for its
// deepest tree: on NSL-KDD 8 walkers take 1,731 steps a row for 1,090
// edges; chained, each walker's load is the sum of a dozen path lengths,
// which vary less, and the whole walk takes about 1,350 steps. A step
// stores the offset of the node it leaves in slots[node.slot], the tree's
// slot for a leaf and a shared dummy slot otherwise, so the leaves are
// recorded without a branch or a counter.
type chainWalk struct {
	nodes   []cnode
	values  []float32          // distinct leaf payloads, width each
	starts  [chainLanes]uint32 // byte offset of each walker's first node
	trees   int                // slots needed: trees + 1 (the dummy)
	maxFeat int                // largest feature index a split reads
}

// cnode is a chained-walk node, 16 bytes. At a leaf thr is a NaN whose low
// 32 bits are the leaf's payload offset: v > NaN is false for every v, so
// the step always takes coff, the next tree's root, and summing the leaves
// reads the node just walked (likely cached) instead of a payload array.
type cnode struct {
	thr  float64
	coff uint32 // left child * cnodeSize; right is + cnodeSize
	xoff uint16 // feature index * 8: byte offset into x
	slot uint16 // the tree at a leaf, else the dummy slot (trees)
}

const cnodeSize = unsafe.Sizeof(cnode{})

// chain builds the chained walk of fd, or nil when the forest does not fit
// one (too many features, trees or nodes for its fields) or has an index
// out of range: the walk reads through unsafe pointers, so every offset it
// can reach is checked here.
func (fd *forestData) chain() *chainWalk {
	n := len(fd.nodes)
	nt := len(fd.roots)
	if nt >= math.MaxUint16 || n+1 >= math.MaxUint32/int(cnodeSize) {
		return nil
	}
	maxFeat := int32(0)
	for _, nd := range fd.nodes {
		if nd.feat >= math.MaxUint16/8 || nd.feat >= 0 && (nd.child < 0 || int(nd.child)+1 >= n) {
			return nil
		}
		maxFeat = max(maxFeat, nd.feat)
	}
	for _, r := range fd.roots {
		if r < 0 || int(r) >= n {
			return nil
		}
	}
	// tree of each node: trees are stored one after another from their
	// roots, but find it by walking down from each root to be safe
	tree := make([]int32, n)
	for i := range tree {
		tree[i] = -1
	}
	var stack []int32
	for t, r := range fd.roots {
		stack = append(stack[:0], r)
		for len(stack) > 0 {
			i := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if tree[i] >= 0 {
				return nil // shared node: not a forest of trees
			}
			tree[i] = int32(t)
			if nd := fd.nodes[i]; nd.feat >= 0 {
				stack = append(stack, nd.child, nd.child+1)
			}
		}
	}
	sink := uint32(n)
	c := &chainWalk{nodes: make([]cnode, n+1), trees: nt, maxFeat: int(maxFeat)}
	// leaves share few payloads (NSL-KDD, 100 trees: 31 distinct among
	// 38,019, most of them one-hot), so a table of the distinct ones stays
	// in L1 where the forest's values miss the cache on most trees
	w := fd.width
	dedup := map[string]int32{}
	key := make([]byte, 0, 4*w)
	pay := make([]int32, n) // offset in c.values of leaf i's payload
	for i, nd := range fd.nodes {
		if nd.feat >= 0 || tree[i] < 0 {
			continue
		}
		if nd.child < 0 || int(nd.child)+w > len(fd.values) {
			return nil
		}
		key = key[:0]
		for _, v := range fd.values[nd.child : int(nd.child)+w] {
			key = binary.LittleEndian.AppendUint32(key, math.Float32bits(v))
		}
		off, ok := dedup[string(key)]
		if !ok {
			off = int32(len(c.values))
			dedup[string(key)] = off
			c.values = append(c.values, fd.values[nd.child:int(nd.child)+w]...)
		}
		pay[i] = off
	}
	next := func(t int) uint32 { // byte offset where a walker goes after tree t
		if t+chainLanes < nt {
			return uint32(fd.roots[t+chainLanes]) * uint32(cnodeSize)
		}
		return sink * uint32(cnodeSize)
	}
	for i, nd := range fd.nodes {
		switch {
		case tree[i] < 0: // unreachable
			c.nodes[i] = cnode{thr: math.Inf(1), coff: sink * uint32(cnodeSize), slot: uint16(nt)}
		case nd.feat < 0:
			c.nodes[i] = cnode{thr: leafNaN(pay[i]), coff: next(int(tree[i])), slot: uint16(tree[i])}
		default:
			c.nodes[i] = cnode{thr: nd.thr, coff: uint32(nd.child) * uint32(cnodeSize), xoff: uint16(nd.feat) * 8, slot: uint16(nt)}
		}
	}
	c.nodes[sink] = cnode{thr: math.Inf(1), coff: sink * uint32(cnodeSize), slot: uint16(nt)}
	for l := range c.starts {
		c.starts[l] = sink * uint32(cnodeSize)
		if l < nt {
			c.starts[l] = uint32(fd.roots[l]) * uint32(cnodeSize)
		}
	}
	return c
}

// leafNaN is the quiet NaN carrying a leaf's payload offset.
func leafNaN(payload int32) float64 {
	return math.Float64frombits(0x7ff8_0000_0000_0000 | uint64(uint32(payload)))
}

// payload is the offset in c.values of the payload of the leaf at byte
// offset o.
func (c *chainWalk) payload(o uint32) int {
	return int(uint32(math.Float64bits(c.nodes[uintptr(o)/cnodeSize].thr)))
}

// walk records in slots[t] the byte offset of the leaf x reaches in tree
// t. len(x) must exceed maxFeat and len(slots) must be trees+1; callers
// check both, so every access below is in range.
func (c *chainWalk) walk(x []float64, slots []uint32) {
	if len(x) <= c.maxFeat || len(slots) != c.trees+1 {
		panic("classifier: chained walk: row or slots too short")
	}
	nb := unsafe.Pointer(unsafe.SliceData(c.nodes))
	xb := unsafe.Pointer(unsafe.SliceData(x))
	sb := unsafe.Pointer(unsafe.SliceData(slots))
	s := &c.starts
	a, b, cc, d := uintptr(s[0]), uintptr(s[1]), uintptr(s[2]), uintptr(s[3])
	e, f, g, h := uintptr(s[4]), uintptr(s[5]), uintptr(s[6]), uintptr(s[7])
	// the sink has the largest offset, so the walkers are all there when
	// their offsets sum to chainLanes times it; unlike comparing with the
	// previous step, this keeps no second set of offsets live (spills).
	// One step per test: the compiler keeps this small loop in registers,
	// and unrolling it (test every 2 or 4 steps) measured 5-10 % slower.
	done := uintptr(len(c.nodes)-1) * cnodeSize * chainLanes
	for a+b+cc+d+e+f+g+h != done {
		a, b, cc, d = cstep(nb, xb, sb, a), cstep(nb, xb, sb, b), cstep(nb, xb, sb, cc), cstep(nb, xb, sb, d)
		e, f, g, h = cstep(nb, xb, sb, e), cstep(nb, xb, sb, f), cstep(nb, xb, sb, g), cstep(nb, xb, sb, h)
	}
}

// cstep is one branch-free step of a chained walk from the node at byte
// offset o: it records o in the node's slot and returns the next offset.
func cstep(nb, xb, sb unsafe.Pointer, o uintptr) uintptr {
	n := (*cnode)(unsafe.Add(nb, o))
	*(*uint32)(unsafe.Add(sb, uintptr(n.slot)*4)) = uint32(o)
	v := *(*float64)(unsafe.Add(xb, uintptr(n.xoff)))
	// gtu, not an if around the add: the compiler makes that a branch
	return uintptr(n.coff) + gtu(v, n.thr)*cnodeSize
}

// gtu is 1 when v > t, else 0, without a branch (SETcc).
func gtu(v, t float64) uintptr {
	r := uintptr(0)
	if v > t {
		r = 1
	}
	return r
}

// giniGain scores a split by the weighted class counts on its left (left,
// weight wl) and its right (tot - left, weight wr): sum(left^2)/wl +
// sum(right^2)/wr grows as the Gini impurity of the two sides falls, so
// every split search (exact, binned, histogram) ranks candidates alike.
func giniGain(left, tot []float64, wl, wr float64) float64 {
	tot = tot[:len(left)]
	sl, sr := 0.0, 0.0
	for c, l := range left {
		sl += l * l
		r := tot[c] - l
		sr += r * r
	}
	return sl/wl + sr/wr
}
