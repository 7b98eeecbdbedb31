//go:build linux

package collector

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/flowhawk/flowhawk/bpf"
)

// Inner (tunneled) endpoints, distinct from the outer ones (v4a, v4b, v6a, v6b).
var (
	in4a = net.IP{192, 168, 7, 1}
	in4b = net.IP{192, 168, 7, 2}
	in6a = net.ParseIP("fd07::1")
	in6b = net.ParseIP("fd07::2")
)

func mkKey(src, dst string, sport, dport uint16, proto uint8, vo, vi uint16) Key {
	a, b := Addr16(netip.MustParseAddr(src)), Addr16(netip.MustParseAddr(dst))
	k, _ := MakeKey(&a, &b, sport, dport, proto, vo, vi)
	return k
}

// tun is k with tunnel ID id.
func tun(k Key, id uint32) Key {
	k.SetTunnelID(id)
	return k
}

// TestDecapTenantsApart checks that the same inner conversation in two
// VXLAN segments (VNI 7 and 8), and the same over GRE with two NVGRE
// VSIDs, is two flows: the key keeps the tunnel's tenant.
func TestDecapTenantsApart(t *testing.T) {
	inner := kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcpSYN(40000, 80))
	vxlan := func(vni uint32) []byte {
		return kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 50000, DstPort: 4789},
			gopacket.Payload(append(vxlanHdr(0x08, vni), inner...)))
	}
	nvgre := func(vsid uint32) []byte {
		return kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolGRE), gopacket.Payload(append(
			[]byte{0x20, 0, 0x65, 0x58, byte(vsid >> 16), byte(vsid >> 8), byte(vsid), 0x99}, inner...)))
	}
	for _, c := range []struct {
		name string
		a, b []byte
		ida  uint32
		idb  uint32
	}{{"vxlan", vxlan(7), vxlan(8), 7, 8}, {"nvgre", nvgre(0x10001), nvgre(0x10002), 0x10001, 0x10002}} {
		var pa, pb Packet
		d := NewDecoder(DecoderOptions{Decap: true})
		if d.Decode(&pa, c.a, LinkEthernet, 0, uint32(len(c.a))) != ResultIP || d.Decode(&pb, c.b, LinkEthernet, 0, uint32(len(c.b))) != ResultIP {
			t.Fatalf("%s: not decoded as IP", c.name)
		}
		if pa.Key == pb.Key || pa.Key.TunnelID() != c.ida || pb.Key.TunnelID() != c.idb {
			t.Errorf("%s: keys %v and %v, want tunnels %d and %d", c.name, pa.Key, pb.Key, c.ida, c.idb)
		}
		pb.Key.Tunnel = pa.Key.Tunnel
		if pa.Key != pb.Key {
			t.Errorf("%s: keys differ beyond the tunnel: %v, %v", c.name, pa.Key, pb.Key)
		}
	}
}

// greHdr is a GRE header with flags (checksum, key, sequence bits and
// version) carrying Ethertype et; each flag bit present adds 4 bytes.
func greHdr(flags, et uint16) []byte {
	b := []byte{byte(flags >> 8), byte(flags), byte(et >> 8), byte(et)}
	for _, bit := range []uint16{greCsum, greKey, greSeq} {
		if flags&bit != 0 {
			b = append(b, 0, 0, 0x12, 0x34)
		}
	}
	return b
}

func vxlanHdr(flags byte, vni uint32) []byte {
	return []byte{flags, 0, 0, 0, byte(vni >> 16), byte(vni >> 8), byte(vni), 0}
}

// geneveHdr is a GENEVE header with optWords 4-byte words of options.
func geneveHdr(optWords int, et uint16) []byte {
	b := []byte{byte(optWords), 0, byte(et >> 8), byte(et), 0, 0, 5, 0}
	return append(b, make([]byte, optWords*4)...)
}

type decapCase struct {
	name  string
	frame []byte
	// unwrapped: the tunnel header is recognized (the decap counter grows).
	unwrapped bool
	// flow: the packet is accounted to key with ipLen (else counter grows:
	// non-IP or parse error).
	flow    bool
	key     Key
	ipLen   uint32
	counter int
}

