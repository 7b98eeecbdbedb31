package collector

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// Packet builders for crafted test frames.

func tcpHdr(sport, dport uint16, flags uint8, optLen int) []byte {
	h := make([]byte, 20+optLen)
	binary.BigEndian.PutUint16(h, sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint32(h[4:], 1000)
	binary.BigEndian.PutUint32(h[8:], 2000)
	h[12] = byte((20+optLen)/4) << 4
	h[13] = flags
	binary.BigEndian.PutUint16(h[14:], 64240)
	for i := 20; i < len(h); i++ {
		h[i] = 1 // NOP options
	}
	return h
}

func udpHdr(sport, dport uint16, payload int) []byte {
	h := make([]byte, 8)
	binary.BigEndian.PutUint16(h, sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint16(h[4:], uint16(8+payload))
	return h
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// ipv4Pkt builds an IPv4 header (with optLen bytes of options) around l4.
func ipv4Pkt(src, dst string, proto uint8, id uint16, fragOff int, mf bool, optLen int, l4 []byte) []byte {
	ihl := 20 + optLen
	h := make([]byte, ihl)
	h[0] = 0x40 | byte(ihl/4)
	binary.BigEndian.PutUint16(h[2:], uint16(ihl+len(l4)))
	binary.BigEndian.PutUint16(h[4:], id)
	fo := uint16(fragOff / 8)
	if mf {
		fo |= 0x2000
	}
	binary.BigEndian.PutUint16(h[6:], fo)
	h[8] = 64
	h[9] = proto
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	return cat(h, l4)
}

// ipv6Pkt builds an IPv6 header; ext is the extension header chain (already
// linked), first is the Next Header of the fixed header.
func ipv6Pkt(src, dst string, first uint8, ext []byte, l4 []byte) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(ext)+len(l4)))
	h[6] = first
	h[7] = 55
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(h[8:], s[:])
	copy(h[24:], d[:])
	return cat(h, ext, l4)
}

func ether(et uint16, tags ...uint16) []byte {
	h := make([]byte, 12)
	for i := 0; i+1 < len(tags); i += 2 {
		h = binary.BigEndian.AppendUint16(h, tags[i])   // TPID
		h = binary.BigEndian.AppendUint16(h, tags[i+1]) // TCI
	}
	return binary.BigEndian.AppendUint16(h, et)
}

func sll(et uint16) []byte {
	h := make([]byte, 16)
	binary.BigEndian.PutUint16(h[2:], 1)
	binary.BigEndian.PutUint16(h[4:], 6)
	binary.BigEndian.PutUint16(h[14:], et)
	return h
}

func sll2(et uint16) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h, et)
	binary.BigEndian.PutUint32(h[4:], 3)
	binary.BigEndian.PutUint16(h[8:], 1)
	h[11] = 6
	return h
}

