//go:build linux

package e2e

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/flowhawk/flowhawk/collector"
)

// TestCaptureRawIPDevice captures on tunnel devices without a link-layer
// header (their packets start at the IP header at both TC hooks, and
// tcpdump records raw IP or cooked frames there), one of each kind the
// sensor takes by its ARPHRD type: IP in IP and point-to-point GRE over
// the IPv4 veth, SIT (IPv6 in IPv4), ip6tnl (IPv4 in IPv6) and ip6gre
// (IPv6 in IPv6) over the veth's IPv6 addresses, and WireGuard. The
// sensor on the tunnel device must give the flows the pcap path gives on
// tcpdump's capture of that device: until 2026-12-07 capture refused such
// devices, whose packets the Ethernet parser could not read. Kernels
// without a kind's module skip that case (this host's; the VM tier's
// Debian kernel has them all).
func TestCaptureRawIPDevice(t *testing.T) {
	for _, c := range []rawIPCase{
		{name: "ipip", args: []string{"type", "ipip"}},
		{name: "gre", args: []string{"type", "gre"}},
		{name: "sit", args: []string{"type", "sit"}, over6: true},
		{name: "ip6tnl", args: []string{"type", "ip6tnl", "mode", "ipip6"}, under6: true},
		{name: "ip6gre", args: []string{"type", "ip6gre"}, under6: true, over6: true},
		{name: "wireguard", wireguard: true},
	} {
		t.Run(c.name, func(t *testing.T) { captureRawIP(t, c) })
	}
}

// rawIPCase is a tunnel TestCaptureRawIPDevice builds between the
// namespaces: args follow `ip link add tun9` (then local and remote
// addresses), or a WireGuard device with a key pair each side.
type rawIPCase struct {
	name          string
	args          []string
	under6, over6 bool // the veth (underlay) and the tunnel (overlay) carry IPv6
	wireguard     bool
}

