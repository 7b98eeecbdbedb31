//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/flowhawk/flowhawk/collector"
)

// TestVLAN runs ping and HTTP over 802.1Q VLAN 42 subinterfaces on both
// ends of the veth pair while the capture sits on the untagged veth: egress
// tags arrive in skb metadata (veth's VLAN offload), ingress tags in the
// frame, and both paths must key the flows on VLAN 42.
func TestVLAN(t *testing.T) {
	n := newNet(t)
	cip, sip := strings.Replace(n.ClientIP, "10.199.", "10.198.", 1), strings.Replace(n.ServerIP, "10.199.", "10.198.", 1)
	if out, err := exec.Command("ip", "-n", n.ClientNS, "link", "add", "link", n.ClientIf, "name", "v42", "type", "vlan", "id", "42").CombinedOutput(); err != nil {
		t.Skipf("this kernel cannot create VLAN devices (8021q module): %v: %s; TestVLANFrames covers VLAN tags without them, except tags an egress VLAN device leaves in skb metadata", err, strings.TrimSpace(string(out)))
	}
	run(t, "ip", "-n", n.ServerNS, "link", "add", "link", n.ServerIf, "name", "v42", "type", "vlan", "id", "42")
	for _, s := range []struct{ ns, ifc, ip string }{{n.ClientNS, n.ClientIf, cip}, {n.ServerNS, n.ServerIf, sip}} {
		run(t, "ip", "-n", s.ns, "addr", "add", s.ip+"/24", "dev", "v42")
		run(t, "ip", "-n", s.ns, "link", "set", "v42", "up")
	}
	// XDP sees only the frame: a tag the sender left in skb metadata (veth
	// VLAN offload) is invisible to it, as a tag stripped by a NIC's
	// rx-vlan-offload is (docs/kernel.md). Keep the server's tags in the
	// frame; the client's egress tags stay in metadata, which the TC
	// program reads.
	run(t, "ip", "netns", "exec", n.ServerNS, "ethtool", "-K", n.ServerIf, "txvlan", "off")
	vn := *n
	vn.ClientIP, vn.ServerIP = cip, sip
	servers(t, &vn)
	kc := startKernel(t, n.ClientNS, collector.KernelConfig{Interfaces: []string{n.ClientIf}, ScanInterval: 200 * time.Millisecond})
	td := startTcpdump(t, n.ClientNS, n.ClientIf)
	clientRun(t, n, "ping", "-c", "4", "-i", "0.05", sip)
	clientRun(t, n, "curl", "-sS", "-o", "/dev/null", fmt.Sprintf("http://%s:8080/", sip))
	time.Sleep(200 * time.Millisecond)
	pcapPath := td.stop(t)
	kflows := kc.stop(t)
	pflows := pcapFlows(t, pcapPath, 32)
	tagged := 0
	for _, f := range pflows {
		if f.Key.VLANOuter == 42 {
			tagged++
		}
	}
	if tagged < 2 {
		t.Fatalf("pcap path has %d flows on VLAN 42, want ping and HTTP", tagged)
	}
	worst := compareFlows(t, kflows, pflows)
	t.Logf("%d flows (%d on VLAN 42) match, worst time difference %v", len(pflows), tagged, worst)
}

// TestVLANFrames needs no VLAN devices (TestVLAN does, and skips on a
// kernel without 8021q): it sends hand-made tagged frames both ways over
// the veth pair with packet sockets, with the sensor and tcpdump on the
// server end, and checks that both paths key every flow on its tags and
// agree on every count. The frames are 802.1Q VLAN 42 over IPv4 (UDP),
// QinQ (802.1ad 100 outside 802.1Q 200) over IPv4 (a TCP handshake and
// data), 802.1Q VLAN 7 over IPv6 (UDP), and untagged ICMP echo requests,
// which the server answers itself. XDP sees received tags in the frame;
// TC ingress finds the outer one in skb metadata (the stack moves it
// there before TC runs) and the inner one in the frame; TC egress sees
// the server's tagged replies with their tags in the frame.
func TestVLANFrames(t *testing.T) {
	for _, ingress := range []string{"xdp", "tc"} {
		t.Run(ingress, func(t *testing.T) { vlanFrames(t, ingress) })
	}
}

