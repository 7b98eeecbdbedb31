package features

import "slices"

// The time window's store: every connection held is in two series, its
// responder host's and its service's, each sorted by start with running
// error totals, so the connections of one key that started in [lo, hi]
// are two searches and a subtraction away. Entries that fell behind the
// cutoff are let go of lazily (when a series needs room, and in a periodic
// sweep): a query never reads before the cutoff, so they only cost memory.

// ent is one connection in a run: its start, the run's running totals of
// SYN errors and rejections up to and including it, and its service (read
// in host series only). The totals wrap around as uint32 and only their
// differences are read, which stay right while a run holds fewer than
// 2^32 connections.
type ent struct {
	start      int64
	serr, rerr uint32
	srv        uint32
}

// run is a deque of ents sorted by start: e[head:] are live, and serr0 and
// rerr0 are the running totals before e[head].
type run struct {
	e            []ent
	head         int
	serr0, rerr0 uint32
}

func (r *run) len() int { return len(r.e) - r.head }

// totals returns the running totals before index i (head <= i <= len(e)).
func (r *run) totals(i int) (uint32, uint32) {
	if i == r.head {
		return r.serr0, r.rerr0
	}
	return r.e[i-1].serr, r.e[i-1].rerr
}

// searchBack returns the first index k in [lo, hi] with e[k].start >= x
// (hi when none), galloping back from hi: the index sought is usually near
// the end, where the latest connections are, so this reads a few recent
// entries instead of halving the whole run. After a few hundred entries it
// checks whether all of them qualify, as they do when a window covers the
// whole run.
func searchBack(e []ent, lo, hi int, x int64) int {
	for step := 1; hi > lo; step <<= 1 {
		if step == 512 && e[lo].start >= x {
			return lo
		}
		k := max(hi-step, lo)
		if e[k].start < x {
			lo = k + 1
			break
		}
		hi = k
	}
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if e[m].start < x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return hi
}

// upper returns the index of the first entry that started after x
// (len(e) when none did).
func (r *run) upper(x int64) int {
	n := len(r.e)
	if n == r.head || r.e[n-1].start <= x {
		return n
	}
	return searchBack(r.e, r.head, n-1, x+1)
}

// span returns the index range [i, j) of the entries that started in
// [lo, hi] and their totals.
func (r *run) span(lo, hi int64) (i, j int, a agg) {
	j = r.upper(hi)
	i = searchBack(r.e, r.head, j, lo)
	if i == j {
		return i, j, agg{}
	}
	s0, r0 := r.totals(i)
	return i, j, agg{int32(j - i), int32(r.e[j-1].serr - s0), int32(r.e[j-1].rerr - r0)}
}

// sameSrv counts the entries in [i, j) of service srv.
func (r *run) sameSrv(i, j int, srv uint32) int32 {
	var n int32
	for _, x := range r.e[i:j] {
		n += b2i(x.srv == srv)
	}
	return n
}

// bigRun is the capacity above which a run mostly emptied is moved to a
// smaller slice, so a burst does not pin its memory.
const bigRun = 1024

// makeRoom makes room for k more entries: it lets go of the entries that
// started before cutoff, then moves the live ones to the front when at
// least a quarter of the slice is dead (to a smaller slice when a large
// one is three quarters empty), else grows the slice, one of bigRun
// entries or more to twice its live entries. A slice is then at most a
// third larger than its live entries and its growth, and each entry is
// moved at most three times on average.
func (r *run) makeRoom(k int, cutoff int64) {
	if cap(r.e)-len(r.e) >= k {
		return
	}
	r.prune(cutoff)
	n := r.len()
	switch {
	case cap(r.e) > bigRun && 4*(n+k) <= cap(r.e):
		e := make([]ent, n, 2*(n+k))
		copy(e, r.e[r.head:])
		r.e, r.head = e, 0
	case 4*r.head >= cap(r.e) && cap(r.e)-n >= k:
		copy(r.e, r.e[r.head:])
		r.e, r.head = r.e[:n], 0
	case cap(r.e) >= bigRun:
		// Go grows a slice this large by about a quarter, so a service's
		// run growing to tens of thousands of entries was copied (and
		// its new pages faulted in) four times over; doubling does it
		// about once.
		e := make([]ent, n, 2*(n+k))
		copy(e, r.e[r.head:])
		r.e, r.head = e, 0
	default:
		r.e = slices.Grow(r.e, k)
	}
}

