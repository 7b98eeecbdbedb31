//go:build linux

package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/collector"
)

// timeTolerance bounds how far the kernel path's first/last packet times
// may be from tcpdump's: both stamp the packet in the same stack, a few
// microseconds apart, but a loaded CI machine can delay either side.
const timeTolerance = 50 * time.Millisecond

// kernelCapture runs a KernelSource on an interface of a namespace and
// collects its flows and packets.
type kernelCapture struct {
	src     *collector.KernelSource
	cancel  context.CancelFunc
	done    chan error
	mu      sync.Mutex
	flows   []*collector.Flow
	packets []collector.Packet
	dns     [][]byte
}

func startKernel(t *testing.T, ns string, cfg collector.KernelConfig) *kernelCapture {
	t.Helper()
	kc := &kernelCapture{done: make(chan error, 1)}
	err := inNetns(ns, func() error {
		var err error
		kc.src, err = collector.OpenKernel(cfg)
		return err
	})
	if err != nil {
		t.Fatalf("open kernel source: %v", err)
	}
	t.Cleanup(func() { kc.src.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	kc.cancel = cancel
	go func() {
		kc.done <- kc.src.Run(ctx, func(f *collector.Flow) {
			kc.mu.Lock()
			kc.flows = append(kc.flows, f)
			kc.mu.Unlock()
		}, func(p *collector.Packet) {
			kc.mu.Lock()
			kc.packets = append(kc.packets, *p)
			if len(p.Payload) > 0 {
				kc.dns = append(kc.dns, append([]byte(nil), p.Payload...))
			}
			kc.mu.Unlock()
		})
	}()
	return kc
}

func (kc *kernelCapture) stop(t *testing.T) []*collector.Flow {
	t.Helper()
	kc.cancel()
	if err := <-kc.done; err != nil {
		t.Fatalf("kernel source run: %v", err)
	}
	kc.mu.Lock()
	defer kc.mu.Unlock()
	return kc.flows
}

// pcapFlows runs a capture file through the pcap path (decoder + table).
func pcapFlows(t *testing.T, path string, samples int) []*collector.Flow {
	t.Helper()
	return pcapFlowsOpts(t, path, samples, collector.PcapOptions{})
}

// pcapFlowsOpts is pcapFlows with reader options.
func pcapFlowsOpts(t *testing.T, path string, samples int, opts collector.PcapOptions) []*collector.Flow {
	t.Helper()
	src, err := collector.OpenPcap(path, opts)
	if err != nil {
		t.Fatalf("open tcpdump capture: %v", err)
	}
	defer src.Close()
	var flows []*collector.Flow
	cfg := collector.DefaultTableConfig()
	cfg.Samples = samples
	tab := collector.NewTable(cfg, func(f *collector.Flow) { flows = append(flows, f) })
	var p collector.Packet
	for {
		err := src.NextPacket(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read tcpdump capture: %v", err)
		}
		tab.Add(&p)
	}
	tab.Flush()
	return flows
}

func byKey(t *testing.T, what string, flows []*collector.Flow) map[collector.Key]*collector.Flow {
	t.Helper()
	m := map[collector.Key]*collector.Flow{}
	for _, f := range flows {
		if m[f.Key] != nil {
			t.Errorf("%s: two records for %v", what, f.Key)
		}
		m[f.Key] = f
	}
	return m
}

// minGapTolerance is the least difference allowed between the kernel's
// and tcpdump's gap statistics: 1 ms, or FLOWHAWK_E2E_GAP_TOLERANCE.
// scripts/vm/inner.sh sets 20ms: under software emulation a vCPU can
// stall for milliseconds between the kernel's stamp and tcpdump's, for
// one packet in the middle of a flow, where the first/last differences
// the tolerance otherwise follows do not see it (5.2 ms against 1.05 ms,
// 2026-12-07).
func minGapTolerance(t testing.TB) time.Duration {
	s := os.Getenv("FLOWHAWK_E2E_GAP_TOLERANCE")
	if s == "" {
		return time.Millisecond
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		t.Fatalf("FLOWHAWK_E2E_GAP_TOLERANCE=%q: want a duration above 0", s)
	}
	return d
}

func absDur(d int64) time.Duration {
	if d < 0 {
		d = -d
	}
	return time.Duration(d)
}

// compareFlows checks that both paths saw the same flows with identical
// packet and byte counts per direction, first/last times within
// timeTolerance and gap statistics within four times the largest
// first/last difference (at least 1 ms), and then their feature rows
// column by column (compareFeatureRows).
// It returns the largest time difference seen.
func compareFlows(t *testing.T, kernel, pcap []*collector.Flow) time.Duration {
	t.Helper()
	km, pm := byKey(t, "kernel", kernel), byKey(t, "pcap", pcap)
	var worst time.Duration
	type gapStats struct {
		key  collector.Key
		name string
		k, p [4]float64 // mean, std, min, max (ns)
	}
	var gaps []gapStats
	for k, p := range pm {
		f := km[k]
		if f == nil {
			t.Errorf("flow %v (%d+%d packets) in the tcpdump capture but not from the kernel", k, p.Fwd.Packets, p.Bwd.Packets)
			continue
		}
		if f.FwdIsLo != p.FwdIsLo {
			t.Errorf("%v: kernel initiator lo=%v, pcap lo=%v", k, f.FwdIsLo, p.FwdIsLo)
		}
		for _, d := range []struct {
			name string
			k, p *collector.DirStats
		}{{"fwd", &f.Fwd, &p.Fwd}, {"bwd", &f.Bwd, &p.Bwd}} {
			if d.k.Packets != d.p.Packets || d.k.Bytes != d.p.Bytes || d.k.PayloadBytes != d.p.PayloadBytes || d.k.FlagCounts != d.p.FlagCounts {
				t.Errorf("%v %s: kernel %d packets %d bytes %d payload flags %v, pcap %d packets %d bytes %d payload flags %v",
					k, d.name, d.k.Packets, d.k.Bytes, d.k.PayloadBytes, d.k.FlagCounts, d.p.Packets, d.p.Bytes, d.p.PayloadBytes, d.p.FlagCounts)
			}
			if d.k.PayloadLen.SumSquares() != d.p.PayloadLen.SumSquares() || d.k.PayloadLen.Max != d.p.PayloadLen.Max || d.k.InitWindow != d.p.InitWindow {
				t.Errorf("%v %s: payload sum of squares/max/init window kernel %v/%v/%d, pcap %v/%v/%d", k, d.name,
					d.k.PayloadLen.SumSquares(), d.k.PayloadLen.Max, d.k.InitWindow, d.p.PayloadLen.SumSquares(), d.p.PayloadLen.Max, d.p.InitWindow)
			}
		}
		if f.EndReason != p.EndReason {
			t.Errorf("%v: kernel end %v, pcap end %v", k, f.EndReason, p.EndReason)
		}
		if f.SubflowCount != p.SubflowCount || f.ICMPType != p.ICMPType || f.ICMPCode != p.ICMPCode {
			t.Errorf("%v: kernel %d subflows, ICMP type/code %d/%d; pcap %d, %d/%d", k, f.SubflowCount, f.ICMPType, f.ICMPCode, p.SubflowCount, p.ICMPType, p.ICMPCode)
		}
		if len(f.Samples) != len(p.Samples) {
			t.Errorf("%v: kernel %d samples, pcap %d", k, len(f.Samples), len(p.Samples))
		}
		for _, dt := range []int64{f.Start - p.Start, f.End - p.End} {
			worst = max(worst, absDur(dt))
		}
		// Timing features (docs/kernel.md), checked below.
		for _, m := range []struct {
			name string
			k, p *collector.Moments
		}{{"flow IAT", &f.IAT, &p.IAT}, {"fwd IAT", &f.Fwd.IAT, &p.Fwd.IAT}, {"bwd IAT", &f.Bwd.IAT, &p.Bwd.IAT}} {
			if m.k.N != m.p.N {
				t.Errorf("%v %s: kernel %d gaps, pcap %d", k, m.name, m.k.N, m.p.N)
				continue
			}
			if m.k.N > 0 {
				gaps = append(gaps, gapStats{k, m.name, [4]float64{m.k.Mean(), m.k.Std(), m.k.Min, m.k.Max}, [4]float64{m.p.Mean(), m.p.Std(), m.p.Min, m.p.Max}})
			}
		}
	}
	// The kernel and tcpdump stamp each packet a few microseconds apart,
	// so each gap, and every statistic of the gaps, may differ by twice
	// the largest such difference; the kernel's sum of squares in
	// (1.024 us)^2 units adds noise to the std of long flows (docs/kernel.md),
	// about 1 us for gaps of milliseconds. Allowed: four times
	// the largest first/last difference, at least minGapTolerance.
	tol := max(minGapTolerance(t), 4*worst)
	var worstIAT time.Duration
	for _, g := range gaps {
		for i, what := range []string{"mean", "std", "min", "max"} {
			d := time.Duration(math.Abs(g.k[i] - g.p[i]))
			worstIAT = max(worstIAT, d)
			if d > tol {
				t.Errorf("%v %s %s: kernel %v, pcap %v (tolerance %v)", g.key, g.name, what, time.Duration(g.k[i]), time.Duration(g.p[i]), tol)
			}
		}
	}
	var pairs []flowPair
	for _, p := range pcap {
		if f := km[p.Key]; f != nil && pm[p.Key] == p {
			pairs = append(pairs, flowPair{k: f, p: p})
		}
	}
	compareFeatureRows(t, pairs, kernel, rowTolerance{worst: worst, gap: tol})
	for k, f := range km {
		if pm[k] == nil {
			t.Errorf("flow %v (%d+%d packets) from the kernel but not in the tcpdump capture", k, f.Fwd.Packets, f.Bwd.Packets)
		}
	}
	if worst > timeTolerance {
		t.Errorf("first/last packet times differ by up to %v, tolerance %v", worst, timeTolerance)
	}
	t.Logf("first/last times differ by up to %v, gap statistics (IAT mean, std, min, max) by up to %v", worst, worstIAT)
	return worst
}

// servers starts, inside the server namespace, an HTTP server on :8080, a
// UDP echo on :9000 and a DNS-shaped UDP responder on :53.
func servers(t *testing.T, n *testNet) {
	t.Helper()
	var hl net.Listener
	var ucs []net.PacketConn
	err := inNetns(n.ServerNS, func() error {
		var err error
		hl, err = net.Listen("tcp", n.ServerIP+":8080")
		if err != nil {
			return err
		}
		for _, port := range []string{"9000", "53"} {
			uc, err := net.ListenPacket("udp", n.ServerIP+":"+port)
			if err != nil {
				return err
			}
			ucs = append(ucs, uc)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("start servers in %s: %v", n.ServerNS, err)
	}
	big := strings.Repeat("flowhawk ", 20000) // 180 kB: many segments
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			io.WriteString(w, big)
			return
		}
		io.WriteString(w, "hello from the server namespace\n")
	})}
	go srv.Serve(hl)
	t.Cleanup(func() { srv.Close() })
	for _, uc := range ucs {
		go func() {
			buf := make([]byte, 65536)
			for {
				n, addr, err := uc.ReadFrom(buf)
				if err != nil {
					return
				}
				uc.WriteTo(buf[:n], addr)
			}
		}()
		t.Cleanup(func() { uc.Close() })
	}
}

