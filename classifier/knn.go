package classifier

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
)

// knn is k-nearest neighbours (Euclidean; a uniform vote, or one weighted
// by class with --class-weight balanced) over standardized features,
// searched exactly with a k-d tree built at train and load time.
type knn struct {
	k, p, classes int
	cw            []float64 // vote weight per class; nil: uniform
	x             []float32 // rows in tree order
	y             []int32
	order         []int32 // original row index of each tree-order row (for ties)
	nodes         []kdNode
}

type kdNode struct {
	split       float64
	dim         int32 // -1: leaf over rows [lo, hi)
	lo, hi      int32
	left, right int32
}

const kdLeaf = 32

type knnFile struct {
	Classes   int     `json:"classes"`
	Features  int     `json:"features"`
	K         int     `json:"k"`
	Rows      int     `json:"rows"`
	Labels    []int32 `json:"labels"`
	XFloat32B string  `json:"x_float32le_base64"`
	// ClassWeights weight each neighbour's vote by its class (absent:
	// uniform), so that a rare class is not outvoted by its abundance alone.
	ClassWeights []float64 `json:"class_weights,omitempty"`
}

func (m *knn) marshal() (json.RawMessage, error) {
	// store in original row order so the file does not depend on the tree
	n := len(m.y)
	x := make([]float32, len(m.x))
	y := make([]int32, n)
	for t, orig := range m.order {
		copy(x[int(orig)*m.p:int(orig+1)*m.p], m.x[t*m.p:(t+1)*m.p])
		y[orig] = m.y[t]
	}
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return json.Marshal(knnFile{Classes: m.classes, Features: m.p, K: m.k, Rows: n, Labels: y, XFloat32B: base64.StdEncoding.EncodeToString(b),
		ClassWeights: m.cw})
}

// trainKNN keeps the training rows; cw, when not nil, weights the votes
// by class.
func trainKNN(x []float64, n, p int, y []int32, classes, k int, cw []float64) (*knn, error) {
	if k < 1 {
		return nil, fmt.Errorf("k = %d", k)
	}
	x32 := make([]float32, n*p)
	for i, v := range x[:n*p] {
		x32[i] = float32(v)
	}
	m := buildKNN(x32, append([]int32(nil), y...), n, p, classes, k)
	m.cw = cw
	return m, nil
}

func buildKNN(x []float32, y []int32, n, p, classes, k int) *knn {
	m := &knn{k: k, p: p, classes: classes}
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	m.order = order
	m.build(x, 0, n)
	// permute rows into tree order
	m.x = make([]float32, n*p)
	m.y = make([]int32, n)
	for t, orig := range order {
		copy(m.x[t*p:(t+1)*p], x[int(orig)*p:int(orig+1)*p])
		m.y[t] = y[orig]
	}
	return m
}

// build splits order[lo:hi] on the widest dimension at the median.
func (m *knn) build(x []float32, lo, hi int) int32 {
	id := int32(len(m.nodes))
	m.nodes = append(m.nodes, kdNode{dim: -1, lo: int32(lo), hi: int32(hi)})
	if hi-lo <= kdLeaf {
		return id
	}
	p := m.p
	bestD, bestSpread := -1, 0.0
	for d := 0; d < p; d++ {
		mn, mx := math.Inf(1), math.Inf(-1)
		for _, r := range m.order[lo:hi] {
			v := float64(x[int(r)*p+d])
			mn = math.Min(mn, v)
			mx = math.Max(mx, v)
		}
		if mx-mn > bestSpread {
			bestD, bestSpread = d, mx-mn
		}
	}
	if bestD < 0 {
		return id // all identical
	}
	seg := m.order[lo:hi]
	sort.Slice(seg, func(a, b int) bool {
		va, vb := x[int(seg[a])*p+bestD], x[int(seg[b])*p+bestD]
		if va != vb {
			return va < vb
		}
		return seg[a] < seg[b]
	})
	mid := (hi - lo) / 2
	split := float64(x[int(seg[mid])*p+bestD])
	// rows < split left, >= split right; keep both sides non-empty
	cut := sort.Search(len(seg), func(i int) bool { return float64(x[int(seg[i])*p+bestD]) >= split })
	if cut == 0 {
		cut = sort.Search(len(seg), func(i int) bool { return float64(x[int(seg[i])*p+bestD]) > split })
		split = float64(x[int(seg[cut])*p+bestD])
	}
	l := m.build(x, lo, lo+cut)
	r := m.build(x, lo+cut, hi)
	m.nodes[id] = kdNode{dim: int32(bestD), split: split, left: l, right: r, lo: int32(lo), hi: int32(hi)}
	return id
}

