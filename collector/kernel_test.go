//go:build linux

package collector

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/flowhawk/flowhawk/bpf"
)

// TestKernelKeyLayout checks that struct flow_key (as bpf2go generated it
// from the object's BTF) and Key have the same size and field offsets, so
// map keys can be read straight into Key.
func TestKernelKeyLayout(t *testing.T) {
	var k Key
	var c bpf.FlowhawkFlowKey
	if unsafe.Sizeof(k) != KeySize || unsafe.Sizeof(c) != KeySize {
		t.Fatalf("sizes: Key %d, flow_key %d, want %d", unsafe.Sizeof(k), unsafe.Sizeof(c), KeySize)
	}
	offs := []struct {
		name string
		go_  uintptr
		c    uintptr
	}{
		{"addr_lo", unsafe.Offsetof(k.AddrLo), unsafe.Offsetof(c.AddrLo)},
		{"addr_hi", unsafe.Offsetof(k.AddrHi), unsafe.Offsetof(c.AddrHi)},
		{"port_lo", unsafe.Offsetof(k.PortLo), unsafe.Offsetof(c.PortLo)},
		{"port_hi", unsafe.Offsetof(k.PortHi), unsafe.Offsetof(c.PortHi)},
		{"vlan_outer", unsafe.Offsetof(k.VLANOuter), unsafe.Offsetof(c.VlanOuter)},
		{"vlan_inner", unsafe.Offsetof(k.VLANInner), unsafe.Offsetof(c.VlanInner)},
		{"proto", unsafe.Offsetof(k.Proto), unsafe.Offsetof(c.Proto)},
		{"tunnel", unsafe.Offsetof(k.Tunnel), unsafe.Offsetof(c.Tunnel)},
	}
	for _, o := range offs {
		if o.go_ != o.c {
			t.Errorf("%s: Go offset %d, C offset %d", o.name, o.go_, o.c)
		}
	}
	// Field types must match too (sizes of each field).
	fields := func(ty reflect.Type) (out []reflect.StructField) {
		for i := 0; i < ty.NumField(); i++ {
			if f := ty.Field(i); f.Type.Size() > 0 { // skip structs.HostLayout markers
				out = append(out, f)
			}
		}
		return out
	}
	kf, cf := fields(reflect.TypeOf(k)), fields(reflect.TypeOf(c))
	if len(kf) != len(cf) {
		t.Fatalf("Key has %d fields, flow_key %d", len(kf), len(cf))
	}
	for i := range kf {
		if kf[i].Offset != cf[i].Offset || kf[i].Type.Size() != cf[i].Type.Size() {
			t.Errorf("field %d: Go %s at %d size %d, C %s at %d size %d", i, kf[i].Name, kf[i].Offset, kf[i].Type.Size(), cf[i].Name, cf[i].Offset, cf[i].Type.Size())
		}
	}
}

func needRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("kernel tests load eBPF programs: run as root (CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON)")
	}
}

func loadTestKernel(tb testing.TB, cfg KernelConfig) *KernelSource {
	tb.Helper()
	needRoot(tb)
	s, err := LoadKernel(cfg)
	if err != nil {
		tb.Fatalf("load kernel source: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

var (
	macA = net.HardwareAddr{2, 0, 0, 0, 0, 1}
	macB = net.HardwareAddr{2, 0, 0, 0, 0, 2}
	v4a  = net.IP{10, 199, 0, 1}
	v4b  = net.IP{10, 199, 0, 2}
	v6a  = net.ParseIP("fd00:199::1")
	v6b  = net.ParseIP("fd00:199::2")
)

// kframe serializes layers with lengths (and checksums) fixed up.
func kframe(tb testing.TB, ls ...gopacket.SerializableLayer) []byte {
	tb.Helper()
	for _, l := range ls {
		switch n := l.(type) {
		case *layers.TCP:
			for _, o := range ls {
				if ip, ok := o.(gopacket.NetworkLayer); ok {
					n.SetNetworkLayerForChecksum(ip)
				}
			}
		case *layers.ICMPv6:
			for _, o := range ls {
				if ip, ok := o.(gopacket.NetworkLayer); ok {
					n.SetNetworkLayerForChecksum(ip)
				}
			}
		case *layers.UDP:
			for _, o := range ls {
				if ip, ok := o.(gopacket.NetworkLayer); ok {
					n.SetNetworkLayerForChecksum(ip)
				}
			}
		}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		tb.Fatalf("serialize %v: %v", ls, err)
	}
	return bytes.Clone(buf.Bytes())
}

// shim turns an Ethernet frame into one whose Ethertype (or 802.3 length)
// is et, followed by hdr and then what followed the original Ethertype.
func shim(frame []byte, et uint16, hdr []byte) []byte {
	out := append([]byte{}, frame[:12]...)
	out = append(out, byte(et>>8), byte(et))
	out = append(out, hdr...)
	return append(out, frame[14:]...)
}

// mplsStack is an MPLS label stack of n labels, bottom-of-stack set on
// the last.
func mplsStack(n int) []byte {
	var b []byte
	for i := 1; i <= n; i++ {
		bos := byte(0)
		if i == n {
			bos = 1
		}
		b = append(b, 0, byte(i), bos, 64) // label i>>4, then the bottom-of-stack bit
	}
	return b
}

// pppoe is a PPPoE session header (session 0x1234) and the PPP protocol
// number, for a PPP payload of n bytes.
func pppoe(proto uint16, n int) []byte {
	return []byte{0x11, 0, 0x12, 0x34, byte((n + 2) >> 8), byte(n + 2), byte(proto >> 8), byte(proto)}
}

func eth(t layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: t}
}

func ip4(proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: v4a, DstIP: v4b, Id: 77}
}

func ip6(next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next, SrcIP: v6a, DstIP: v6b}
}

