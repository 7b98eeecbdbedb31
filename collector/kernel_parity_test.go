//go:build linux

package collector

import (
	"bytes"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/flowhawk/flowhawk/bpf"
)

// runParity runs frames in order through prog and through one decoder
// (decap as given) and reports, for each frame, the decoder's result and
// packet and the kernel's samples.
func runParity(t *testing.T, s *KernelSource, prog *ebpf.Program, decap bool, frames [][]byte) (res []Result, gp []Packet, kp [][]Packet) {
	t.Helper()
	d := NewDecoder(DecoderOptions{Decap: decap})
	for i, fr := range frames {
		if _, err := prog.Run(&ebpf.RunOptions{Data: fr}); err != nil {
			t.Fatalf("frame %d: prog run: %v", i, err)
		}
		var pk []Packet
		s.readEvents(time.Now(), func(*Flow) {}, func(p *Packet) { pk = append(pk, *p) })
		var p Packet
		r := d.Decode(&p, fr, LinkEthernet, int64(i), uint32(len(fr)))
		res, gp, kp = append(res, r), append(gp, p), append(kp, pk)
	}
	return
}

// xdpAndTC runs fn as a subtest (prefix + "xdp", prefix + "tc") with each
// program, the flow maps emptied first.
func xdpAndTC(t *testing.T, s *KernelSource, prefix string, fn func(t *testing.T, prog *ebpf.Program)) {
	for _, pr := range []struct {
		name string
		prog *ebpf.Program
	}{{"xdp", s.objs.FlowhawkXdp}, {"tc", s.objs.FlowhawkTc}} {
		t.Run(prefix+pr.name, func(t *testing.T) {
			s.iterate(true, func(*bpf.FlowhawkFlowKey, *bpf.FlowhawkFlowValue) {})
			fn(t, pr.prog)
		})
	}
}

// TestKernelTeardropWrongFragment: a later IPv4 fragment that starts
// inside its first fragment's data (teardrop) is a wrong fragment for the
// pcap decoder (decode.go, transport); the kernel must flag it too.
func TestKernelTeardropWrongFragment(t *testing.T) {
	s := loadTestKernel(t, KernelConfig{MaxFlows: 64, RingSize: 1 << 16})
	// First fragment: UDP header + 32 bytes (40 bytes of data, MF).
	first := kframe(t, eth(layers.EthernetTypeIPv4), ipv4Frag(layers.IPProtocolUDP, layers.IPv4MoreFragments, 0, 4242),
		gopacket.Payload(append(udpRaw(7000, 7001, nil)[:8:8], bytes.Repeat([]byte{1}, 32)...)))
	// Later fragment at offset 8 (inside the first's 40 bytes), last.
	later := kframe(t, eth(layers.EthernetTypeIPv4), ipv4Frag(layers.IPProtocolUDP, 0, 1, 4242),
		gopacket.Payload(bytes.Repeat([]byte{2}, 40)))
	xdpAndTC(t, s, "", func(t *testing.T, prog *ebpf.Program) {
		res, gp, kp := runParity(t, s, prog, false, [][]byte{first, later})
		if res[1] != ResultIP || !gp[1].WrongFragment || gp[1].Key != key4(7000, 7001, 17, 0, 0) {
			t.Fatalf("decoder: %v wrong %v key %v", res[1], gp[1].WrongFragment, gp[1].Key)
		}
		if len(kp[1]) != 1 {
			t.Fatalf("kernel: %d samples for the later fragment", len(kp[1]))
		}
		var wrong uint32
		s.iterate(false, func(_ *bpf.FlowhawkFlowKey, v *bpf.FlowhawkFlowValue) { wrong += v.WrongFrags })
		if kp[1][0].Key != gp[1].Key || kp[1][0].WrongFragment != gp[1].WrongFragment || wrong != 1 {
			t.Errorf("later fragment: kernel key %v wrong %v (flow wrong_frags %d); decoder key %v wrong %v (1 wrong fragment)",
				kp[1][0].Key, kp[1][0].WrongFragment, wrong, gp[1].Key, gp[1].WrongFragment)
		}
	})
}

