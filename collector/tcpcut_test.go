package collector

import (
	"bytes"
	"io"
	"testing"
)

// TestTCPHeaderCutBeforeWindow checks a TCP header the snap length cut
// between the ports and the window: the packet keeps its flow, counted as
// a kept truncated transport header wherever the cut is, and its window
// (and, cut before byte 14, its flags) is unknown rather than 0: it read
// as a zero initial window (Init_Win_bytes 0 instead of -1).
func TestTCPHeaderCutBeforeWindow(t *testing.T) {
	syn := cat(ether(0x86dd), ipv6Pkt("2001:db8::1", "2001:db8::2", 6, nil, tcpHdr(50000, 443, FlagSYN, 12)))
	d := NewDecoder(DecoderOptions{})
	var p Packet
	for _, c := range []struct {
		l4      int // TCP bytes captured
		flags   uint8
		window  uint16
		cut     bool
		counted bool
	}{
		{10, 0, 0, true, true},            // -s 64: ports, seq, half the ack
		{14, FlagSYN, 0, true, true},      // flags, no window
		{16, FlagSYN, 64240, false, true}, // window, no checksum
		{32, FlagSYN, 64240, false, false},
	} {
		frame := syn[:14+40+c.l4]
		r := d.Decode(&p, frame, LinkEthernet, 0, uint32(len(syn)))
		if r != ResultIP || d.Kept() != c.counted || (c.counted && d.LastReason != MalTruncatedL4) ||
			p.TCPFlags != c.flags || p.TCPWindow != c.window || p.TCPWindowCut != c.cut || p.L4HeaderLen == 0 {
			t.Errorf("%d TCP bytes: result %d kept %v (%v) flags %#x window %d cut %v l4 %d; want kept %v flags %#x window %d cut %v",
				c.l4, r, d.Kept(), d.LastReason, p.TCPFlags, p.TCPWindow, p.TCPWindowCut, p.L4HeaderLen, c.counted, c.flags, c.window, c.cut)
		}
	}

	// A handshake whose SYN was cut at -s 64 and whose SYN-ACK was whole:
	// the forward initial window is unknown (-1), the SYN uncounted, the
	// backward window read. Through a small flow's compact packets (two
	// packets) and through a full record (Flow.Add).
	synAck := cat(ether(0x86dd), ipv6Pkt("2001:db8::2", "2001:db8::1", 6, nil, tcpHdr(443, 50000, FlagSYN|FlagACK, 12)))
	data := pcapBytes(LinkEthernet, 64, pcapRecord{syn[:64], len(syn)}, pcapRecord{synAck[:64+10], len(synAck)})
	s, err := NewPcapSource(bytes.NewReader(data), "cut.pcap", PcapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var pkts []Packet
	for {
		if err := s.NextPacket(&p); err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
		pkts = append(pkts, p)
	}
	if len(pkts) != 2 {
		t.Fatalf("%d packets, want 2", len(pkts))
	}
	var flows []*Flow
	tab := NewTable(TableConfig{}, func(f *Flow) { flows = append(flows, f) })
	for i := range pkts {
		tab.Add(&pkts[i])
	}
	tab.Flush()
	var direct Flow
	direct.reset(1, pkts[0].Key, pkts[0].SrcIsLo, pkts[0].Timestamp)
	for i := range pkts {
		direct.Add(&pkts[i], 10)
	}
	if len(flows) != 1 {
		t.Fatalf("%d flows, want 1", len(flows))
	}
	for name, f := range map[string]*Flow{"table": flows[0], "Flow.Add": &direct} {
		if f.Fwd.InitWindow != -1 || f.Bwd.InitWindow != 64240 || f.Fwd.FlagCounts[1] != 0 || f.Bwd.FlagCounts[1] != 1 || f.Fwd.Packets != 1 {
			t.Errorf("%s: init window fwd %d bwd %d, SYNs fwd %d bwd %d, fwd packets %d; want -1, 64240, 0, 1, 1",
				name, f.Fwd.InitWindow, f.Bwd.InitWindow, f.Fwd.FlagCounts[1], f.Bwd.FlagCounts[1], f.Fwd.Packets)
		}
	}
}
