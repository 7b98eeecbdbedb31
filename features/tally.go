package features

import "math/bits"

// The connection window's tallies: per responder host, per service, per
// host and service, and per host and initiator port, the connections of
// the last Conns with their error counts. A connection entering the
// window adds 1 under each of its four keys and the one leaving it takes
// 1 away, so a flow's connection-window features cost eight updates of a
// small table whatever the window's size, where scanning the window read
// every connection in it (about 500 ns a flow for the default 100).

// Kinds of tally key, in the top byte of tkey.aux; the rest holds the
// service (protocol<<16 | port, 24 bits) or the initiator port.
const (
	kindHost uint32 = (iota + 1) << 24
	kindSrv
	kindHostSrv
	kindHostSport
)

// tkey is one tally key: a host (zero for a service key) and aux.
type tkey struct {
	host addr
	aux  uint32
}

// tslot is one slot of the table; n == 0 marks it empty.
type tslot struct {
	key tkey
	a   agg
}

// tally is an open-addressing table (linear probing, deletion by
// backward shift, so no tombstones) holding at most half of its slots:
// each connection of the window is under at most four keys, and newTally
// gives eight slots a connection, so probes stay short.
type tally struct {
	slots []tslot
	shift uint // 64 - log2(len(slots))
	mask  uint64
}

// newTally returns a table for a window of conns connections.
func newTally(conns int) tally {
	n := 16
	for n < 8*conns {
		n <<= 1
	}
	return tally{slots: make([]tslot, n), shift: uint(64 - bits.TrailingZeros(uint(n))), mask: uint64(n - 1)}
}

// home is the slot where k's probe starts.
func (t *tally) home(k tkey) uint64 {
	x := k.host.hi*0x9e3779b97f4a7c15 ^ bits.RotateLeft64(k.host.lo*0xbf58476d1ce4e5b9, 31) ^ uint64(k.aux)*0x94d049bb133111eb
	return (x * 0x2545f4914f6cdd1d) >> t.shift
}

// add adds d connections (d is 1 or -1) with serr and rerr errors each
// under k and returns k's tally after it. Taking away a connection that
// was never added is a bug in the caller.
func (t *tally) add(k tkey, serr, rerr, d int32) agg {
	i := t.home(k)
	for {
		s := &t.slots[i]
		if s.a.n == 0 {
			s.key, s.a = k, agg{d, d * serr, d * rerr}
			return s.a
		}
		if s.key == k {
			s.a.n += d
			s.a.serr += d * serr
			s.a.rerr += d * rerr
			a := s.a
			if a.n == 0 {
				t.remove(i)
			}
			return a
		}
		i = (i + 1) & t.mask
	}
}

// remove empties slot i and moves back the entries after it that probed
// past it, so every key stays reachable from its home without gaps.
func (t *tally) remove(i uint64) {
	for {
		t.slots[i].a = agg{}
		j := i
		for {
			j = (j + 1) & t.mask
			if t.slots[j].a.n == 0 {
				return
			}
			// The entry at j stays when its home is cyclically in (i, j].
			h := t.home(t.slots[j].key)
			if (j-h)&t.mask < (j-i)&t.mask {
				continue
			}
			t.slots[i] = t.slots[j]
			i = j
			break
		}
	}
}

// len is the number of keys held (for tests).
func (t *tally) len() int {
	n := 0
	for i := range t.slots {
		if t.slots[i].a.n != 0 {
			n++
		}
	}
	return n
}

// window adds c to (d = 1) or takes it from (d = -1) the tallies and
// returns its host's and service's tallies and the counts of its host
// and service together and of its host and initiator port, after it.
func (t *tally) window(c *conn, d int32) (h, s agg, same, sport int32) {
	h = t.add(tkey{c.host, kindHost}, c.serr, c.rerr, d)
	s = t.add(tkey{aux: kindSrv | c.srv}, c.serr, c.rerr, d)
	same = t.add(tkey{c.host, kindHostSrv | c.srv}, 0, 0, d).n
	sport = t.add(tkey{c.host, kindHostSport | uint32(c.sport)}, 0, 0, d).n
	return h, s, same, sport
}
