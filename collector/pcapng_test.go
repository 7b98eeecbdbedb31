package collector

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
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
	b := w.bo.AppendUint32(nil, 0)
	b = w.bo.AppendUint64(b, 0)
	b = w.bo.AppendUint32(b, uint32(len(framed)))
	b = w.bo.AppendUint32(b, uint32(len(framed)))
	w.block(ngEPB, append(b, framed...))
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
