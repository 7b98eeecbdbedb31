package detect

import (
	"encoding/binary"
	"net/netip"

	"github.com/flowhawk/flowhawk/collector"
)

// addr is a 16-byte address as in collector.Key (IPv4-mapped for v4); it
// is the map key of per-host state, cheaper than netip.Addr.
type addr = [16]byte

func toNetip(a addr) netip.Addr { return netip.AddrFrom16(a).Unmap() }

func isV4(a addr) bool { return netip.AddrFrom16(a).Is4In6() }

// hash64 mixes a 16-byte address into 64 bits for distinct-counting.
func hash64(a addr) uint64 {
	return mix64(mix64(binary.LittleEndian.Uint64(a[:8])) ^ binary.LittleEndian.Uint64(a[8:]))
}

// mix64 is splitmix64's finalizer: a bijection whose every output bit
// depends on every input bit.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

// ends returns a packet's source and destination address and port.
func ends(p *collector.Packet) (src, dst addr, sport, dport uint16) {
	k := &p.Key
	if p.SrcIsLo {
		return k.AddrLo, k.AddrHi, k.PortLo, k.PortHi
	}
	return k.AddrHi, k.AddrLo, k.PortHi, k.PortLo
}

// bounded is a map of per-key state with at most max entries. When full,
// a new key evicts the least active of three entries sampled from the map
// (random, by Go's map iteration order): approximate LFU at O(1) cost and
// no per-entry bookkeeping. Evictions are counted.
type bounded[K comparable, V any] struct {
	m     map[K]*V
	max   int
	score func(*V) uint64
	free  []*V
	// evicted, when set, sees each evicted entry's state before it is
	// reused: a detector gives back the budget its sets held.
	evicted func(*V)
	Evicted uint64
}

func newBounded[K comparable, V any](max int, score func(*V) uint64) *bounded[K, V] {
	return &bounded[K, V]{m: make(map[K]*V, min(max, 1024)), max: max, score: score}
}

func (b *bounded[K, V]) get(k K) *V { return b.m[k] }

// upsert returns the state of k, creating a zero one (evicting if full).
func (b *bounded[K, V]) upsert(k K) *V {
	if v := b.m[k]; v != nil {
		return v
	}
	if b.full() {
		b.evict()
	}
	var v *V
	if n := len(b.free); n > 0 {
		v = b.free[n-1]
		b.free = b.free[:n-1]
		var zero V
		*v = zero
	} else {
		v = new(V)
	}
	b.m[k] = v
	return v
}

// full reports whether the next new key evicts an entry.
func (b *bounded[K, V]) full() bool { return len(b.m) >= b.max }

// evict removes and counts the least active of three sampled entries and
// returns its state, valid until the next upsert reuses it.
func (b *bounded[K, V]) evict() *V {
	const samples = 3
	var victim K
	var low uint64
	i := 0
	for k, v := range b.m {
		s := b.score(v)
		if i == 0 || s < low {
			victim, low = k, s
		}
		i++
		if i == samples {
			break
		}
	}
	if i == 0 {
		return nil
	}
	v := b.m[victim]
	b.free = append(b.free, v)
	delete(b.m, victim)
	b.Evicted++
	if b.evicted != nil {
		b.evicted(v)
	}
	return v
}

// reset empties the map, keeping the values for reuse (at most max).
func (b *bounded[K, V]) reset() {
	for _, v := range b.m {
		if len(b.free) < b.max {
			b.free = append(b.free, v)
		}
	}
	clear(b.m)
}

// remove deletes k, keeping its value for reuse.
func (b *bounded[K, V]) remove(k K) {
	if v := b.m[k]; v != nil {
		b.free = append(b.free, v)
		delete(b.m, k)
	}
}

func (b *bounded[K, V]) len() int { return len(b.m) }

// distinct counts distinct 64-bit values exactly up to a cap: the first
// few inline, then in a map. Past the cap it stops growing and reports
// Saturated, so one host cannot make it unbounded.
type distinct struct {
	small [4]uint64
	n     int
	m     map[uint64]struct{}
	sat   bool
}

func (d *distinct) add(v uint64, limit int) {
	if d.m == nil {
		for i := 0; i < d.n; i++ {
			if d.small[i] == v {
				return
			}
		}
		if d.n < len(d.small) {
			d.small[d.n] = v
			d.n++
			return
		}
		d.m = make(map[uint64]struct{}, 16)
		for _, x := range d.small {
			d.m[x] = struct{}{}
		}
	}
	if _, ok := d.m[v]; ok {
		return
	}
	if len(d.m) >= limit {
		d.sat = true
		return
	}
	d.m[v] = struct{}{}
}

// budget bounds the values a detector's distinct sets hold together, over
// all its hosts in a window: each set has its own cap, but a scan or
// query flood from many hosts at once would fill every host's set (65,536
// scanners at 400 ports and 400 hosts each held 1.8 GB). Past the budget
// the sets stop growing and say so (saturated), and the values refused
// are counted.
type budget struct {
	max, used int
	refused   uint64
}

// add adds v to set, within the set's limit and what is left of b.
func (b *budget) add(set *distinct, v uint64, limit int) {
	if b.used < b.max {
		n := set.count()
		set.add(v, limit)
		b.used += set.count() - n
		return
	}
	if !set.has(v) {
		set.sat = true
		b.refused++
	}
}

// giveBack returns the share of sets no longer kept (an evicted host's).
func (b *budget) giveBack(sets ...*distinct) {
	for _, s := range sets {
		b.used -= s.count()
	}
}