func clientRun(t *testing.T, n *testNet, name string, args ...string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("traffic tool %s not installed: %v", name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := nsCmd(ctx, n.ClientNS, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// TestCaptureMatchesTcpdump sends ping, HTTP (small and 180 kB), UDP, a
// DNS query and a burst of SYNs through the veth pair, and checks that the
// kernel path and the pcap path on tcpdump's file agree flow by flow, with
// each ingress hook: XDP in driver mode (veth has native XDP), XDP in
// generic (skb) mode, and TC, which --ingress auto picks on veth.
func TestCaptureMatchesTcpdump(t *testing.T) {
	for _, c := range []struct{ name, ingress, xdpMode, want string }{
		{"xdp-native", "xdp", "native", "xdp native"},
		{"xdp-generic", "xdp", "generic", "xdp generic"},
		{"auto-tc", "auto", "auto", tcHook()},
	} {
		t.Run(c.name, func(t *testing.T) { captureMatchesTcpdump(t, c.ingress, c.xdpMode, c.want) })
	}
}

func captureMatchesTcpdump(t *testing.T, ingress, xdpMode, want string) {
	n := newNet(t)
	servers(t, n)
	kc := startKernel(t, n.ClientNS, collector.KernelConfig{Interfaces: []string{n.ClientIf}, Ingress: ingress, XDPMode: xdpMode, ScanInterval: 200 * time.Millisecond})
	if at := kc.src.Attachments(); len(at) != 1 || at[0].Ingress != want {
		t.Fatalf("attached %v, want ingress %s", at, want)
	}
	td := startTcpdump(t, n.ClientNS, n.ClientIf)

	clientRun(t, n, "ping", "-c", "5", "-i", "0.05", n.ServerIP)
	clientRun(t, n, "curl", "-sS", "-o", "/dev/null", "http://"+n.ServerIP+":8080/")
	clientRun(t, n, "curl", "-sS", "-o", "/dev/null", "http://"+n.ServerIP+":8080/big")
	clientRun(t, n, "sh", "-c", fmt.Sprintf("printf 'hello udp\\n' | nc -u -w 1 -p 40053 %s 9000", n.ServerIP))
	// IP fragments on the wire: a 3000-byte ping and a 3000-byte UDP
	// datagram (later fragments take their ports from the first).
	clientRun(t, n, "ping", "-c", "2", "-i", "0.05", "-s", "3000", n.ServerIP)
	clientRun(t, n, "sh", "-c", fmt.Sprintf("head -c 3000 /dev/zero | nc -u -w 1 -p 40056 %s 9000", n.ServerIP))
	if _, err := exec.LookPath("dig"); err == nil {
		// The server echoes the query back, which dig rejects: ignore its status.
		clientRun(t, n, "sh", "-c", fmt.Sprintf("dig @%s -p 53 +tries=1 +time=1 www.example.com A >/dev/null 2>&1; true", n.ServerIP))
	} else {
		t.Log("dig not installed: DNS snippet check skipped")
	}
	if _, err := exec.LookPath("hping3"); err == nil {
		// 40 SYNs to a closed port, one source port each: 40 SYN/RST flows.
		clientRun(t, n, "hping3", "-q", "-S", "-p", "81", "-c", "40", "-i", "u2000", "-s", "30000", n.ServerIP)
	} else {
		t.Log("hping3 not installed: SYN burst skipped")
	}
	time.Sleep(300 * time.Millisecond) // last replies

	pcapPath := td.stop(t)
	kflows := kc.stop(t)
	pflows := pcapFlows(t, pcapPath, 32)
	if len(pflows) < 5 {
		t.Fatalf("tcpdump path has only %d flows", len(pflows))
	}
	worst := compareFlows(t, kflows, pflows)
	st := kc.src.Stats()
	t.Logf("%d flows match (kernel %d packets accounted, %d non-IP; worst time difference %v); loss counters: map full %d, ring full %d, parse errors %d",
		len(pflows), st.Accounted, st.NonIP, worst, st.MapFull, st.RingbufFull, st.ParseErrors)
	if st.MapFull != 0 || st.RingbufFull != 0 || st.ParseErrors != 0 {
		t.Errorf("unexpected losses: %+v", st)
	}
	if st.Fragments == 0 || st.FragNoFirst != 0 {
		t.Errorf("fragments %d, without first %d: want some, all with their first", st.Fragments, st.FragNoFirst)
	}
	// DNS snippets: the query and the echoed reply carry the name.
	if _, err := exec.LookPath("dig"); err == nil {
		found := 0
		kc.mu.Lock()
		for _, d := range kc.dns {
			if strings.Contains(string(d), "\x03www\x07example\x03com\x00") {
				found++
			}
		}
		kc.mu.Unlock()
		if found < 2 {
			t.Errorf("%d DNS snippets carry www.example.com, want the query and its echo (%d snippets)", found, len(kc.dns))
		}
	}
	assertDetached(t, n)
}

// assertDetached checks that nothing of ours is left on the interface.
func assertDetached(t *testing.T, n *testNet) {
	t.Helper()
	out := run(t, "ip", "-n", n.ClientNS, "link", "show", n.ClientIf)
	if strings.Contains(out, "xdp") {
		t.Errorf("XDP still attached after stop: %s", out)
	}
	if _, err := exec.LookPath("bpftool"); err == nil {
		out := run(t, "ip", "netns", "exec", n.ClientNS, "bpftool", "net", "show", "dev", n.ClientIf)
		if strings.Contains(out, "flowhawk") {
			t.Errorf("bpftool net still shows our programs: %s", out)
		}
	}
	for _, dir := range []string{"ingress", "egress"} {
		if got := tcPrograms(t, n.ClientNS, n.ClientIf, dir); len(got) != 0 {
			t.Errorf("TC %s programs left after stop: %v", dir, got)
		}
	}
}

// TestCaptureLoopback captures on lo, where every packet is both sent and
// received by the same device: the kernel path must count it once, as
// tcpdump on lo does.
func TestCaptureLoopback(t *testing.T) {
	n := newNet(t)
	kc := startKernel(t, n.ClientNS, collector.KernelConfig{Interfaces: []string{"lo"}, ScanInterval: 200 * time.Millisecond})
	if at := kc.src.Attachments(); len(at) != 1 || at[0].Ingress != "none" {
		t.Fatalf("attached %v, want egress only on loopback", at)
	}
	td := startTcpdump(t, n.ClientNS, "lo")
	clientRun(t, n, "ping", "-c", "4", "-i", "0.05", "127.0.0.1")
	clientRun(t, n, "sh", "-c", "printf 'hello lo\\n' | nc -u -w 1 -p 40057 127.0.0.1 9000; true")
	time.Sleep(200 * time.Millisecond)
	pcapPath := td.stop(t)
	kflows := kc.stop(t)
	pflows := pcapFlows(t, pcapPath, 32)
	if len(pflows) < 2 {
		t.Fatalf("tcpdump path has only %d flows", len(pflows))
	}
	worst := compareFlows(t, kflows, pflows)
	t.Logf("%d loopback flows match (worst time difference %v)", len(pflows), worst)
}

// TestCaptureEgressGSO captures on the server's end while it sends HTTP
// downloads: TC egress sees the TCP stack's GSO packets (up to 64 KB)
// before the kernel segments them for the device (offloads are off, so
// tcpdump sees the wire segments). The kernel path must account the
// segments, so both agree packet for packet.
func TestCaptureEgressGSO(t *testing.T) {
	n := newNet(t)
	servers(t, n)
	flows, segmented, worst := downloadsAgainstWire(t, n, n.ServerNS, n.ServerIf)
	if segmented == 0 {
		t.Errorf("no GSO packet seen on egress: the test did not exercise segmentation")
	}
	t.Logf("%d flows match; %d GSO packets accounted as their segments (worst time difference %v)", flows, segmented, worst)
}

// TestCaptureIngressGRO turns GRO on at the client's end, so the TC
// ingress program (--ingress auto on veth) sees the server's downloads
// merged into packets of up to 64 KB, and compares the kernel path with a
// tcpdump at the server's end, where the segments go out one by one
// (offloads off there): the kernel path must account the wire segments.
func TestCaptureIngressGRO(t *testing.T) {
	if _, err := exec.LookPath("ethtool"); err != nil {
		t.Skip("needs ethtool to turn GRO on")
	}
	n := newNet(t)
	servers(t, n)
	run(t, "ip", "netns", "exec", n.ClientNS, "ethtool", "-K", n.ClientIf, "gro", "on")
	flows, segmented, worst := downloadsAgainstWire(t, n, n.ClientNS, n.ClientIf)
	if segmented == 0 {
		t.Skipf("no GRO packet reached TC ingress (GRO on this veth had no effect): nothing to check (%d flows matched)", flows)
	}
	t.Logf("%d flows match the sender's tcpdump; %d GRO packets accounted as their segments (worst time difference %v)", flows, segmented, worst)
}

// downloadsAgainstWire captures with the kernel path on iface of ns while
// the client makes three 180 kB HTTP downloads, and compares its flows
// with tcpdump at the server's end, where the segments leave one by one.
// It returns how many flows matched, how many GSO/GRO packets the kernel
// split, and the worst first/last time difference.
func downloadsAgainstWire(t *testing.T, n *testNet, ns, iface string) (int, uint64, time.Duration) {
	t.Helper()
	kc := startKernel(t, ns, collector.KernelConfig{Interfaces: []string{iface}, ScanInterval: 200 * time.Millisecond})
	td := startTcpdump(t, n.ServerNS, n.ServerIf)
	for range 3 {
		clientRun(t, n, "curl", "-sS", "-o", "/dev/null", "http://"+n.ServerIP+":8080/big")
	}
	time.Sleep(300 * time.Millisecond)
	pcapPath := td.stop(t)
	kflows := kc.stop(t)
	pflows := pcapFlows(t, pcapPath, 32)
	worst := compareFlows(t, kflows, pflows)
	return len(pflows), kc.src.Stats().Segmented, worst
}