// ext6 is one 8-byte IPv6 extension header (hop-by-hop, routing or
// destination options shape) pointing at next.
func ext6(next byte) []byte { return []byte{next, 0, 1, 4, 0, 0, 0, 0} }

// udpRaw is a raw UDP header plus payload (for frames whose layers
// gopacket cannot chain, like long extension-header chains).
func udpRaw(sport, dport uint16, payload []byte) []byte {
	b := []byte{byte(sport >> 8), byte(sport), byte(dport >> 8), byte(dport), 0, 0, 0, 0}
	n := 8 + len(payload)
	b[4], b[5] = byte(n>>8), byte(n)
	return append(b, payload...)
}

func tcpSYN(sport, dport uint16) *layers.TCP {
	return &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: 1000, SYN: true, Window: 64240,
		Options: []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{5, 0xb4}}}}
}

func key4(sport, dport uint16, proto uint8, vo, vi uint16) Key {
	a, b := Addr16(netip.MustParseAddr("10.199.0.1")), Addr16(netip.MustParseAddr("10.199.0.2"))
	k, _ := MakeKey(&a, &b, sport, dport, proto, vo, vi)
	return k
}

func key6(sport, dport uint16, proto uint8) Key {
	a, b := Addr16(netip.MustParseAddr("fd00:199::1")), Addr16(netip.MustParseAddr("fd00:199::2"))
	k, _ := MakeKey(&a, &b, sport, dport, proto, 0, 0)
	return k
}

// want is what one crafted frame must leave behind.
type want struct {
	flow     bool // an entry with key must exist, 1 packet from side lo (10.199.0.1 / fd00:199::1 sorts lower)
	key      Key
	ipLen    uint32
	payload  uint32
	l4Hdr    uint16
	counter  int // kernel counter that must have grown by one (-1: none besides packets/accounted)
	dnsSnip  []byte
	parityOK bool // the Go decoder must produce the same key and lengths
}

func ipv4Frag(proto layers.IPProtocol, flags layers.IPv4Flag, off uint16, id uint16) *layers.IPv4 {
	ip := ip4(proto)
	ip.Flags, ip.FragOffset, ip.Id = flags, off, id
	return ip
}