func captureRawIP(t *testing.T, c rawIPCase) {
	n := newNet(t)
	sub := strings.Split(n.ClientIP, ".")[2]
	local, remote := n.ClientIP, n.ServerIP
	if c.under6 {
		local, remote = "fd00:195:"+sub+"::1", "fd00:195:"+sub+"::2"
		for _, s := range []struct{ ns, ifc, ip string }{{n.ClientNS, n.ClientIf, local}, {n.ServerNS, n.ServerIf, remote}} {
			run(t, "ip", "netns", "exec", s.ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=0", "net.ipv6.conf."+s.ifc+".disable_ipv6=0")
			run(t, "ip", "-n", s.ns, "addr", "add", s.ip+"/64", "dev", s.ifc, "nodad")
		}
	}
	cip, sip := "10.196."+sub+".1", "10.196."+sub+".2"
	prefix := netip.MustParsePrefix("10.196.0.0/16")
	if c.over6 {
		cip, sip = "fd00:196:"+sub+"::1", "fd00:196:"+sub+"::2"
		prefix = netip.MustParsePrefix("fd00:196::/32")
	}
	var keys [2]string
	if c.wireguard {
		if _, err := exec.LookPath("wg"); err != nil {
			t.Skip("no wg(8) to give WireGuard devices keys (Debian's wireguard-tools)")
		}
		for i := range keys {
			out, err := exec.Command("wg", "genkey").Output()
			if err != nil {
				t.Fatalf("wg genkey: %v", err)
			}
			keys[i] = strings.TrimSpace(string(out))
		}
	}
	sides := []struct{ ns, local, remote, ip, peer string }{
		{n.ClientNS, local, remote, cip, sip},
		{n.ServerNS, remote, local, sip, cip},
	}
	for i, s := range sides {
		add := append([]string{"-n", s.ns, "link", "add", "tun9"}, c.args...)
		if c.wireguard {
			add = append(add, "type", "wireguard")
		} else {
			add = append(add, "local", s.local, "remote", s.remote)
		}
		if out, err := exec.Command("ip", add...).CombinedOutput(); err != nil {
			t.Skipf("this kernel cannot create %s devices: %v: %s", c.name, err, strings.TrimSpace(string(out)))
		}
		if c.wireguard {
			wgSet(t, s.ns, keys[i], keys[1-i], s.remote, s.peer)
		}
		if c.over6 {
			// Up first: the IPv6 address and its /64 route then stay.
			run(t, "ip", "netns", "exec", s.ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=0", "net.ipv6.conf.tun9.disable_ipv6=0",
				"net.ipv6.conf.tun9.accept_ra=0", "net.ipv6.conf.tun9.router_solicitations=0")
			run(t, "ip", "-n", s.ns, "link", "set", "tun9", "up")
			run(t, "ip", "-n", s.ns, "addr", "add", s.ip+"/64", "dev", "tun9", "nodad")
		} else {
			run(t, "ip", "-n", s.ns, "addr", "add", s.ip, "peer", s.peer, "dev", "tun9")
			run(t, "ip", "-n", s.ns, "link", "set", "tun9", "up")
		}
		if _, err := exec.LookPath("ethtool"); err == nil {
			exec.Command("ip", "netns", "exec", s.ns, "ethtool", "-K", "tun9", "gro", "off", "tso", "off", "gso", "off").Run()
		}
	}
	vn := *n
	vn.ClientIP, vn.ServerIP = cip, sip
	url, ping, nc := fmt.Sprintf("http://%s:8080/", sip), []string{"ping"}, "nc"
	if c.over6 {
		servers6(t, &vn)
		url, ping, nc = fmt.Sprintf("http://[%s]:8080/", sip), []string{"ping", "-6"}, "nc -6"
	} else {
		servers(t, &vn)
	}
	kc := startKernel(t, n.ClientNS, collector.KernelConfig{Interfaces: []string{"tun9"}, ScanInterval: 200 * time.Millisecond})
	if at := kc.src.Attachments(); len(at) != 1 || strings.HasPrefix(at[0].Ingress, "xdp") {
		t.Errorf("attachments %v, want TC on both hooks", at)
	}
	td := startTcpdump(t, n.ClientNS, "tun9")
	clientRun(t, n, ping[0], append(ping[1:], "-c", "4", "-i", "0.05", sip)...)
	clientRun(t, n, "curl", "-sS", "-g", "-o", "/dev/null", url)
	// No large download: under the VM tier's emulation tcpdump drops
	// packets of one.
	clientRun(t, n, "sh", "-c", fmt.Sprintf("printf 'hello udp\\n' | %s -u -w 1 -p 40053 %s 9000", nc, sip))
	time.Sleep(300 * time.Millisecond)
	pcapPath := td.stop(t)
	// The overlay's flows: an IPv6 tunnel's own housekeeping (MLD), sent
	// on the kernel's schedule, may come before tcpdump starts.
	ours := func(fl []*collector.Flow) []*collector.Flow {
		var out []*collector.Flow
		for _, f := range fl {
			if prefix.Contains(f.Key.Lo().Addr) && prefix.Contains(f.Key.Hi().Addr) {
				out = append(out, f)
			}
		}
		return out
	}
	all := pcapFlows(t, pcapPath, 32)
	kflows, pflows := ours(kc.stop(t)), ours(all)
	if len(pflows) < 3 {
		t.Fatalf("pcap path has %d flows between the tunnel's addresses (of %d), want ping, HTTP and UDP", len(pflows), len(all))
	}
	worst := compareFlows(t, kflows, pflows)
	st := kc.src.Stats()
	t.Logf("%s: %d flows match, worst time difference %v; parse errors %d, non-IP %d", c.name, len(pflows), worst, st.ParseErrors, st.NonIP)
	if st.ParseErrors != 0 || st.MapFull != 0 || st.RingbufFull != 0 {
		t.Errorf("kernel counters: %+v", st)
	}
	assertDetached(t, n)
}

// wgSet gives namespace ns's WireGuard device tun9 its private key and
// one peer, reached at endpoint over the veth, allowed the overlay
// address peerIP.
func wgSet(t *testing.T, ns, key, peerKey, endpoint, peerIP string) {
	t.Helper()
	peerPub := exec.Command("wg", "pubkey")
	peerPub.Stdin = strings.NewReader(peerKey + "\n")
	pp, err := peerPub.Output()
	if err != nil {
		t.Fatalf("wg pubkey: %v", err)
	}
	kf := t.TempDir() + "/key"
	if err := os.WriteFile(kf, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, "ip", "netns", "exec", ns, "wg", "set", "tun9", "listen-port", "51820", "private-key", kf,
		"peer", strings.TrimSpace(string(pp)), "endpoint", endpoint+":51820", "allowed-ips", peerIP+"/32")
}

// TestCaptureTun captures on a tun device (what VPN daemons and
// userspace WireGuard use): the test holds the device's other end and
// answers the client's pings and UDP datagrams itself, so both hooks see
// raw IP packets, and the sensor's flows must equal the pcap path's on
// tcpdump's capture of the device. A --ingress xdp on it is refused.
func TestCaptureTun(t *testing.T) {
	n := newNet(t)
	var b [1]byte
	rand.Read(b[:])
	cip, peer := fmt.Sprintf("10.195.%d.1", 1+b[0]%250), fmt.Sprintf("10.195.%d.2", 1+b[0]%250)
	var fd int
	if err := inNetns(n.ClientNS, func() error {
		var err error
		fd, err = unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		ifr, err := unix.NewIfreq("fhtun0")
		if err != nil {
			return err
		}
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		return unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
	}); err != nil {
		t.Skipf("no tun device: %v", err)
	}
	unix.SetNonblock(fd, true) // in the poller: Close ends a Read
	tunFile := os.NewFile(uintptr(fd), "tun")
	run(t, "ip", "-n", n.ClientNS, "addr", "add", cip, "peer", peer, "dev", "fhtun0")
	run(t, "ip", "-n", n.ClientNS, "link", "set", "fhtun0", "up")
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		buf := make([]byte, 65536)
		for {
			n, err := tunFile.Read(buf)
			if err != nil {
				return
			}
			if r := tunAnswer(buf[:n]); r != nil {
				tunFile.Write(r)
			}
		}
	}()
	defer func() { tunFile.Close(); <-answered }()

	if err := inNetns(n.ClientNS, func() error {
		s, err := collector.OpenKernel(collector.KernelConfig{Interfaces: []string{"fhtun0"}, Ingress: "xdp"})
		if err == nil {
			s.Close()
			return errors.New("no error")
		}
		if !strings.Contains(err.Error(), "without a link-layer header") {
			return err
		}
		return nil
	}); err != nil {
		t.Errorf("--ingress xdp on a tun device: %v, want it refused as a device without a link-layer header", err)
	}

	kc := startKernel(t, n.ClientNS, collector.KernelConfig{Interfaces: []string{"fhtun0"}, ScanInterval: 200 * time.Millisecond})
	td := startTcpdump(t, n.ClientNS, "fhtun0")
	clientRun(t, n, "ping", "-c", "4", "-i", "0.05", "-s", "300", peer)
	clientRun(t, n, "sh", "-c", fmt.Sprintf("printf 'hello udp\\n' | nc -u -w 1 -p 40053 %s 9000", peer))
	clientRun(t, n, "sh", "-c", fmt.Sprintf("head -c 3000 /dev/zero | nc -u -w 1 -p 40054 %s 9001", peer))
	time.Sleep(300 * time.Millisecond)
	pcapPath := td.stop(t)
	kflows := kc.stop(t)
	pflows := pcapFlows(t, pcapPath, 32)
	answers := 0
	for _, f := range pflows {
		if f.Fwd.Packets > 0 && f.Bwd.Packets > 0 {
			answers++
		}
	}
	if len(pflows) < 3 || answers < 3 {
		t.Fatalf("pcap path has %d flows (%d answered) on the tun device, want ping and two UDP, answered", len(pflows), answers)
	}
	worst := compareFlows(t, kflows, pflows)
	st := kc.src.Stats()
	t.Logf("%d flows match, worst time difference %v; parse errors %d, non-IP %d", len(pflows), worst, st.ParseErrors, st.NonIP)
	if st.ParseErrors != 0 || st.NonIP != 0 || st.MapFull != 0 || st.RingbufFull != 0 {
		t.Errorf("kernel counters: %+v", st)
	}
	if at := kc.src.Attachments(); len(at) != 1 || strings.HasPrefix(at[0].Ingress, "xdp") {
		t.Errorf("attachments %v, want TC on both hooks", at)
	}
}