func decapCases(t testing.TB) []decapCase {
	in4 := func(proto layers.IPProtocol) *layers.IPv4 {
		return &layers.IPv4{Version: 4, IHL: 5, TTL: 63, Protocol: proto, SrcIP: in4a, DstIP: in4b, Id: 9}
	}
	in6 := func(next layers.IPProtocol) *layers.IPv6 {
		return &layers.IPv6{Version: 6, HopLimit: 63, NextHeader: next, SrcIP: in6a, DstIP: in6b}
	}
	payload := gopacket.Payload(bytes.Repeat([]byte{0xcd}, 60))
	innerTCP := kframe(t, in4(layers.IPProtocolTCP), tcpSYN(40000, 80))                                 // 44 bytes
	innerUDP6 := kframe(t, in6(layers.IPProtocolUDP), &layers.UDP{SrcPort: 5353, DstPort: 53}, payload) // 108 bytes
	innerEthTCP := kframe(t, eth(layers.EthernetTypeIPv4), in4(layers.IPProtocolTCP), tcpSYN(40000, 80))
	innerEthVLAN := kframe(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 7, Type: layers.EthernetTypeIPv4},
		in4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 1000, DstPort: 2000}, payload) // IP 88 bytes
	innerARP := kframe(t, eth(layers.EthernetTypeARP), &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
		HwAddressSize: 6, ProtAddressSize: 4, Operation: 1, SourceHwAddress: macA, SourceProtAddress: in4a,
		DstHwAddress: make([]byte, 6), DstProtAddress: in4b})
	innerIPIP := kframe(t, eth(layers.EthernetTypeIPv4), in4(layers.IPProtocolIPv4), gopacket.Payload(
		kframe(t, ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 1, DstPort: 2}, payload)))
	tcpKey := mkKey("192.168.7.1", "192.168.7.2", 40000, 80, 6, 0, 0)
	udp6Key := mkKey("fd07::1", "fd07::2", 5353, 53, 17, 0, 0)
	outerFrag := ip4(layers.IPProtocolGRE)
	outerFrag.Flags = layers.IPv4MoreFragments
	return []decapCase{
		{"ipip tcp", kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolIPv4), gopacket.Payload(innerTCP)),
			true, true, tcpKey, 44, -1},
		{"ipv6 in ipv4 udp", kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolIPv6), gopacket.Payload(innerUDP6)),
			true, true, udp6Key, 108, -1},
		{"gre key seq ipv4", kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolGRE),
			gopacket.Payload(append(greHdr(greKey|greSeq, etIPv4), innerTCP...))), true, true, tun(tcpKey, 0x12), 44, -1},
		{"nvgre vsid after a checksum", kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolGRE),
			gopacket.Payload(append([]byte{0xa0, 0, 0x65, 0x58, 0xde, 0xad, 0, 0, 0x00, 0xab, 0xcd, 0x01}, innerEthTCP...))),
			true, true, tun(tcpKey, 0xabcd), 44, -1},
		{"gre over ipv6 csum ipv6", kframe(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolGRE),
			gopacket.Payload(append(greHdr(greCsum, etIPv6), innerUDP6...))), true, true, udp6Key, 108, -1},
		{"gre teb inner vlan keeps outer tags", kframe(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 42, Type: layers.EthernetTypeIPv4},
			ip4(layers.IPProtocolGRE), gopacket.Payload(append(greHdr(0, etTEB), innerEthVLAN...))),
			true, true, mkKey("192.168.7.1", "192.168.7.2", 1000, 2000, 17, 42, 0), 88, -1},
		{"vxlan on qinq", kframe(t, eth(layers.EthernetTypeQinQ), &layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: 200, Type: layers.EthernetTypeIPv4}, ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 50000, DstPort: 4789},
			gopacket.Payload(append(vxlanHdr(0x08, 5001), innerEthTCP...))),
			true, true, tun(mkKey("192.168.7.1", "192.168.7.2", 40000, 80, 6, 100, 200), 5001), 44, -1},
		{"vxlan over ipv6", kframe(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolUDP), &layers.UDP{SrcPort: 50001, DstPort: 4789},
			gopacket.Payload(append(vxlanHdr(0x08, 1), innerEthTCP...))), true, true, tun(tcpKey, 1), 44, -1},
		{"geneve options ipv6", kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 50002, DstPort: 6081},
			gopacket.Payload(append(geneveHdr(2, etIPv6), innerUDP6...))), true, true, tun(udp6Key, 5), 108, -1},
		{"geneve ethernet", kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 50003, DstPort: 6081},
			gopacket.Payload(append(geneveHdr(0, etTEB), innerEthTCP...))), true, true, tun(tcpKey, 5), 44, -1},
		{"tunnel in a tunnel is the inner tunnel's flow", kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP),
			&layers.UDP{SrcPort: 50004, DstPort: 4789}, gopacket.Payload(append(vxlanHdr(0x08, 2), innerIPIP...))),
			true, true, tun(mkKey("192.168.7.1", "192.168.7.2", 0, 0, 4, 0, 0), 2), 20 + 20 + 8 + 60, kcntOtherL4},
		{"gre version 1 (pptp) stays outer", kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolGRE),
			gopacket.Payload(append([]byte{0x30, 0x81, 0x88, 0x0b, 0, 4, 0, 1, 0, 0, 0, 1}, 0xff, 0x03, 0, 0x21))),
			false, true, key4(0, 0, 47, 0, 0), 20 + 16, kcntOtherL4},
		{"gre routing stays outer", kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolGRE),
			gopacket.Payload(append(greHdr(greRouting, etIPv4), innerTCP...))), false, true, key4(0, 0, 47, 0, 0), 20 + 4 + 44, kcntOtherL4},
		{"gre mpls stays outer", kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolGRE),
			gopacket.Payload(append(greHdr(0, etMPLS), innerTCP...))), false, true, key4(0, 0, 47, 0, 0), 20 + 4 + 44, kcntOtherL4},
		{"vxlan without vni flag stays outer", kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 50005, DstPort: 4789},
			gopacket.Payload(append(vxlanHdr(0, 1), innerEthTCP...))), false, true, key4(50005, 4789, 17, 0, 0), 20 + 8 + 8 + 60, -1},
		{"geneve options beyond the packet stay outer", kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 50006, DstPort: 6081},
			gopacket.Payload(geneveHdr(4, etIPv4)[:8:8])), false, true, key4(50006, 6081, 17, 0, 0), 20 + 8 + 8, -1},
		{"outer first fragment stays outer", kframe(t, eth(layers.EthernetTypeIPv4), outerFrag,
			gopacket.Payload(append(greHdr(0, etIPv4), innerTCP...))), false, true, key4(0, 0, 47, 0, 0), 20 + 4 + 44, kcntFragments},
		{"vxlan inner mpls", kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 50008, DstPort: 4789},
			gopacket.Payload(append(vxlanHdr(0x08, 4), shim(innerEthTCP, 0x8847, mplsStack(2))...))), true, true, tun(tcpKey, 4), 44, -1},
		{"gre teb inner pppoe", kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolGRE),
			gopacket.Payload(append(greHdr(0, etTEB), shim(innerEthTCP, 0x8864, pppoe(0x0021, 44))...))), true, true, tcpKey, 44, -1},
		{"vxlan carrying arp is non-ip", kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 50007, DstPort: 4789},
			gopacket.Payload(append(vxlanHdr(0x08, 3), innerARP...))), true, false, Key{}, 0, kcntNonIP},
		{"gre inner ipv4 cut short is a parse error", kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolGRE),
			gopacket.Payload(append(greHdr(0, etIPv4), innerTCP[:12]...))), true, false, Key{}, 0, kcntParseError},
	}
}

