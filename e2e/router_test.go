//go:build linux

package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/collector"
)

// TestRouterCountsOnce captures on both interfaces of a router namespace
// forwarding between a client and a server: each forwarded packet passes
// the ingress program (XDP, or TC) on its way in and TC egress on its way
// out, and must be counted once. The kernel flows must equal the pcap
// path's flows from a tcpdump of the client-side interface alone.
func TestRouterCountsOnce(t *testing.T) {
	needRoot(t)
	for _, ingress := range []string{"xdp", "tc"} {
		t.Run(ingress, func(t *testing.T) { routerCountsOnce(t, ingress) })
	}
}

func routerCountsOnce(t *testing.T, ingress string) {
	var b [3]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	cns, rns, sns := "fhc-"+id, "fhr-"+id, "fhs-"+id
	t.Cleanup(func() {
		for _, ns := range []string{cns, rns, sns} {
			exec.Command("ip", "netns", "del", ns).Run()
		}
	})
	for _, ns := range []string{cns, rns, sns} {
		run(t, "ip", "netns", "add", ns)
		run(t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	run(t, "ip", "netns", "exec", rns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	cif, r1, r2, sif := "fha"+id, "fhx"+id, "fhy"+id, "fhb"+id
	run(t, "ip", "link", "add", cif, "netns", cns, "type", "veth", "peer", "name", r1, "netns", rns)
	run(t, "ip", "link", "add", r2, "netns", rns, "type", "veth", "peer", "name", sif, "netns", sns)
	sub := 1 + int(b[0])%250
	addr := func(ns, ifc, ip string) {
		run(t, "ip", "-n", ns, "addr", "add", ip, "dev", ifc)
		run(t, "ip", "-n", ns, "link", "set", ifc, "up")
		exec.Command("ip", "netns", "exec", ns, "ethtool", "-K", ifc, "gro", "off", "tso", "off", "gso", "off").Run()
	}
	addr(cns, cif, fmt.Sprintf("10.199.%d.1/24", sub))
	addr(rns, r1, fmt.Sprintf("10.199.%d.254/24", sub))
	addr(rns, r2, fmt.Sprintf("10.198.%d.254/24", sub))
	addr(sns, sif, fmt.Sprintf("10.198.%d.2/24", sub))
	run(t, "ip", "-n", cns, "route", "add", "default", "via", fmt.Sprintf("10.199.%d.254", sub))
	run(t, "ip", "-n", sns, "route", "add", "default", "via", fmt.Sprintf("10.198.%d.254", sub))
	n := &testNet{ClientNS: cns, ServerNS: sns, ClientIf: cif, ServerIf: sif,
		ClientIP: fmt.Sprintf("10.199.%d.1", sub), ServerIP: fmt.Sprintf("10.198.%d.2", sub)}
	servers(t, n)

	kc := startKernel(t, rns, collector.KernelConfig{Interfaces: []string{r1, r2}, Ingress: ingress, ScanInterval: 200 * time.Millisecond})
	td := startTcpdump(t, rns, r1)
	clientRun(t, n, "ping", "-c", "5", "-i", "0.05", n.ServerIP)
	clientRun(t, n, "curl", "-sS", "-o", "/dev/null", "http://"+n.ServerIP+":8080/big")
	time.Sleep(200 * time.Millisecond)
	pcapPath := td.stop(t)
	kflows := kc.stop(t)
	pflows := pcapFlows(t, pcapPath, 32)
	worst := compareFlows(t, kflows, pflows)
	st := kc.src.Stats()
	if st.Forwarded == 0 {
		t.Errorf("no packet counted as forwarded: %+v", st)
	}
	t.Logf("%d forwarded flows match the one-interface tcpdump; %d egress copies skipped; worst time difference %v", len(pflows), st.Forwarded, worst)
}