// tunAnswer is the tun peer's reply to an IPv4 packet: an echo reply to
// an echo request, the datagram back to a UDP one (fragments of one are
// each sent back as they came, swapped); nil for anything else.
func tunAnswer(p []byte) []byte {
	if len(p) < 20 || p[0]>>4 != 4 {
		return nil
	}
	ihl := int(p[0]&0x0f) * 4
	if ihl < 20 || len(p) < ihl+8 {
		return nil
	}
	r := append([]byte(nil), p...)
	copy(r[12:16], p[16:20])
	copy(r[16:20], p[12:16])
	frag := binary.BigEndian.Uint16(p[6:8])&0x1fff != 0
	switch p[9] {
	case 1: // ICMP
		if frag || p[ihl] != 8 {
			return nil
		}
		r[ihl] = 0
		r[ihl+2], r[ihl+3] = 0, 0
		binary.BigEndian.PutUint16(r[ihl+2:], inetChecksum(r[ihl:]))
	case 17: // UDP
		if !frag {
			copy(r[ihl:ihl+2], p[ihl+2:ihl+4])
			copy(r[ihl+2:ihl+4], p[ihl:ihl+2])
			r[ihl+6], r[ihl+7] = 0, 0 // no checksum
		}
	default:
		return nil
	}
	r[10], r[11] = 0, 0
	binary.BigEndian.PutUint16(r[10:], inetChecksum(r[:ihl]))
	return r
}