func kernelCases(t testing.TB) []struct {
	name  string
	frame []byte
	want  want
} {
	dnsQuery := []byte{0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1}
	payload := gopacket.Payload(bytes.Repeat([]byte{0xab}, 100))
	ipOpts := ip4(layers.IPProtocolUDP)
	ipOpts.Options = []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}} // 4 bytes: IHL 6
	longChain := []byte{}
	for i := 0; i < 11; i++ {
		longChain = append(longChain, ext6(60)...)
	}
	ipLong := ip6(layers.IPProtocolIPv6Destination)
	shortChain := append(append(ext6(60), ext6(17)...), udpRaw(5000, 6000, []byte("hi"))...)
	ipShort := ip6(layers.IPProtocolIPv6HopByHop)
	frag1 := append(udpRaw(7000, 53, bytes.Repeat([]byte{1}, 16))[:8:8], bytes.Repeat([]byte{1}, 16)...)
	frag6First := append([]byte{17, 0, 0, 1, 0, 0, 0, 9}, udpRaw(7100, 7200, bytes.Repeat([]byte{2}, 24))...)
	frag6Later := append([]byte{17, 0, 0, 32, 0, 0, 0, 9}, bytes.Repeat([]byte{3}, 16)...)
	// Destination Options after the Fragment header: a later fragment
	// shows Next Header 60 only, and must still join the UDP flow.
	frag6OptsFirst := append([]byte{60, 0, 0, 1, 0, 0, 0, 10, 17, 0, 1, 4, 0, 0, 0, 0}, udpRaw(7300, 7400, bytes.Repeat([]byte{4}, 24))...)
	frag6OptsLater := append([]byte{60, 0, 0, 40, 0, 0, 0, 10}, bytes.Repeat([]byte{5}, 16)...)
	bogusIHL := kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 1, DstPort: 2}, payload)
	bogusIHL[14] = 0x43 // IHL 3 (12 bytes)
	bigIHL := kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolICMPv4), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)})
	bigIHL[14] = 0x4f // IHL 15 (60 bytes) beyond the 36-byte frame end... of IP
	truncTCP := kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcpSYN(1234, 80))
	truncTCP = truncTCP[:14+20+10]
	// IPv6 between IPv4-mapped addresses: the pcap path keys it as IPv4,
	// so the programs keep it in flows4 too.
	ipMapped := ip6(layers.IPProtocolUDP)
	ipMapped.SrcIP, ipMapped.DstIP = net.ParseIP("::ffff:10.199.0.1"), net.ParseIP("::ffff:10.199.0.2")
	udp4 := kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 7001, DstPort: 7002}, payload)
	tcp6 := kframe(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolTCP), tcpSYN(40003, 8080))
	return []struct {
		name  string
		frame []byte
		want  want
	}{
		{"ipv4 tcp syn", kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcpSYN(40000, 80)),
			want{flow: true, key: key4(40000, 80, 6, 0, 0), ipLen: 44, payload: 0, l4Hdr: 24, counter: -1, parityOK: true}},
		{"ipv4 udp", kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 5353, DstPort: 9999}, payload),
			want{flow: true, key: key4(5353, 9999, 17, 0, 0), ipLen: 128, payload: 100, l4Hdr: 8, counter: -1, parityOK: true}},
		{"ipv4 options udp", kframe(t, eth(layers.EthernetTypeIPv4), ipOpts, &layers.UDP{SrcPort: 1, DstPort: 2}, payload),
			want{flow: true, key: key4(1, 2, 17, 0, 0), ipLen: 132, payload: 100, l4Hdr: 8, counter: -1, parityOK: true}},
		{"ipv4 icmp echo", kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolICMPv4), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 1, Seq: 1}, payload),
			want{flow: true, key: key4(0, 0, 1, 0, 0), ipLen: 128, payload: 100, l4Hdr: 8, counter: -1, parityOK: true}},
		{"ipv4 gre other l4", kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolGRE), payload),
			want{flow: true, key: key4(0, 0, 47, 0, 0), ipLen: 120, payload: 100, l4Hdr: 0, counter: kcntOtherL4, parityOK: true}},
		{"ipv4 sctp", kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolSCTP), gopacket.Payload(append([]byte{0x0b, 0xb8, 0x0b, 0xb9, 0, 0, 0, 1, 0, 0, 0, 0}, payload...))),
			want{flow: true, key: key4(3000, 3001, 132, 0, 0), ipLen: 132, payload: 100, l4Hdr: 12, counter: -1, parityOK: true}},
		{"802.1q udp", kframe(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 42, Type: layers.EthernetTypeIPv4}, ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 10, DstPort: 20}, payload),
			want{flow: true, key: key4(10, 20, 17, 42, 0), ipLen: 128, payload: 100, l4Hdr: 8, counter: -1, parityOK: true}},
		{"qinq tcp", kframe(t, eth(layers.EthernetTypeQinQ), &layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeDot1Q}, &layers.Dot1Q{VLANIdentifier: 200, Type: layers.EthernetTypeIPv4}, ip4(layers.IPProtocolTCP), tcpSYN(40001, 443)),
			want{flow: true, key: key4(40001, 443, 6, 100, 200), ipLen: 44, payload: 0, l4Hdr: 24, counter: -1, parityOK: true}},
		{"six vlan tags udp", kframe(t, eth(layers.EthernetTypeQinQ), &layers.Dot1Q{VLANIdentifier: 11, Type: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: 12, Type: layers.EthernetTypeDot1Q}, &layers.Dot1Q{VLANIdentifier: 13, Type: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: 14, Type: layers.EthernetTypeDot1Q}, &layers.Dot1Q{VLANIdentifier: 15, Type: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: 16, Type: layers.EthernetTypeIPv4}, ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 61, DstPort: 62}, payload),
			want{flow: true, key: key4(61, 62, 17, 11, 12), ipLen: 128, payload: 100, l4Hdr: 8, counter: -1, parityOK: true}},
		{"ipv6 tcp", kframe(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolTCP), tcpSYN(40002, 22)),
			want{flow: true, key: key6(40002, 22, 6), ipLen: 64, payload: 0, l4Hdr: 24, counter: -1, parityOK: true}},
		{"ipv6 icmpv6", kframe(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolICMPv6), &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}, gopacket.Payload([]byte{0, 1, 0, 1}), payload),
			want{flow: true, key: key6(0, 0, 58), ipLen: 148, payload: 100, l4Hdr: 8, counter: -1, parityOK: true}},
		{"ipv6 ipv4-mapped udp", kframe(t, eth(layers.EthernetTypeIPv6), ipMapped, &layers.UDP{SrcPort: 4000, DstPort: 4001}, payload),
			want{flow: true, key: key4(4000, 4001, 17, 0, 0), ipLen: 148, payload: 100, l4Hdr: 8, counter: -1, parityOK: true}},
		{"ipv6 ext chain udp", kframe(t, eth(layers.EthernetTypeIPv6), ipShort, gopacket.Payload(shortChain)),
			want{flow: true, key: key6(5000, 6000, 17), ipLen: 66, payload: 2, l4Hdr: 8, counter: -1, parityOK: true}},
		{"ipv6 ext chain over limit", kframe(t, eth(layers.EthernetTypeIPv6), ipLong, gopacket.Payload(append(longChain, udpRaw(1, 2, nil)...))),
			want{counter: kcntExtLimit}},
		{"ipv4 dns query", kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 33333, DstPort: 53}, gopacket.Payload(dnsQuery)),
			want{flow: true, key: key4(33333, 53, 17, 0, 0), ipLen: uint32(28 + len(dnsQuery)), payload: uint32(len(dnsQuery)), l4Hdr: 8, counter: -1, dnsSnip: dnsQuery, parityOK: true}},
		{"ipv4 first fragment", kframe(t, eth(layers.EthernetTypeIPv4), ipv4Frag(layers.IPProtocolUDP, layers.IPv4MoreFragments, 0, 900), gopacket.Payload(frag1)),
			want{flow: true, key: key4(7000, 53, 17, 0, 0), ipLen: 44, payload: 16, l4Hdr: 8, counter: kcntFragments, parityOK: false}},
		{"ipv4 later fragment", kframe(t, eth(layers.EthernetTypeIPv4), ipv4Frag(layers.IPProtocolUDP, 0, 3, 900), gopacket.Payload(bytes.Repeat([]byte{9}, 20))),
			want{flow: true, key: key4(7000, 53, 17, 0, 0), ipLen: 40, payload: 20, l4Hdr: 0, counter: kcntFragments, parityOK: false}},
		{"ipv4 orphan later fragment", kframe(t, eth(layers.EthernetTypeIPv4), ipv4Frag(layers.IPProtocolUDP, 0, 3, 901), gopacket.Payload(bytes.Repeat([]byte{9}, 20))),
			want{flow: true, key: key4(0, 0, 17, 0, 0), ipLen: 40, payload: 20, l4Hdr: 0, counter: kcntFragNoFirst, parityOK: true}},
		{"ipv6 first fragment", kframe(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolIPv6Fragment), gopacket.Payload(frag6First)),
			want{flow: true, key: key6(7100, 7200, 17), ipLen: 80, payload: 24, l4Hdr: 8, counter: kcntFragments, parityOK: false}},
		{"ipv6 later fragment", kframe(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolIPv6Fragment), gopacket.Payload(frag6Later)),
			want{flow: true, key: key6(7100, 7200, 17), ipLen: 64, payload: 16, l4Hdr: 0, counter: kcntFragments, parityOK: false}},
		{"ipv6 first fragment, dest opts after", kframe(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolIPv6Fragment), gopacket.Payload(frag6OptsFirst)),
			want{flow: true, key: key6(7300, 7400, 17), ipLen: 88, payload: 24, l4Hdr: 8, counter: kcntFragments, parityOK: false}},
		{"ipv6 later fragment, dest opts after", kframe(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolIPv6Fragment), gopacket.Payload(frag6OptsLater)),
			want{flow: true, key: key6(7300, 7400, 17), ipLen: 64, payload: 16, l4Hdr: 0, counter: kcntFragments, parityOK: false}},
		{"truncated tcp header", truncTCP, want{counter: kcntParseError}},
		{"bogus ihl 3", bogusIHL, want{counter: kcntParseError}},
		{"ihl beyond frame", bigIHL, want{counter: kcntParseError}},
		{"ethernet only ipv4", kframe(t, eth(layers.EthernetTypeIPv4)), want{counter: kcntParseError}},
		{"truncated ipv6", kframe(t, eth(layers.EthernetTypeIPv6), gopacket.Payload(make([]byte, 20))), want{counter: kcntParseError}},
		{"truncated vlan", kframe(t, eth(layers.EthernetTypeDot1Q), gopacket.Payload([]byte{0}))[:16], want{counter: kcntParseError}},
		{"pppoe ipv4 udp", shim(udp4, 0x8864, pppoe(0x0021, 128)),
			want{flow: true, key: key4(7001, 7002, 17, 0, 0), ipLen: 128, payload: 100, l4Hdr: 8, counter: -1, parityOK: true}},
		{"pppoe ipv6 tcp", shim(tcp6, 0x8864, pppoe(0x0057, 64)),
			want{flow: true, key: key6(40003, 8080, 6), ipLen: 64, payload: 0, l4Hdr: 24, counter: -1, parityOK: true}},
		{"pppoe lcp is non-ip", shim(udp4, 0x8864, pppoe(0xc021, 128)), want{counter: kcntNonIP}},
		{"pppoe cut short", shim(udp4, 0x8864, nil)[:14+6], want{counter: kcntParseError}},
		{"mpls two labels ipv4 udp", shim(udp4, 0x8847, mplsStack(2)),
			want{flow: true, key: key4(7001, 7002, 17, 0, 0), ipLen: 128, payload: 100, l4Hdr: 8, counter: -1, parityOK: true}},
		{"mpls multicast ipv6 tcp", shim(tcp6, 0x8848, mplsStack(1)),
			want{flow: true, key: key6(40003, 8080, 6), ipLen: 64, payload: 0, l4Hdr: 24, counter: -1, parityOK: true}},
		{"mpls eight labels ipv4 udp", shim(udp4, 0x8847, mplsStack(8)),
			want{flow: true, key: key4(7001, 7002, 17, 0, 0), ipLen: 128, payload: 100, l4Hdr: 8, counter: -1, parityOK: true}},
		{"mpls nine labels is non-ip", shim(udp4, 0x8847, mplsStack(9)), want{counter: kcntNonIP}},
		{"mpls payload neither ipv4 nor ipv6", append(shim(udp4, 0x8847, mplsStack(1))[:18:18], 0x00, 0x01), want{counter: kcntParseError}},
		{"mpls stack cut short", shim(udp4, 0x8847, mplsStack(2))[:14+6], want{counter: kcntParseError}},
		{"vlan mpls udp", kframe(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 42, Type: layers.EthernetTypeMPLSUnicast},
			gopacket.Payload(mplsStack(1)), ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 7001, DstPort: 7002}, payload),
			want{flow: true, key: key4(7001, 7002, 17, 42, 0), ipLen: 128, payload: 100, l4Hdr: 8, counter: -1, parityOK: true}},
		{"llc snap ipv4 udp", shim(udp4, 8+128, []byte{0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00}),
			want{flow: true, key: key4(7001, 7002, 17, 0, 0), ipLen: 128, payload: 100, l4Hdr: 8, counter: -1, parityOK: true}},
		{"llc stp is non-ip", shim(udp4, 3+35, []byte{0x42, 0x42, 0x03})[:14+38], want{counter: kcntNonIP}},
		{"arp", kframe(t, eth(layers.EthernetTypeARP), &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: 1, SourceHwAddress: macA, SourceProtAddress: v4a, DstHwAddress: macB, DstProtAddress: v4b}), want{counter: kcntNonIP}},
	}
}

