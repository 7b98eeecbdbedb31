package collector

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/bits"
)

// pcapng block types the reader understands.
const (
	ngSHB = 0x0A0D0D0A
	ngIDB = 0x00000001
	ngOPB = 0x00000002 // obsolete packet block
	ngSPB = 0x00000003
	ngEPB = 0x00000006
)

// maxIfaces bounds the interfaces of a section: a file of nothing but
// 20-byte interface blocks held 14 bytes of memory per byte of file
// (2.8 GB for 200 MB) until 2026-12-07. No capture names more (an
// obsolete packet block's interface number has 16 bits), and they take
// about 4 MB.
const maxIfaces = 1 << 16

// ngIface is one interface description block of the current section.
type ngIface struct {
	linkType uint32
	snapLen  uint32
	// Timestamp units: ns = ts*mul, or ts*1e9 >> shift for binary
	// resolutions, or ts / div for finer-than-ns decimal ones; under:
	// a decimal resolution so fine (10^-29 and finer) that every tick
	// count is below 1 ns.
	mul, div uint64
	shift    uint
	under    bool
	offset   int64 // if_tsoffset in ns
	// offsetBad: if_tsoffset is beyond what int64 nanoseconds hold
	// (about ±292 years), so no timestamp of the interface is.
	offsetBad bool
	fcsLen    int
}

// ns converts a timestamp of the interface to Unix nanoseconds. ok is
// false when the time is outside what int64 nanoseconds hold (before
// 1677 or after 2262); the value is then the low 64 bits, which is what
// the caller must not use as a time.
func (i *ngIface) ns(ts uint64) (t int64, ok bool) {
	var v uint64
	switch {
	case i.shift >= 64:
		hi, _ := bits.Mul64(ts, 1e9)
		v, ok = hi>>(i.shift-64), true
	case i.shift > 0:
		hi, lo := bits.Mul64(ts, 1e9)
		v, ok = hi<<(64-i.shift)|lo>>i.shift, hi>>i.shift == 0
	case i.under:
		v, ok = 0, true
	case i.div > 1:
		v, ok = ts/i.div, true
	default:
		hi, lo := bits.Mul64(ts, i.mul)
		v, ok = lo, hi == 0
	}
	t = int64(v) + i.offset
	switch {
	case i.offsetBad:
		ok = false
	case i.offset >= 0:
		ok = ok && v <= uint64(math.MaxInt64-i.offset)
	default:
		// A negative offset brings ticks beyond int64 nanoseconds back
		// (2^-ish resolutions or large counts with an if_tsoffset in the
		// past): the sum, not the ticks, must fit.
		back := uint64(-(i.offset + 1)) + 1 // -offset, for MinInt64 too
		ok = ok && (v < back || v-back <= math.MaxInt64)
	}
	return t, ok
}

// pcapngReader reads pcapng files: any number of sections in either byte
// order, any number of interfaces per section with their own link type and
// timestamp resolution. Blocks without packets are skipped and counted.
type pcapngReader struct {
	b       *offReader
	bo      binary.ByteOrder
	ifaces  []ngIface
	skipped uint64
	lastTS  int64 // for simple packet blocks, which carry no timestamp
}

func newPcapngReader(b *offReader) (*pcapngReader, error) {
	r := &pcapngReader{b: b, ifaces: make([]ngIface, 0, 8)}
	return r, nil
}

