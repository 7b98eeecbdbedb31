//go:build linux

package e2e

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
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
// tcpdump records raw IP or cooked frames there): IP in IP and
// point-to-point GRE carrying IPv4 between the namespaces, over the veth. The
// sensor on the tunnel device must give the flows the pcap path gives on
// tcpdump's capture of that device: until 2026-12-07 capture refused such
// devices (tun, WireGuard, IP tunnels), whose packets the Ethernet parser
// could not read.
func TestCaptureRawIPDevice(t *testing.T) {
	for _, c := range []struct{ name, kind string }{{"ipip", "ipip"}, {"gre", "gre"}} {
		t.Run(c.name, func(t *testing.T) { captureRawIP(t, c.kind) })
	}
}

func captureRawIP(t *testing.T, kind string) {
	n := newNet(t)
	cip, sip := strings.Replace(n.ClientIP, "10.199.", "10.196.", 1), strings.Replace(n.ServerIP, "10.199.", "10.196.", 1)
	for _, s := range []struct{ ns, local, remote, ip, peer string }{
		{n.ClientNS, n.ClientIP, n.ServerIP, cip, sip},
		{n.ServerNS, n.ServerIP, n.ClientIP, sip, cip},
	} {
		if out, err := exec.Command("ip", "-n", s.ns, "link", "add", "tun9", "type", kind, "local", s.local, "remote", s.remote).CombinedOutput(); err != nil {
			t.Skipf("this kernel cannot create %s devices: %v: %s", kind, err, strings.TrimSpace(string(out)))
		}
		run(t, "ip", "-n", s.ns, "addr", "add", s.ip, "peer", s.peer, "dev", "tun9")
		run(t, "ip", "-n", s.ns, "link", "set", "tun9", "up")
		if _, err := exec.LookPath("ethtool"); err == nil {
			exec.Command("ip", "netns", "exec", s.ns, "ethtool", "-K", "tun9", "gro", "off", "tso", "off", "gso", "off").Run()
		}
	}
	vn := *n
	vn.ClientIP, vn.ServerIP = cip, sip
	servers(t, &vn)
	kc := startKernel(t, n.ClientNS, collector.KernelConfig{Interfaces: []string{"tun9"}, ScanInterval: 200 * time.Millisecond})
	if at := kc.src.Attachments(); len(at) != 1 || strings.HasPrefix(at[0].Ingress, "xdp") {
		t.Errorf("attachments %v, want TC on both hooks", at)
	}
	td := startTcpdump(t, n.ClientNS, "tun9")
	clientRun(t, n, "ping", "-c", "4", "-i", "0.05", sip)
	clientRun(t, n, "curl", "-sS", "-o", "/dev/null", fmt.Sprintf("http://%s:8080/", sip))
	// No large download: under the VM tier's emulation tcpdump drops
	// packets of one.
	clientRun(t, n, "sh", "-c", fmt.Sprintf("printf 'hello udp\\n' | nc -u -w 1 -p 40053 %s 9000", sip))
	time.Sleep(300 * time.Millisecond)
	pcapPath := td.stop(t)
	kflows := kc.stop(t)
	pflows := pcapFlows(t, pcapPath, 32)
	if len(pflows) < 3 {
		t.Fatalf("pcap path has %d flows on the tunnel, want ping, HTTP and UDP", len(pflows))
	}
	for _, f := range pflows {
		if !strings.Contains(f.Key.String(), "10.196.") {
			t.Errorf("flow %v on the tunnel device is not between the tunnel's addresses", f.Key)
		}
	}
	worst := compareFlows(t, kflows, pflows)
	st := kc.src.Stats()
	t.Logf("%d flows match, worst time difference %v; parse errors %d, non-IP %d", len(pflows), worst, st.ParseErrors, st.NonIP)
	if st.ParseErrors != 0 || st.MapFull != 0 || st.RingbufFull != 0 {
		t.Errorf("kernel counters: %+v", st)
	}
	assertDetached(t, n)
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