// push appends a connection that started no earlier than the last one;
// the caller made room.
func (r *run) push(x ent) {
	s, e := r.totals(len(r.e))
	x.serr, x.rerr = x.serr+s, x.rerr+e
	r.e = append(r.e, x)
}

// insertAt adds a connection (x holding its own errors) at index p and
// its errors to the running totals after it; the caller made room.
func (r *run) insertAt(p int, x ent) {
	s, e := r.totals(p)
	se, re := x.serr, x.rerr
	x.serr, x.rerr = s+se, e+re
	r.e = append(r.e, ent{})
	copy(r.e[p+1:], r.e[p:])
	r.e[p] = x
	if se|re != 0 {
		for k := p + 1; k < len(r.e); k++ {
			r.e[k].serr += se
			r.e[k].rerr += re
		}
	}
}

// prune lets go of the connections that started before cutoff and
// reports whether there were any.
func (r *run) prune(cutoff int64) bool {
	h := r.head
	for h < len(r.e) && r.e[h].start < cutoff {
		h++
	}
	if h == r.head {
		return false
	}
	r.serr0, r.rerr0 = r.e[h-1].serr, r.e[h-1].rerr
	if h == len(r.e) {
		h, r.e = 0, r.e[:0]
	}
	r.head = h
	return true
}

// series holds the connections of one key. Connections arriving in start
// order (the common case) are appended to main; one that started before
// main's last goes into main when its place is among the last nearEnd
// entries, else into late, so a connection emitted long after its start
// does not shift a long run. late is merged into main once it holds about
// the square root of the number of main entries after its deepest place
// (depth): a merge moves only those, so both the shifting and the merging
// cost O(sqrt d) a connection, d being how many same-key connections were
// observed between its start and its emission. Every late start is before
// main's last, and both are pruned with the same cutoff, so both empty
// together.
//
// A host series counts the connections to the host's service by reading
// the services of its window, until its window holds hotHost connections;
// from then on it keeps a series per service (pairs), as a flooded or
// scanned host needs.
type series struct {
	main  run
	late  *run
	depth int
	pairs map[uint32]*series
}

// nearEnd is how far from main's end an out-of-order connection is still
// inserted into main: shifting a few entries costs less than a late run.
const nearEnd = 32

// minMerge is the smallest late run that is merged into main.
const minMerge = 64

// hotHost is the time window from which a host series keeps series per
// service instead of reading the services of its window.
const hotHost = 64

func (s *series) empty() bool { return s.main.len() == 0 }

// count returns the connections that started in [lo, hi], and how many
// of them were to service srv when same is set on a host series.
func (s *series) count(lo, hi int64, srv uint32, same bool) (agg, int32) {
	i, j, a := s.main.span(lo, hi)
	var n int32
	if same && s.pairs == nil {
		n = s.main.sameSrv(i, j, srv)
	}
	if l := s.late; l != nil && l.len() > 0 {
		i, j, b := l.span(lo, hi)
		a = a.plus(b)
		if same && s.pairs == nil {
			n += l.sameSrv(i, j, srv)
		}
	}
	if same && s.pairs != nil {
		if p := s.pairs[srv]; p != nil {
			b, _ := p.count(lo, hi, 0, false)
			n = b.n
		}
	}
	return a, n
}