// TestDecoderDecap checks the pcap path's tunnel decapsulation: the inner
// key with Decap, the outer one without (the default).
func TestDecoderDecap(t *testing.T) {
	for _, c := range decapCases(t) {
		t.Run(c.name, func(t *testing.T) {
			var p Packet
			d := NewDecoder(DecoderOptions{Decap: true})
			r := d.Decode(&p, c.frame, LinkEthernet, 0, uint32(len(c.frame)))
			if got := d.decapsulated == 1; got != c.unwrapped {
				t.Errorf("unwrapped %v, want %v", got, c.unwrapped)
			}
			if !c.flow {
				if r == ResultIP {
					t.Fatalf("decoded as %v, want no IP packet", p.Key)
				}
				return
			}
			if r != ResultIP || p.Key != c.key || p.IPLen != c.ipLen || !p.SrcIsLo {
				t.Fatalf("result %v key %v len %d lo %v, want IP %v %d true", r, p.Key, p.IPLen, p.SrcIsLo, c.key, c.ipLen)
			}
			var o Packet
			d0 := NewDecoder(DecoderOptions{})
			if r := d0.Decode(&o, c.frame, LinkEthernet, 0, uint32(len(c.frame))); r != ResultIP || d0.decapsulated != 0 {
				t.Fatalf("without decap: result %v, %d unwrapped", r, d0.decapsulated)
			}
			if c.unwrapped && o.Key == p.Key {
				t.Errorf("without decap the key is the inner one too")
			}
		})
	}
}

