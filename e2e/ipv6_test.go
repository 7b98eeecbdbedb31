//go:build linux

package e2e

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/collector"
)

// TestIPv6 sends ping -6, HTTP and UDP over IPv6 (ULA addresses inside
// the test's namespaces) and compares the two paths on the flows between
// those addresses (link-local and multicast housekeeping, which the
// kernel sends on its own schedule, is left out of the comparison).
func TestIPv6(t *testing.T) {
	n := newNet(t)
	cip, sip := "fd00:199:"+n.ClientIf[3:7]+"::1", "fd00:199:"+n.ClientIf[3:7]+"::2"
	for _, s := range []struct{ ns, ifc, ip string }{{n.ClientNS, n.ClientIf, cip}, {n.ServerNS, n.ServerIf, sip}} {
		run(t, "ip", "netns", "exec", s.ns, "sysctl", "-qw",
			"net.ipv6.conf.all.disable_ipv6=0", "net.ipv6.conf."+s.ifc+".disable_ipv6=0",
			"net.ipv6.conf."+s.ifc+".accept_ra=0", "net.ipv6.conf."+s.ifc+".router_solicitations=0")
		run(t, "ip", "-n", s.ns, "addr", "add", s.ip+"/64", "dev", s.ifc, "nodad")
	}
	vn := *n
	vn.ClientIP, vn.ServerIP = cip, sip
	servers6(t, &vn)
	kc := startKernel(t, n.ClientNS, collector.KernelConfig{Interfaces: []string{n.ClientIf}, ScanInterval: 200 * time.Millisecond})
	td := startTcpdump(t, n.ClientNS, n.ClientIf)
	clientRun(t, n, "ping", "-6", "-c", "4", "-i", "0.05", sip)
	clientRun(t, n, "curl", "-sS", "-g", "-o", "/dev/null", fmt.Sprintf("http://[%s]:8080/big", sip))
	clientRun(t, n, "sh", "-c", fmt.Sprintf("printf 'hello udp6\\n' | nc -6 -u -w 1 -p 40055 %s 9000", sip))
	time.Sleep(200 * time.Millisecond)
	pcapPath := td.stop(t)
	ours := func(fl []*collector.Flow) []*collector.Flow {
		pfx := netip.MustParsePrefix("fd00:199::/32")
		var out []*collector.Flow
		for _, f := range fl {
			if pfx.Contains(f.Key.Lo().Addr) && pfx.Contains(f.Key.Hi().Addr) {
				out = append(out, f)
			}
		}
		return out
	}
	kflows := ours(kc.stop(t))
	pflows := ours(pcapFlows(t, pcapPath, 32))
	if len(pflows) < 3 {
		t.Fatalf("pcap path has %d IPv6 flows between the test addresses, want ping, HTTP, UDP", len(pflows))
	}
	worst := compareFlows(t, kflows, pflows)
	t.Logf("%d IPv6 flows match, worst time difference %v", len(pflows), worst)
}

// servers6 starts the HTTP and UDP echo servers on the server's IPv6
// address.
func servers6(t *testing.T, n *testNet) {
	t.Helper()
	v := *n
	v.ServerIP = "[" + n.ServerIP + "]"
	servers(t, &v)
}