// TestKey4 checks the IPv4 flow map's short key: 20 bytes, addresses in
// network byte order, widened to the canonical key and back unchanged, and
// only keys whose two addresses are IPv4-mapped narrow to it.
func TestKey4(t *testing.T) {
	if n := unsafe.Sizeof(bpf.FlowhawkFlowKey4{}); n != 20 {
		t.Fatalf("flow_key4 is %d bytes, want 20", n)
	}
	wide := key4(40000, 80, 6, 100, 200)
	wide.SetTunnelID(0x0a0b0c)
	k := *(*bpf.FlowhawkFlowKey)(unsafe.Pointer(&wide))
	k4, ok := narrow4(&k)
	if !ok {
		t.Fatalf("%v: not narrowed", wide)
	}
	var raw [4]byte
	*(*uint32)(unsafe.Pointer(&raw)) = k4.AddrLo
	if netip.AddrFrom4(raw) != netip.MustParseAddr("10.199.0.1") || k4.PortLo != 40000 || k4.PortHi != 80 ||
		k4.VlanOuter != 100 || k4.VlanInner != 200 || k4.Proto != 6 || k4.Tunnel != [3]uint8{0x0a, 0x0b, 0x0c} {
		t.Errorf("short key %+v (lo %v) does not match %v", k4, netip.AddrFrom4(raw), wide)
	}
	var back bpf.FlowhawkFlowKey
	back.Tunnel = [3]uint8{1, 2, 3} // widen4 must overwrite it
	widen4(&back, &k4)
	if keyOf(&back) != wide {
		t.Errorf("widened %v, want %v", keyOf(&back), wide)
	}
	v6 := key6(1, 2, 17)
	if _, ok := narrow4((*bpf.FlowhawkFlowKey)(unsafe.Pointer(&v6))); ok {
		t.Errorf("%v narrowed, want it kept in flows", v6)
	}
	a, b := Addr16(netip.MustParseAddr("10.0.0.1")), Addr16(netip.MustParseAddr("fd00::1"))
	mixed, _ := MakeKey(&a, &b, 1, 2, 17, 0, 0)
	if _, ok := narrow4((*bpf.FlowhawkFlowKey)(unsafe.Pointer(&mixed))); ok {
		t.Errorf("%v narrowed, want it kept in flows", mixed)
	}
}