// TestKernelDecap runs the tunnel frames through the three programs loaded
// with decap: each is accounted where the pcap decoder with Decap puts
// it, with the same key and lengths, and the decap counter counts the
// unwrapped ones.
func TestKernelDecap(t *testing.T) {
	s := loadTestKernel(t, KernelConfig{MaxFlows: 1024, RingSize: 1 << 16, Decap: true})
	for _, pr := range []struct {
		name string
		prog *ebpf.Program
	}{{"xdp", s.objs.FlowhawkXdp}, {"tc", s.objs.FlowhawkTc}, {"tc-ingress", s.objs.FlowhawkTcIngress}} {
		s.iterate(true, func(*bpf.FlowhawkFlowKey, *bpf.FlowhawkFlowValue) {})
		for _, c := range decapCases(t) {
			t.Run(pr.name+"/"+c.name, func(t *testing.T) {
				before := s.rawCounters()
				if _, err := pr.prog.Run(&ebpf.RunOptions{Data: c.frame}); err != nil {
					t.Fatalf("prog run: %v", err)
				}
				after := s.rawCounters()
				unwrapped := after[kcntDecap]-before[kcntDecap] == 1
				if unwrapped != c.unwrapped {
					t.Errorf("decap counter grew by %d, want unwrapped %v", after[kcntDecap]-before[kcntDecap], c.unwrapped)
				}
				if c.counter >= 0 && after[c.counter]-before[c.counter] != 1 {
					t.Errorf("counter %d grew by %d, want 1", c.counter, after[c.counter]-before[c.counter])
				}
				var pkts []Packet
				s.readEvents(time.Now(), func(*Flow) {}, func(p *Packet) { pkts = append(pkts, *p) })
				if !c.flow {
					if accounted(&after) != accounted(&before) || len(pkts) != 0 {
						t.Errorf("accounted to a flow (%d samples), want not", len(pkts))
					}
					return
				}
				if len(pkts) != 1 {
					t.Fatalf("%d samples, want 1", len(pkts))
				}
				var p Packet
				if r := NewDecoder(DecoderOptions{Decap: true}).Decode(&p, c.frame, LinkEthernet, 0, uint32(len(c.frame))); r != ResultIP {
					t.Fatalf("go decoder: result %v", r)
				}
				k := pkts[0]
				if k.Key != c.key || k.IPLen != c.ipLen {
					t.Errorf("kernel key %v len %d, want %v %d", k.Key, k.IPLen, c.key, c.ipLen)
				}
				if p.Key != k.Key || p.SrcIsLo != k.SrcIsLo || p.IPLen != k.IPLen || p.IPHeaderLen != k.IPHeaderLen ||
					p.L4HeaderLen != k.L4HeaderLen || p.PayloadLen != k.PayloadLen || p.TCPFlags != k.TCPFlags || p.TTL != k.TTL {
					t.Errorf("parity with the pcap decoder:\n go     %v lo %v len %d/%d/%d/%d ttl %d\n kernel %v lo %v len %d/%d/%d/%d ttl %d",
						p.Key, p.SrcIsLo, p.IPLen, p.IPHeaderLen, p.L4HeaderLen, p.PayloadLen, p.TTL,
						k.Key, k.SrcIsLo, k.IPLen, k.IPHeaderLen, k.L4HeaderLen, k.PayloadLen, k.TTL)
				}
			})
		}
	}
}