// observe returns what count returns for [lo, x.start], then adds x (its
// own errors in serr and rerr), letting go of entries before cutoff when
// it needs room.
func (s *series) observe(lo int64, x ent, cutoff int64, same bool) (agg, int32) {
	m := &s.main
	m.makeRoom(1, cutoff)
	n := len(m.e)
	j := m.upper(x.start)
	i := searchBack(m.e, m.head, j, lo)
	var a agg
	if i < j {
		s0, r0 := m.totals(i)
		a = agg{int32(j - i), int32(m.e[j-1].serr - s0), int32(m.e[j-1].rerr - r0)}
	}
	var k int32
	if same && s.pairs == nil {
		k = m.sameSrv(i, j, x.srv)
	}
	l := s.late
	if l != nil && l.len() > 0 {
		li, lj, b := l.span(lo, x.start)
		a = a.plus(b)
		if same && s.pairs == nil {
			k += l.sameSrv(li, lj, x.srv)
		}
	}
	switch {
	case j == n:
		m.push(x)
	case n-j <= nearEnd:
		m.insertAt(j, x)
	default:
		if l == nil {
			l = &run{}
			s.late = l
		}
		if l.len() == 0 {
			s.depth = 0
		}
		s.depth = max(s.depth, n-j)
		l.makeRoom(1, cutoff)
		l.insertAt(l.upper(x.start), x)
		if k := l.len(); k >= minMerge && k*k >= s.depth {
			s.merge(cutoff)
		}
	}
	if same && s.pairs != nil {
		p := s.pairs[x.srv]
		if p == nil {
			p = &series{}
			s.pairs[x.srv] = p
		}
		b, _ := p.observe(lo, ent{x.start, 0, 0, 0}, cutoff, false)
		k = b.n
	} else if same && a.n >= hotHost {
		s.makePairs()
	}
	return a, k
}

// makePairs splits a host series into series per service, in start order.
func (s *series) makePairs() {
	s.pairs = make(map[uint32]*series)
	a := s.main.e[s.main.head:]
	var b []ent
	if s.late != nil {
		b = s.late.e[s.late.head:]
	}
	for len(a) > 0 || len(b) > 0 {
		var x ent
		if len(b) == 0 || len(a) > 0 && a[0].start <= b[0].start {
			x, a = a[0], a[1:]
		} else {
			x, b = b[0], b[1:]
		}
		p := s.pairs[x.srv]
		if p == nil {
			p = &series{}
			s.pairs[x.srv] = p
		}
		p.main.e = append(p.main.e, ent{start: x.start})
	}
}

// merge moves late into main in place, from the back: the main entries
// that started before every late one stay where they are.
func (s *series) merge(cutoff int64) {
	m, l := &s.main, s.late
	b := l.e[l.head:]
	k := len(b)
	m.makeRoom(k, cutoff) // may move the live entries
	n := len(m.e)
	m.e = m.e[:n+k]
	// rs, rr: the errors of the late entries not yet placed, all of which
	// go before the main entry being placed.
	rs, rr := b[k-1].serr-l.serr0, b[k-1].rerr-l.rerr0
	i, j := n-1, k-1
	for w := n + k - 1; j >= 0; w-- {
		if i >= m.head && m.e[i].start > b[j].start {
			x := m.e[i]
			x.serr, x.rerr = x.serr+rs, x.rerr+rr
			m.e[w] = x
			i--
			continue
		}
		ms, mr := m.totals(i + 1)
		y := b[j]
		y.serr, y.rerr = ms+y.serr-l.serr0, mr+y.rerr-l.rerr0
		m.e[w] = y
		j--
		rs, rr = 0, 0
		if j >= 0 {
			rs, rr = b[j].serr-l.serr0, b[j].rerr-l.rerr0
		}
	}
	l.e, l.head, l.serr0, l.rerr0 = l.e[:0], 0, 0, 0
}

// prune lets go of the connections that started before cutoff, in the
// series per service too, and reports whether there were any.
func (s *series) prune(cutoff int64) bool {
	p := s.main.prune(cutoff)
	if s.late != nil && s.late.prune(cutoff) {
		p = true
	}
	for srv, q := range s.pairs {
		if q.prune(cutoff) && q.empty() {
			delete(s.pairs, srv)
		}
	}
	return p
}

// keyed holds the series of one kind of key in a map, by value: finding
// a key's series reads its header where the map keeps the key, one cache
// miss fewer than a pointer or an index to it would cost.
type keyed[K comparable] map[K]series

// sweep lets go of the entries before cutoff in every series, and of the
// series left empty.
func (k keyed[K]) sweep(cutoff int64) {
	for key, s := range k {
		if !s.prune(cutoff) {
			continue
		}
		if s.empty() {
			delete(k, key)
		} else {
			k[key] = s
		}
	}
}