// TestKernelProgRun runs every crafted frame through the three programs with
// BPF_PROG_TEST_RUN and checks the verdict (always pass), the flow map
// entry, the counters, and parity with the Go decoder of the pcap path.
func TestKernelProgRun(t *testing.T) {
	s := loadTestKernel(t, KernelConfig{MaxFlows: 1024, RingSize: 1 << 16})
	progs := []struct {
		name string
		prog *ebpf.Program
		pass uint32
	}{{"xdp", s.objs.FlowhawkXdp, 2 /* XDP_PASS */}, {"tc", s.objs.FlowhawkTc, 0xffffffff /* TC_ACT_UNSPEC: the next filter decides */},
		{"tc-ingress", s.objs.FlowhawkTcIngress, 0xffffffff}}
	for _, pr := range progs {
		// Fragments depend on the cache filled by the previous case, so the
		// map is cleared once per program, not per case.
		s.iterate(true, func(*bpf.FlowhawkFlowKey, *bpf.FlowhawkFlowValue) {})
		s.objs.Frags.Update(&bpf.FlowhawkFragKey{}, &bpf.FlowhawkFragPorts{}, ebpf.UpdateAny) // touch: map exists
		fragIter := s.objs.Frags.Iterate()
		var fk bpf.FlowhawkFragKey
		var fv bpf.FlowhawkFragPorts
		var fks []bpf.FlowhawkFragKey
		for fragIter.Next(&fk, &fv) {
			fks = append(fks, fk)
		}
		for i := range fks {
			s.objs.Frags.Delete(&fks[i])
		}
		for _, c := range kernelCases(t) {
			t.Run(pr.name+"/"+c.name, func(t *testing.T) {
				before := s.rawCounters()
				var seen map[Key]bpf.FlowhawkFlowValue
				if c.want.flow {
					seen = s.snapshot()
				}
				ret, err := pr.prog.Run(&ebpf.RunOptions{Data: c.frame})
				if err != nil {
					t.Fatalf("prog run: %v", err)
				}
				if ret != pr.pass {
					t.Fatalf("verdict %d, want %d (pass)", ret, pr.pass)
				}
				after := s.rawCounters()
				if after[kcntPackets]-before[kcntPackets] != 1 {
					t.Errorf("packets counter grew by %d, want 1", after[kcntPackets]-before[kcntPackets])
				}
				if c.want.counter >= 0 && after[c.want.counter]-before[c.want.counter] != 1 {
					t.Errorf("counter %d grew by %d, want 1", c.want.counter, after[c.want.counter]-before[c.want.counter])
				}
				var pkts []Packet
				var snips [][]byte
				s.readEvents(time.Now(), func(*Flow) {}, func(p *Packet) {
					pkts = append(pkts, *p)
					snips = append(snips, bytes.Clone(p.Payload))
				})
				if !c.want.flow {
					if accounted(&after) != accounted(&before) {
						t.Errorf("packet accounted to a flow, want not")
					}
					return
				}
				var v bpf.FlowhawkFlowValue
				kk := *(*bpf.FlowhawkFlowKey)(unsafe.Pointer(&c.want.key))
				if err := s.lookupFlow(&kk, &v, false); err != nil {
					t.Fatalf("flow %v not in map: %v (map holds %v)", c.want.key, err, mapKeys(s.snapshot()))
				}
				prev := seen[c.want.key]
				d := v.Dir[0]
				pd := prev.Dir[0]
				if d.Packets-pd.Packets != 1 || d.Bytes-pd.Bytes != uint64(c.want.ipLen) ||
					d.PayloadBytes-pd.PayloadBytes != uint64(c.want.payload) || d.L4HdrBytes-pd.L4HdrBytes != uint64(c.want.l4Hdr) {
					t.Errorf("lo side grew by packets %d bytes %d payload %d l4 %d, want 1 %d %d %d",
						d.Packets-pd.Packets, d.Bytes-pd.Bytes, d.PayloadBytes-pd.PayloadBytes, d.L4HdrBytes-pd.L4HdrBytes,
						c.want.ipLen, c.want.payload, c.want.l4Hdr)
				}
				if v.Dir[1].Packets != prev.Dir[1].Packets {
					t.Errorf("hi side counted a packet sent by lo")
				}
				if len(pkts) != 1 {
					t.Fatalf("%d ring-buffer packets, want 1 (first packet of the flow or DNS)", len(pkts))
				}
				if pkts[0].Key != c.want.key || pkts[0].IPLen != c.want.ipLen || !pkts[0].SrcIsLo {
					t.Errorf("sample %v len %d lo %v, want %v %d true", pkts[0].Key, pkts[0].IPLen, pkts[0].SrcIsLo, c.want.key, c.want.ipLen)
				}
				if prev.Dir[0].Packets+prev.Dir[1].Packets == 0 && (v.IcmpType != pkts[0].ICMPType || v.IcmpCode != pkts[0].ICMPCode) {
					t.Errorf("new entry keeps ICMP type/code %d/%d, want its first packet's %d/%d", v.IcmpType, v.IcmpCode, pkts[0].ICMPType, pkts[0].ICMPCode)
				}
				if c.want.dnsSnip != nil && !bytes.Equal(snips[0], c.want.dnsSnip) {
					t.Errorf("dns snippet %x, want %x", snips[0], c.want.dnsSnip)
				}
				if c.want.parityOK {
					var p Packet
					dec := NewDecoder(DecoderOptions{})
					if r := dec.Decode(&p, c.frame, 1, 0, uint32(len(c.frame))); r != ResultIP {
						t.Fatalf("go decoder: result %v", r)
					}
					k := pkts[0]
					if p.Key != k.Key || p.IPLen != k.IPLen || p.IPHeaderLen != k.IPHeaderLen || p.L4HeaderLen != k.L4HeaderLen ||
						p.PayloadLen != k.PayloadLen || p.TCPFlags != k.TCPFlags || p.SrcIsLo != k.SrcIsLo || p.WrongFragment != k.WrongFragment {
						t.Errorf("parity with the pcap decoder:\n go     %v len %d/%d/%d/%d flags %x lo %v\n kernel %v len %d/%d/%d/%d flags %x lo %v",
							p.Key, p.IPLen, p.IPHeaderLen, p.L4HeaderLen, p.PayloadLen, p.TCPFlags, p.SrcIsLo,
							k.Key, k.IPLen, k.IPHeaderLen, k.L4HeaderLen, k.PayloadLen, k.TCPFlags, k.SrcIsLo)
					}
				}
			})
		}
	}
}