func le32(v uint32) []byte  { return binary.LittleEndian.AppendUint32(nil, v) }
func beU32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func TestDecodeCrafted(t *testing.T) {
	v4tcp := ipv4Pkt("10.0.0.1", "10.0.0.2", 6, 1, 0, false, 0, cat(tcpHdr(40000, 80, FlagSYN, 12), []byte("hello")))
	v4tcpOpts := ipv4Pkt("10.0.0.1", "10.0.0.2", 6, 1, 0, false, 8, cat(tcpHdr(40000, 80, FlagACK, 0), []byte("hi")))
	v4udp := ipv4Pkt("10.0.0.9", "10.0.0.2", 17, 1, 0, false, 0, cat(udpHdr(5353, 53, 3), []byte("abc")))
	v6tcp := ipv6Pkt("2001:db8::1", "2001:db8::2", 6, nil, cat(tcpHdr(443, 50000, FlagSYN|FlagACK, 0), []byte("x")))
	// hop-by-hop (8) -> dest opts (16) -> routing (8) -> AH (12+4=16) -> UDP
	ext := cat([]byte{60, 0, 0, 0, 0, 0, 0, 0},
		[]byte{43, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		[]byte{51, 0, 0, 0, 0, 0, 0, 0},
		[]byte{17, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	v6ext := ipv6Pkt("2001:db8::1", "2001:db8::2", 0, ext, cat(udpHdr(1000, 2000, 4), []byte("data")))
	icmp := ipv4Pkt("10.0.0.1", "10.0.0.2", 1, 1, 0, false, 0, []byte{8, 0, 0, 0, 0, 1, 0, 1, 'p', 'i', 'n', 'g'})
	icmp6 := ipv6Pkt("fe80::1", "fe80::2", 58, nil, []byte{128, 0, 0, 0, 0, 1, 0, 1})
	gre := ipv4Pkt("10.0.0.1", "10.0.0.2", 47, 1, 0, false, 0, []byte{0, 0, 8, 0, 1, 2, 3, 4})
	sctp := ipv4Pkt("10.0.0.1", "10.0.0.2", 132, 1, 0, false, 0, cat([]byte{0x0b, 0x59, 0x0b, 0x59}, make([]byte, 8)))

	type want struct {
		res         Result
		reason      MalformedReason
		proto       uint8
		src, dst    string
		sport       uint16
		dport       uint16
		outer       uint16
		inner       uint16
		ipLen       uint32
		ipHdr, l4   uint16
		payloadLen  uint32
		payload     string
		flags, ttl  uint8
		icmpType    uint8
		frag        Fragment
		wrongFrag   bool
		checkFields bool
	}
	tcpW := want{proto: 6, src: "10.0.0.1", dst: "10.0.0.2", sport: 40000, dport: 80, ipLen: 57, ipHdr: 20, l4: 32, payloadLen: 5, payload: "hello", flags: FlagSYN, ttl: 64, checkFields: true}
	cases := []struct {
		name string
		link uint32
		data []byte
		want want
	}{
		{"ethernet ipv4 tcp", LinkEthernet, cat(ether(0x0800), v4tcp), tcpW},
		{"ethernet padding trimmed", LinkEthernet, cat(ether(0x0800), v4tcp, make([]byte, 9)), tcpW},
		{"ipv4 options", LinkEthernet, cat(ether(0x0800), v4tcpOpts), want{proto: 6, src: "10.0.0.1", dst: "10.0.0.2", sport: 40000, dport: 80, ipLen: 50, ipHdr: 28, l4: 20, payloadLen: 2, payload: "hi", flags: FlagACK, ttl: 64, checkFields: true}},
		{"802.1Q", LinkEthernet, cat(ether(0x0800, 0x8100, 42), v4tcp), want{proto: 6, src: "10.0.0.1", dst: "10.0.0.2", sport: 40000, dport: 80, outer: 42}},
		{"QinQ 88a8+8100", LinkEthernet, cat(ether(0x0800, 0x88a8, 30, 0x8100, 0x2064), v4tcp), want{proto: 6, src: "10.0.0.1", dst: "10.0.0.2", sport: 40000, dport: 80, outer: 30, inner: 100}},
		{"QinQ 9100+8100", LinkEthernet, cat(ether(0x0800, 0x9100, 10, 0x8100, 20), v4tcp), want{proto: 6, src: "10.0.0.1", dst: "10.0.0.2", sport: 40000, dport: 80, outer: 10, inner: 20}},
		{"triple tag keeps outer two", LinkEthernet, cat(ether(0x0800, 0x8100, 1, 0x8100, 2, 0x8100, 3), v4tcp), want{proto: 6, src: "10.0.0.1", dst: "10.0.0.2", sport: 40000, dport: 80, outer: 1, inner: 2}},
		{"LLC/SNAP ipv4", LinkEthernet, cat(ether(uint16(8+len(v4udp))), []byte{0xaa, 0xaa, 3, 0, 0, 0, 8, 0}, v4udp), want{proto: 17, src: "10.0.0.9", dst: "10.0.0.2", sport: 5353, dport: 53}},
		{"LLC (CDP) non-IP", LinkEthernet, cat(ether(40), []byte{0xaa, 0xaa, 3, 0, 0, 0x0c, 0x20, 0}, make([]byte, 32)), want{res: ResultNonIP}},
		{"ARP non-IP", LinkEthernet, cat(ether(0x0806), make([]byte, 28)), want{res: ResultNonIP}},
		{"PPPoE ipv4", LinkEthernet, cat(ether(0x8864), []byte{0x11, 0, 0, 1, 0, byte(2 + len(v4udp)), 0, 0x21}, v4udp), want{proto: 17, src: "10.0.0.9", dst: "10.0.0.2", sport: 5353, dport: 53}},
		{"MPLS two labels ipv6", LinkEthernet, cat(ether(0x8847), []byte{0, 1, 0, 64, 0, 2, 1, 64}, v6tcp), want{proto: 6, src: "2001:db8::1", dst: "2001:db8::2", sport: 443, dport: 50000}},
		{"ethernet ipv6 tcp", LinkEthernet, cat(ether(0x86dd), v6tcp), want{proto: 6, src: "2001:db8::1", dst: "2001:db8::2", sport: 443, dport: 50000, ipLen: 61, ipHdr: 40, l4: 20, payloadLen: 1, payload: "x", flags: FlagSYN | FlagACK, ttl: 55, checkFields: true}},
		{"ipv6 extension chain", LinkEthernet, cat(ether(0x86dd), v6ext), want{proto: 17, src: "2001:db8::1", dst: "2001:db8::2", sport: 1000, dport: 2000, ipLen: 40 + 48 + 12, ipHdr: 88, l4: 8, payloadLen: 4, payload: "data", ttl: 55, checkFields: true}},
		{"icmp ports 0", LinkEthernet, cat(ether(0x0800), icmp), want{proto: 1, src: "10.0.0.1", dst: "10.0.0.2", ipLen: 32, ipHdr: 20, l4: 8, payloadLen: 4, payload: "ping", ttl: 64, icmpType: 8, checkFields: true}},
		{"icmpv6", LinkEthernet, cat(ether(0x86dd), icmp6), want{proto: 58, src: "fe80::1", dst: "fe80::2", icmpType: 128, ipLen: 48, ipHdr: 40, l4: 8, ttl: 55, checkFields: true}},
		{"gre protocol-only", LinkEthernet, cat(ether(0x0800), gre), want{proto: 47, src: "10.0.0.1", dst: "10.0.0.2", ipLen: 28, ipHdr: 20, payloadLen: 8, payload: "\x00\x00\x08\x00\x01\x02\x03\x04", ttl: 64, checkFields: true}},
		{"sctp ports", LinkEthernet, cat(ether(0x0800), sctp), want{proto: 132, src: "10.0.0.1", dst: "10.0.0.2", sport: 2905, dport: 2905}},
		{"sll", LinkSLL, cat(sll(0x0800), v4tcp), tcpW},
		{"sll vlan", LinkSLL, cat(sll(0x8100), []byte{0, 7, 8, 0}, v4tcp), want{proto: 6, src: "10.0.0.1", dst: "10.0.0.2", sport: 40000, dport: 80, outer: 7}},
		{"sll arp", LinkSLL, cat(sll(0x0806), make([]byte, 28)), want{res: ResultNonIP}},
		{"sll2", LinkSLL2, cat(sll2(0x86dd), v6tcp), want{proto: 6, src: "2001:db8::1", dst: "2001:db8::2", sport: 443, dport: 50000}},
		{"raw 101 v4", LinkRaw, v4tcp, tcpW},
		{"raw 101 v6", LinkRaw, v6tcp, want{proto: 6, src: "2001:db8::1", dst: "2001:db8::2", sport: 443, dport: 50000}},
		{"raw 12", LinkRawLegacy12, v6tcp, want{proto: 6, src: "2001:db8::1", dst: "2001:db8::2", sport: 443, dport: 50000}},
		{"raw 14", LinkRawLegacy14, v4tcp, tcpW},
		{"ipv4 228", LinkIPv4, v4tcp, tcpW},
		{"ipv6 229", LinkIPv6, v6tcp, want{proto: 6, src: "2001:db8::1", dst: "2001:db8::2", sport: 443, dport: 50000}},
		{"null AF 2 LE", LinkNull, cat(le32(2), v4tcp), tcpW},
		{"null AF 2 BE", LinkNull, cat(beU32(2), v4tcp), tcpW},
		{"null AF 24", LinkNull, cat(le32(24), v6tcp), want{proto: 6, src: "2001:db8::1", dst: "2001:db8::2", sport: 443, dport: 50000}},
		{"null AF 28 BE", LinkNull, cat(beU32(28), v6tcp), want{proto: 6, src: "2001:db8::1", dst: "2001:db8::2", sport: 443, dport: 50000}},
		{"null AF 30", LinkNull, cat(le32(30), v6tcp), want{proto: 6, src: "2001:db8::1", dst: "2001:db8::2", sport: 443, dport: 50000}},
		{"null ethertype header", LinkNull, cat([]byte{0x0f, 0, 8, 0}, v4tcp), tcpW},
		{"loop AF 2", LinkLoop, cat(beU32(2), v4tcp), tcpW},
		{"loop AF 30 LE", LinkLoop, cat(le32(30), v6tcp), want{proto: 6, src: "2001:db8::1", dst: "2001:db8::2", sport: 443, dport: 50000}},
		{"null other family", LinkNull, cat(le32(7), v4tcp), want{res: ResultNonIP}},
		{"null garbage family", LinkNull, cat([]byte{1, 2, 3, 4}, v4tcp), want{res: ResultMalformed, reason: MalUnknownNullFamily}},
		{"unknown link", 147, v4tcp, want{res: ResultUnknownLink}},
		// malformed
		{"short ethernet", LinkEthernet, make([]byte, 10), want{res: ResultMalformed, reason: MalTruncatedLink}},
		{"short vlan", LinkEthernet, cat(ether(0x8100), []byte{0, 1}), want{res: ResultMalformed, reason: MalTruncatedLink}},
		{"short ipv4", LinkEthernet, cat(ether(0x0800), v4tcp[:12]), want{res: ResultMalformed, reason: MalTruncatedIP}},
		{"wrong version", LinkEthernet, cat(ether(0x0800), v6tcp), want{res: ResultMalformed, reason: MalBadIPVersion}},
		{"bad ihl", LinkEthernet, cat(ether(0x0800), []byte{0x43}, v4tcp[1:]), want{res: ResultMalformed, reason: MalBadIHL}},
		{"bad ip length", LinkEthernet, cat(ether(0x0800), v4tcp[:2], []byte{0, 10}, v4tcp[4:]), want{res: ResultMalformed, reason: MalBadIPLength}},
		{"bad tcp offset", LinkEthernet, cat(ether(0x0800), v4tcp[:20+12], []byte{0x20}, v4tcp[33:]), want{res: ResultMalformed, reason: MalBadTCPDataOffset}},
		{"short tcp", LinkRaw, ipv4Pkt("10.0.0.1", "10.0.0.2", 6, 1, 0, false, 0, make([]byte, 10)), want{res: ResultMalformed, reason: MalTruncatedL4}},
		{"short udp length", LinkRaw, cat(ipv4Pkt("10.0.0.1", "10.0.0.2", 17, 1, 0, false, 0, make([]byte, 4))[:20], []byte{0, 1, 0, 2}, make([]byte, 4)), want{res: ResultMalformed, reason: MalTruncatedL4}},
		{"ipv6 ext truncated", LinkRaw, ipv6Pkt("2001:db8::1", "2001:db8::2", 0, []byte{60, 4}, nil), want{res: ResultMalformed, reason: MalTruncatedExtHeader}},
	}
	d := NewDecoder(DecoderOptions{})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p Packet
			res := d.Decode(&p, c.data, c.link, 1e9, uint32(len(c.data)))
			if res != c.want.res {
				t.Fatalf("result = %d (reason %v), want %d", res, d.LastReason, c.want.res)
			}
			if res == ResultMalformed && d.LastReason != c.want.reason {
				t.Fatalf("reason = %v, want %v", d.LastReason, c.want.reason)
			}
			if res != ResultIP {
				return
			}
			w := c.want
			src, dst := netip.MustParseAddr(w.src).As16(), netip.MustParseAddr(w.dst).As16()
			if netip.MustParseAddr(w.src).Is4() {
				src = netip.AddrFrom4(netip.MustParseAddr(w.src).As4()).As16()
				dst = netip.AddrFrom4(netip.MustParseAddr(w.dst).As4()).As16()
			}
			k, lo := MakeKey(&src, &dst, w.sport, w.dport, w.proto, w.outer, w.inner)
			if p.Key != k || p.SrcIsLo != lo {
				t.Fatalf("key = %v (srcIsLo %v), want %v (%v)", p.Key, p.SrcIsLo, k, lo)
			}
			if p.Timestamp != 1e9 || p.WireLen != uint32(len(c.data)) || p.CapLen != uint32(len(c.data)) {
				t.Errorf("ts/wire/cap = %d/%d/%d", p.Timestamp, p.WireLen, p.CapLen)
			}
			if !w.checkFields {
				return
			}
			if p.IPLen != w.ipLen || p.IPHeaderLen != w.ipHdr || p.L4HeaderLen != w.l4 || p.PayloadLen != w.payloadLen {
				t.Errorf("iplen/iphdr/l4/payload = %d/%d/%d/%d, want %d/%d/%d/%d", p.IPLen, p.IPHeaderLen, p.L4HeaderLen, p.PayloadLen, w.ipLen, w.ipHdr, w.l4, w.payloadLen)
			}
			if string(p.Payload) != w.payload {
				t.Errorf("payload = %q, want %q", p.Payload, w.payload)
			}
			if p.TCPFlags != w.flags || p.TTL != w.ttl || p.ICMPType != w.icmpType {
				t.Errorf("flags/ttl/icmptype = %#x/%d/%d, want %#x/%d/%d", p.TCPFlags, p.TTL, p.ICMPType, w.flags, w.ttl, w.icmpType)
			}
			if w.proto == 6 && (p.TCPSeq != 1000 || p.TCPAck != 2000 || p.TCPWindow != 64240) {
				t.Errorf("seq/ack/win = %d/%d/%d", p.TCPSeq, p.TCPAck, p.TCPWindow)
			}
		})
	}
}