// inetChecksum is the Internet checksum of b.
func inetChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// rawTun opens a tun device name in namespace ns with flags besides
// IFF_TUN|IFF_NO_PI, addressed local with peer, and returns its other
// end (non-blocking: Close ends a Read).
func rawTun(t *testing.T, ns, name string, flags uint16, local, peer string) *os.File {
	t.Helper()
	var fd int
	if err := inNetns(ns, func() error {
		var err error
		if fd, err = unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0); err != nil {
			return err
		}
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			return err
		}
		ifr.SetUint16(unix.IFF_TUN | flags)
		return unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
	}); err != nil {
		t.Skipf("no tun device: %v", err)
	}
	unix.SetNonblock(fd, true)
	f := os.NewFile(uintptr(fd), "tun")
	t.Cleanup(func() { f.Close() })
	run(t, "ip", "-n", ns, "addr", "add", local, "peer", peer, "dev", name)
	run(t, "ip", "-n", ns, "link", "set", name, "up")
	return f
}

// TestCaptureTunPairGSO joins two tun devices with virtio-net headers
// and TSO through a forwarder in the test, as wireguard-go and tailscale
// run on Linux: a GSO packet written through such a header arrives with
// gso_segs 0 (left for the stack to count), and the receiving tun's TC
// ingress counted it whole while the sending tun's egress counted its
// segments: 15 packets against 129 for one 180 kB download.
func TestCaptureTunPairGSO(t *testing.T) {
	n := newNet(t)
	var r [1]byte
	rand.Read(r[:])
	cip, sip := fmt.Sprintf("10.194.%d.1", 1+r[0]%250), fmt.Sprintf("10.194.%d.2", 1+r[0]%250)
	a := rawTun(t, n.ClientNS, "fhtA", unix.IFF_NO_PI|unix.IFF_VNET_HDR, cip, sip)
	b := rawTun(t, n.ServerNS, "fhtB", unix.IFF_NO_PI|unix.IFF_VNET_HDR, sip, cip)
	for _, f := range []*os.File{a, b} {
		rc, err := f.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		rc.Control(func(fd uintptr) {
			err = unix.IoctlSetInt(int(fd), unix.TUNSETOFFLOAD, unix.TUN_F_CSUM|unix.TUN_F_TSO4|unix.TUN_F_TSO6)
		})
		if err != nil {
			t.Skipf("TUNSETOFFLOAD: %v", err)
		}
	}
	fwd := func(from, to *os.File) {
		buf := make([]byte, 70000)
		for {
			n, err := from.Read(buf)
			if err != nil {
				return
			}
			to.Write(buf[:n])
		}
	}
	go fwd(a, b)
	go fwd(b, a)
	vn := *n
	vn.ServerIP = sip
	servers(t, &vn)
	ka := startKernel(t, n.ClientNS, collector.KernelConfig{Interfaces: []string{"fhtA"}, ScanInterval: 200 * time.Millisecond})
	kb := startKernel(t, n.ServerNS, collector.KernelConfig{Interfaces: []string{"fhtB"}, ScanInterval: 200 * time.Millisecond})
	clientRun(t, n, "curl", "-sS", "-o", "/dev/null", "http://"+sip+":8080/big")
	time.Sleep(300 * time.Millisecond)
	fa, fb := ka.stop(t), kb.stop(t)
	sa, sb := ka.src.Stats(), kb.src.Stats()
	mb := map[collector.Key]*collector.Flow{}
	for _, f := range fb {
		mb[f.Key] = f
	}
	for _, f := range fa {
		g := mb[f.Key]
		if g == nil {
			t.Errorf("%v on fhtA only", f.Key)
			continue
		}
		if f.Fwd.Packets != g.Fwd.Packets || f.Bwd.Packets != g.Bwd.Packets || f.Fwd.Bytes != g.Fwd.Bytes || f.Bwd.Bytes != g.Bwd.Bytes {
			t.Errorf("%v: the client's tun ingress counts %d/%d packets %d/%d bytes, the server's tun egress %d/%d packets %d/%d bytes",
				f.Key, f.Fwd.Packets, f.Bwd.Packets, f.Fwd.Bytes, f.Bwd.Bytes, g.Fwd.Packets, g.Bwd.Packets, g.Fwd.Bytes, g.Bwd.Bytes)
		}
	}
	t.Logf("%d flows; segmented: client ingress %d, server egress %d", len(fa), sa.Segmented, sb.Segmented)
	if sb.Segmented == 0 {
		t.Skip("no GSO packet on the server's tun egress: nothing exercised")
	}
	if sa.Segmented == 0 {
		t.Errorf("the client's tun ingress split no GSO packet (the server's egress split %d)", sb.Segmented)
	}
}