func (m *knn) predict(q, out []float64, ws *workspace) {
	if cap(ws.knnD) < m.k {
		ws.knnD = make([]float64, 0, m.k)
		ws.knnI = make([]int32, 0, m.k)
	}
	ws.knnD, ws.knnI = ws.knnD[:0], ws.knnI[:0]
	if len(ws.knnOff) != m.p {
		ws.knnOff = make([]float64, m.p)
	}
	for i := range ws.knnOff {
		ws.knnOff[i] = 0
	}
	m.search(0, q, 0, ws)
	for c := range out {
		out[c] = 0
	}
	sum := 0.0
	for _, t := range ws.knnI {
		v := 1.0
		if m.cw != nil {
			v = m.cw[m.y[t]]
		}
		out[m.y[t]] += v
		sum += v
	}
	inv := 1 / sum
	for c := range out {
		out[c] *= inv
	}
}

// worst is the current k-th distance (infinity while fewer than k found).
func (m *knn) worst(ws *workspace) float64 {
	if len(ws.knnD) < m.k {
		return math.Inf(1)
	}
	return ws.knnD[len(ws.knnD)-1]
}

// search visits the near child first and the far child only when the
// squared distance from q to the far cell (rd, kept incrementally per
// dimension as in Arya and Mount's ANN) can beat the current k-th best.
func (m *knn) search(ni int32, q []float64, rd float64, ws *workspace) {
	nd := &m.nodes[ni]
	if nd.dim < 0 {
		p := m.p
		for t := nd.lo; t < nd.hi; t++ {
			row := m.x[int(t)*p : int(t+1)*p]
			lim := m.worst(ws)
			d := 0.0
			for j, v := range row {
				e := q[j] - float64(v)
				d += e * e
				if d > lim {
					break
				}
			}
			// A tie with the k-th best goes in only with a lower row
			// index (insert's order): dropping every tie kept whichever
			// the tree visited first.
			if d > lim || (d == lim && len(ws.knnD) == m.k && m.order[t] > m.order[ws.knnI[m.k-1]]) {
				continue
			}
			m.insert(ws, d, t)
		}
		return
	}
	diff := q[nd.dim] - nd.split
	near, far := nd.left, nd.right
	if diff >= 0 {
		near, far = far, near
	}
	m.search(near, q, rd, ws)
	old := ws.knnOff[nd.dim]
	frd := rd - old*old + diff*diff
	if frd <= m.worst(ws) {
		ws.knnOff[nd.dim] = diff
		m.search(far, q, frd, ws)
		ws.knnOff[nd.dim] = old
	}
}

// insert keeps the k best (distance, then original row index for ties).
func (m *knn) insert(ws *workspace, d float64, t int32) {
	n := len(ws.knnD)
	pos := n
	for pos > 0 && (ws.knnD[pos-1] > d || (ws.knnD[pos-1] == d && m.order[ws.knnI[pos-1]] > m.order[t])) {
		pos--
	}
	if n < m.k {
		ws.knnD = append(ws.knnD, 0)
		ws.knnI = append(ws.knnI, 0)
		n++
	} else if pos >= n {
		return
	}
	copy(ws.knnD[pos+1:n], ws.knnD[pos:n-1])
	copy(ws.knnI[pos+1:n], ws.knnI[pos:n-1])
	ws.knnD[pos], ws.knnI[pos] = d, t
}

func decodeKNN(raw json.RawMessage, nfeat, classes int) (*knn, error) {
	var f knnFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, err
	}
	if f.Classes != classes || f.Features != nfeat || f.K < 1 || f.Rows < 1 || len(f.Labels) != f.Rows {
		return nil, fmt.Errorf("shape %d rows x %d features, %d classes, k=%d does not match", f.Rows, f.Features, f.Classes, f.K)
	}
	b, err := base64.StdEncoding.DecodeString(f.XFloat32B)
	if err != nil {
		return nil, fmt.Errorf("training rows: %w", err)
	}
	if len(b) != 4*f.Rows*nfeat {
		return nil, fmt.Errorf("training rows: %d bytes, want %d", len(b), 4*f.Rows*nfeat)
	}
	x := make([]float32, f.Rows*nfeat)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		if math.IsNaN(float64(x[i])) || math.IsInf(float64(x[i]), 0) {
			return nil, errors.New("non-finite training value")
		}
	}
	for _, c := range f.Labels {
		if c < 0 || int(c) >= classes {
			return nil, fmt.Errorf("label %d out of range", c)
		}
	}
	if f.ClassWeights != nil {
		if len(f.ClassWeights) != classes {
			return nil, fmt.Errorf("%d class weights for %d classes", len(f.ClassWeights), classes)
		}
		for _, w := range f.ClassWeights {
			if !(w > 0) || math.IsInf(w, 0) {
				return nil, fmt.Errorf("class weight %g is not a positive number", w)
			}
		}
	}
	m := buildKNN(x, f.Labels, f.Rows, nfeat, classes, f.K)
	m.cw = f.ClassWeights
	return m, nil
}
