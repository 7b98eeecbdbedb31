package collector

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// ngBuilder writes pcapng blocks in one byte order.
type ngBuilder struct {
	bo  binary.AppendByteOrder
	buf bytes.Buffer
}

func (w *ngBuilder) block(typ uint32, body []byte) int {
	off := w.buf.Len()
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	w.buf.Write(w.bo.AppendUint32(nil, typ))
	w.buf.Write(w.bo.AppendUint32(nil, n))
	w.buf.Write(body)
	w.buf.Write(w.bo.AppendUint32(nil, n))
	return off
}

func (w *ngBuilder) opt(code uint16, val []byte) []byte {
	b := w.bo.AppendUint16(nil, code)
	b = w.bo.AppendUint16(b, uint16(len(val)))
	b = append(b, val...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func (w *ngBuilder) shb() int {
	b := w.bo.AppendUint32(nil, 0x1A2B3C4D)
	b = w.bo.AppendUint16(b, 1)
	b = w.bo.AppendUint16(b, 0)
	b = w.bo.AppendUint64(b, ^uint64(0))
	return w.block(ngSHB, b)
}

func (w *ngBuilder) idb(link uint16, opts ...[]byte) int {
	b := w.bo.AppendUint16(nil, link)
	b = append(b, 0, 0)
	b = w.bo.AppendUint32(b, 65535)
	for _, o := range opts {
		b = append(b, o...)
	}
	return w.block(ngIDB, b)
}

func (w *ngBuilder) epb(iface uint32, ts uint64, data []byte) int {
	b := w.bo.AppendUint32(nil, iface)
	b = w.bo.AppendUint32(b, uint32(ts>>32))
	b = w.bo.AppendUint32(b, uint32(ts))
	b = w.bo.AppendUint32(b, uint32(len(data)))
	b = w.bo.AppendUint32(b, uint32(len(data)+10))
	b = append(b, data...)
	return w.block(ngEPB, b)
}

// epbWhole adds an Enhanced Packet Block on interface 0 at time 0 that
// holds all of data (captured and original lengths equal, as a frame
// whose FCS is cut must be).
func (w *ngBuilder) epbWhole(data []byte) int {
	b := w.bo.AppendUint32(nil, 0)
	b = w.bo.AppendUint64(b, 0)
	b = w.bo.AppendUint32(b, uint32(len(data)))
	b = w.bo.AppendUint32(b, uint32(len(data)))
	return w.block(ngEPB, append(b, data...))
}

func TestPcapngResolutionsSectionsAndBlocks(t *testing.T) {
	pkt := cat(ether(0x0800), ipv4Pkt("10.0.0.1", "10.0.0.2", 17, 1, 0, false, 0, cat(udpHdr(1, 2, 0))))
	raw := ipv4Pkt("10.0.0.3", "10.0.0.4", 17, 1, 0, false, 0, cat(udpHdr(3, 4, 0)))
	le := &ngBuilder{bo: binary.LittleEndian}
	le.shb()
	le.idb(1)                                                                 // default µs
	le.idb(101, le.opt(9, []byte{0x83}))                                      // 2^-3 s
	le.idb(1, le.opt(9, []byte{3}), le.opt(14, le.bo.AppendUint64(nil, 100))) // ms, +100 s
	le.idb(228, le.opt(9, []byte{12}))                                        // ps
	le.block(0xBAD, []byte("custom"))                                         // skipped
	le.block(5, make([]byte, 16))                                             // interface statistics, skipped
	le.epb(0, 2_500_000, pkt)
	le.epb(1, 20, raw)
	le.epb(2, 1500, pkt)
	le.epb(3, 7_000_000_000_000, raw)
	// A second, big-endian section resets the interfaces.
	be := &ngBuilder{bo: binary.BigEndian}
	be.shb()
	be.idb(113, be.opt(9, []byte{9}))
	be.epb(0, 42, cat(sll(0x0800), raw))
	// A third section with an interface of a link type not decoded (its
	// frames are skipped and counted) and one that is.
	le2 := &ngBuilder{bo: binary.LittleEndian}
	le2.shb()
	le2.idb(147)
	le2.idb(101)
	le2.epb(0, 1, raw)
	le2.epb(1, 77, raw)
	le2.epb(0, 2, raw)
	data := cat(le.buf.Bytes(), be.buf.Bytes(), le2.buf.Bytes())

	s, err := NewPcapSource(bytes.NewReader(data), "t.pcapng", PcapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{2_500_000_000, 2_500_000_000, 101_500_000_000, 7_000_000_000, 42, 77_000}
	var p Packet
	for i, w := range want {
		if err := s.NextPacket(&p); err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if p.Timestamp != w {
			t.Errorf("packet %d: ts %d, want %d", i, p.Timestamp, w)
		}
		if p.WireLen != p.CapLen+10 {
			t.Errorf("packet %d: wire %d cap %d", i, p.WireLen, p.CapLen)
		}
	}
	if err := s.NextPacket(&p); err != io.EOF {
		t.Fatalf("after the last packet: %v, want EOF", err)
	}
	st := s.Stats()
	if st.SkippedBlocks != 2 || st.Frames != 8 || st.Dropped != 2 || st.UnknownLink != 2 || len(st.LinkTypes) != 5 {
		t.Errorf("stats %+v", st)
	}
	var re *ReadError

	// An option running past its block is an error at the block's offset.
	w := &ngBuilder{bo: binary.LittleEndian}
	w.shb()
	idb := w.idb(1, []byte{9, 0, 200, 0, 6, 0, 0, 0})
	if _, err := readAll(w.buf.Bytes()); err == nil || !errors.As(err, &re) || re.Offset != int64(idb) {
		t.Errorf("long option: %v, want error at %d", err, idb)
	}
	// A packet on an undescribed interface.
	w = &ngBuilder{bo: binary.LittleEndian}
	w.shb()
	w.idb(1)
	off := w.epb(3, 0, pkt)
	if _, err := readAll(w.buf.Bytes()); err == nil || !errors.As(err, &re) || re.Offset != int64(off) {
		t.Errorf("undescribed interface: %v, want error at %d", err, off)
	}
}

func readAll(data []byte) (int, error) {
	s, err := NewPcapSource(bytes.NewReader(data), "t.pcapng", PcapOptions{})
	if err != nil {
		return 0, err
	}
	var p Packet
	n := 0
	for {
		if err := s.NextPacket(&p); err == io.EOF {
			return n, nil
		} else if err != nil {
			return n, err
		}
		n++
	}
}

// TestPcapngFCSLen checks that an if_fcslen of 32 (bits, as the
// specification's text has it) strips a 4-byte FCS, where reading it as
// bytes cut the packet short and lost it, and that 4 (bytes, as the
// specification's example has it) means the same.
func TestPcapngFCSLen(t *testing.T) {
	for v, want := range map[uint8]int{0: 0, 4: 4, 2: 2, 16: 2, 32: 4, 12: 0} {
		if got := fcsBytes(v); got != want {
			t.Errorf("fcsBytes(%d) = %d, want %d", v, got, want)
		}
	}
	pkt := cat(ether(0x0800), ipv4Pkt("10.0.0.1", "10.0.0.2", 17, 1, 0, false, 0, cat(udpHdr(1, 2, 0))))
	framed := cat(pkt, []byte{0xde, 0xad, 0xbe, 0xef})
	w := &ngBuilder{bo: binary.LittleEndian}
	w.shb()
	w.idb(1, w.opt(13, []byte{32}))
	w.epbWhole(framed)
	s, err := NewPcapSource(bytes.NewReader(w.buf.Bytes()), "fcs.pcapng", PcapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var p Packet
	if err := s.NextPacket(&p); err != nil {
		t.Fatalf("if_fcslen 32: %v", err)
	}
	if p.Key.Proto != 17 || p.IPLen != 28 {
		t.Errorf("if_fcslen 32: proto %d, ip length %d; want 17, 28", p.Key.Proto, p.IPLen)
	}
}

// TestPcapngTimestampOutOfRange checks that a pcapng timestamp outside
// what int64 nanoseconds hold (1677 to 2262) skips its frame, counted in
// BadTimestamps and Dropped, where it used to wrap to another time (the
// year 586524 of pcapng-example's SLL interface became 1969), and that
// the frames around it, and times just inside the range, are read.
func TestPcapngTimestampOutOfRange(t *testing.T) {
	pkt := cat(ether(0x0800), ipv4Pkt("10.0.0.1", "10.0.0.2", 17, 1, 0, false, 0, cat(udpHdr(1, 2, 0))))
	const maxNs = uint64(math.MaxInt64)
	i64 := func(v int64) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(v)) }
	cases := []struct {
		name   string
		opts   [][]byte // of the second interface
		ts     uint64   // of its packet
		wantNs int64    // if it is in range
		bad    bool
	}{
		{"µs, high word all ones", nil, 0xffffffff<<32 | 0x12345678, 0, true},
		{"ns, max int64", [][]byte{{9, 0, 1, 0, 9, 0, 0, 0}}, maxNs, math.MaxInt64, false},
		{"ns, 2^63", [][]byte{{9, 0, 1, 0, 9, 0, 0, 0}}, maxNs + 1, 0, true},
		{"seconds (10^0), last that fits", [][]byte{{9, 0, 1, 0, 0, 0, 0, 0}}, maxNs / 1e9, int64(maxNs / 1e9 * 1e9), false},
		{"seconds (10^0), first that does not", [][]byte{{9, 0, 1, 0, 0, 0, 0, 0}}, maxNs/1e9 + 1, 0, true},
		{"seconds (2^0)", [][]byte{{9, 0, 1, 0, 0x80, 0, 0, 0}}, 1 << 40, 0, true},
		{"2^-20 s", [][]byte{{9, 0, 1, 0, 0x80 | 20, 0, 0, 0}}, 1 << 62, 0, true},
		{"2^-20 s, in range", [][]byte{{9, 0, 1, 0, 0x80 | 20, 0, 0, 0}}, 3 << 20, 3e9, false},
		{"if_tsoffset pushes it over", [][]byte{append([]byte{14, 0, 8, 0}, i64(9e9)...)}, 300e12, 0, true},
		{"if_tsoffset beyond int64 ns alone", [][]byte{append([]byte{14, 0, 8, 0}, i64(1e10)...)}, 1, 0, true},
		{"if_tsoffset below 1677", [][]byte{append([]byte{14, 0, 8, 0}, i64(-1e10)...)}, 1, 0, true},
		{"if_tsoffset before 1970 is a time", [][]byte{append([]byte{14, 0, 8, 0}, i64(-100)...)}, 5e6, -95e9, false},
	}
	for _, c := range cases {
		w := &ngBuilder{bo: binary.LittleEndian}
		w.shb()
		w.idb(1)
		w.idb(1, c.opts...)
		w.epb(0, 1e6, pkt)
		w.epb(1, c.ts, pkt)
		w.epb(0, 2e6, pkt)
		s, err := NewPcapSource(bytes.NewReader(w.buf.Bytes()), "t.pcapng", PcapOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		var p Packet
		for {
			if err := s.NextPacket(&p); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			got = append(got, p.Timestamp)
		}
		want := []int64{1e9, 2e9}
		if !c.bad {
			want = []int64{1e9, c.wantNs, 2e9}
		}
		st := s.Stats()
		if !slices.Equal(got, want) || st.Frames != 3 || st.Bytes != 3*uint64(len(pkt)+10) ||
			(c.bad && (st.BadTimestamps != 1 || st.Dropped != 1)) || (!c.bad && st.BadTimestamps != 0) ||
			st.Frames != st.IPPackets+st.NonIP+st.Dropped {
			t.Errorf("%s: times %v, want %v; stats %+v", c.name, got, want, st)
		}
	}
}

// TestPcapngResolutionRangeAndOptionLengths checks every if_tsresol the
// option's 7 bits allow (10^-20 and 2^-64 and finer were errors that lost
// the whole file, Wireshark reads them) against exact arithmetic, and that
// an if_tsresol or if_tsoffset of another length than the specification's
// is ignored, as Wireshark ignores it (an empty one was an error, and the
// first byte of a longer one was taken as the resolution).
func TestPcapngResolutionRangeAndOptionLengths(t *testing.T) {
	pkt := cat(ether(0x0800), ipv4Pkt("10.0.0.1", "10.0.0.2", 17, 1, 0, false, 0, cat(udpHdr(1, 2, 0))))
	cases := []struct {
		name string
		opt  []byte // option code 9 or 14 and its value
		ts   uint64
		want int64
	}{
		{"10^-19", []byte{9, 19}, 12345678901234567890, 1234567890},
		{"10^-20", []byte{9, 20}, 12345678901234567890, 123456789},
		{"10^-28", []byte{9, 28}, math.MaxUint64, 1},
		{"10^-29", []byte{9, 29}, math.MaxUint64, 0},
		{"10^-127", []byte{9, 127}, math.MaxUint64, 0},
		{"2^-40", []byte{9, 0x80 | 40}, 1000<<40 + 1<<39 + 17, 1000_500_000_000},
		{"2^-63", []byte{9, 0x80 | 63}, 1<<63 + 1<<62, 1_500_000_000},
		{"2^-64", []byte{9, 0x80 | 64}, 1 << 63, 500_000_000},
		{"2^-127", []byte{9, 0x80 | 127}, math.MaxUint64, 0},
		{"if_tsresol empty", []byte{9}, 5, 5000},
		{"if_tsresol of 2 bytes", []byte{9, 3, 0}, 5, 5000},
		{"if_tsoffset of 2 bytes", []byte{14, 1, 0}, 5, 5000},
	}
	for _, c := range cases {
		w := &ngBuilder{bo: binary.LittleEndian}
		w.shb()
		w.idb(1, w.opt(uint16(c.opt[0]), c.opt[1:]))
		w.epb(0, c.ts, pkt)
		s, err := NewPcapSource(bytes.NewReader(w.buf.Bytes()), "t.pcapng", PcapOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var p Packet
		if err := s.NextPacket(&p); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if p.Timestamp != c.want {
			t.Errorf("%s: ts %d ns, want %d", c.name, p.Timestamp, c.want)
		}
	}
}

// spb appends a simple packet block of original length orig holding data.
func (w *ngBuilder) spb(orig uint32, data []byte) int {
	return w.block(ngSPB, append(w.bo.AppendUint32(nil, orig), data...))
}

// TestPcapngSimplePacketBlocks checks the captured length of simple packet
// blocks: the original length cut to the snap length of interface 0, the
// rest of a longer block ignored, and a block too short for it an error at
// its offset after the packets before it, as Wireshark has it. Such a block
// used to give a packet of the bytes it had, its padding included.
func TestPcapngSimplePacketBlocks(t *testing.T) {
	pkt := cat(ether(0x0800), ipv4Pkt("10.0.0.1", "10.0.0.2", 17, 1, 0, false, 0, cat(udpHdr(1, 2, 18), make([]byte, 18)))) // 60 bytes
	for _, c := range []struct {
		name    string
		snap    uint32
		data    int // bytes of pkt in the block
		wantCap int // -1: an error at the block
	}{
		{"whole, no snap length", 0, len(pkt), len(pkt)},
		{"cut to the snap length", 40, 40, 40},
		{"longer than the snap length", 40, len(pkt), 40},
		{"short, no snap length", 0, 50, -1},
		{"short, inside the padding (undetectable)", 0, len(pkt) - 2, len(pkt)},
		{"short of the snap length", 56, 50, -1},
	} {
		w := &ngBuilder{bo: binary.LittleEndian}
		w.shb()
		w.idb(1)
		binary.LittleEndian.PutUint32(w.buf.Bytes()[w.buf.Len()-8:], c.snap) // the IDB's snap length, before its trailing length
		w.epb(0, 1e6, pkt)
		off := w.spb(uint32(len(pkt)), pkt[:c.data])
		w.epb(0, 2e6, pkt)
		s, err := NewPcapSource(bytes.NewReader(w.buf.Bytes()), "t.pcapng", PcapOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var p Packet
		var caps []int
		for {
			if err = s.NextPacket(&p); err != nil {
				break
			}
			caps = append(caps, int(p.CapLen))
		}
		var re *ReadError
		if c.wantCap < 0 {
			if !errors.As(err, &re) || re.Offset != int64(off) || len(caps) != 1 {
				t.Errorf("%s: %d packets then %v, want 1 then an error at offset %d", c.name, len(caps), err, off)
			}
			continue
		}
		if err != io.EOF || !slices.Equal(caps, []int{len(pkt), c.wantCap, len(pkt)}) {
			t.Errorf("%s: captured lengths %v then %v, want [%d %d %d] then EOF", c.name, caps, err, len(pkt), c.wantCap, len(pkt))
		}
	}
}

// TestPcapngManyLinkTypes reads 32,768 interfaces of distinct link types
// not decoded, then 65,536 packets spread over them: each change of link
// type scanned every link type seen (3.4 s instead of 0.03 s), and every
// link type was warned about (32,768 lines). Now the first
// maxLinkWarnings are, and one line sums up the rest.
func TestPcapngManyLinkTypes(t *testing.T) {
	const ifaces, pkts = 1 << 15, 1 << 16
	w := &ngBuilder{bo: binary.LittleEndian}
	w.shb()
	for i := range ifaces {
		w.idb(uint16(20000 + i))
	}
	frame := []byte{1, 2, 3, 4}
	for i := range pkts {
		w.epb(uint32(i*7919%ifaces), uint64(i), frame)
	}
	logged := captureSlog(t)
	start := time.Now()
	s, err := NewPcapSource(bytes.NewReader(w.buf.Bytes()), "many.pcapng", PcapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var p Packet
	if err := s.NextPacket(&p); err != io.EOF {
		t.Fatalf("NextPacket: %v, want io.EOF", err)
	}
	st := s.Stats()
	var sum SourceStats
	sum.Add(&st)
	sum.Add(&st)
	t.Logf("read and summed in %v", time.Since(start))
	if st.Frames != pkts || st.UnknownLink != pkts || len(st.LinkTypes) != ifaces || st.LinkTypes[0].Frames != 2 {
		t.Errorf("frames %d unknown %d link types %d (first %+v)", st.Frames, st.UnknownLink, len(st.LinkTypes), st.LinkTypes[0])
	}
	if len(sum.LinkTypes) != ifaces || sum.LinkTypes[0].Frames != 4 || sum.UnknownLink != 2*pkts {
		t.Errorf("Add: %d link types, first %+v", len(sum.LinkTypes), sum.LinkTypes[0])
	}
	l := logged.String()
	if n := strings.Count(l, "\n"); n != maxLinkWarnings+1 || !strings.Contains(l, fmt.Sprintf("more_link_types=%d", ifaces-maxLinkWarnings)) {
		t.Errorf("%d warning lines (want %d), the last: %q", n, maxLinkWarnings+1, l[strings.LastIndex(l[:len(l)-1], "\n")+1:])
	}
	lt := st.LinkTypes // in order of appearance
	want := fmt.Sprintf("%d (2 frames), %d (2 frames), %d (2 frames) and %d more link types", lt[0].LinkType, lt[1].LinkType, lt[2].LinkType, ifaces-3)
	if got := st.UnknownLinkString(3); got != want {
		t.Errorf("UnknownLinkString(3) = %q, want %q", got, want)
	}
	if got := st.UnknownLinkString(0); got != fmt.Sprintf("%d more link types", ifaces) {
		t.Errorf("UnknownLinkString(0) = %q", got)
	}
}

// TestPcapngSPBFCS checks that a Simple Packet Block's frame loses its
// interface's FCS (if_fcslen) as an Enhanced Packet Block's does: it was
// read as frame data, 4 more IP bytes where the IPv4 total length is 0
// (the rest of the frame, as TSO writes).
func TestPcapngSPBFCS(t *testing.T) {
	ip := ipv4Pkt("10.0.0.1", "10.0.0.2", 17, 1, 0, false, 0, cat(udpHdr(1, 2, 0)))
	binary.BigEndian.PutUint16(ip[2:], 0) // total length 0: the rest of the frame
	framed := cat(ether(0x0800), ip, []byte{0xde, 0xad, 0xbe, 0xef})
	w := &ngBuilder{bo: binary.LittleEndian}
	w.shb()
	w.idb(1, w.opt(13, []byte{32}))
	w.epbWhole(framed)
	w.spb(uint32(len(framed)), framed)
	s, err := NewPcapSource(bytes.NewReader(w.buf.Bytes()), "fcs.pcapng", PcapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, blk := range []string{"EPB", "SPB"} {
		var p Packet
		if err := s.NextPacket(&p); err != nil {
			t.Fatalf("%s: %v", blk, err)
		}
		if p.IPLen != 28 {
			t.Errorf("%s: ip length %d; want 28 (the 4-byte FCS cut off)", blk, p.IPLen)
		}
	}
}

// TestPcapngInterfacesBounded: a section of nothing but interface blocks
// held each one (20 bytes of file, about 280 bytes of memory at peak):
// 2.8 GB for a 200 MB file of one packet. The 65,537th interface of a
// section is an error at its block, after the packets before it; a new
// section starts the count again.
func TestPcapngInterfacesBounded(t *testing.T) {
	pkt := cat(ether(0x0800), ipv4Pkt("10.0.0.1", "10.0.0.2", 17, 1, 0, false, 0, cat(udpHdr(1, 2, 18), make([]byte, 18))))
	w := &ngBuilder{bo: binary.LittleEndian}
	w.shb()
	for range 1 << 16 {
		w.idb(1)
	}
	w.epb(1<<16-1, 1e6, pkt)
	w.shb() // a new section: its interfaces count from 0
	w.idb(1)
	w.epb(0, 2e6, pkt)
	for range 1<<16 - 1 {
		w.idb(1)
	}
	off := w.idb(1)
	w.epb(0, 3e6, pkt)
	s, err := NewPcapSource(bytes.NewReader(w.buf.Bytes()), "t.pcapng", PcapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var p Packet
	n := 0
	for {
		if err = s.NextPacket(&p); err != nil {
			break
		}
		n++
	}
	var re *ReadError
	if n != 2 || !errors.As(err, &re) || re.Offset != int64(off) || !strings.Contains(err.Error(), "more than 65536 interfaces") {
		t.Errorf("%d packets then %v, want 2 then an error at offset %d naming the bound", n, err, off)
	}
}
