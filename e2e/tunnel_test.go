//go:build linux

package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/collector"
)

// TestCaptureVXLAN runs ping, HTTP (small and 180 kB) and UDP over a VXLAN
// tunnel (VNI 42, UDP 4789) between the namespaces, with the sensor and
// tcpdump on the underlay veth and decapsulation on in both paths: every
// flow is an overlay flow, keyed on the inner addresses and VNI 42, and
// the kernel's flows equal the pcap path's on tcpdump's capture. Once with TC ingress
// (what --ingress auto picks on veth) and once with generic XDP, so both
// inner programs run; and once with the tunnel device's segmentation
// offloads on and a 200 kB upload, so TC egress sees the tunnel's GSO
// packets (segmented later, at the veth, before tcpdump sees them) and
// must account their inner segments.
func TestCaptureVXLAN(t *testing.T) {
	for _, c := range []struct {
		name, ingress, xdpMode string
		gso                    bool
	}{
		{"auto-tc", "auto", "auto", false},
		{"xdp-generic", "xdp", "generic", false},
		{"tunnel-gso", "auto", "auto", true},
	} {
		t.Run(c.name, func(t *testing.T) { captureVXLAN(t, c.ingress, c.xdpMode, c.gso) })
	}
}

func captureVXLAN(t *testing.T, ingress, xdpMode string, gso bool) {
	n := newNet(t)
	cip, sip := strings.Replace(n.ClientIP, "10.199.", "10.197.", 1), strings.Replace(n.ServerIP, "10.199.", "10.197.", 1)
	for _, s := range []struct{ ns, ifc, local, remote, ip string }{
		{n.ClientNS, n.ClientIf, n.ClientIP, n.ServerIP, cip},
		{n.ServerNS, n.ServerIf, n.ServerIP, n.ClientIP, sip},
	} {
		if out, err := exec.Command("ip", "-n", s.ns, "link", "add", "vx42", "type", "vxlan", "id", "42", "dstport", "4789",
			"local", s.local, "remote", s.remote, "dev", s.ifc).CombinedOutput(); err != nil {
			t.Skipf("this kernel cannot create VXLAN devices: %v: %s; TestKernelDecap covers the programs with prog.Run", err, strings.TrimSpace(string(out)))
		}
		run(t, "ip", "-n", s.ns, "addr", "add", s.ip+"/24", "dev", "vx42")
		run(t, "ip", "-n", s.ns, "link", "set", "vx42", "up")
		// Segment in the stack, before the tunnel, as on the veth (newNet):
		// tcpdump and the sensor then see the same wire packets.
		if _, err := exec.LookPath("ethtool"); err == nil && !gso {
			exec.Command("ip", "netns", "exec", s.ns, "ethtool", "-K", "vx42", "gro", "off", "tso", "off", "gso", "off").Run()
		}
	}
	vn := *n
	vn.ClientIP, vn.ServerIP = cip, sip
	servers(t, &vn)
	kc := startKernel(t, n.ClientNS, collector.KernelConfig{Interfaces: []string{n.ClientIf}, Ingress: ingress, XDPMode: xdpMode,
		ScanInterval: 200 * time.Millisecond, Decap: true})
	td := startTcpdump(t, n.ClientNS, n.ClientIf)
	clientRun(t, n, "ping", "-c", "4", "-i", "0.05", sip)
	clientRun(t, n, "curl", "-sS", "-o", "/dev/null", fmt.Sprintf("http://%s:8080/", sip))
	clientRun(t, n, "curl", "-sS", "-o", "/dev/null", fmt.Sprintf("http://%s:8080/big", sip))
	clientRun(t, n, "sh", "-c", fmt.Sprintf("printf 'hello udp\\n' | nc -u -w 1 -p 40053 %s 9000", sip))
	if gso {
		// An upload: the client's TCP sends large segments into the tunnel.
		clientRun(t, n, "sh", "-c", fmt.Sprintf("head -c 200000 /dev/zero | curl -sS -o /dev/null --data-binary @- http://%s:8080/", sip))
	}
	time.Sleep(300 * time.Millisecond)
	pcapPath := td.stop(t)
	kflows := kc.stop(t)
	pflows := pcapFlowsOpts(t, pcapPath, 32, collector.PcapOptions{Decap: true})
	overlay := 0
	for _, f := range pflows {
		if f.Key.PortLo == 4789 || f.Key.PortHi == 4789 {
			t.Errorf("pcap path kept an outer VXLAN flow: %v", f.Key)
		}
		if strings.Contains(f.Key.String(), "10.197.") {
			overlay++
			if f.Key.TunnelID() != 42 {
				t.Errorf("overlay flow %v is not keyed on VNI 42", f.Key)
			}
		}
	}
	if overlay < 4 {
		t.Fatalf("pcap path has %d overlay flows, want ping, two HTTP and UDP (flows %d)", overlay, len(pflows))
	}
	worst := compareFlows(t, kflows, pflows)
	st := kc.src.Stats()
	t.Logf("%d flows (%d overlay) match, worst time difference %v; %d packets decapsulated, %d segmented, parse errors %d", len(pflows), overlay, worst, st.Decapsulated, st.Segmented, st.ParseErrors)
	if gso && st.Segmented == 0 {
		t.Errorf("no GSO packet accounted as segments: the tunnel's offloads did not reach TC egress")
	}
	if st.Decapsulated == 0 || st.ParseErrors != 0 || st.MapFull != 0 || st.RingbufFull != 0 {
		t.Errorf("kernel counters: %+v", st)
	}
	assertDetached(t, n)
}