func TestDecodeSnaplenTruncated(t *testing.T) {
	pkt := cat(ether(0x0800), ipv4Pkt("10.0.0.1", "10.0.0.2", 6, 1, 0, false, 0, cat(tcpHdr(1, 2, FlagACK, 12), make([]byte, 1448))))
	d := NewDecoder(DecoderOptions{})
	var p Packet
	if r := d.Decode(&p, pkt[:96], LinkEthernet, 0, uint32(len(pkt))); r != ResultIP {
		t.Fatalf("result %d reason %v", r, d.LastReason)
	}
	if p.IPLen != 1500 || p.PayloadLen != 1448 || len(p.Payload) != 96-14-20-32 || p.WireLen != 1514 || p.CapLen != 96 {
		t.Errorf("iplen %d payloadlen %d captured payload %d wire %d cap %d", p.IPLen, p.PayloadLen, len(p.Payload), p.WireLen, p.CapLen)
	}
	// The snap length cut the TCP header after the ports (IPv6, -s 64):
	// kept in its flow with an assumed 20-byte header, counted.
	v6 := cat(ether(0x86dd), ipv6Pkt("2001:db8::1", "2001:db8::2", 6, nil, cat(tcpHdr(443, 50000, FlagACK, 12), make([]byte, 100))))
	if r := d.Decode(&p, v6[:64], LinkEthernet, 0, uint32(len(v6))); r != ResultIP || !d.Kept() || d.LastReason != MalTruncatedL4 || p.Key.PortLo != 443 || p.L4HeaderLen != 20 || p.PayloadLen != 112 {
		t.Errorf("tcp cut after ports: result %d kept %v reason %v key %v l4 %d payload %d", r, d.Kept(), d.LastReason, p.Key, p.L4HeaderLen, p.PayloadLen)
	}
	// Cut before the ports: dropped.
	if r := d.Decode(&p, v6[:56], LinkEthernet, 0, uint32(len(v6))); r != ResultMalformed || d.LastReason != MalTruncatedL4 {
		t.Errorf("tcp cut before ports: result %d reason %v", r, d.LastReason)
	}
	// UDP cut after the ports: kept.
	u := cat(ether(0x0800), ipv4Pkt("10.0.0.1", "10.0.0.2", 17, 1, 0, false, 0, cat(udpHdr(53, 1000, 50), make([]byte, 50))))
	if r := d.Decode(&p, u[:14+20+6], LinkEthernet, 0, uint32(len(u))); r != ResultIP || !d.Kept() || p.Key.PortLo != 53 || p.PayloadLen != 50 {
		t.Errorf("udp cut after ports: result %d kept %v key %v payload %d", r, d.Kept(), p.Key, p.PayloadLen)
	}
	// A fully captured frame whose IP length is larger than the frame is
	// kept but counted.
	short := pkt[:200]
	if r := d.Decode(&p, short, LinkEthernet, 0, 200); r != ResultIP || !d.kept || d.malformed[MalIPLengthExceedsFrame] != 1 {
		t.Errorf("ip length > frame: result %d kept %v count %d", r, d.kept, d.malformed[MalIPLengthExceedsFrame])
	}
}

