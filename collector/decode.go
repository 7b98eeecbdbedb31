package collector

import (
	"encoding/binary"
	"fmt"
)

// Link types (LINKTYPE_* values in pcap and pcapng headers) the decoder
// understands.
const (
	LinkNull        uint32 = 0   // BSD loopback, AF in host byte order
	LinkEthernet    uint32 = 1   // Ethernet II / 802.3
	LinkRawLegacy12 uint32 = 12  // DLT_RAW on some BSDs
	LinkRawLegacy14 uint32 = 14  // DLT_RAW on other BSDs
	LinkRaw         uint32 = 101 // raw IPv4/IPv6 by version nibble
	LinkLoop        uint32 = 108 // OpenBSD loopback, AF in network byte order
	LinkSLL         uint32 = 113 // Linux cooked v1
	LinkIPv4        uint32 = 228
	LinkIPv6        uint32 = 229
	LinkSLL2        uint32 = 276 // Linux cooked v2
)

// KnownLinkType reports whether the decoder handles lt.
func KnownLinkType(lt uint32) bool {
	switch lt {
	case LinkNull, LinkEthernet, LinkRawLegacy12, LinkRawLegacy14, LinkRaw, LinkLoop, LinkSLL, LinkIPv4, LinkIPv6, LinkSLL2:
		return true
	}
	return false
}

// UnknownLinkTypeError is returned for a frame whose link type the decoder
// does not handle.
type UnknownLinkTypeError struct{ LinkType uint32 }

// Error names the link type by number, as pcap files and tcpdump -L do.
func (e *UnknownLinkTypeError) Error() string {
	return fmt.Sprintf("unsupported link type %d", e.LinkType)
}

// Result is what Decode made of a frame.
type Result uint8

const (
	// ResultIP is an IP packet; p is filled in.
	ResultIP Result = iota
	// ResultNonIP is a frame without IP (ARP, LLC, CDP, LLDP, ...).
	ResultNonIP
	// ResultMalformed is a frame that could not be decoded far enough to
	// give a flow key; Decoder.LastReason says why.
	ResultMalformed
	// ResultUnknownLink is a link type the decoder does not handle.
	ResultUnknownLink
)

// Ethertypes.
const (
	etIPv4    = 0x0800
	etIPv6    = 0x86DD
	etVLAN    = 0x8100
	etQinQ    = 0x88A8
	etQinQOld = 0x9100
	etQinQ2   = 0x9200
	etPPPoE   = 0x8864
	etMPLS    = 0x8847
	etMPLSMC  = 0x8848
)

// maxVLANTags and maxExtHeaders bound the loops over header stacks, so a
// crafted packet cannot make decoding slow.
const (
	maxVLANTags   = 8
	maxMPLSLabels = 8
	maxExtHeaders = 10
)

// DecoderOptions tunes a Decoder; zero values mean the defaults.
type DecoderOptions struct {
	// FragTimeout is how long (packet time, ns) a first fragment's ports
	// are remembered (DefaultFragTimeout).
	FragTimeout int64
	// FragCacheSize bounds the datagrams remembered (DefaultFragCacheSize).
	FragCacheSize int
	// Decap unwraps one level of tunnel (IP-in-IP, GRE, VXLAN, GENEVE):
	// the inner packet is the flow's, as the kernel path's decap option.
	Decap bool
}

// Decoder turns link-layer frames into Packets with hand-written parsers
// (no allocation per packet). It keeps the IP fragment cache and counters,
// so one Decoder serves one packet stream. Not safe for concurrent use.
type Decoder struct {
	frags      fragCache
	LastReason MalformedReason
	decap      bool
	// depth is 1 while an inner (tunneled) packet is decoded; vlanOuter
	// and vlanInner are then the tags of the outer link, which stay the key's,
	// and tunnelID the tenant (VNI, VSID) that the key and fragment cache get.
	depth                int
	vlanOuter, vlanInner uint16
	tunnelID             uint32
	// kept is set when a frame was malformed but still returned.
	kept bool
	// orphan is set when the last ResultIP was a later fragment whose
	// first fragment is unknown; orphanKey and orphanOff say which
	// datagram and where (for Hold).
	orphan    bool
	orphanKey fragKey
	orphanOff int
	// held are later fragments kept (Hold) until their first fragment
	// comes, oldest first; ready are the held ones released, in order.
	held      []heldFrag
	ready     []Packet
	readyHead int
	// Counters, read by the source.
	nonIP, fragments, orphans, wrong, decapsulated, decapFallback uint64
	malformed                                                     [NumMalformedReasons]uint64
}

