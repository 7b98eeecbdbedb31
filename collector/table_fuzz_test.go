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
			tp.add(fuzzPacket(binary.LittleEndian.Uint64(data), &ts))
			data = data[8:]
		}
		tp.flushAndCompare(t)
	})
}

// fuzzPacket makes a packet of one of a few keys from the 64 bits w, with
// any lengths and flags, at a time that steps from *ts or jumps anywhere.
func fuzzPacket(w uint64, ts *int64) Packet {
	switch w & 3 {
	case 0: // a small step
		*ts += int64(w>>2) & (1<<32 - 1)
	case 1: // any time at all
		*ts = int64(w)
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
	p := Packet{Timestamp: *ts, Key: k, SrcIsLo: lo, IPLen: ipLen, IPHeaderLen: hdr, L4HeaderLen: uint16(w>>33) & 0x3f,
		TCPFlags: uint8(w >> 16), TCPWindow: uint16(w >> 8), ICMPType: uint8(w >> 2), WrongFragment: w&4 != 0}
	p.PayloadLen = uint32(max(int64(p.IPLen)-int64(p.IPHeaderLen)-int64(p.L4HeaderLen), 0))
	if w&8 != 0 {
		p.PayloadLen = uint32(w >> 52) // not derived from the lengths
	}
	return p
}

// FuzzTableMaxBytes feeds arbitrary packet sequences to a table bounded by
// a memory budget taken from the input: the estimate never exceeds the
// budget (or one flow's cost, when the budget is below it), every packet
// ends up in exactly one record, and nothing is counted as held after
// Flush.
func FuzzTableMaxBytes(f *testing.F) {
	f.Add(uint16(3), []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	f.Add(uint16(0), binary.LittleEndian.AppendUint64(make([]byte, 8), math.MaxInt64))
	f.Fuzz(func(t *testing.T, budget uint16, data []byte) {
		cfg := TableConfig{IdleTimeout: 2 * time.Second, ActiveTimeout: 10 * time.Second, CloseGrace: time.Second, Samples: 10, MaxFlows: 64,
			MaxBytes: int64(budget%16) * EntryBytes / 2}
		var records, inRecords uint64
		tab := NewTable(cfg, func(fl *Flow) { records++; inRecords += fl.Packets() })
		limit := max(cfg.MaxBytes, EntryBytes+RecordBytes(cfg.Samples))
		var ts int64
		added := uint64(0)
		for len(data) >= 8 {
			p := fuzzPacket(binary.LittleEndian.Uint64(data), &ts)
			data = data[8:]
			tab.Add(&p)
			added++
			if st := tab.Stats(); cfg.MaxBytes > 0 && st.Bytes > limit {
				t.Fatalf("after packet %d: %d bytes held, budget %d", added, st.Bytes, cfg.MaxBytes)
			}
		}
		tab.Flush()
		st := tab.Stats()
		if inRecords != added || st.Bytes != 0 || st.Active != 0 || records != st.Emitted {
			t.Fatalf("%d packets added, %d in %d records; stats %+v", added, inRecords, records, st)
		}
	})
}
