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

// TestVLAN runs ping and HTTP over 802.1Q VLAN 42 subinterfaces on both
// ends of the veth pair while the capture sits on the untagged veth: egress
// tags arrive in skb metadata (veth's VLAN offload), ingress tags in the
// frame, and both paths must key the flows on VLAN 42.
func TestVLAN(t *testing.T) {
	n := newNet(t)
	cip, sip := strings.Replace(n.ClientIP, "10.199.", "10.198.", 1), strings.Replace(n.ServerIP, "10.199.", "10.198.", 1)
	if out, err := exec.Command("ip", "-n", n.ClientNS, "link", "add", "link", n.ClientIf, "name", "v42", "type", "vlan", "id", "42").CombinedOutput(); err != nil {
		t.Skipf("this kernel cannot create VLAN devices (8021q): %v: %s", err, strings.TrimSpace(string(out)))
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