func TestDecodeFragments(t *testing.T) {
	d := NewDecoder(DecoderOptions{})
	var p Packet
	udp := cat(udpHdr(5000, 2049, 2000), make([]byte, 1472))
	first := ipv4Pkt("10.1.1.1", "10.1.1.2", 17, 77, 0, true, 0, udp[:1480])
	mid := ipv4Pkt("10.1.1.1", "10.1.1.2", 17, 77, 1480, true, 0, make([]byte, 1480))
	last := ipv4Pkt("10.1.1.1", "10.1.1.2", 17, 77, 2960, false, 0, make([]byte, 100))
	orphan := ipv4Pkt("10.1.1.1", "10.1.1.2", 17, 78, 1480, false, 0, make([]byte, 100))
	odd := ipv4Pkt("10.1.1.1", "10.1.1.2", 17, 79, 8, true, 0, make([]byte, 13))
	huge := ipv4Pkt("10.1.1.1", "10.1.1.2", 17, 80, 65528, false, 0, make([]byte, 100))

	if d.Decode(&p, first, LinkRaw, 1e9, uint32(len(first))); p.Fragment != FirstFragment || p.Key.PortHi != 2049 || p.L4HeaderLen != 8 {
		t.Fatalf("first: frag %d key %v", p.Fragment, p.Key)
	}
	firstKey := p.Key
	for i, f := range [][]byte{mid, last} {
		d.Decode(&p, f, LinkRaw, 2e9, uint32(len(f)))
		if p.Fragment != LaterFragment || p.Key != firstKey || p.L4HeaderLen != 0 || p.WrongFragment {
			t.Errorf("later %d: frag %d key %v wrong %v", i, p.Fragment, p.Key, p.WrongFragment)
		}
	}
	if d.Decode(&p, orphan, LinkRaw, 3e9, 0); p.Key.PortLo != 0 || p.Key.PortHi != 0 || d.orphans != 1 {
		t.Errorf("orphan: key %v orphans %d", p.Key, d.orphans)
	}
	// Expired: a later fragment 31 s after its first fragment is an orphan.
	if d.Decode(&p, mid, LinkRaw, 32e9, 0); p.Key.PortLo != 0 || d.orphans != 2 {
		t.Errorf("expired: key %v orphans %d", p.Key, d.orphans)
	}
	if d.Decode(&p, odd, LinkRaw, 4e9, 0); !p.WrongFragment {
		t.Errorf("length not a multiple of 8 with MF set: not a wrong fragment")
	}
	if d.Decode(&p, huge, LinkRaw, 4e9, 0); !p.WrongFragment {
		t.Errorf("offset+len > 65535: not a wrong fragment")
	}
	if d.wrong != 2 || d.fragments != 7 {
		t.Errorf("wrong %d fragments %d", d.wrong, d.fragments)
	}
	// Teardrop: the second fragment starts inside the first one's data.
	td1 := ipv4Pkt("10.9.9.9", "10.1.1.2", 17, 81, 0, true, 0, cat(udpHdr(1, 2, 100), make([]byte, 32)))
	td2 := ipv4Pkt("10.9.9.9", "10.1.1.2", 17, 81, 24, false, 0, make([]byte, 4))
	if d.Decode(&p, td1, LinkRaw, 4e9, 0); p.WrongFragment {
		t.Errorf("teardrop first fragment (40 bytes) flagged")
	}
	if d.Decode(&p, td2, LinkRaw, 4e9, 0); !p.WrongFragment || p.Key.PortHi != 1 {
		t.Errorf("teardrop overlap not flagged: wrong %v key %v", p.WrongFragment, p.Key)
	}

	// IPv6: fragment header, first fragment then later fragment.
	fh := func(nh uint8, off int, mf bool, id uint32) []byte {
		h := []byte{nh, 0, 0, 0, 0, 0, 0, 0}
		fo := uint16(off)
		if mf {
			fo |= 1
		}
		binary.BigEndian.PutUint16(h[2:], fo)
		binary.BigEndian.PutUint32(h[4:], id)
		return h
	}
	f6a := ipv6Pkt("2001:db8::1", "2001:db8::2", 44, fh(17, 0, true, 9), cat(udpHdr(53, 33000, 1500), make([]byte, 1224)))
	f6b := ipv6Pkt("2001:db8::1", "2001:db8::2", 44, fh(17, 1232, false, 9), make([]byte, 300))
	d.Decode(&p, f6a, LinkRaw, 5e9, 0)
	k6 := p.Key
	if p.Fragment != FirstFragment || k6.Proto != 17 || p.IPHeaderLen != 48 {
		t.Fatalf("v6 first: %v frag %d hdr %d", k6, p.Fragment, p.IPHeaderLen)
	}
	d.Decode(&p, f6b, LinkRaw, 5e9, 0)
	if p.Fragment != LaterFragment || p.Key != k6 || p.PayloadLen != 300 {
		t.Errorf("v6 later: %v frag %d payloadlen %d", p.Key, p.Fragment, p.PayloadLen)
	}
	// Destination Options or AH after the Fragment header (the
	// fragmentable part, RFC 8200): the first fragment's walk reaches UDP,
	// the later one's stops at the Fragment header, whose Next Header (60,
	// 51) keys the datagram in both. The later fragment joins the UDP flow,
	// and the first one's fragmentable part (8 + 8 + 1216 bytes, a
	// multiple of 8) is no wrong fragment.
	dstopts := []byte{17, 0, 1, 4, 0, 0, 0, 0}
	ah := []byte{17, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1} // 12 bytes: (1+2)*4
	for _, c := range []struct {
		name string
		nh   uint8
		ext  []byte
		data int
	}{{"dstopts", 60, dstopts, 1216}, {"ah", 51, ah, 1212}} {
		first := ipv6Pkt("2001:db8::1", "2001:db8::2", 44, fh(c.nh, 0, true, 11), cat(c.ext, udpHdr(5000, 6000, 1500), make([]byte, c.data)))
		later := ipv6Pkt("2001:db8::1", "2001:db8::2", 44, fh(c.nh, 8+len(c.ext)+c.data, false, 11), make([]byte, 300))
		orph := d.orphans
		d.Decode(&p, first, LinkRaw, 6e9, 0)
		kf := p.Key
		if p.Fragment != FirstFragment || kf.Proto != 17 || kf.PortLo != 5000 || p.WrongFragment {
			t.Fatalf("%s first: %v frag %d wrong %v", c.name, kf, p.Fragment, p.WrongFragment)
		}
		d.Decode(&p, later, LinkRaw, 6e9, 0)
		if p.Fragment != LaterFragment || p.Key != kf || d.orphans != orph {
			t.Errorf("%s later: key %v, want %v (orphans %d -> %d)", c.name, p.Key, kf, orph, d.orphans)
		}
	}
}

