//go:build linux

package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/flowhawk/flowhawk/collector"
)

// TestPagedDeepHeaders sends frames whose headers reach past the 128
// bytes the TC programs pull at first, from packet(7) TX_RING (trafgen),
// which leaves all but the Ethernet header of a frame in page fragments,
// both ways over the veth pair with the sensor and tcpdump on the server
// end: TC egress (and TC ingress in the "tc" run) must pull more and parse
// again, and account the frames as the pcap path does. The frames: IPv6
// UDP behind a 200-byte destination options header (262 bytes of
// headers), and IPv6 TCP behind two MPLS labels, a hop-by-hop and a
// segment routing header (202 bytes).
func TestPagedDeepHeaders(t *testing.T) {
	if _, err := exec.LookPath("trafgen"); err != nil {
		t.Skip("needs trafgen (apt-get install netsniff-ng)")
	}
	for _, ingress := range []string{"xdp", "tc"} {
		t.Run(ingress, func(t *testing.T) { pagedDeepHeaders(t, ingress) })
	}
}

func pagedDeepHeaders(t *testing.T, ingress string) {
	n := newNet(t)
	cmac, smac := vethMACs(t, n)
	c6, s6 := net.ParseIP("fd00:44::1"), net.ParseIP("fd00:44::2")
	// ext is an IPv6 extension header of size bytes (a multiple of 8)
	// pointing at next, padded with Pad1 options.
	ext := func(next layers.IPProtocol, size int) []byte {
		b := make([]byte, size)
		b[0], b[1] = byte(next), byte(size/8-1)
		return b
	}
	// srh is a segment routing header (routing type 4) with segs segments,
	// none left, pointing at next.
	srh := func(next layers.IPProtocol, segs int) []byte {
		b := ext(next, 8+16*segs)
		b[2], b[4] = 4, byte(segs-1)
		return b
	}
	frame := func(toServer bool, et uint16, shim []byte, next layers.IPProtocol, exts []byte, l4 ...gopacket.SerializableLayer) []byte {
		src, dst := c6, s6
		if !toServer {
			src, dst = s6, c6
		}
		buf := gopacket.NewSerializeBuffer()
		opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocol(exts[0]), SrcIP: src, DstIP: dst}
		for _, l := range l4 {
			if c, ok := l.(interface {
				SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
			}); ok {
				c.SetNetworkLayerForChecksum(ip)
			}
		}
		if err := gopacket.SerializeLayers(buf, opts, l4...); err != nil {
			t.Fatal(err)
		}
		upper := append(append([]byte{}, exts[1:]...), buf.Bytes()...)
		ip.NextHeader = layers.IPProtocol(exts[0])
		ip.Length = uint16(len(upper))
		hdr := gopacket.NewSerializeBuffer()
		if err := ip.SerializeTo(hdr, gopacket.SerializeOptions{}); err != nil {
			t.Fatal(err)
		}
		d, s := smac, cmac
		if !toServer {
			d, s = cmac, smac
		}
		f := append(append([]byte{}, d...), s...)
		f = append(f, byte(et>>8), byte(et))
		f = append(f, shim...)
		f = append(f, hdr.Bytes()...)
		return append(f, upper...)
	}
	// chain lists the first next-header value, then the headers' bytes.
	chain := func(first layers.IPProtocol, hdrs ...[]byte) []byte {
		b := []byte{byte(first)}
		for _, h := range hdrs {
			b = append(b, h...)
		}
		return b
	}
	payload := gopacket.Payload(make([]byte, 64))
	labels := []byte{0, 0x06, 0x40, 64, 0, 0x0c, 0x81, 64} // labels 100 and 200 (bottom of stack)

	var client, server [][]byte
	add := func(toServer bool, f []byte) {
		if toServer {
			client = append(client, f)
		} else {
			server = append(server, f)
		}
	}
	for i := 0; i < 3; i++ {
		for _, dir := range []bool{true, false} {
			u := &layers.UDP{SrcPort: 41001, DstPort: 9000}
			if !dir {
				u.SrcPort, u.DstPort = u.DstPort, u.SrcPort
			}
			add(dir, frame(dir, 0x86dd, nil, layers.IPProtocolIPv6Destination,
				chain(layers.IPProtocolIPv6Destination, ext(layers.IPProtocolUDP, 200)), u, payload))
		}
	}
	for _, s := range []struct {
		toServer        bool
		seq, ack        uint32
		syn, isAck, fin bool
	}{
		{true, 1000, 0, true, false, false},
		{false, 7000, 1001, true, true, false},
		{true, 1001, 7001, false, true, false},
		{true, 1001, 7001, false, true, true},
		{false, 7001, 1002, false, true, true},
	} {
		c := &layers.TCP{SrcPort: 41002, DstPort: 8300, Seq: s.seq, Ack: s.ack, SYN: s.syn, ACK: s.isAck, FIN: s.fin, Window: 64240}
		if !s.toServer {
			c.SrcPort, c.DstPort = c.DstPort, c.SrcPort
		}
		add(s.toServer, frame(s.toServer, 0x8847, labels, layers.IPProtocolIPv6HopByHop,
			chain(layers.IPProtocolIPv6HopByHop, ext(layers.IPProtocolIPv6Routing, 64), srh(layers.IPProtocolTCP, 3)), c))
	}
	for _, f := range client {
		if len(f) < 200 {
			t.Fatalf("frame of %d bytes: the headers must reach past what TC pulls first", len(f))
		}
	}

	kc := startKernel(t, n.ServerNS, collector.KernelConfig{Interfaces: []string{n.ServerIf}, Ingress: ingress, ScanInterval: 200 * time.Millisecond})
	td := startTcpdump(t, n.ServerNS, n.ServerIf)
	// The handshake's order matters to both paths alike (the initiator),
	// so the ends take turns: the client's frames up to the server's
	// SYN+ACK, then the server's, then the rest.
	trafgen(t, n.ClientNS, n.ClientIf, client[:4])
	trafgen(t, n.ServerNS, n.ServerIf, server[:4])
	trafgen(t, n.ClientNS, n.ClientIf, client[4:])
	trafgen(t, n.ServerNS, n.ServerIf, server[4:])
	time.Sleep(300 * time.Millisecond)
	pcapPath := td.stop(t)
	kflows := kc.stop(t)
	// TC egress saw the server's frames (and TC ingress, in the tc run,
	// the client's): each of those parsed a second time.
	if st, want := kc.src.Stats(), uint64(len(server)); st.Repulled < want || st.ParseErrors != 0 {
		t.Errorf("kernel stats: %d packets parsed again after a pull (want at least %d), %d parse errors (want 0)", st.Repulled, want, st.ParseErrors)
	}
	pflows := pcapFlows(t, pcapPath, 32)
	wantTwoWay(t, pflows, "port", ports, 41001, 41002)
	worst := compareFlows(t, kflows, pflows)
	t.Logf("%s ingress: %d flows match, worst time difference %v", ingress, len(pflows), worst)
}

// trafgen sends frames, in order, once each, from ifc in namespace ns
// with trafgen's default packet(7) TX_RING, through the qdisc path so TC
// egress sees them.
func trafgen(t *testing.T, ns, ifc string, frames [][]byte) {
	t.Helper()
	var conf strings.Builder
	for _, f := range frames {
		conf.WriteString("{ ")
		for i, b := range f {
			if i > 0 {
				conf.WriteString(", ")
			}
			fmt.Fprintf(&conf, "0x%02x", b)
		}
		conf.WriteString(" }\n")
	}
	path := filepath.Join(t.TempDir(), "frames.cfg")
	if err := os.WriteFile(path, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "ip", "netns", "exec", ns, "trafgen", "--dev", ifc, "--out", ifc, "--qdisc-path", "--conf", path,
		"-n", strconv.Itoa(len(frames)), "-P", "1", "-C")
}