func (s *KernelSource) rawCounters() [kcntMax]uint64 {
	var c [kcntMax]uint64
	for i := range c {
		var per []uint64
		if err := s.objs.Counters.Lookup(uint32(i), &per); err == nil {
			for _, v := range per {
				c[i] += v
			}
		}
	}
	return c
}

func (s *KernelSource) snapshot() map[Key]bpf.FlowhawkFlowValue {
	m := map[Key]bpf.FlowhawkFlowValue{}
	s.iterate(false, func(k *bpf.FlowhawkFlowKey, v *bpf.FlowhawkFlowValue) { m[keyOf(k)] = *v })
	return m
}

func mapKeys(m map[Key]bpf.FlowhawkFlowValue) []string {
	var out []string
	for k := range m {
		out = append(out, k.String())
	}
	return out
}

// TestProgramsFor checks which programs OpenKernel loads: what it can
// attach or tail-call, never the no-op ones.
func TestProgramsFor(t *testing.T) {
	lo := &net.Interface{Name: "lo", Flags: net.FlagLoopback}
	nic := &net.Interface{Name: "flowhawk-no-such-if0"} // no driver known: may take XDP
	names := func(m map[string]bool) string {
		var out []string
		for n, ok := range m {
			if ok {
				out = append(out, n)
			}
		}
		slices.Sort(out)
		return strings.Join(out, " ")
	}
	for _, c := range []struct {
		cfg    KernelConfig
		ifaces []*net.Interface
		want   string
	}{
		{KernelConfig{Ingress: "tc", XDPMode: "auto"}, []*net.Interface{nic}, "flowhawk_tc flowhawk_tc_ingress flowhawk_tc_pulled"},
		{KernelConfig{Ingress: "xdp", XDPMode: "auto"}, []*net.Interface{nic}, "flowhawk_tc flowhawk_tc_pulled flowhawk_xdp"},
		{KernelConfig{Ingress: "auto", XDPMode: "auto"}, []*net.Interface{lo}, "flowhawk_tc flowhawk_tc_ingress flowhawk_tc_pulled"},
		{KernelConfig{Ingress: "auto", XDPMode: "auto"}, []*net.Interface{lo, nic}, "flowhawk_tc flowhawk_tc_ingress flowhawk_tc_pulled flowhawk_xdp"},
		{KernelConfig{Ingress: "auto", XDPMode: "generic"}, []*net.Interface{lo}, "flowhawk_tc flowhawk_tc_pulled flowhawk_xdp"},
		{KernelConfig{Ingress: "xdp", XDPMode: "auto", Decap: true}, []*net.Interface{nic},
			"flowhawk_tc flowhawk_tc_inner flowhawk_tc_inner_pulled flowhawk_tc_pulled flowhawk_xdp flowhawk_xdp_inner"},
		{KernelConfig{Ingress: "tc", XDPMode: "auto", Decap: true}, []*net.Interface{nic},
			"flowhawk_tc flowhawk_tc_ingress flowhawk_tc_inner flowhawk_tc_inner_pulled flowhawk_tc_pulled"},
	} {
		if got := names(programsFor(c.cfg, c.ifaces)); got != c.want {
			t.Errorf("%+v on %d interfaces: %s, want %s", c.cfg, len(c.ifaces), got, c.want)
		}
	}
}