// block reads the next whole block and returns its type and bytes
// (including the 8-byte header and the trailing length).
func (r *pcapngReader) block() (uint32, []byte, error) {
	h, err := r.b.peek(12)
	if err == io.EOF {
		return 0, nil, io.EOF
	}
	if len(h) < 8 {
		return 0, nil, fmt.Errorf("block header: %w (%d of 8 bytes)", shortErr(err), len(h))
	}
	typ := binary.LittleEndian.Uint32(h)
	if typ == ngSHB {
		if len(h) < 12 {
			return 0, nil, fmt.Errorf("section header block: %w", errShort)
		}
		switch binary.LittleEndian.Uint32(h[8:]) {
		case 0x1A2B3C4D:
			r.bo = binary.LittleEndian
		case 0x4D3C2B1A:
			r.bo = binary.BigEndian
		default:
			return 0, nil, fmt.Errorf("section header block: bad byte-order magic %#x", h[8:12])
		}
	} else if r.bo == nil {
		return 0, nil, fmt.Errorf("not a pcapng file (first block type %#x)", typ)
	} else {
		typ = r.bo.Uint32(h)
	}
	n := r.bo.Uint32(h[4:])
	if n < 12 || n%4 != 0 {
		return 0, nil, fmt.Errorf("block type %#x: bad length %d", typ, n)
	}
	if n > maxRecordLen {
		if typ == ngEPB || typ == ngSPB || typ == ngOPB || typ == ngSHB || typ == ngIDB {
			return 0, nil, fmt.Errorf("block type %#x: length %d exceeds the %d-byte limit", typ, n, maxRecordLen)
		}
		// A huge block we would skip anyway: do not buffer it.
		if err := r.b.discard(int64(n)); err != nil {
			return 0, nil, fmt.Errorf("block type %#x, length %d: %w", typ, n, err)
		}
		return typ, nil, nil
	}
	blk, err := r.b.peek(int(n))
	if err != nil {
		return 0, nil, fmt.Errorf("block type %#x: length %d but only %d bytes left: %w", typ, n, len(blk), shortErr(err))
	}
	if t := r.bo.Uint32(blk[n-4:]); t != n {
		return 0, nil, fmt.Errorf("block type %#x: leading length %d != trailing length %d", typ, n, t)
	}
	r.b.skip(int(n))
	return typ, blk, nil
}

// options walks the options in opts, calling fn for each, and fails on an
// option that runs past the block.
func (r *pcapngReader) options(opts []byte, fn func(code uint16, val []byte) error) error {
	for len(opts) >= 4 {
		code, l := r.bo.Uint16(opts), int(r.bo.Uint16(opts[2:]))
		if code == 0 { // opt_endofopt
			return nil
		}
		padded := (l + 3) &^ 3
		if 4+padded > len(opts) {
			return fmt.Errorf("option %d of length %d runs past the block", code, l)
		}
		if fn != nil {
			if err := fn(code, opts[4:4+l]); err != nil {
				return err
			}
		}
		opts = opts[4+padded:]
	}
	return nil
}