// TestDecodePingOfDeath: a fragment whose datagram would pass 65,535
// bytes once reassembled, counting IPv4's header (Total Length) and IPv6's
// extension headers before the Fragment header (Payload Length), is a
// wrong fragment. ping -s 65510 sends 65,518 bytes of fragment data and
// 65,538 with the headers: the check left the header out and passed it.
func TestDecodePingOfDeath(t *testing.T) {
	for _, c := range pingOfDeathCases() {
		d := NewDecoder(DecoderOptions{})
		var p Packet
		if r := d.Decode(&p, c.frame, LinkRaw, 1e9, uint32(len(c.frame))); r != ResultIP || p.Fragment != LaterFragment {
			t.Fatalf("%s: result %v fragment %d", c.name, r, p.Fragment)
		}
		if p.WrongFragment != c.wrong {
			t.Errorf("%s: wrong fragment %v, want %v", c.name, p.WrongFragment, c.wrong)
		}
	}
}

// pingOfDeathCases are later fragments (raw IP) at the 65,535-byte limit,
// and whether each is a wrong fragment.
func pingOfDeathCases() []struct {
	name  string
	frame []byte
	wrong bool
} {
	fh := func(nh uint8, off int, id uint32) []byte {
		h := []byte{nh, 0, 0, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint16(h[2:], uint16(off))
		binary.BigEndian.PutUint32(h[4:], id)
		return h
	}
	hop := []byte{44, 0, 1, 4, 0, 0, 0, 0} // Hop-by-Hop (8 bytes), then the Fragment header
	return []struct {
		name  string
		frame []byte
		wrong bool
	}{
		{"v4 last fragment of ping -s 65510", ipv4Pkt("10.1.1.1", "10.1.1.2", 1, 90, 65512, false, 0, make([]byte, 6)), true},
		{"v4 20+65512+4 = 65536", ipv4Pkt("10.1.1.1", "10.1.1.2", 1, 91, 65512, false, 0, make([]byte, 4)), true},
		{"v4 20+65512+3 = 65535", ipv4Pkt("10.1.1.1", "10.1.1.2", 1, 92, 65512, false, 0, make([]byte, 3)), false},
		{"v4 with options 24+65504+8", ipv4Pkt("10.1.1.1", "10.1.1.2", 17, 93, 65504, false, 4, make([]byte, 8)), true},
		{"v6 65520+8, no header before", ipv6Pkt("2001:db8::1", "2001:db8::2", 44, fh(17, 65520, 9), make([]byte, 8)), false},
		{"v6 8+65520+8 = 65536", ipv6Pkt("2001:db8::1", "2001:db8::2", 0, cat(hop, fh(17, 65520, 10)), make([]byte, 8)), true},
		{"v6 8+65520+7 = 65535", ipv6Pkt("2001:db8::1", "2001:db8::2", 0, cat(hop, fh(17, 65520, 11)), make([]byte, 7)), false},
	}
}

func TestFragCacheBounded(t *testing.T) {
	c := newFragCache(16, 30e9)
	for i := range 1000 {
		k := fragKey{id: uint32(i), proto: 17}
		c.put(&k, uint16(i), 1, 17, 8, 0)
	}
	if len(c.slots) != 16 || c.size != 16 || c.evicted == 0 {
		t.Fatalf("slots %d evicted %d", len(c.slots), c.evicted)
	}
	k := fragKey{id: 999, proto: 17}
	if s, _, _, _, ok := c.get(&k, 1); !ok || s != 999 {
		t.Errorf("latest entry lost: %d %v", s, ok)
	}
}