// TestKernelPingOfDeathWrongFragment: later fragments at the 65,535-byte
// limit of a reassembled datagram are wrong fragments in the kernel exactly
// where the pcap decoder says so (TestDecodePingOfDeath).
func TestKernelPingOfDeathWrongFragment(t *testing.T) {
	s := loadTestKernel(t, KernelConfig{MaxFlows: 64, RingSize: 1 << 16})
	for _, c := range pingOfDeathCases() {
		et := []byte{0x08, 0x00}
		if c.frame[0]>>4 == 6 {
			et = []byte{0x86, 0xdd}
		}
		frame := append(append([]byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1}, et...), c.frame...)
		xdpAndTC(t, s, c.name+"/", func(t *testing.T, prog *ebpf.Program) {
			res, gp, kp := runParity(t, s, prog, false, [][]byte{frame})
			if res[0] != ResultIP || gp[0].WrongFragment != c.wrong {
				t.Fatalf("decoder: %v wrong %v, want %v", res[0], gp[0].WrongFragment, c.wrong)
			}
			if len(kp[0]) != 1 || kp[0][0].WrongFragment != c.wrong {
				t.Errorf("kernel samples %v, want one with wrong fragment %v", kp[0], c.wrong)
			}
		})
	}
}

// TestKernelSNAPShims: LLC/SNAP carrying MPLS or a PPPoE session is
// unwrapped by the pcap decoder (etherType: the SNAP Ethertype goes
// through the same switch); the kernel must account the same packet.
func TestKernelSNAPShims(t *testing.T) {
	s := loadTestKernel(t, KernelConfig{MaxFlows: 64, RingSize: 1 << 16})
	udp4 := kframe(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 7001, DstPort: 7002},
		gopacket.Payload(bytes.Repeat([]byte{0xab}, 100)))
	snap := func(et uint16, hdr []byte) []byte {
		h := append([]byte{0xAA, 0xAA, 0x03, 0, 0, 0, byte(et >> 8), byte(et)}, hdr...)
		return shim(udp4, uint16(len(h)+128), h)
	}
	for _, c := range []struct {
		name  string
		frame []byte
	}{{"snap mpls", snap(0x8847, mplsStack(1))}, {"snap pppoe", snap(0x8864, pppoe(0x0021, 128))}} {
		xdpAndTC(t, s, c.name+"/", func(t *testing.T, prog *ebpf.Program) {
			before := s.rawCounters()
			res, gp, kp := runParity(t, s, prog, false, [][]byte{c.frame})
			after := s.rawCounters()
			if res[0] != ResultIP {
				t.Fatalf("decoder: %v", res[0])
			}
			if len(kp[0]) != 1 || kp[0][0].Key != gp[0].Key {
				t.Errorf("decoder accounts %v; kernel samples %d (non-IP +%d, parse errors +%d)",
					gp[0].Key, len(kp[0]), after[kcntNonIP]-before[kcntNonIP], after[kcntParseError]-before[kcntParseError])
			}
		})
	}
}

