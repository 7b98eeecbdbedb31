package collector

import (
	"bytes"
	"encoding/binary"
	"io"
	"net/netip"
	"testing"
)

// pcapRecord is one record of pcapBytes: the frame and the length it had
// on the wire (its captured bytes are data).
type pcapRecord struct {
	data []byte
	wire int
}

// pcapBytes writes a little-endian µs classic pcap of link type link.
func pcapBytes(link uint32, snap uint32, recs ...pcapRecord) []byte {
	le := binary.LittleEndian
	b := le.AppendUint32(nil, 0xa1b2c3d4)
	b = le.AppendUint16(b, 2)
	b = le.AppendUint16(b, 4)
	b = append(b, make([]byte, 8)...)
	b = le.AppendUint32(b, snap)
	b = le.AppendUint32(b, link)
	for i, r := range recs {
		b = le.AppendUint32(b, uint32(1700000000+i))
		b = le.AppendUint32(b, 0)
		b = le.AppendUint32(b, uint32(len(r.data)))
		b = le.AppendUint32(b, uint32(r.wire))
		b = append(b, r.data...)
	}
	return b
}

// vxlanFrame is Ethernet, IPv4, UDP 50000 -> 4789, VXLAN VNI 42, and
// inner (an Ethernet frame).
func vxlanFrame(inner []byte) []byte {
	vx := []byte{0x08, 0, 0, 0, 0, 0, 42, 0}
	return cat(ether(0x0800), ipv4Pkt("192.0.2.1", "192.0.2.2", 17, 9, 0, false, 0, cat(udpHdr(50000, 4789, 8+len(inner)), vx, inner)))
}

// TestDecapSnapCutInnerFallsBack checks that with decapsulation a tunnel
// packet whose inner headers the snap length cut stays in its outer flow
// (counted in DecapFallback), where it was dropped as malformed: 5 VXLAN
// frames captured at 68 bytes gave 1 flow without --decap and none with
// it. A fully captured inner packet that is short stays malformed, as
// the kernel path drops it (parse_inner).
func TestDecapSnapCutInnerFallsBack(t *testing.T) {
	inner := cat(ether(0x0800), ipv4Pkt("10.1.0.1", "10.1.0.2", 6, 1, 0, false, 0, cat(tcpHdr(40000, 443, FlagACK, 0), make([]byte, 100))))
	frame := vxlanFrame(inner)
	outerKey := mkKeyFor("192.0.2.1", "192.0.2.2", 50000, 4789, 17)
	innerKey := mkKeyFor("10.1.0.1", "10.1.0.2", 40000, 443, 6)
	innerKey.SetTunnelID(42)
	const hdrs = 14 + 20 + 8 + 8 // outer Ethernet, IPv4, UDP, VXLAN
	for _, c := range []struct {
		name     string
		capLen   int
		want     Key
		fallback bool
	}{
		{"inner ethernet cut", hdrs + 10, outerKey, true},
		{"inner ip cut after 4 bytes (snaplen 68)", 68, outerKey, true},
		{"inner tcp cut before the ports", hdrs + 14 + 20 + 2, outerKey, true},
		{"inner tcp cut after the ports (kept inner)", hdrs + 14 + 20 + 6, innerKey, false},
		{"whole inner headers", hdrs + 14 + 20 + 20, innerKey, false},
	} {
		d := NewDecoder(DecoderOptions{Decap: true})
		var p Packet
		r := d.Decode(&p, frame[:c.capLen], LinkEthernet, 0, uint32(len(frame)))
		var st SourceStats
		d.FillStats(&st)
		if r != ResultIP || p.Key != c.want {
			t.Errorf("%s: result %d (%v), key %v, want %v", c.name, r, d.LastReason, p.Key, c.want)
			continue
		}
		if c.fallback {
			if st.DecapFallback != 1 || st.Decapsulated != 0 || st.MalformedBy != ([NumMalformedReasons]uint64{}) || d.Kept() {
				t.Errorf("%s: stats %+v kept %v", c.name, st, d.Kept())
			}
			if p.IPLen != uint32(len(frame)-14) || p.TTL != 64 || p.L4HeaderLen != 8 {
				t.Errorf("%s: outer packet iplen %d ttl %d l4 %d", c.name, p.IPLen, p.TTL, p.L4HeaderLen)
			}
		} else if st.DecapFallback != 0 || st.Decapsulated != 1 {
			t.Errorf("%s: stats %+v", c.name, st)
		}
	}

	// Fully captured, but the outer datagram ends 4 bytes into the inner
	// IPv4 header: malformed on both paths, not a fallback.
	short := vxlanFrame(inner[:14+4])
	d := NewDecoder(DecoderOptions{Decap: true})
	var p Packet
	if r := d.Decode(&p, short, LinkEthernet, 0, uint32(len(short))); r != ResultMalformed || d.LastReason != MalTruncatedIP || d.decapFallback != 0 {
		t.Errorf("short inner packet: result %d reason %v fallback %d", r, d.LastReason, d.decapFallback)
	}

	// Through a PcapSource: the audit's 5 frames at snaplen 68.
	var recs []pcapRecord
	for range 5 {
		recs = append(recs, pcapRecord{frame[:68], len(frame)})
	}
	s, err := NewPcapSource(bytes.NewReader(pcapBytes(LinkEthernet, 68, recs...)), "vxlan68.pcap", PcapOptions{Decap: true})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		err := s.NextPacket(&p)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.Key != outerKey {
			t.Errorf("key %v, want the outer %v", p.Key, outerKey)
		}
		n++
	}
	st := s.Stats()
	if n != 5 || st.IPPackets != 5 || st.Malformed != 0 || st.DecapFallback != 5 || st.Decapsulated != 0 || st.SnapTruncated != 5 {
		t.Errorf("%d packets, stats %+v", n, st)
	}
	var sum SourceStats
	sum.Add(&st)
	sum.Add(&st)
	if sum.DecapFallback != 10 {
		t.Errorf("Add: DecapFallback %d, want 10", sum.DecapFallback)
	}
}

// mkKeyFor is the canonical key of a packet from src to dst, without VLANs
// (As16 maps IPv4 as the key does).
func mkKeyFor(src, dst string, sport, dport uint16, proto uint8) Key {
	a, b := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	k, _ := MakeKey(&a, &b, sport, dport, proto, 0, 0)
	return k
}
