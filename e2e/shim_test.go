//go:build linux

package e2e

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/flowhawk/flowhawk/collector"
)

// TestShimFrames sends hand-made frames whose IP packet sits behind a PPPoE
// session header, an MPLS label stack or an 802.3 LLC/SNAP header, both
// ways over the veth pair, with the sensor and tcpdump on the server end,
// and checks that the kernel path accounts them as the pcap path does:
// the same flows with the same counts. The frames: PPPoE carrying IPv4
// UDP, two MPLS labels carrying an IPv4 TCP exchange, one MPLS label
// carrying IPv6 UDP, LLC/SNAP carrying IPv4 UDP, and frames neither path
// accounts (PPPoE discovery, PPP LCP, spanning tree LLC).
func TestShimFrames(t *testing.T) {
	for _, ingress := range []string{"xdp", "tc"} {
		t.Run(ingress, func(t *testing.T) { shimFrames(t, ingress) })
	}
}

func shimFrames(t *testing.T, ingress string) {
	n := newNet(t)
	cmac, smac := vethMACs(t, n)
	c6, s6 := net.ParseIP("fd00:43::1"), net.ParseIP("fd00:43::2")
	// wrap serializes the IP layers l and puts them behind an Ethernet
	// header of type et (an 802.3 length for LLC: 0 asks for it) and hdr.
	wrap := func(toServer bool, et uint16, hdr []byte, l ...gopacket.SerializableLayer) []byte {
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, l...); err != nil {
			t.Fatal(err)
		}
		dst, src := smac, cmac
		if !toServer {
			dst, src = cmac, smac
		}
		if et == 0 {
			et = uint16(len(hdr) + len(buf.Bytes()))
		}
		f := append(append([]byte{}, dst...), src...)
		f = append(f, byte(et>>8), byte(et))
		f = append(f, hdr...)
		return append(f, buf.Bytes()...)
	}
	ip4 := func(toServer bool, proto layers.IPProtocol) *layers.IPv4 { return vethIPv4(n, toServer, proto) }
	udp := func(ip gopacket.NetworkLayer, toServer bool, port uint16) *layers.UDP {
		u := &layers.UDP{SrcPort: layers.UDPPort(port), DstPort: 9000}
		if !toServer {
			u.SrcPort, u.DstPort = u.DstPort, u.SrcPort
		}
		u.SetNetworkLayerForChecksum(ip)
		return u
	}
	payload := func(n int) gopacket.Payload { return gopacket.Payload(bytes.Repeat([]byte{0x6b}, n)) }
	pppoe := func(proto uint16) []byte { return []byte{0x11, 0, 0x12, 0x34, 0, 0, byte(proto >> 8), byte(proto)} }
	label := func(l uint32, bos bool) []byte {
		b := []byte{byte(l >> 12), byte(l >> 4), byte(l<<4) & 0xf0, 64}
		if bos {
			b[2] |= 1
		}
		return b
	}
	snap := []byte{0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00}

	var sends []rawFrame
	for i := 0; i < 3; i++ {
		for _, dir := range []bool{true, false} {
			ip := ip4(dir, layers.IPProtocolUDP)
			sends = append(sends, rawFrame{dir, wrap(dir, 0x8864, pppoe(0x0021), ip, udp(ip, dir, 40001), payload(80+i))})
			ip = ip4(dir, layers.IPProtocolUDP)
			sends = append(sends, rawFrame{dir, wrap(dir, 0, snap, ip, udp(ip, dir, 40004), payload(40))})
			ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: c6, DstIP: s6}
			if !dir {
				ip6.SrcIP, ip6.DstIP = s6, c6
			}
			sends = append(sends, rawFrame{dir, wrap(dir, 0x8847, label(300, true), ip6, udp(ip6, dir, 40003), payload(64))})
		}
	}
	// Two MPLS labels: a TCP handshake, a request, a reply, FIN both ways.
	for _, s := range []struct {
		toServer        bool
		seq, ack        uint32
		syn, isAck, fin bool
		n               int
	}{
		{true, 1000, 0, true, false, false, 0},
		{false, 7000, 1001, true, true, false, 0},
		{true, 1001, 7001, false, true, false, 200},
		{false, 7001, 1201, false, true, false, 1200},
		{true, 1201, 8201, false, true, true, 0},
		{false, 8201, 1202, false, true, true, 0},
		{true, 1202, 8202, false, true, false, 0},
	} {
		ip := ip4(s.toServer, layers.IPProtocolTCP)
		c := &layers.TCP{SrcPort: 40002, DstPort: 8300, Seq: s.seq, Ack: s.ack, SYN: s.syn, ACK: s.isAck, FIN: s.fin, Window: 64240}
		if !s.toServer {
			c.SrcPort, c.DstPort = c.DstPort, c.SrcPort
		}
		c.SetNetworkLayerForChecksum(ip)
		l := []gopacket.SerializableLayer{ip, c}
		if s.n > 0 {
			l = append(l, payload(s.n))
		}
		sends = append(sends, rawFrame{s.toServer, wrap(s.toServer, 0x8847, append(label(100, false), label(200, true)...), l...)})
	}
	// Frames neither path accounts: PPPoE discovery (PADI), PPP LCP in a
	// session, spanning tree (LLC without SNAP).
	ip := ip4(true, layers.IPProtocolUDP)
	sends = append(sends,
		rawFrame{true, wrap(true, 0x8863, []byte{0x11, 0x09, 0, 0, 0, 4, 0x01, 0x01, 0, 0})},
		rawFrame{true, wrap(true, 0x8864, pppoe(0xc021), ip, udp(ip, true, 40005))},
		rawFrame{true, wrap(true, 0, append([]byte{0x42, 0x42, 0x03}, make([]byte, 35)...))})

	kc := startKernel(t, n.ServerNS, collector.KernelConfig{Interfaces: []string{n.ServerIf}, Ingress: ingress, ScanInterval: 200 * time.Millisecond})
	td := startTcpdump(t, n.ServerNS, n.ServerIf)
	sendRaw(t, n, sends)
	time.Sleep(300 * time.Millisecond)
	pcapPath := td.stop(t)
	kflows := kc.stop(t)
	pflows := pcapFlows(t, pcapPath, 32)
	wantTwoWay(t, pflows, "port", ports, 40001, 40002, 40003, 40004)
	if len(pflows) != 4 {
		t.Errorf("pcap path has %d flows, want 4: %v", len(pflows), pflows)
	}
	worst := compareFlows(t, kflows, pflows)
	t.Logf("%s ingress: %d flows match, worst time difference %v", ingress, len(pflows), worst)
}
