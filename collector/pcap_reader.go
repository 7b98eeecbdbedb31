package collector

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// maxRecordLen bounds a packet record or a buffered pcapng block, so a
// corrupt length field cannot make the reader allocate gigabytes. libpcap
// uses 256 KiB for most link types; 16 MiB leaves room for the rest.
const maxRecordLen = 16 << 20

// errShort marks input that ended in the middle of a record or block.
var errShort = errors.New("file cut short")

// offReader is a buffered reader that knows the exact file offset of every
// byte it hands out, which bufio and pcapgo do not expose. Slices it
// returns alias its buffer and stay valid until the next call.
type offReader struct {
	r      io.Reader
	buf    []byte
	lo, hi int
	off    int64 // file offset of buf[lo]
	err    error // sticky error from r
}

func newOffReader(r io.Reader) *offReader {
	return &offReader{r: r, buf: make([]byte, 64<<10)}
}

// peek returns the next n bytes without consuming them. If the input ends
// first it returns what is left and io.EOF (nothing left) or errShort.
func (b *offReader) peek(n int) ([]byte, error) {
	if b.hi-b.lo >= n {
		return b.buf[b.lo : b.lo+n], nil
	}
	if b.lo > 0 && b.lo+n > len(b.buf) {
		b.hi = copy(b.buf, b.buf[b.lo:b.hi])
		b.lo = 0
	}
	for empty := 0; b.hi-b.lo < n && b.err == nil; {
		if b.hi == len(b.buf) {
			// Grow only as data arrives, so a corrupt length in a short file
			// does not allocate what it claims.
			nb := make([]byte, min(2*len(b.buf), max(n, len(b.buf))))
			b.hi = copy(nb, b.buf[b.lo:b.hi])
			b.lo, b.buf = 0, nb
		}
		m, err := b.r.Read(b.buf[b.hi:])
		b.hi += m
		if err != nil {
			b.err = err
		} else if m == 0 {
			if empty++; empty >= 100 { // as bufio: a reader that never progresses
				b.err = io.ErrNoProgress
			}
		}
	}
	if b.hi-b.lo >= n {
		return b.buf[b.lo : b.lo+n], nil
	}
	if b.err != nil && b.err != io.EOF {
		return b.buf[b.lo:b.hi], b.err
	}
	if b.hi == b.lo {
		return nil, io.EOF
	}
	return b.buf[b.lo:b.hi], errShort
}

// Read makes offReader an io.Reader (for gzip on top of it): buffered
// bytes first, then straight from the underlying reader.
func (b *offReader) Read(p []byte) (int, error) {
	if b.hi > b.lo {
		n := copy(p, b.buf[b.lo:b.hi])
		b.skip(n)
		return n, nil
	}
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.r.Read(p)
	b.off += int64(n)
	return n, err
}

// ReadByte makes offReader a flate.Reader, so that gzip reads from it
// directly, byte by byte where it needs to: through a bufio.Reader of its
// own it read ahead past a member's end, and offsets in the compressed
// file were those of the read-ahead.
func (b *offReader) ReadByte() (byte, error) {
	if b.lo == b.hi {
		if h, err := b.peek(1); len(h) == 0 {
			return 0, err
		}
	}
	c := b.buf[b.lo]
	b.skip(1)
	return c, nil
}

// skip consumes n bytes that peek returned.
func (b *offReader) skip(n int) {
	b.lo += n
	b.off += int64(n)
}

// discard consumes n bytes without buffering them all.
func (b *offReader) discard(n int64) error {
	for n > 0 {
		chunk := int(min(n, int64(len(b.buf))))
		got, err := b.peek(chunk)
		if err != nil {
			b.skip(len(got))
			if err == io.EOF {
				err = errShort
			}
			return err
		}
		b.skip(chunk)
		n -= int64(chunk)
	}
	return nil
}

// frame is one raw record from a capture file.
type frame struct {
	data     []byte
	ts       int64  // unix ns
	capLen   uint32 // caplen from the record (data may lack a trailing FCS)
	wireLen  uint32
	linkType uint32
	off      int64 // file offset of the record/block
	// tsOK is false for a pcapng timestamp that int64 nanoseconds cannot
	// hold (ts is then not a time); iface is the pcapng interface ID.
	tsOK  bool
	iface int
}

// frameReader reads raw records from one capture format.
type frameReader interface {
	next(f *frame) error
}

