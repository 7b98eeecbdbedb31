//go:build linux

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/flowhawk/flowhawk/bpf"
	"github.com/flowhawk/flowhawk/collector"
)

func rxPackets(tb testing.TB, ns, iface string) uint64 {
	tb.Helper()
	out := run(tb, "ip", "netns", "exec", ns, "cat", "/sys/class/net/"+iface+"/statistics/rx_packets")
	n, err := strconv.ParseUint(strings.TrimSpace(out), 10, 64)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

func macOf(tb testing.TB, ns, iface string) string {
	tb.Helper()
	return strings.TrimSpace(run(tb, "ip", "netns", "exec", ns, "cat", "/sys/class/net/"+iface+"/address"))
}

// vethModes are the configurations BenchmarkVethTrafgen compares.
// A "+sendto" mode sends with sendto(2) (trafgen -t 0) instead of
// packet(7)'s TX_RING: its packets have their headers in the linear part
// of the socket buffer, as packets from the socket layer have, where
// TX_RING leaves all but the Ethernet header in page fragments, which the
// TC programs must pull (copy) before they can parse. Those modes are
// compared with "none+sendto".
var vethModes = []string{"none", "noop-xdp-server", "sensor-xdp-server", "noop-tc-server", "sensor-auto-server", "sensor-tc-client",
	"none+sendto", "noop-tc-server+sendto", "sensor-auto-server+sendto"}

// BenchmarkVethTrafgen pushes UDP packets of one flow with trafgen
// (netsniff-ng) from the client end through the veth pair, through the
// qdisc path so TC egress hooks run, and reports the packets/s the server
// end received: with nothing attached, with a no-op XDP program on the
// server end (native XDP changes how veth receives, so it is the baseline
// for the XDP figures; a no-op TC ingress program is that of the TC
// figures), and with the sensor on the server end (ingress sees every
// packet: forced XDP, or what --ingress auto picks on veth, TC) or on the
// client end (TC egress sees every packet).
//
// Each iteration is one round that runs every configuration once, in
// turn, on the same veth pair, so the machine's drift (this VM's rate
// moves by 40 % within a minute) falls on all of them alike; the metrics
// are the median over rounds of each configuration's rate divided by the
// rate with nothing attached in the same round (run with -benchtime Nx
// for N rounds).
func BenchmarkVethTrafgen(b *testing.B) {
	if _, err := exec.LookPath("trafgen"); err != nil {
		b.Skip("needs trafgen (apt-get install netsniff-ng)")
	}
	const perRun = 500_000
	n := newNet(b)
	cfgPath := filepath.Join(b.TempDir(), "udp.cfg")
	conf := fmt.Sprintf("{ eth(da=%s, sa=%s), ipv4(sa=%s, da=%s, ttl=64), udp(sp=4000, dp=9), fill(0x41, 64) }\n",
		macOf(b, n.ServerNS, n.ServerIf), macOf(b, n.ClientNS, n.ClientIf), n.ClientIP, n.ServerIP)
	if err := os.WriteFile(cfgPath, []byte(conf), 0o644); err != nil {
		b.Fatal(err)
	}
	var objs bpf.FlowhawkObjects
	if err := bpf.LoadFlowhawkObjects(&objs, nil); err != nil {
		b.Fatal(err)
	}
	defer objs.Close()
	// attach sets mode up and returns what undoes it.
	attach := func(mode string) (func(), error) {
		switch strings.TrimSuffix(mode, "+sendto") {
		case "noop-xdp-server", "noop-tc-server":
			tc := strings.HasPrefix(mode, "noop-tc-server")
			var l link.Link
			err := inNetns(n.ServerNS, func() error {
				idx, err := ifIndex(n.ServerIf)
				if err != nil {
					return err
				}
				if tc {
					l, err = link.AttachTCX(link.TCXOptions{Program: objs.NoopTc, Interface: idx, Attach: ebpf.AttachTCXIngress})
				} else {
					l, err = link.AttachXDP(link.XDPOptions{Program: objs.NoopXdp, Interface: idx})
				}
				return err
			})
			if err != nil {
				return nil, err
			}
			return func() { l.Close() }, nil
		case "sensor-xdp-server", "sensor-auto-server", "sensor-tc-client":
			ns, ifc := n.ServerNS, n.ServerIf
			if mode == "sensor-tc-client" {
				ns, ifc = n.ClientNS, n.ClientIf
			}
			ingress := "auto" // TC ingress on veth
			if strings.HasPrefix(mode, "sensor-xdp-server") {
				ingress = "xdp"
			}
			var src *collector.KernelSource
			if err := inNetns(ns, func() error {
				var err error
				src, err = collector.OpenKernel(collector.KernelConfig{Interfaces: []string{ifc}, Ingress: ingress})
				return err
			}); err != nil {
				return nil, err
			}
			return func() {
				if st := src.Stats(); st.Packets < perRun {
					b.Errorf("%s: the sensor saw %d packets, want at least %d", mode, st.Packets, perRun)
				}
				src.Close()
			}, nil
		}
		return func() {}, nil
	}
	ratios := map[string][]float64{}
	rates := map[string][]float64{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		round := map[string]float64{}
		for _, mode := range vethModes {
			undo, err := attach(mode)
			if err != nil {
				b.Fatalf("%s: %v", mode, err)
			}
			before := rxPackets(b, n.ServerNS, n.ServerIf)
			args := []string{"netns", "exec", n.ClientNS, "trafgen", "--dev", n.ClientIf, "--out", n.ClientIf,
				"--qdisc-path", "--conf", cfgPath, "-n", strconv.Itoa(perRun), "-P", "1", "-C"}
			if strings.HasSuffix(mode, "+sendto") {
				args = append(args, "-t", "0")
			}
			t0 := time.Now()
			out, err := exec.Command("ip", args...).CombinedOutput()
			el := time.Since(t0)
			undo()
			if err != nil {
				b.Fatalf("trafgen: %v: %s", err, out)
			}
			round[mode] = float64(rxPackets(b, n.ServerNS, n.ServerIf)-before) / el.Seconds()
			rates[mode] = append(rates[mode], round[mode])
		}
		for _, mode := range vethModes[1:] {
			base := "none"
			if strings.HasSuffix(mode, "+sendto") && mode != "none+sendto" {
				base = "none+sendto"
			}
			ratios[mode] = append(ratios[mode], round[mode]/round[base])
		}
	}
	b.StopTimer()
	b.ReportMetric(median(rates["none"]), "none-pkts/s")
	b.ReportMetric(median(rates["none+sendto"]), "none+sendto-pkts/s")
	for _, mode := range vethModes[1:] {
		if mode == "none+sendto" {
			b.ReportMetric(median(ratios[mode]), "sendto/tx-ring")
			continue
		}
		b.ReportMetric(median(ratios[mode]), mode+"/none")
		b.Logf("%-20s pkts/s %v; /none %v", mode, rates[mode], ratios[mode])
	}
	b.ReportMetric(median(ratios["sensor-xdp-server"])/median(ratios["noop-xdp-server"]), "sensor-xdp/noop-xdp")
	b.ReportMetric(median(ratios["sensor-auto-server"])/median(ratios["noop-tc-server"]), "sensor-tc/noop-tc")
}

// BenchmarkVethFlood sends UDP packets from random source ports (up to
// 65,536 flows, a sample for nearly every packet) through the veth pair to
// the sensor on the server end (--ingress auto) with its collector running,
// so each packet costs a flow-map update, a ring-buffer record and the
// reader's share; it reports the median over rounds of the rate with the
// sensor over the rate with nothing attached in the same round. This is
// where a wakeup of the reader per record showed (0.33-0.54 of the rate,
// against 0.60-0.97 with wakeups batched by wake_bytes).
func BenchmarkVethFlood(b *testing.B) {
	if _, err := exec.LookPath("trafgen"); err != nil {
		b.Skip("needs trafgen (apt-get install netsniff-ng)")
	}
	const perRun = 300_000
	n := newNet(b)
	cfgPath := filepath.Join(b.TempDir(), "flood.cfg")
	conf := fmt.Sprintf("{ eth(da=%s, sa=%s), ipv4(sa=%s, da=%s, ttl=64), udp(sp=drnd(), dp=9), fill(0x41, 64) }\n",
		macOf(b, n.ServerNS, n.ServerIf), macOf(b, n.ClientNS, n.ClientIf), n.ClientIP, n.ServerIP)
	if err := os.WriteFile(cfgPath, []byte(conf), 0o644); err != nil {
		b.Fatal(err)
	}
	send := func() float64 {
		before := rxPackets(b, n.ServerNS, n.ServerIf)
		t0 := time.Now()
		out, err := exec.Command("ip", "netns", "exec", n.ClientNS, "trafgen", "--dev", n.ClientIf, "--out", n.ClientIf,
			"--qdisc-path", "--conf", cfgPath, "-n", strconv.Itoa(perRun), "-P", "1", "-C").CombinedOutput()
		el := time.Since(t0)
		if err != nil {
			b.Fatalf("trafgen: %v: %s", err, out)
		}
		return float64(rxPackets(b, n.ServerNS, n.ServerIf)-before) / el.Seconds()
	}
	var ratios, rates []float64
	var lost uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		none := send()
		var src *collector.KernelSource
		if err := inNetns(n.ServerNS, func() error {
			var err error
			src, err = collector.OpenKernel(collector.KernelConfig{Interfaces: []string{n.ServerIf}, Ingress: "auto"})
			return err
		}); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		var events int
		go func() { done <- src.Run(ctx, nil, func(*collector.Packet) { events++ }) }()
		with := send()
		cancel()
		if err := <-done; err != nil {
			b.Errorf("collector: %v", err)
		}
		st := src.Stats()
		src.Close()
		if events < perRun {
			b.Errorf("the collector saw %d sampled packets, want at least %d", events, perRun)
		}
		lost += st.RingbufFull
		ratios, rates = append(ratios, with/none), append(rates, none)
	}
	b.StopTimer()
	b.ReportMetric(median(rates), "none-pkts/s")
	b.ReportMetric(median(ratios), "sensor/none")
	b.ReportMetric(float64(lost), "ringbuf-full")
	b.Logf("sensor/none per round %v", ratios)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	c := append([]float64(nil), v...)
	sort.Float64s(c)
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}