// TestCaptureTunProtocolFromVersion: on a raw-IP device the kernel
// programs take an IPv4 or IPv6 packet by its version, as tcpdump's raw
// IP capture and the pcap decoder do, not by the protocol its writer
// stated (a tun's packet information header saying 0, a packet socket's
// sll_protocol saying IPv6 for an IPv4 packet): such packets were non-IP
// or parse errors to the kernel and a flow to tcpdump.
func TestCaptureTunProtocolFromVersion(t *testing.T) {
	for _, c := range []struct {
		name string
		pi   bool
	}{{"pi-proto-0", true}, {"packet-socket-ipv6-label", false}} {
		t.Run(c.name, func(t *testing.T) {
			n := newNet(t)
			var r [1]byte
			rand.Read(r[:])
			s := 1 + r[0]%250
			flags := uint16(unix.IFF_NO_PI)
			if c.pi {
				flags = 0
			}
			tun := rawTun(t, n.ClientNS, "fhtun0", flags, fmt.Sprintf("10.195.%d.1", s), fmt.Sprintf("10.195.%d.2", s))
			kc := startKernel(t, n.ClientNS, collector.KernelConfig{Interfaces: []string{"fhtun0"}, ScanInterval: 200 * time.Millisecond})
			td := startTcpdump(t, n.ClientNS, "fhtun0")
			pkt := make([]byte, 28+5)
			pkt[0] = 0x45
			binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
			pkt[8], pkt[9] = 64, 17
			copy(pkt[12:16], []byte{10, 195, s, 2})
			copy(pkt[16:20], []byte{10, 195, s, 1})
			if !c.pi {
				pkt[15], pkt[19] = 1, 2 // sent out, not in
			}
			binary.BigEndian.PutUint16(pkt[10:], inetChecksum(pkt[:20]))
			binary.BigEndian.PutUint16(pkt[20:], 40000)
			binary.BigEndian.PutUint16(pkt[22:], 9000)
			binary.BigEndian.PutUint16(pkt[24:], 13)
			copy(pkt[28:], "hello")
			for range 3 {
				var err error
				if c.pi {
					_, err = tun.Write(append([]byte{0, 0, 0, 0}, pkt...)) // flags 0, protocol 0
				} else {
					err = inNetns(n.ClientNS, func() error {
						sk, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM, 0)
						if err != nil {
							return err
						}
						defer unix.Close(sk)
						ifi, err := net.InterfaceByName("fhtun0")
						if err != nil {
							return err
						}
						return unix.Sendto(sk, pkt, 0, &unix.SockaddrLinklayer{Ifindex: ifi.Index, Protocol: 0xdd86}) // htons(ETH_P_IPV6)
					})
				}
				if err != nil {
					t.Fatal(err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond)
			pcapPath := td.stop(t)
			kflows := kc.stop(t)
			pflows := pcapFlows(t, pcapPath, 32)
			if len(pflows) != 1 {
				t.Fatalf("pcap path has %d flows, want the one UDP flow", len(pflows))
			}
			compareFlows(t, kflows, pflows)
			if st := kc.src.Stats(); st.NonIP != 0 || st.ParseErrors != 0 {
				t.Errorf("kernel: %d non-IP, %d parse errors; tcpdump's raw-IP capture holds IPv4 packets", st.NonIP, st.ParseErrors)
			}
		})
	}
}
