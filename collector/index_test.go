package collector

import (
	"math/rand/v2"
	"testing"
)

// TestFlowIndexAgainstMap drives the index and a Go map with the same
// random inserts, lookups and deletes (a key space small enough that probe
// chains collide and wrap around) and checks they always agree.
func TestFlowIndexAgainstMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var slabs [][]entry
	var free []uint32
	x := newFlowIndex(0)
	ref := map[Key]uint32{}
	key := func() Key {
		var k Key
		k.AddrLo[15] = byte(rng.IntN(50))
		k.PortLo = uint16(rng.IntN(60))
		k.Proto = 17
		return k
	}
	for step := range 200_000 {
		k := key()
		e := x.get(&k, slabs)
		h, ok := ref[k]
		if ok != (e != nil) || ok && e.handle != h {
			t.Fatalf("step %d: index has %v (%v), map has %v (%v)", step, e != nil, e, ok, h)
		}
		switch {
		case ok && rng.IntN(2) == 0:
			x.del(&k, h)
			delete(ref, k)
			free = append(free, h)
		case !ok:
			if len(free) == 0 {
				base := uint32(len(slabs)) * entrySlab
				slabs = append(slabs, make([]entry, entrySlab))
				for i := entrySlab - 1; i >= 0; i-- {
					free = append(free, base+uint32(i))
				}
			}
			h = free[len(free)-1]
			free = free[:len(free)-1]
			slabs[h/entrySlab][h%entrySlab] = entry{key: k, handle: h}
			x.put(&k, h)
			ref[k] = h
		}
		if x.n != len(ref) {
			t.Fatalf("step %d: index holds %d, map %d", step, x.n, len(ref))
		}
	}
	// Every key still in the map is found, after growth and deletions.
	for k, h := range ref {
		if e := x.get(&k, slabs); e == nil || e.handle != h {
			t.Fatalf("key %v lost", k)
		}
	}
	if len(x.slots) <= indexMinSlots {
		t.Logf("index never grew (%d slots for %d keys)", len(x.slots), len(ref))
	}
}

func BenchmarkFlowIndexGet(b *testing.B) {
	const n = 1 << 20
	slabs := make([][]entry, n/entrySlab)
	x := newFlowIndex(0)
	keys := make([]Key, n)
	for i := range keys {
		keys[i].AddrLo[12], keys[i].AddrLo[13], keys[i].AddrLo[14] = byte(i), byte(i>>8), byte(i>>16)
		keys[i].Proto = 6
		h := uint32(i)
		if slabs[h/entrySlab] == nil {
			slabs[h/entrySlab] = make([]entry, entrySlab)
		}
		slabs[h/entrySlab][h%entrySlab] = entry{key: keys[i], handle: h}
		x.put(&keys[i], h)
	}
	b.Run("index", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if x.get(&keys[(i*7919)&(n-1)], slabs) == nil {
				b.Fatal("missing")
			}
		}
	})
	b.Run("gomap", func(b *testing.B) {
		m := make(map[Key]*entry)
		for i := range keys {
			m[keys[i]] = &slabs[i/entrySlab][i%entrySlab]
		}
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			if e := m[keys[(i*7919)&(n-1)]]; e == nil || e.key.Proto != 6 {
				b.Fatal("missing")
			}
		}
	})
}

func BenchmarkFlowIndexHash(b *testing.B) {
	x := newFlowIndex(0)
	var k Key
	var s uint32
	for i := 0; b.Loop(); i++ {
		k.PortLo = uint16(i)
		s += x.hash(&k)
	}
	_ = s
}