// has reports whether v was added.
func (d *distinct) has(v uint64) bool {
	if d.m != nil {
		_, ok := d.m[v]
		return ok
	}
	for i := 0; i < d.n; i++ {
		if d.small[i] == v {
			return true
		}
	}
	return false
}

func (d *distinct) count() int {
	if d.m != nil {
		return len(d.m)
	}
	return d.n
}

// unionCount returns the number of distinct values in d or o.
func (d *distinct) unionCount(o *distinct) int {
	n := d.count()
	if o.m == nil {
		for _, v := range o.small[:o.n] {
			if !d.has(v) {
				n++
			}
		}
		return n
	}
	for v := range o.m {
		if !d.has(v) {
			n++
		}
	}
	return n
}

// topK keeps the heaviest keys of a stream in k counters (Metwally's
// space-saving): any key with more than N/k occurrences is kept; a counter
// taken over from an evicted key inherits its count, recorded in errs, so
// counts - errs is a guaranteed lower bound.
type topK struct {
	keys   [8]addr
	counts [8]uint64
	errs   [8]uint64
	n      int
}

func (t *topK) add(a addr) {
	for i := 0; i < t.n; i++ {
		if t.keys[i] == a {
			t.counts[i]++
			return
		}
	}
	if t.n < len(t.keys) {
		t.keys[t.n], t.counts[t.n] = a, 1
		t.n++
		return
	}
	lo := 0
	for i := 1; i < t.n; i++ {
		if t.counts[i] < t.counts[lo] {
			lo = i
		}
	}
	t.keys[lo] = a
	t.errs[lo] = t.counts[lo]
	t.counts[lo]++
}

// guaranteed is the lower bound on key i's count.
func (t *topK) guaranteed(i int) uint64 { return t.counts[i] - t.errs[i] }

type hostCount struct {
	IP    string `json:"ip"`
	Count uint64 `json:"count"`
}

// sorted returns the kept keys with guaranteed counts of at least
// minCount, heaviest first (spoofed floods, one packet per source, give
// none).
func (t *topK) sorted(max int, minCount uint64) []hostCount {
	idx := make([]int, 0, t.n)
	for i := 0; i < t.n; i++ {
		if t.guaranteed(i) >= minCount {
			idx = append(idx, i)
		}
	}
	for i := 1; i < len(idx); i++ {
		for j := i; j > 0 && t.guaranteed(idx[j]) > t.guaranteed(idx[j-1]); j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
	out := make([]hostCount, 0, min(max, len(idx)))
	for _, i := range idx {
		if len(out) == max {
			break
		}
		out = append(out, hostCount{toNetip(t.keys[i]).String(), t.guaranteed(i)})
	}
	return out
}

// window is a tumbling window on the packet clock: windows are aligned
// to multiples of size since the epoch.
type window struct {
	size  int64
	start int64 // start of the current window
	// started is false before the first event: a start of 0 is the
	// first window of 1970, where a capture with zeroed or rebased
	// times falls, and taken for "none yet" it was never judged.
	started bool
}

// roll reports whether now is past the current window, and moves the
// window to the one containing now. The caller evaluates the finished
// window's state before resetting it.
func (w *window) roll(now int64) bool {
	if !w.started {
		w.start, w.started = floorTo(now, w.size), true
		return false
	}
	if now < w.start+w.size {
		return false
	}
	w.start = floorTo(now, w.size)
	return true
}

// floorTo rounds t down to a multiple of size, before 1970 too (where
// t%size is negative).
func floorTo(t, size int64) int64 {
	r := t % size
	if r < 0 {
		r += size
	}
	return t - r
}

func ratio(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// sampleKeys keeps the first and the latest flow key seen, so packet-based
// alerts can name flows without growing per-host state.
type sampleKeys struct {
	k [2]collector.Key
	n uint8
}

func (s *sampleKeys) add(k *collector.Key) {
	switch {
	case s.n == 0:
		s.k[0], s.n = *k, 1
	case s.k[0] == *k:
	default:
		s.k[1], s.n = *k, 2
	}
}

func (s *sampleKeys) slice() []collector.Key { return append([]collector.Key(nil), s.k[:s.n]...) }

// flowIndex maps the keys of recently finished flows to their IDs, and
// watches keys of alerts whose flows have not finished yet; both are two
// generations of bounded maps, so lookups cost O(1) and memory is fixed.
type flowIndex struct {
	max            int
	recent, recOld map[collector.Key]uint64
	watch, watOld  map[collector.Key]string // key -> aggregation cause
}

func newFlowIndex(max int) *flowIndex {
	return &flowIndex{max: max, recent: map[collector.Key]uint64{}, watch: map[collector.Key]string{}}
}

func (x *flowIndex) addFlow(k collector.Key, id uint64) {
	if len(x.recent) >= x.max {
		x.recOld, x.recent = x.recent, make(map[collector.Key]uint64, x.max)
	}
	x.recent[k] = id
}

func (x *flowIndex) lookup(k collector.Key) (uint64, bool) {
	if id, ok := x.recent[k]; ok {
		return id, true
	}
	id, ok := x.recOld[k]
	return id, ok
}

func (x *flowIndex) addWatch(k collector.Key, cause string) {
	if len(x.watch) >= x.max {
		x.watOld, x.watch = x.watch, make(map[collector.Key]string, x.max)
	}
	x.watch[k] = cause
}

// take returns and forgets the cause watching k.
func (x *flowIndex) take(k collector.Key) (string, bool) {
	if c, ok := x.watch[k]; ok {
		delete(x.watch, k)
		return c, true
	}
	if c, ok := x.watOld[k]; ok {
		delete(x.watOld, k)
		return c, true
	}
	return "", false
}