// pcapReader reads classic libpcap files (µs and ns magic, either byte order).
type pcapReader struct {
	b        *offReader
	bo       binary.ByteOrder
	nano     bool
	recLen   int // record header length: 16, or 24 for Kuznetzov's modified pcap
	linkType uint32
	fcsLen   int
	snapLen  uint32
	maxCap   uint32 // largest caplen taken as a record (maxCapLen)
}

// maxSnapLen is libpcap's and Wireshark's largest packet for most link
// types (MAXIMUM_SNAPLEN, WTAP_MAX_PACKET_SIZE_STANDARD).
const maxSnapLen = 262144

// maxCapLen is the largest caplen a classic pcap record of this link type
// and snaplen is read with: the file's snaplen or libpcap's 256 KiB,
// whichever is larger, and maxRecordLen for the link types whose packets
// may be larger (D-Bus, USB). A corrupt caplen of a few hundred KB would
// otherwise swallow the thousands of records after it as one packet and
// report the error far past the bad record, where tshark stops at it.
func maxCapLen(linkType, snapLen uint32) uint32 {
	switch linkType {
	case 189, 220, 231, 249: // USB Linux, USB Linux mmapped, D-Bus, USBPcap
		return maxRecordLen
	}
	return min(max(snapLen, maxSnapLen), maxRecordLen)
}

func newPcapReader(b *offReader) (*pcapReader, error) {
	h, err := b.peek(24)
	if err != nil {
		return nil, fmt.Errorf("pcap file header: %w", shortErr(err))
	}
	r := &pcapReader{b: b, recLen: 16}
	switch m := binary.LittleEndian.Uint32(h); m {
	case 0xa1b2c3d4:
		r.bo = binary.LittleEndian
	case 0xa1b2cd34: // modified pcap (Kuznetzov patches): 8 more bytes per record
		r.bo, r.recLen = binary.LittleEndian, 24
	case 0x34cdb2a1:
		r.bo, r.recLen = binary.BigEndian, 24
	case 0xa1b23c4d:
		r.bo, r.nano = binary.LittleEndian, true
	case 0xd4c3b2a1:
		r.bo = binary.BigEndian
	case 0x4d3cb2a1:
		r.bo, r.nano = binary.BigEndian, true
	default:
		return nil, fmt.Errorf("not a pcap file (magic %#08x)", m)
	}
	r.snapLen = r.bo.Uint32(h[16:])
	lt := r.bo.Uint32(h[20:])
	// Bits 0-15 link type, 16-25 reserved, 26 FCS-present, 28-31 FCS length
	// in 16-bit words (pcap draft, "LinkType and additional information").
	r.linkType = lt & 0xffff
	if lt&(1<<26) != 0 {
		r.fcsLen = int(lt>>28) * 2
	}
	r.maxCap = maxCapLen(r.linkType, r.snapLen)
	b.skip(24)
	return r, nil
}

func shortErr(err error) error {
	if err == io.EOF {
		return errShort
	}
	return err
}

func (r *pcapReader) next(f *frame) error {
	f.off = r.b.off
	hl := r.recLen
	h, err := r.b.peek(hl)
	if err != nil {
		if err == io.EOF {
			return io.EOF
		}
		return fmt.Errorf("record header: %w (%d of %d bytes)", err, len(h), hl)
	}
	sec, frac := r.bo.Uint32(h), r.bo.Uint32(h[4:])
	capLen, wireLen := r.bo.Uint32(h[8:]), r.bo.Uint32(h[12:])
	if capLen > r.maxCap {
		return fmt.Errorf("record caplen %d exceeds the %d-byte limit for link type %d (snaplen %d)", capLen, r.maxCap, r.linkType, r.snapLen)
	}
	rec, err := r.b.peek(hl + int(capLen))
	if err != nil {
		return fmt.Errorf("record data: caplen %d but only %d bytes left: %w", capLen, max(len(rec)-hl, 0), shortErr(err))
	}
	r.b.skip(hl + int(capLen))
	if r.nano {
		f.ts = int64(sec)*1e9 + int64(frac)
	} else {
		f.ts = int64(sec)*1e9 + int64(frac)*1e3
	}
	f.data = rec[hl:]
	f.capLen = capLen
	if r.fcsLen > 0 && capLen == wireLen && len(f.data) >= r.fcsLen {
		f.data = f.data[:len(f.data)-r.fcsLen]
	}
	f.wireLen = wireLen
	f.linkType = r.linkType
	f.tsOK = true // 32-bit seconds always fit
	return nil
}