// TestCounterIndexes checks that the Go counter indexes end where the C
// enum does: the counters map has one slot per CNT_* value.
func TestCounterIndexes(t *testing.T) {
	spec, err := bpf.LoadFlowhawk()
	if err != nil {
		t.Fatal(err)
	}
	if n := spec.Maps[bpf.FlowhawkMapCounters].MaxEntries; n != kcntMax {
		t.Errorf("counters map has %d slots (CNT_MAX), Go knows %d (kcntMax)", n, kcntMax)
	}
}

// TestIterateLeavesNoGoroutine walks the flow maps many times and checks
// no batch goroutine outlives its walk. The goroutine read its last
// batch's error after handing the batch over; by then the next walk's
// goroutine could have refilled that batch without an error, and the old
// one went on waiting on its walk's channel for good: a goroutine leaked
// now and then on every map scan of a long capture (and go test -race
// reported the read).
func TestIterateLeavesNoGoroutine(t *testing.T) {
	s := loadTestKernel(t, KernelConfig{MaxFlows: 1024})
	fillFlows(t, s, 300) // more than one batch in flows4
	before := runtime.NumGoroutine()
	for range 20000 {
		if err := s.iterate(false, func(*bpf.FlowhawkFlowKey, *bpf.FlowhawkFlowValue) {}); err != nil {
			t.Fatal(err)
		}
	}
	// A walk's goroutine may still be between its last send and its
	// return: let them finish.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine() - before; n > 0 {
		t.Errorf("%d goroutines left after 20,000 walks of the flow maps", n)
	}
}