func (r *pcapngReader) next(f *frame) error {
	for {
		off := r.b.off
		typ, blk, err := r.block()
		if err != nil {
			f.off = off
			return err
		}
		f.off = off
		n := len(blk)
		switch typ {
		case ngSHB:
			if n < 28 {
				return fmt.Errorf("section header block: length %d < 28", n)
			}
			if maj := r.bo.Uint16(blk[12:]); maj != 1 {
				return fmt.Errorf("section header block: unsupported version %d", maj)
			}
			if err := r.options(blk[24:n-4], nil); err != nil {
				return fmt.Errorf("section header block: %w", err)
			}
			r.ifaces = r.ifaces[:0]
		case ngIDB:
			if n < 20 {
				return fmt.Errorf("interface description block: length %d < 20", n)
			}
			if len(r.ifaces) >= maxIfaces {
				return fmt.Errorf("interface description block: more than %d interfaces in one section", maxIfaces)
			}
			ifc := ngIface{linkType: uint32(r.bo.Uint16(blk[8:])), snapLen: r.bo.Uint32(blk[12:]), mul: 1000, div: 1}
			err := r.options(blk[16:n-4], func(code uint16, v []byte) error {
				switch code {
				// An option whose length is not the specification's is
				// ignored, as Wireshark ignores it.
				case 9: // if_tsresol
					if len(v) != 1 {
						return nil
					}
					// Every exponent the 7 bits allow is a resolution: 2^-64
					// and finer, or 10^-29 and finer, make every 64-bit tick
					// count less than a second, or less than 1 ns.
					e := uint(v[0] & 0x7f)
					ifc.mul, ifc.div, ifc.shift, ifc.under = 1, 1, 0, false
					if v[0]&0x80 != 0 {
						ifc.mul, ifc.shift = 0, e
						if e == 0 {
							ifc.mul = 1e9
						}
						break
					}
					for ; e < 9; e++ {
						ifc.mul *= 10
					}
					for ; e > 9 && ifc.div <= math.MaxUint64/10; e-- {
						ifc.div *= 10
					}
					ifc.under = e > 9
				case 13: // if_fcslen
					if len(v) == 1 {
						ifc.fcsLen = fcsBytes(v[0])
					}
				case 14: // if_tsoffset, seconds
					if len(v) == 8 {
						sec := int64(r.bo.Uint64(v))
						ifc.offset = sec * 1e9
						ifc.offsetBad = sec > math.MaxInt64/int64(1e9) || sec < math.MinInt64/int64(1e9)
					}
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("interface description block: %w", err)
			}
			r.ifaces = append(r.ifaces, ifc)
		case ngEPB, ngOPB:
			if n < 32 {
				return fmt.Errorf("packet block: length %d < 32", n)
			}
			var id uint32
			if typ == ngEPB {
				id = r.bo.Uint32(blk[8:])
			} else {
				id = uint32(r.bo.Uint16(blk[8:]))
			}
			if int(id) >= len(r.ifaces) {
				return fmt.Errorf("packet block: interface %d not described (%d interfaces in section)", id, len(r.ifaces))
			}
			ifc := &r.ifaces[id]
			ts := uint64(r.bo.Uint32(blk[12:]))<<32 | uint64(r.bo.Uint32(blk[16:]))
			capLen, wireLen := r.bo.Uint32(blk[20:]), r.bo.Uint32(blk[24:])
			if uint64(capLen) > uint64(n-32) {
				return fmt.Errorf("packet block: caplen %d exceeds the block length %d", capLen, n)
			}
			end := 28 + (int(capLen)+3)&^3
			if end > n-4 {
				return fmt.Errorf("packet block: padded data runs past the block length %d", n)
			}
			if err := r.options(blk[end:n-4], nil); err != nil {
				return fmt.Errorf("packet block: %w", err)
			}
			f.data, f.capLen, f.wireLen, f.linkType = blk[28:28+capLen], capLen, wireLen, ifc.linkType
			f.ts, f.tsOK = ifc.ns(ts)
			f.iface = int(id)
			if f.tsOK {
				r.lastTS = f.ts
			}
			if ifc.fcsLen > 0 && capLen == wireLen && len(f.data) >= ifc.fcsLen {
				f.data = f.data[:len(f.data)-ifc.fcsLen]
			}
			return nil
		case ngSPB:
			if n < 16 {
				return fmt.Errorf("simple packet block: length %d < 16", n)
			}
			if len(r.ifaces) == 0 {
				return fmt.Errorf("simple packet block: no interface described")
			}
			ifc := &r.ifaces[0]
			// The captured length is not in the block: it is the original
			// length cut to the interface's snap length. A block too short
			// for it is corrupt; one longer (a writer that ignored the snap
			// length) is read up to it.
			wireLen := r.bo.Uint32(blk[8:])
			capLen := wireLen
			if ifc.snapLen > 0 {
				capLen = min(capLen, ifc.snapLen)
			}
			if uint64(capLen) > uint64(n-16) {
				return fmt.Errorf("simple packet block: %d bytes of packet data (original length %d, snap length %d) but a block length of %d", capLen, wireLen, ifc.snapLen, n)
			}
			f.data, f.capLen, f.wireLen, f.linkType, f.ts, f.tsOK, f.iface = blk[12:12+capLen], capLen, wireLen, ifc.linkType, r.lastTS, true, 0
			// The interface's FCS, as for an Enhanced Packet Block: it was
			// read as frame data, and counted as IP bytes where the IP
			// length says "the rest of the frame" (0, as TSO writes).
			if ifc.fcsLen > 0 && capLen == wireLen && len(f.data) >= ifc.fcsLen {
				f.data = f.data[:len(f.data)-ifc.fcsLen]
			}
			return nil
		default:
			r.skipped++
		}
	}
}

// fcsBytes is the FCS length in bytes that an if_fcslen option of v means.
// The specification's text says bits (16 or 32 for Ethernet's CRCs) but
// its example says 4, and writers followed either reading: a multiple of
// 8 is bits, and 1 to 7 (only 2 and 4 are real FCS sizes) bytes.
func fcsBytes(v uint8) int {
	if v%8 == 0 {
		return int(v / 8)
	}
	if v < 8 {
		return int(v)
	}
	return 0
}