// NewDecoder returns a decoder with its own fragment cache.
func NewDecoder(o DecoderOptions) *Decoder {
	if o.FragTimeout <= 0 {
		o.FragTimeout = DefaultFragTimeout
	}
	if o.FragCacheSize <= 0 {
		o.FragCacheSize = DefaultFragCacheSize
	}
	return &Decoder{frags: newFragCache(o.FragCacheSize, o.FragTimeout), decap: o.Decap}
}

// Kept reports whether the last frame decoded as ResultIP was malformed
// but kept (IP length beyond a full frame, or a transport header cut by the
// snap length after the ports); LastReason says why.
func (d *Decoder) Kept() bool { return d.kept }

// FillStats writes the decoder's counters (non-IP, malformed by reason,
// fragments) into st, for sources that use a Decoder directly.
func (d *Decoder) FillStats(st *SourceStats) {
	st.NonIP = d.nonIP
	st.MalformedBy = d.malformed
	st.Fragments, st.OrphanFragments, st.WrongFragments = d.fragments, d.orphans, d.wrong
	st.FragEvicted = d.frags.evicted
	st.Decapsulated = d.decapsulated
	st.DecapFallback = d.decapFallback
}

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }

func (d *Decoder) bad(r MalformedReason) Result {
	d.LastReason = r
	d.malformed[r]++
	return ResultMalformed
}

// Decode decodes one frame of link type link captured at ts (unix ns) with
// original length wireLen into p, which it overwrites. p.Payload aliases
// data.
func (d *Decoder) Decode(p *Packet, data []byte, link uint32, ts int64, wireLen uint32) Result {
	*p = Packet{Timestamp: ts, WireLen: wireLen, CapLen: uint32(len(data))}
	d.kept, d.orphan = false, false
	if len(d.held) > 0 && d.held[0].expires < ts {
		d.expireHeld(ts)
	}
	// missing is how many bytes the snap length cut off the end.
	missing := 0
	if int64(wireLen) > int64(len(data)) {
		missing = int(wireLen) - len(data)
	}
	switch link {
	case LinkEthernet:
		if len(data) < 14 {
			return d.bad(MalTruncatedLink)
		}
		return d.etherType(p, data[14:], be16(data[12:]), 0, missing)
	case LinkRaw, LinkRawLegacy12, LinkRawLegacy14:
		return d.ipByVersion(p, data, 0, 0, missing)
	case LinkIPv4:
		return d.ipv4(p, data, 0, 0, missing)
	case LinkIPv6:
		return d.ipv6(p, data, 0, 0, missing)
	case LinkSLL:
		if len(data) < 16 {
			return d.bad(MalTruncatedLink)
		}
		return d.etherType(p, data[16:], be16(data[14:]), 0, missing)
	case LinkSLL2:
		if len(data) < 20 {
			return d.bad(MalTruncatedLink)
		}
		return d.etherType(p, data[20:], be16(data), 0, missing)
	case LinkNull, LinkLoop:
		if len(data) < 4 {
			return d.bad(MalTruncatedLink)
		}
		h := data[:4]
		// The AF value is in the writer's byte order for NULL and in network
		// order for LOOP, but files get both wrong: accept either order.
		af := binary.LittleEndian.Uint32(h)
		if af > 0xffff {
			af = binary.BigEndian.Uint32(h)
		}
		switch af {
		case 2:
			return d.ipv4(p, data[4:], 0, 0, missing)
		case 10, 24, 28, 30:
			return d.ipv6(p, data[4:], 0, 0, missing)
		}
		// IRIX-style 2+2 headers and headers holding an Ethertype (as
		// Wireshark accepts): look for one in either half.
		for _, et := range [2]uint16{be16(h[2:]), be16(h)} {
			if et == etIPv4 || et == etIPv6 {
				return d.etherType(p, data[4:], et, 0, missing)
			}
		}
		if af <= 0xff {
			d.nonIP++
			return ResultNonIP
		}
		return d.bad(MalUnknownNullFamily)
	}
	return ResultUnknownLink
}

