//go:build linux

package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/collector"
)

// TestCounterPathClsact keeps only 2 samples per flow, so every flow
// longer than that is built from the kernel counters rather than replayed
// from samples, and attaches both TC programs (ingress, which --ingress
// auto picks on veth, and egress) with the clsact fallback: counts must
// still equal the pcap path's (subflows and ICMP type too), and the qdisc
// must be gone afterwards.
func TestCounterPathClsact(t *testing.T) {
	if _, err := exec.LookPath("tc"); err != nil {
		t.Skip("tc(8) not installed: the clsact filters cannot be checked")
	}
	n := newNet(t)
	servers(t, n)
	kc := startKernel(t, n.ClientNS, collector.KernelConfig{Interfaces: []string{n.ClientIf}, Samples: 2, TCAttach: "clsact", ScanInterval: 200 * time.Millisecond})
	for _, dir := range []string{"ingress", "egress"} {
		// --ingress auto picks TC on veth, attached with clsact too.
		out := run(t, "tc", "-n", n.ClientNS, "filter", "show", "dev", n.ClientIf, dir)
		if !strings.Contains(out, "flowhawk") {
			t.Fatalf("clsact %s filter not attached: %s", dir, out)
		}
	}
	td := startTcpdump(t, n.ClientNS, n.ClientIf)
	// 1.25 s of pings, one every 0.25 s: the counter path must not take
	// the time after its samples for a gap (a second subflow), and must
	// keep the first packet's ICMP type (eco_i, not ecr_i).
	clientRun(t, n, "ping", "-c", "6", "-i", "0.25", n.ServerIP)
	clientRun(t, n, "curl", "-sS", "-o", "/dev/null", "http://"+n.ServerIP+":8080/big")
	clientRun(t, n, "curl", "-sS", "-o", "/dev/null", "http://"+n.ServerIP+":8080/")
	time.Sleep(200 * time.Millisecond)
	pcapPath := td.stop(t)
	kflows := kc.stop(t)
	pflows := pcapFlows(t, pcapPath, 2)
	if len(pflows) < 3 {
		t.Fatalf("tcpdump path has %d flows, want the ping and two HTTP flows", len(pflows))
	}
	// The test is of the counter path: with every flow replayed from its
	// samples, the comparison of the columns the counter path takes from
	// its first N packets would compare nothing.
	counter := 0
	for _, f := range kflows {
		if f.FromCounters {
			counter++
		}
	}
	if counter == 0 {
		t.Errorf("no kernel record built from the counters (--samples 2): the counter path went untested")
	}
	worst := compareFlows(t, kflows, pflows)
	t.Logf("%d flows match on the counter path, %d from the kernel's counters (worst time difference %v)", len(pflows), counter, worst)
	out := run(t, "tc", "-n", n.ClientNS, "qdisc", "show", "dev", n.ClientIf)
	if strings.Contains(out, "clsact") {
		t.Errorf("clsact qdisc left behind: %s", out)
	}
	assertDetached(t, n)
}

// TestClsactTwoCaptures attaches two kernel sources with clsact to one
// interface and stops the first: the second must keep counting. Both used
// one filter preference, so the first deleted the second's filters (or
// the qdisc it had added, with them) and the second saw nothing more.
func TestClsactTwoCaptures(t *testing.T) {
	if _, err := exec.LookPath("tc"); err != nil {
		t.Skip("tc(8) not installed: the clsact filters cannot be checked")
	}
	n := newNet(t)
	servers(t, n)
	cfg := collector.KernelConfig{Interfaces: []string{n.ClientIf}, TCAttach: "clsact", ScanInterval: 200 * time.Millisecond}
	first := startKernel(t, n.ClientNS, cfg)
	second := startKernel(t, n.ClientNS, cfg)
	first.stop(t)
	clientRun(t, n, "ping", "-c", "3", "-i", "0.05", n.ServerIP)
	time.Sleep(200 * time.Millisecond)
	if pkts := protoPackets(second.stop(t), 1); pkts != 6 {
		t.Errorf("second capture counted %d ICMP packets after the first stopped, want 6", pkts)
	}
	for _, dir := range []string{"ingress", "egress"} {
		if out := run(t, "tc", "-n", n.ClientNS, "filter", "show", "dev", n.ClientIf, dir); strings.TrimSpace(out) != "" {
			t.Errorf("%s filters left after both stopped: %s", dir, out)
		}
	}
}

// protoPackets sums the packets of the flows of one IP protocol.
func protoPackets(flows []*collector.Flow, proto uint8) uint64 {
	var n uint64
	for _, f := range flows {
		if f.Key.Proto == proto {
			n += f.Packets()
		}
	}
	return n
}

// TestOtherFiltersStillRun checks that flowhawk's TC programs hand each
// packet on to the hook's other programs and filters: an operator's drop
// rule stays in force while a capture runs, with TCX and with the clsact
// fallback (a filter after ours), and two captures at once both count.
// The programs returned TC_ACT_OK, which ends the chain: the drop rule
// stopped dropping and the second capture counted nothing.
func TestOtherFiltersStillRun(t *testing.T) {
	if _, err := exec.LookPath("tc"); err != nil {
		t.Skip("the operator's filter needs tc(8)")
	}
	for _, mode := range []string{"auto", "clsact"} {
		t.Run(mode, func(t *testing.T) {
			n := newNet(t)
			cfg := collector.KernelConfig{Interfaces: []string{n.ClientIf}, TCAttach: mode, ScanInterval: 200 * time.Millisecond}
			first := startKernel(t, n.ClientNS, cfg)
			second := startKernel(t, n.ClientNS, cfg)
			clientRun(t, n, "ping", "-c", "3", "-i", "0.05", n.ServerIP)
			time.Sleep(200 * time.Millisecond)
			// The operator's rule, after flowhawk's programs and filters:
			// drop every IPv4 packet arriving on the client's interface.
			run(t, "tc", "-n", n.ClientNS, "qdisc", "replace", "dev", n.ClientIf, "clsact")
			run(t, "tc", "-n", n.ClientNS, "filter", "add", "dev", n.ClientIf, "ingress", "pref", "65535", "protocol", "ip", "bpf", "da", "bytecode", "1,6 0 0 2,")
			out, err := nsCmd(context.Background(), n.ClientNS, "ping", "-c", "2", "-i", "0.1", "-W", "1", n.ServerIP).CombinedOutput()
			if err == nil || !strings.Contains(string(out), "100% packet loss") {
				t.Errorf("the drop rule did not drop while flowhawk captured: %v\n%s", err, out)
			}
			time.Sleep(200 * time.Millisecond)
			// 3 echoes and 3 replies, then 2 echoes and 2 replies that the
			// rule drops after flowhawk counted them.
			for i, kc := range []*kernelCapture{first, second} {
				if pkts := protoPackets(kc.stop(t), 1); pkts != 10 {
					t.Errorf("capture %d counted %d ICMP packets, want 10", i+1, pkts)
				}
			}
		})
	}
}