// TestKernelIPv6TwoFragmentHeaders: an IPv6 packet with a Fragment header
// saying "first fragment, more follow" and then a second, atomic one
// (offset 0, M 0) is no fragment for the decoder (the last Fragment header
// wins), so with decap its VXLAN payload is unwrapped. The kernel keeps the
// first header's fragment state and accounts the outer packet.
func TestKernelIPv6TwoFragmentHeaders(t *testing.T) {
	s := loadTestKernel(t, KernelConfig{MaxFlows: 64, RingSize: 1 << 16, Decap: true})
	inner := kframe(t, eth(layers.EthernetTypeIPv4), &layers.IPv4{Version: 4, IHL: 5, TTL: 63, Protocol: layers.IPProtocolTCP,
		SrcIP: in4a, DstIP: in4b, Id: 9}, tcpSYN(40000, 80))
	udp := udpRaw(50000, 4789, append(vxlanHdr(0x08, 7), inner...))
	chain := append([]byte{44, 0, 0, 1, 0, 0, 0, 1}, // Fragment: offset 0, M 1, id 1; next Fragment
		[]byte{17, 0, 0, 0, 0, 0, 0, 2}...) // Fragment: offset 0, M 0 (atomic), id 2; next UDP
	frame := kframe(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolIPv6Fragment), gopacket.Payload(append(chain, udp...)))
	xdpAndTC(t, s, "", func(t *testing.T, prog *ebpf.Program) {
		before := s.rawCounters()
		res, gp, kp := runParity(t, s, prog, true, [][]byte{frame})
		after := s.rawCounters()
		if res[0] != ResultIP || gp[0].Fragment != NotFragment {
			t.Fatalf("decoder: %v fragment %v", res[0], gp[0].Fragment)
		}
		if len(kp[0]) != 1 {
			t.Fatalf("kernel: %d samples", len(kp[0]))
		}
		k := kp[0][0]
		if k.Key != gp[0].Key || k.Fragment != gp[0].Fragment || after[kcntFragments] != before[kcntFragments] {
			t.Errorf("decoder: key %v fragment %v; kernel: key %v fragment %v, fragments counter +%d, decap +%d",
				gp[0].Key, gp[0].Fragment, k.Key, k.Fragment, after[kcntFragments]-before[kcntFragments], after[kcntDecap]-before[kcntDecap])
		}
	})
}

// TestKernelTCIngressPriorityTag: a QinQ frame whose outer tag is a
// priority tag (VID 0) and whose inner tag is VID 100 arrives on a veth;
// the stack moves the outer tag into skb metadata before TC ingress. The
// decoder (and XDP) key it VLAN 0/100; TC ingress must too.
func TestKernelTCIngressPriorityTag(t *testing.T) {
	s := loadTestKernel(t, KernelConfig{MaxFlows: 64, RingSize: 1 << 16})
	frame := kframe(t, eth(layers.EthernetTypeDot1Q),
		&layers.Dot1Q{Priority: 3, VLANIdentifier: 0, Type: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeIPv4},
		ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 7001, DstPort: 7002}, gopacket.Payload(bytes.Repeat([]byte{1}, 64)))
	var p Packet
	if r := NewDecoder(DecoderOptions{}).Decode(&p, frame, LinkEthernet, 0, uint32(len(frame))); r != ResultIP {
		t.Fatalf("decoder: %v", r)
	}
	// XDP on the same frame agrees with the decoder; run before the TC
	// program is attached, whose samples of the veth's own IPv6 chatter
	// came in among XDP's.
	s.iterate(true, func(*bpf.FlowhawkFlowKey, *bpf.FlowhawkFlowValue) {})
	if _, err := s.objs.FlowhawkXdp.Run(&ebpf.RunOptions{Data: frame}); err != nil {
		t.Fatal(err)
	}
	var xp []Packet
	s.readEvents(time.Now(), func(*Flow) {}, func(p *Packet) { xp = append(xp, *p) })
	if len(xp) != 1 || xp[0].Key != p.Key {
		t.Fatalf("xdp: %d samples %v, decoder %v", len(xp), xp, p.Key)
	}
	s.iterate(true, func(*bpf.FlowhawkFlowKey, *bpf.FlowhawkFlowValue) {})
	la := netlink.NewLinkAttrs()
	la.Name = "fhpta0"
	veth := &netlink.Veth{LinkAttrs: la, PeerName: "fhptb0"}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("veth: %v", err)
	}
	t.Cleanup(func() { netlink.LinkDel(veth) })
	a, err := netlink.LinkByName("fhpta0")
	if err != nil {
		t.Fatal(err)
	}
	b, err := netlink.LinkByName("fhptb0")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []netlink.Link{a, b} {
		if err := netlink.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
	l, err := link.AttachTCX(link.TCXOptions{Program: s.objs.FlowhawkTcIngress, Interface: b.Attrs().Index, Attach: ebpf.AttachTCXIngress})
	if errors.Is(err, ebpf.ErrNotSupported) {
		t.Skipf("TCX needs Linux 6.6: %v", err)
	}
	if err != nil {
		t.Fatalf("attach tcx: %v", err)
	}
	t.Cleanup(func() { l.Close() })

	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Sendto(fd, frame, 0, &unix.SockaddrLinklayer{Ifindex: a.Attrs().Index, Halen: 6, Addr: [8]byte{2, 0, 0, 0, 0, 2}}); err != nil {
		t.Fatalf("send: %v", err)
	}
	var kp []Packet
	for i := 0; i < 50 && len(kp) == 0; i++ {
		time.Sleep(20 * time.Millisecond)
		s.readEvents(time.Now(), func(*Flow) {}, func(p *Packet) {
			if p.Key.Proto == 17 && p.Key.PortLo == 7001 { // not the veth's own IPv6 chatter
				kp = append(kp, *p)
			}
		})
	}
	if len(kp) != 1 {
		t.Fatalf("tc ingress: %d samples", len(kp))
	}
	if kp[0].Key != p.Key {
		t.Errorf("tc ingress keys %v (VLAN %d/%d); decoder and XDP %v (VLAN %d/%d)", kp[0].Key, kp[0].Key.VLANOuter, kp[0].Key.VLANInner,
			p.Key, p.Key.VLANOuter, p.Key.VLANInner)
	}
}