// etherType dispatches on an Ethertype, unwrapping VLAN tags, LLC/SNAP,
// PPPoE and MPLS; b starts after the Ethertype field.
func (d *Decoder) etherType(p *Packet, b []byte, et uint16, tags int, missing int) Result {
	var outer, inner uint16
	for range maxVLANTags {
		switch et {
		case etVLAN, etQinQ, etQinQOld, etQinQ2:
			if len(b) < 4 {
				return d.bad(MalTruncatedLink)
			}
			id := be16(b) & 0x0fff
			if tags == 0 {
				outer = id
			} else if tags == 1 {
				inner = id
			}
			tags++
			et, b = be16(b[2:]), b[4:]
			continue
		}
		break
	}
	if d.depth > 0 {
		outer, inner = d.vlanOuter, d.vlanInner // the key keeps the outer link's tags
	}
	if et < 0x0600 { // 802.3 length: LLC, maybe SNAP carrying an Ethertype
		if len(b) >= 8 && b[0] == 0xAA && b[1] == 0xAA && b[2] == 0x03 && b[3] == 0 && b[4] == 0 && b[5] == 0 {
			et, b = be16(b[6:]), b[8:]
		} else {
			d.nonIP++
			return ResultNonIP
		}
	}
	switch et {
	case etIPv4:
		return d.ipv4(p, b, outer, inner, missing)
	case etIPv6:
		return d.ipv6(p, b, outer, inner, missing)
	case etPPPoE:
		if len(b) < 8 {
			return d.bad(MalTruncatedLink)
		}
		switch be16(b[6:]) {
		case 0x0021:
			return d.ipv4(p, b[8:], outer, inner, missing)
		case 0x0057:
			return d.ipv6(p, b[8:], outer, inner, missing)
		}
	case etMPLS, etMPLSMC:
		for range maxMPLSLabels {
			if len(b) < 4 {
				return d.bad(MalTruncatedLink)
			}
			bos := b[2]&1 != 0
			b = b[4:]
			if bos {
				return d.ipByVersion(p, b, outer, inner, missing)
			}
		}
	}
	d.nonIP++
	return ResultNonIP
}

func (d *Decoder) ipByVersion(p *Packet, b []byte, outer, inner uint16, missing int) Result {
	if len(b) < 1 {
		return d.bad(MalTruncatedIP)
	}
	switch b[0] >> 4 {
	case 4:
		return d.ipv4(p, b, outer, inner, missing)
	case 6:
		return d.ipv6(p, b, outer, inner, missing)
	}
	return d.bad(MalBadIPVersion)
}

// ipLen works out the datagram length: from the header, or, when the
// header says 0 (TSO/jumbogram), from the frame. It trims link-layer
// padding off b and reports a header length that a fully captured frame
// cannot hold.
func (d *Decoder) ipLen(b []byte, hdrLen int, missing int) (int, []byte) {
	if hdrLen == 0 {
		return len(b) + missing, b
	}
	if hdrLen < len(b) {
		return hdrLen, b[:hdrLen]
	}
	if hdrLen > len(b) && missing == 0 {
		d.keep(MalIPLengthExceedsFrame)
	}
	return hdrLen, b
}

// keep counts a problem in a frame that is still returned.
func (d *Decoder) keep(r MalformedReason) {
	d.malformed[r]++
	d.LastReason = r
	d.kept = true
}

