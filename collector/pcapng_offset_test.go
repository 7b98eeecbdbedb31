package collector

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
)

// TestPcapngNegativeOffsetLargeTicks: a pcapng frame is skipped
// only when its time is outside 1677-2262 (docs/reader.md). ngIface.ns rejected the tick
// count converted to ns when it is over 2^63-1 before if_tsoffset is
// added, so a negative offset that brings the time back into range
// loses the frame: ticks of 18,390,000,000 s with if_tsoffset
// -9,190,000,000 s is 9,200,000,000 s, 2261-07-15 11:33:20 (tshark shows it).
func TestPcapngNegativeOffsetLargeTicks(t *testing.T) {
	pkt := cat(ether(0x0800), ipv4Pkt("10.0.0.1", "10.0.0.2", 17, 1, 0, false, 0, cat(udpHdr(1, 2, 0))))
	w := &ngBuilder{bo: binary.LittleEndian}
	w.shb()
	tsoff := int64(-9_190_000_000)
	off := binary.LittleEndian.AppendUint64(nil, uint64(tsoff))
	w.idb(1, w.opt(9, []byte{0}), w.opt(14, off)) // seconds, if_tsoffset -9.19e9 s
	w.epb(0, 18_390_000_000, pkt)
	s, err := NewPcapSource(bytes.NewReader(w.buf.Bytes()), "t.pcapng", PcapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var p Packet
	err = s.NextPacket(&p)
	if err == io.EOF || err != nil || p.Timestamp != 9_200_000_000*1e9 {
		t.Errorf("err %v, time %d; want 9200000000e9 (2261-07-15); stats %+v", err, p.Timestamp, s.Stats())
	}
}