// TestRawIPDevice: a tun device (no link-layer header: raw IP in
// tcpdump) is taken as raw IP, loopback is not, and XDP asked for on the
// tun device is refused with what to do instead. Until 2026-12-07 capture
// refused such devices; TestCaptureTun (e2e) captures on one.
func TestRawIPDevice(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a tun device")
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR, 0)
	if err != nil {
		t.Skipf("no tun: %v", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("fhtun0")
	if err != nil {
		t.Fatal(err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		t.Fatalf("TUNSETIFF: %v", err)
	}
	tun, err := net.InterfaceByName("fhtun0")
	if err != nil {
		t.Fatal(err)
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if raw, err := rawIP(tun); !raw || err != nil {
		t.Errorf("tun device: raw IP %v, %v; want true", raw, err)
	}
	if raw, err := rawIP(lo); raw || err != nil {
		t.Errorf("loopback: raw IP %v, %v; want false", raw, err)
	}
	// With an interface that takes XDP (one netlink does not know is
	// taken for Ethernet), XDP goes on that one: a warning, no error.
	// With loopback, which takes no ingress hook, XDP would go nowhere.
	eth := &net.Interface{Index: 1 << 30, Name: "fheth0"}
	if err := checkLinkLayer(KernelConfig{Ingress: "xdp", XDPMode: "auto"}, []*net.Interface{tun, eth}); err != nil {
		t.Errorf("--ingress xdp on a tun device and an Ethernet device: %v", err)
	}
	if err := checkLinkLayer(KernelConfig{Ingress: "xdp", XDPMode: "auto"}, []*net.Interface{tun, lo}); err == nil {
		t.Errorf("--ingress xdp on a tun device and loopback: no error, and XDP on neither")
	}
	for _, cfg := range []KernelConfig{{Ingress: "xdp"}, {XDPMode: "generic"}} {
		cfg.Interfaces = []string{"fhtun0"}
		s, err := OpenKernel(cfg)
		if err == nil {
			s.Close()
			t.Errorf("%+v on a tun device: no error", cfg)
		} else if !strings.Contains(err.Error(), "without a link-layer header") || !strings.Contains(err.Error(), "--ingress xdp") {
			t.Errorf("%+v on a tun device: %q, want the device kind and what to leave out", cfg, err)
		}
	}
}