func (d *Decoder) ipv4(p *Packet, b []byte, outer, inner uint16, missing int) Result {
	if len(b) < 20 {
		return d.bad(MalTruncatedIP)
	}
	if b[0]>>4 != 4 {
		return d.bad(MalBadIPVersion)
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 {
		return d.bad(MalBadIHL)
	}
	if ihl > len(b) {
		if missing > 0 {
			return d.bad(MalTruncatedIP) // options cut by the snap length
		}
		return d.bad(MalBadIHL)
	}
	total := int(be16(b[2:]))
	if total != 0 && total < ihl {
		return d.bad(MalBadIPLength)
	}
	total, b = d.ipLen(b, total, missing)
	var src, dst [16]byte
	src[10], src[11], dst[10], dst[11] = 0xff, 0xff, 0xff, 0xff
	copy(src[12:], b[12:16])
	copy(dst[12:], b[16:20])
	p.TTL = b[8]
	p.IPLen = uint32(total)
	p.IPHeaderLen = uint16(ihl)
	fo := be16(b[6:])
	fi := fragInfo{off: int(fo&0x1fff) * 8, mf: fo&0x2000 != 0, id: uint32(be16(b[4:])), proto: b[9], data: total - ihl, hdr: ihl}
	return d.transport(p, b[ihl:], total-ihl, &src, &dst, b[9], outer, inner, fi, missing)
}

func (d *Decoder) ipv6(p *Packet, b []byte, outer, inner uint16, missing int) Result {
	if len(b) < 40 {
		return d.bad(MalTruncatedIP)
	}
	if b[0]>>4 != 6 {
		return d.bad(MalBadIPVersion)
	}
	total := int(be16(b[4:]))
	if total != 0 {
		total += 40
	}
	total, b = d.ipLen(b, total, missing)
	var src, dst [16]byte
	copy(src[:], b[8:24])
	copy(dst[:], b[24:40])
	p.TTL = b[7]
	p.IPLen = uint32(total)
	nh := b[6]
	off := 40
	var fi fragInfo
	frag, fragEnd := false, 0
walk:
	for range maxExtHeaders {
		switch nh {
		case 0, 43, 60, 135, 139, 140: // hop-by-hop, routing, dest opts, mobility, HIP, shim6
			if off+2 > len(b) {
				return d.bad(MalTruncatedExtHeader)
			}
			nh, off = b[off], off+(int(b[off+1])+1)*8
		case 51: // AH
			if off+2 > len(b) {
				return d.bad(MalTruncatedExtHeader)
			}
			nh, off = b[off], off+(int(b[off+1])+2)*4
		case 44: // fragment
			if off+8 > len(b) {
				return d.bad(MalTruncatedExtHeader)
			}
			fo := be16(b[off+2:])
			fi = fragInfo{off: int(fo &^ 7), mf: fo&1 != 0, id: be32(b[off+4:]), proto: b[off]}
			frag = true
			nh, off = b[off], off+8
			fragEnd = off
			if fi.off != 0 {
				break walk // the rest is fragment data
			}
		default:
			break walk
		}
	}
	if off > len(b) || off > total {
		return d.bad(MalTruncatedExtHeader)
	}
	switch nh {
	case 0, 43, 60, 135, 139, 140, 51, 44:
		if !(frag && fi.off != 0) {
			return d.bad(MalTruncatedExtHeader) // chain longer than maxExtHeaders
		}
	}
	p.IPHeaderLen = uint16(off)
	if !frag {
		fi = fragInfo{}
	}
	fi.data = total - fragEnd
	fi.hdr = max(fragEnd-48, 0) // after the fixed header, less the Fragment header
	return d.transport(p, b[off:], total-off, &src, &dst, nh, outer, inner, fi, missing)
}

// fragInfo is what an IP header says of a fragment: its offset, MF, the
// datagram's ID, the protocol that keys the datagram (IPv4's; for IPv6 the
// Fragment header's Next Header, the same in every fragment where the
// upper-layer protocol may follow more extension headers in the first one
// only), the length of its fragmentable part (the data after the
// Fragment header, which offsets count in), and the bytes the reassembled
// datagram's 65,535-byte limit counts before that part (IPv4: the header,
// as Total Length does; IPv6: the extension headers before the Fragment
// header, as Payload Length does).
type fragInfo struct {
	off   int
	mf    bool
	id    uint32
	proto uint8
	data  int
	hdr   int
}

// transport decodes the transport header in l4 (captured bytes) of an IP
// payload of l4Len bytes (from the IP header) and builds the key. missing
// is how many bytes of the frame the snap length cut off.
func (d *Decoder) transport(p *Packet, l4 []byte, l4Len int, src, dst *[16]byte, proto uint8, outer, inner uint16, fi fragInfo, missing int) Result {
	var sport, dport uint16
	var fk fragKey
	if fi.off != 0 || fi.mf {
		fk = fragKey{src: *src, dst: *dst, id: fi.id, proto: fi.proto, tunnel: d.tunnelID, vlanOuter: outer, vlanInner: inner}
		d.fragments++
		// Beyond the 65,535 bytes a datagram can hold once reassembled
		// (ping of death: ping -s 65510 is 65,538 bytes with its headers,
		// 65,518 of fragment data).
		if fi.hdr+fi.off+fi.data > 65535 || (fi.mf && fi.data%8 != 0) {
			p.WrongFragment = true
			d.wrong++
		}
	}
	if fi.off != 0 {
		// Later fragment: no transport header; ports (and, for IPv6, the
		// upper-layer protocol) from the first one.
		p.Fragment = LaterFragment
		sp, dp, up, end, ok := d.frags.get(&fk, p.Timestamp)
		if !ok {
			d.orphans++
			d.orphan, d.orphanKey, d.orphanOff = true, fk, fi.off
		} else {
			proto = up
			if fi.off < int(end) && !p.WrongFragment {
				// Overlaps the first fragment (teardrop).
				p.WrongFragment = true
				d.wrong++
			}
		}
		sport, dport = sp, dp
		p.PayloadLen = uint32(max(l4Len, 0))
		p.Payload = l4
		p.Key, p.SrcIsLo = MakeKey(src, dst, sport, dport, proto, outer, inner)
		return ResultIP
	}
	mf := fi.mf
	if d.decap && d.depth == 0 && !mf {
		if r, ok := d.tunnel(p, l4, l4Len, proto, outer, inner, missing); ok {
			return r
		}
	}
	hl := 0
	switch proto {
	case 6: // TCP
		if len(l4) < 20 && (missing == 0 || len(l4) < 4) {
			return d.bad(MalTruncatedL4)
		}
		sport, dport = be16(l4), be16(l4[2:])
		if len(l4) >= 14 {
			hl = int(l4[12]>>4) * 4
			if hl < 20 || hl > l4Len {
				return d.bad(MalBadTCPDataOffset)
			}
			p.TCPSeq, p.TCPAck = be32(l4[4:]), be32(l4[8:])
			p.TCPFlags = l4[13]
		} else {
			// The snap length cut the header after the ports: keep the
			// packet in its flow, assume a header without options. Its
			// flags are unknown and stay 0: not counted.
			if l4Len < 20 {
				return d.bad(MalBadTCPDataOffset)
			}
			hl = 20
		}
		if len(l4) >= 16 {
			p.TCPWindow = be16(l4[14:])
		} else {
			// A window of 0 read from no bytes would be taken for the
			// direction's initial window (Init_Win_bytes 0, not -1).
			p.TCPWindowCut = true
		}
		if len(l4) < 20 { // cut anywhere after the ports
			d.keep(MalTruncatedL4)
		}
	case 17, 136: // UDP, UDP-Lite
		if len(l4) < 8 && (missing == 0 || len(l4) < 4) {
			return d.bad(MalTruncatedL4)
		}
		if l4Len < 8 {
			return d.bad(MalBadUDPLength)
		}
		if len(l4) < 8 {
			d.keep(MalTruncatedL4)
		}
		hl = 8
		sport, dport = be16(l4), be16(l4[2:])
	case 132: // SCTP
		if len(l4) < 12 {
			return d.bad(MalTruncatedL4)
		}
		if l4Len < 12 {
			return d.bad(MalBadIPLength)
		}
		hl = 12
		sport, dport = be16(l4), be16(l4[2:])
	case 1, 58: // ICMP, ICMPv6
		if len(l4) < 2 {
			return d.bad(MalTruncatedL4)
		}
		p.ICMPType, p.ICMPCode = l4[0], l4[1]
		hl = min(8, l4Len)
	}
	if mf {
		p.Fragment = FirstFragment
		d.frags.put(&fk, sport, dport, proto, uint16(min(max(fi.data, 0), 65535)), p.Timestamp)
		if len(d.held) > 0 {
			d.resolveHeld(&fk, sport, dport, proto, fi.data)
		}
	}
	p.L4HeaderLen = uint16(hl)
	p.PayloadLen = uint32(max(l4Len-hl, 0))
	if hl < len(l4) {
		p.Payload = l4[hl:]
	}
	p.Key, p.SrcIsLo = MakeKey(src, dst, sport, dport, proto, outer, inner)
	return ResultIP
}

// Tunnel protocols unwrapped with DecoderOptions.Decap, as in the kernel
// path (bpf/headers/parse.h, tunnel_payload).
const (
	etTEB       = 0x6558 // transparent Ethernet bridging (GRE carrying Ethernet)
	greCsum     = 0x8000
	greRouting  = 0x4000
	greKey      = 0x2000
	greSeq      = 0x1000
	greVersion  = 0x0007
	vxlanPort   = 4789
	genevePort  = 6081
	vxlanFlagVN = 0x08
)

// tunnel decodes the inner packet of a tunnel packet whose IP payload is
// l4 (not a fragment): IP-in-IP (4), IPv6 in IP (41), GRE version 0
// without routing carrying IPv4, IPv6 or Ethernet, VXLAN (UDP port 4789,
// VNI flag set) and GENEVE version 0 (UDP port 6081) carrying Ethernet,
// IPv4 or IPv6. ok is false when the packet is no such tunnel, or its
// tunnel header is cut short, or the snap length cut the inner packet's
// headers (snapCutInner): it is then decoded as itself. One level only:
// a tunnel inside the tunnel is the inner flow.
func (d *Decoder) tunnel(p *Packet, l4 []byte, l4Len int, proto uint8, outer, inner uint16, missing int) (r Result, ok bool) {
	var et uint16
	var b []byte
	var tid uint32 // the tenant: VXLAN/GENEVE VNI, NVGRE VSID
	switch proto {
	case 4:
		et, b = etIPv4, l4
	case 41:
		et, b = etIPv6, l4
	case 47:
		if len(l4) < 4 {
			return 0, false
		}
		fl := be16(l4)
		if fl&(greRouting|greVersion) != 0 {
			return 0, false
		}
		hl := 4
		for _, bit := range [3]uint16{greCsum, greKey, greSeq} {
			if fl&bit != 0 {
				hl += 4
			}
		}
		et = be16(l4[2:])
		if len(l4) < hl || l4Len < hl {
			return 0, false
		}
		if fl&greKey != 0 {
			k := 4
			if fl&greCsum != 0 {
				k = 8
			}
			tid = be32(l4[k:]) >> 8
		}
		b = l4[hl:]
	case 17:
		if len(l4) < 16 || l4Len < 16 {
			return 0, false
		}
		switch be16(l4[2:]) {
		case vxlanPort:
			if l4[8]&vxlanFlagVN == 0 {
				return 0, false
			}
			et, b, tid = etTEB, l4[16:], be32(l4[12:])>>8
		case genevePort:
			if l4[8]>>6 != 0 {
				return 0, false
			}
			hl := 16 + int(l4[8]&0x3f)*4
			if len(l4) < hl || l4Len < hl {
				return 0, false
			}
			et, b, tid = be16(l4[10:]), l4[hl:], be32(l4[12:])>>8
		default:
			return 0, false
		}
	default:
		return 0, false
	}
	if et != etIPv4 && et != etIPv6 && et != etTEB {
		return 0, false
	}
	d.decapsulated++
	d.depth, d.vlanOuter, d.vlanInner, d.tunnelID = 1, outer, inner, tid
	defer func() { d.depth, d.tunnelID = 0, 0 }()
	// What the inner decode may change, to undo if it falls back.
	saved, reason, frags, wrong := *p, d.LastReason, d.fragments, d.wrong
	p.TTL, p.IPLen, p.IPHeaderLen = 0, 0, 0
	switch et {
	case etIPv4:
		r = d.ipv4(p, b, outer, inner, missing)
	case etIPv6:
		r = d.ipv6(p, b, outer, inner, missing)
	default:
		if len(b) < 14 {
			r = d.bad(MalTruncatedLink)
		} else {
			r = d.etherType(p, b[14:], be16(b[12:]), 0, missing)
		}
	}
	if r == ResultMalformed && snapCutInner(d.LastReason, missing, len(b), l4Len-(len(l4)-len(b))) {
		d.malformed[d.LastReason]--
		d.decapsulated--
		d.decapFallback++
		*p, d.LastReason, d.fragments, d.wrong = saved, reason, frags, wrong
		return 0, false
	}
	if r == ResultIP {
		p.Key.SetTunnelID(tid)
	}
	return r, true
}

// snapCutInner reports whether a tunnel's inner packet failed to decode
// (for reason) because the snap length cut its headers: the frame is
// snap-truncated (missing > 0), the reason is a header cut short, and
// fewer bytes of the inner packet were captured (captured) than the outer
// datagram holds (inner). Such a packet stays in its outer flow, counted
// in DecapFallback, rather than being dropped. Only a capture file can
// cut a frame: the kernel sees it whole, and a fully captured inner
// packet whose headers are short is malformed on both paths alike
// (bpf/headers/parse.h, parse_inner).
func snapCutInner(reason MalformedReason, missing, captured, inner int) bool {
	if missing == 0 || captured >= inner {
		return false
	}
	switch reason {
	case MalTruncatedLink, MalTruncatedIP, MalTruncatedExtHeader, MalTruncatedL4:
		return true
	}
	return false
}