func vlanFrames(t *testing.T, ingress string) {
	n := newNet(t)
	cmac, smac := vethMACs(t, n)
	c6, s6 := net.ParseIP("fd00:42::1"), net.ParseIP("fd00:42::2")
	// frame builds one Ethernet frame from client to server (toServer)
	// or back, under tags (outer first; 0x88a8 for an outer QinQ tag).
	frame := func(toServer bool, tags []uint16, l ...gopacket.SerializableLayer) []byte {
		eth := &layers.Ethernet{SrcMAC: cmac, DstMAC: smac}
		if !toServer {
			eth.SrcMAC, eth.DstMAC = smac, cmac
		}
		ls := []gopacket.SerializableLayer{eth}
		var last *layers.Dot1Q
		for i, id := range tags {
			tpid := layers.EthernetTypeDot1Q
			if i == 0 && len(tags) > 1 {
				tpid = layers.EthernetTypeQinQ
			}
			if last == nil {
				eth.EthernetType = tpid
			} else {
				last.Type = tpid
			}
			last = &layers.Dot1Q{VLANIdentifier: id}
			ls = append(ls, last)
		}
		et := layers.EthernetTypeIPv4
		if _, ok := l[0].(*layers.IPv6); ok {
			et = layers.EthernetTypeIPv6
		}
		if last == nil {
			eth.EthernetType = et
		} else {
			last.Type = et
		}
		ls = append(ls, l...)
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	ip4 := func(toServer bool, proto layers.IPProtocol) *layers.IPv4 { return vethIPv4(n, toServer, proto) }
	udp := func(ip gopacket.NetworkLayer, sport, dport uint16) *layers.UDP {
		u := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
		u.SetNetworkLayerForChecksum(ip)
		return u
	}
	tcp := func(ip gopacket.NetworkLayer, sport, dport uint16, seq, ack uint32, syn, isAck, psh, fin bool) *layers.TCP {
		c := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: seq, Ack: ack,
			SYN: syn, ACK: isAck, PSH: psh, FIN: fin, Window: 64240}
		c.SetNetworkLayerForChecksum(ip)
		return c
	}
	payload := func(n int) gopacket.Payload { return gopacket.Payload(bytes.Repeat([]byte{0x5a}, n)) }
	var sends []rawFrame
	add := func(toServer bool, tags []uint16, l ...gopacket.SerializableLayer) {
		sends = append(sends, rawFrame{toServer, frame(toServer, tags, l...)})
	}
	// VLAN 42, UDP both ways.
	for i := 0; i < 3; i++ {
		ip := ip4(true, layers.IPProtocolUDP)
		add(true, []uint16{42}, ip, udp(ip, 40042, 9042), payload(100+i))
		ip = ip4(false, layers.IPProtocolUDP)
		add(false, []uint16{42}, ip, udp(ip, 9042, 40042), payload(300))
	}
	// QinQ 100/200: a TCP handshake, a request, a reply, FIN both ways.
	q := []uint16{100, 200}
	type seg struct {
		toServer            bool
		seq, ack            uint32
		syn, ack_, psh, fin bool
		n                   int
	}
	for _, s := range []seg{
		{true, 1000, 0, true, false, false, false, 0},
		{false, 5000, 1001, true, true, false, false, 0},
		{true, 1001, 5001, false, true, false, false, 0},
		{true, 1001, 5001, false, true, true, false, 120},
		{false, 5001, 1121, false, true, true, false, 900},
		{true, 1121, 5901, false, true, false, true, 0},
		{false, 5901, 1122, false, true, false, true, 0},
		{true, 1122, 5902, false, true, false, false, 0},
	} {
		ip := ip4(s.toServer, layers.IPProtocolTCP)
		sport, dport := uint16(40100), uint16(8200)
		if !s.toServer {
			sport, dport = dport, sport
		}
		l := []gopacket.SerializableLayer{ip, tcp(ip, sport, dport, s.seq, s.ack, s.syn, s.ack_, s.psh, s.fin)}
		if s.n > 0 {
			l = append(l, payload(s.n))
		}
		add(s.toServer, q, l...)
	}
	// VLAN 7, IPv6 UDP both ways.
	for i := 0; i < 2; i++ {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: c6, DstIP: s6}
		add(true, []uint16{7}, ip, udp(ip, 40007, 9007), payload(64))
		ip = &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: s6, DstIP: c6}
		add(false, []uint16{7}, ip, udp(ip, 9007, 40007), payload(64))
	}
	// Untagged ICMP echo requests: the server's stack answers them.
	for i := 0; i < 3; i++ {
		ip := ip4(true, layers.IPProtocolICMPv4)
		add(true, nil, ip, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 77, Seq: uint16(i)}, payload(56))
	}

	kc := startKernel(t, n.ServerNS, collector.KernelConfig{Interfaces: []string{n.ServerIf}, Ingress: ingress, ScanInterval: 200 * time.Millisecond})
	if a := kc.src.Attachments(); len(a) == 0 || strings.HasPrefix(a[0].Ingress, "xdp") != (ingress == "xdp") {
		t.Fatalf("attachments %+v, want %s ingress", a, ingress)
	}
	td := startTcpdump(t, n.ServerNS, n.ServerIf)
	sendRaw(t, n, sends)
	time.Sleep(300 * time.Millisecond)
	pcapPath := td.stop(t)
	kflows := kc.stop(t)
	pflows := pcapFlows(t, pcapPath, 32)
	wantTwoWay(t, pflows, "tags", func(f *collector.Flow) [][2]uint16 { return [][2]uint16{{f.Key.VLANOuter, f.Key.VLANInner}} },
		[2]uint16{42, 0}, [2]uint16{100, 200}, [2]uint16{7, 0}, [2]uint16{0, 0})
	worst := compareFlows(t, kflows, pflows)
	t.Logf("%s ingress: %d flows match, worst time difference %v", ingress, len(pflows), worst)
}

