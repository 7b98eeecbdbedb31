package collector

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// rawPcap is a pcap file (µs, link type raw IP) of pkts, each at its
// timestamp in ns.
type stamped struct {
	ts  int64
	pkt []byte
}

func rawPcap(pkts ...stamped) []byte {
	le := binary.LittleEndian
	b := le.AppendUint32(nil, 0xa1b2c3d4)
	b = le.AppendUint16(b, 2)
	b = le.AppendUint16(b, 4)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 65535)
	b = le.AppendUint32(b, LinkRaw)
	for _, p := range pkts {
		b = le.AppendUint32(b, uint32(p.ts/1e9))
		b = le.AppendUint32(b, uint32(p.ts%1e9/1e3))
		b = le.AppendUint32(b, uint32(len(p.pkt)))
		b = le.AppendUint32(b, uint32(len(p.pkt)))
		b = append(b, p.pkt...)
	}
	return b
}

// readPackets returns every packet of a source and its stats.
func readPackets(t *testing.T, src interface {
	NextPacket(*Packet) error
	Stats() SourceStats
}) ([]Packet, SourceStats) {
	t.Helper()
	var out []Packet
	for {
		var p Packet
		err := src.NextPacket(&p)
		if err == io.EOF {
			return out, src.Stats()
		}
		if err != nil {
			t.Fatal(err)
		}
		p.Payload = nil
		out = append(out, p)
	}
}

// fragmented is one UDP datagram 10.1.1.1:5000 -> 10.1.1.2:6000 of 1192
// payload bytes in three fragments: offsets 0 (with the UDP header), 400
// and 800.
func fragmented(id uint16) (first, mid, last []byte) {
	first = ipv4Pkt("10.1.1.1", "10.1.1.2", 17, id, 0, true, 0, cat(udpHdr(5000, 6000, 1192), make([]byte, 392)))
	mid = ipv4Pkt("10.1.1.1", "10.1.1.2", 17, id, 400, true, 0, make([]byte, 400))
	last = ipv4Pkt("10.1.1.1", "10.1.1.2", 17, id, 800, false, 0, make([]byte, 400))
	return
}

// TestFragmentsOutOfOrder checks that later fragments that come before
// their first fragment join its flow, right after it, where they used to
// make a flow with ports 0; and that those whose first fragment does not
// come in time, or at all, are still returned, as orphans.
func TestFragmentsOutOfOrder(t *testing.T) {
	first, mid, last := fragmented(7)
	s, err := NewPcapSource(bytes.NewReader(rawPcap(stamped{1e9, last}, stamped{2e9, mid}, stamped{3e9, first})), "rev.pcap", PcapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pkts, st := readPackets(t, s)
	if len(pkts) != 3 || st.IPPackets != 3 || st.OrphanFragments != 0 || st.Fragments != 3 {
		t.Fatalf("%d packets, stats %+v; want 3 packets, no orphan", len(pkts), st)
	}
	wantTS := []int64{3e9, 1e9, 2e9} // the first fragment, then the held ones in order
	for i, p := range pkts {
		if p.Key.PortLo != 5000 || p.Key.PortHi != 6000 || p.Key.Proto != 17 || p.Timestamp != wantTS[i] || p.WrongFragment {
			t.Errorf("packet %d: %v at %d wrong %v; want 5000-6000 at %d", i, p.Key, p.Timestamp, p.WrongFragment, wantTS[i])
		}
	}
	if pkts[1].IPLen != 420 || pkts[1].PayloadLen != 400 || pkts[1].Fragment != LaterFragment || pkts[1].WireLen != 420 {
		t.Errorf("held fragment: %+v", pkts[1])
	}

	// Its first fragment 31 s later: the held fragment expired and is an
	// orphan; a lone later fragment at the end of the file too.
	f2, _, l2 := fragmented(8)
	_, _, l3 := fragmented(9)
	s, _ = NewPcapSource(bytes.NewReader(rawPcap(stamped{1e9, l2}, stamped{32e9, f2}, stamped{33e9, l3})), "late.pcap", PcapOptions{})
	pkts, st = readPackets(t, s)
	if len(pkts) != 3 || st.IPPackets != 3 || st.OrphanFragments != 2 {
		t.Fatalf("expired: %d packets, stats %+v; want 3 packets, 2 orphans", len(pkts), st)
	}
	for _, p := range pkts {
		if (p.Fragment == LaterFragment) != (p.Key.PortLo == 0) {
			t.Errorf("expired: %v fragment %d", p.Key, p.Fragment)
		}
	}

	// A held fragment that overlaps its first fragment (teardrop).
	td := ipv4Pkt("10.1.1.1", "10.1.1.2", 17, 10, 200, false, 0, make([]byte, 40))
	f4, _, _ := fragmented(10)
	s, _ = NewPcapSource(bytes.NewReader(rawPcap(stamped{1e9, td}, stamped{2e9, f4})), "td.pcap", PcapOptions{})
	pkts, st = readPackets(t, s)
	if len(pkts) != 2 || !pkts[1].WrongFragment || pkts[1].Key.PortLo != 5000 || st.WrongFragments != 1 {
		t.Errorf("teardrop held: %+v, stats %+v", pkts, st)
	}

	// More orphans than may be held: every one is still returned, once.
	var many []stamped
	for i := range maxHeld + 100 {
		_, _, l := fragmented(uint16(1000 + i))
		many = append(many, stamped{int64(i) * 1e6, l})
	}
	s, _ = NewPcapSource(bytes.NewReader(rawPcap(many...)), "many.pcap", PcapOptions{})
	pkts, st = readPackets(t, s)
	if len(pkts) != len(many) || st.OrphanFragments != uint64(len(many)) || s.dec.Held() != 0 {
		t.Errorf("%d orphans: %d packets, stats %+v", len(many), len(pkts), st)
	}
}

// TestFragmentsAcrossFiles checks that the files of one capture share the
// fragment cache: a datagram that a rotation (tcpdump -C, -G) splits stays
// in one flow, where each file used to start with an empty cache.
func TestFragmentsAcrossFiles(t *testing.T) {
	first, mid, last := fragmented(7)
	dir := t.TempDir()
	for i, f := range [][]byte{rawPcap(stamped{1e9, first}), rawPcap(stamped{2e9, mid}), rawPcap(stamped{3e9, last})} {
		if err := os.WriteFile(filepath.Join(dir, "part"+string(rune('0'+i))+".pcap"), f, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	paths, err := ExpandPaths([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	pkts, st := readPackets(t, NewMultiSource(paths, PcapOptions{}))
	if len(pkts) != 3 || st.OrphanFragments != 0 || st.Fragments != 3 || st.Files != 3 {
		t.Fatalf("%d packets, stats %+v; want 3 packets, no orphan", len(pkts), st)
	}
	for i, p := range pkts {
		if p.Key.PortLo != 5000 {
			t.Errorf("packet %d: %v", i, p.Key)
		}
	}
}
