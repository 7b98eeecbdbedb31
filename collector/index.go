package collector

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
)

// flowIndex maps flow keys to table entries. It is an open-addressing hash
// table with linear probing over 8-byte slots (32 bits of hash, 32-bit
// entry handle), with the key kept only in the entry: a Go map of Key to
// *entry costs about 140 bytes per flow and three cache misses per lookup
// (control word, slot, entry); this costs 11-22 bytes and two (slot,
// entry). Deletion shifts the probe chain back, so there are no
// tombstones and lookups stay short under churn. The hash is keyed with
// random secrets per table, so crafted keys cannot aim at one probe chain.
type flowIndex struct {
	slots  []uint64 // hash<<32 | handle+1; 0 is an empty slot
	mask   uint64
	n      int
	secret [6]uint64
}

const indexMinSlots = 1 << 10

func newFlowIndex(hint int) flowIndex {
	size := uint64(indexMinSlots)
	for size*3/4 < uint64(hint) {
		size *= 2
	}
	x := flowIndex{slots: make([]uint64, size), mask: size - 1}
	for i := range x.secret {
		x.secret[i] = rand.Uint64() | 1
	}
	return x
}

// mix is wyhash's 64x64->128 multiply folded to 64 bits.
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// hash covers every field of the key.
func (x *flowIndex) hash(k *Key) uint32 {
	le := binary.LittleEndian
	p := uint64(k.PortLo) | uint64(k.PortHi)<<16 | uint64(k.VLANOuter)<<32 | uint64(k.VLANInner)<<48
	h := mix(le.Uint64(k.AddrLo[:8])^x.secret[0], le.Uint64(k.AddrLo[8:])^x.secret[1]) ^
		mix(le.Uint64(k.AddrHi[:8])^x.secret[2], le.Uint64(k.AddrHi[8:])^x.secret[3]) ^
		mix(p^x.secret[4], k.protoTunnel()^x.secret[5])
	return uint32(mix(h, x.secret[0]^0x9e3779b97f4a7c15))
}

// get returns k's entry, nil if k has none; slabs hold the entries by
// handle (handle/entrySlab, handle%entrySlab).
func (x *flowIndex) get(k *Key, slabs [][]entry) *entry {
	h := x.hash(k)
	for i := uint64(h) & x.mask; ; i = (i + 1) & x.mask {
		s := x.slots[i]
		if s == 0 {
			return nil
		}
		if uint32(s>>32) == h {
			hd := uint32(s) - 1
			if e := &slabs[hd/entrySlab][hd%entrySlab]; e.key == *k {
				return e
			}
		}
	}
}

// put adds the entry with handle for key k, which must not be present.
func (x *flowIndex) put(k *Key, handle uint32) {
	if uint64(x.n+1) > uint64(len(x.slots))*3/4 {
		x.grow()
	}
	h := x.hash(k)
	x.insert(uint64(h)<<32 | uint64(handle) + 1)
	x.n++
}

func (x *flowIndex) insert(s uint64) {
	for i := (s >> 32) & x.mask; ; i = (i + 1) & x.mask {
		if x.slots[i] == 0 {
			x.slots[i] = s
			return
		}
	}
}

func (x *flowIndex) grow() {
	old := x.slots
	x.slots = make([]uint64, 2*len(old))
	x.mask = uint64(len(x.slots) - 1)
	for _, s := range old {
		if s != 0 {
			x.insert(s)
		}
	}
}

// del removes key k, whose entry has handle, shifting later members of its
// probe chain back into the hole.
func (x *flowIndex) del(k *Key, handle uint32) {
	h := x.hash(k)
	want := uint64(h)<<32 | uint64(handle) + 1
	i := uint64(h) & x.mask
	for x.slots[i] != want {
		if x.slots[i] == 0 {
			panic("collector: flow index lost an entry")
		}
		i = (i + 1) & x.mask
	}
	x.n--
	for j := i; ; {
		x.slots[i] = 0
		for {
			j = (j + 1) & x.mask
			s := x.slots[j]
			if s == 0 {
				return
			}
			home := (s >> 32) & x.mask
			// s stays if its home lies cyclically in (i, j].
			if (i <= j && i < home && home <= j) || (i > j && (i < home || home <= j)) {
				continue
			}
			x.slots[i] = s
			i = j
			break
		}
	}
}