// vethMACs returns the MAC addresses of the client and the server end.
func vethMACs(t *testing.T, n *testNet) (client, server net.HardwareAddr) {
	t.Helper()
	var err error
	if client, err = net.ParseMAC(macOf(t, n.ClientNS, n.ClientIf)); err != nil {
		t.Fatal(err)
	}
	if server, err = net.ParseMAC(macOf(t, n.ServerNS, n.ServerIf)); err != nil {
		t.Fatal(err)
	}
	return client, server
}

// vethIPv4 is an IPv4 header between the veth ends' addresses, from the
// client to the server (toServer) or back.
func vethIPv4(n *testNet, toServer bool, proto layers.IPProtocol) *layers.IPv4 {
	c, s := net.ParseIP(n.ClientIP).To4(), net.ParseIP(n.ServerIP).To4()
	if !toServer {
		c, s = s, c
	}
	return &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: c, DstIP: s}
}

// rawFrame is a hand-made Ethernet frame and the end that sends it.
// wantTwoWay fails t for each of want that no flow of pflows with
// packets both ways has; of gives what a flow has (its ports, its tags).
func wantTwoWay[K comparable](t *testing.T, pflows []*collector.Flow, what string, of func(*collector.Flow) []K, want ...K) {
	t.Helper()
	seen := make(map[K]bool)
	for _, f := range pflows {
		if f.Fwd.Packets > 0 && f.Bwd.Packets > 0 {
			for _, k := range of(f) {
				seen[k] = true
			}
		}
	}
	for _, k := range want {
		if !seen[k] {
			t.Errorf("no two-way flow with %s %v in the tcpdump capture (flows: %v)", what, k, pflows)
		}
	}
}

// ports are a flow's two ports, for wantTwoWay.
func ports(f *collector.Flow) []uint16 { return []uint16{f.Key.PortLo, f.Key.PortHi} }

type rawFrame struct {
	toServer bool // sent by the client end to the server, else back
	frame    []byte
}

// sendRaw sends each frame with a packet socket bound to the sending end's
// veth, 2 ms apart, so the receiver's XDP or TC ingress and the sender's TC
// egress see it as it is.
func sendRaw(t *testing.T, n *testNet, frames []rawFrame) {
	t.Helper()
	sock := func(ns, ifc string) (fd, idx int) {
		err := inNetns(ns, func() error {
			var err error
			if idx, err = ifIndex(ifc); err != nil {
				return err
			}
			fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
			return err
		})
		if err != nil {
			t.Fatalf("packet socket in %s: %v", ns, err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		return fd, idx
	}
	cfd, cidx := sock(n.ClientNS, n.ClientIf)
	sfd, sidx := sock(n.ServerNS, n.ServerIf)
	for _, s := range frames {
		fd, idx := cfd, cidx
		if !s.toServer {
			fd, idx = sfd, sidx
		}
		if err := unix.Sendto(fd, s.frame, 0, &unix.SockaddrLinklayer{Ifindex: idx, Halen: 6}); err != nil {
			t.Fatalf("send frame: %v", err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