// FuzzKernelDecap is FuzzKernelParser with decapsulation on in both paths,
// seeded with the tunnel frames.
func FuzzKernelDecap(f *testing.F) {
	for _, c := range decapCases(f) {
		f.Add(c.frame)
	}
	fuzzKernelParity(f, true)
}

// tenantFragments is a sequence of IP fragments of two tenants that reuse
// the same addresses and IP ID: VLAN 10 and 20, then VXLAN VNI 7 and 8.
// Each tenant's first fragment comes before both later ones, so a
// fragment cache keyed without the tenant gives a later fragment the
// other tenant's ports. want is each frame's key.
func tenantFragments(t testing.TB) (frames [][]byte, want []Key) {
	first := func(sport uint16) gopacket.Payload {
		return gopacket.Payload(append(udpRaw(sport, 9000, bytes.Repeat([]byte{1}, 16))[:8:8], bytes.Repeat([]byte{1}, 16)...))
	}
	later := gopacket.Payload(bytes.Repeat([]byte{9}, 20))
	vlan := func(id uint16, flags layers.IPv4Flag, off uint16, p gopacket.Payload) []byte {
		return kframe(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: id, Type: layers.EthernetTypeIPv4},
			ipv4Frag(layers.IPProtocolUDP, flags, off, 950), p)
	}
	vxlan := func(vni uint32, flags layers.IPv4Flag, off uint16, p gopacket.Payload) []byte {
		inner := kframe(t, eth(layers.EthernetTypeIPv4), ipv4Frag(layers.IPProtocolUDP, flags, off, 951), p)
		return kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 50000, DstPort: 4789},
			gopacket.Payload(append(vxlanHdr(0x08, vni), inner...)))
	}
	frames = [][]byte{
		vlan(10, layers.IPv4MoreFragments, 0, first(7300)), vlan(20, layers.IPv4MoreFragments, 0, first(7400)),
		vlan(10, 0, 3, later), vlan(20, 0, 3, later),
		vxlan(7, layers.IPv4MoreFragments, 0, first(7500)), vxlan(8, layers.IPv4MoreFragments, 0, first(7600)),
		vxlan(7, 0, 3, later), vxlan(8, 0, 3, later),
	}
	v10, v20 := key4(7300, 9000, 17, 10, 0), key4(7400, 9000, 17, 20, 0)
	n7, n8 := tun(key4(7500, 9000, 17, 0, 0), 7), tun(key4(7600, 9000, 17, 0, 0), 8)
	return frames, []Key{v10, v20, v10, v20, n7, n8, n7, n8}
}

// TestFragmentsKeepTenants checks that both paths keep one tenant's
// fragments apart from another's: the fragment caches are keyed by the
// VLAN tags and tunnel ID as flows are.
func TestFragmentsKeepTenants(t *testing.T) {
	frames, want := tenantFragments(t)
	d := NewDecoder(DecoderOptions{Decap: true})
	for i, f := range frames {
		var p Packet
		if r := d.Decode(&p, f, LinkEthernet, int64(i), uint32(len(f))); r != ResultIP || p.Key != want[i] {
			t.Errorf("go decoder, frame %d: result %v key %v, want %v", i, r, p.Key, want[i])
		}
	}
	if t.Failed() {
		return
	}
	s := loadTestKernel(t, KernelConfig{MaxFlows: 1024, RingSize: 1 << 16, Decap: true})
	for _, pr := range []struct {
		name string
		prog *ebpf.Program
	}{{"xdp", s.objs.FlowhawkXdp}, {"tc", s.objs.FlowhawkTc}, {"tc-ingress", s.objs.FlowhawkTcIngress}} {
		for i, f := range frames {
			if _, err := pr.prog.Run(&ebpf.RunOptions{Data: f}); err != nil {
				t.Fatalf("%s: prog run: %v", pr.name, err)
			}
			var pkts []Packet
			s.readEvents(time.Now(), func(*Flow) {}, func(p *Packet) { pkts = append(pkts, *p) })
			if len(pkts) != 1 || pkts[0].Key != want[i] {
				var got []Key
				for _, p := range pkts {
					got = append(got, p.Key)
				}
				t.Errorf("%s, frame %d: sampled keys %v, want %v", pr.name, i, got, want[i])
			}
		}
	}
}
