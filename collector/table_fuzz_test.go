package collector

import (
	"encoding/binary"
	"math"
	"testing"
	"time"
)

// FuzzTableCompact feeds arbitrary packet sequences (any timestamps,
// lengths, flags and keys) to the default table and to one that gives
// every flow its full record from the first packet; they must emit the
// same records in the same order.
func FuzzTableCompact(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	f.Add(binary.LittleEndian.AppendUint64(make([]byte, 8), math.MaxInt64))
	f.Add(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, 1<<63), math.MaxInt64))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := TableConfig{IdleTimeout: 2 * time.Second, ActiveTimeout: 10 * time.Second, CloseGrace: time.Second, MaxFlows: 8, Samples: 10}
		tp := newTablePair(cfg)
		var ts int64
		for len(data) >= 8 {
			w := binary.LittleEndian.Uint64(data)
			data = data[8:]
			switch w & 3 {
			case 0: // a small step
				ts += int64(w>>2) & (1<<32 - 1)
			case 1: // any time at all
				ts = int64(w)
			}
			b := byte(w >> 40)
			src, dst := [16]byte{15: b & 3}, [16]byte{15: (b >> 2) & 3}
			proto := []uint8{6, 17, 1, 58}[(b>>4)&3]
			k, lo := MakeKey(&src, &dst, uint16(b>>6), 80, proto, 0, 0)
			ipLen := uint32(w >> 48)
			if b&0x80 != 0 {
				ipLen += 70000 // beyond 16 bits
			}
			hdr := uint16(w>>24) & 0x1ff
			p := Packet{Timestamp: ts, Key: k, SrcIsLo: lo, IPLen: ipLen, IPHeaderLen: hdr, L4HeaderLen: uint16(w>>33) & 0x3f,
				TCPFlags: uint8(w >> 16), TCPWindow: uint16(w >> 8), ICMPType: uint8(w >> 2), WrongFragment: w&4 != 0}
			p.PayloadLen = uint32(max(int64(p.IPLen)-int64(p.IPHeaderLen)-int64(p.L4HeaderLen), 0))
			if w&8 != 0 {
				p.PayloadLen = uint32(w >> 52) // not derived from the lengths
			}
			tp.add(p)
		}
		tp.flushAndCompare(t)
	})
}
