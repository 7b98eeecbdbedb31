//go:build linux

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

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

// BenchmarkVethTrafgen pushes UDP packets of one flow with trafgen
// (netsniff-ng) from the client end through the veth pair, through the
// qdisc path so TC egress hooks run, and reports the packets/s the server
// end received: with nothing attached, with a no-op XDP program on the
// server end (native XDP changes how veth receives, so it is the baseline
// for the XDP figures), and with the sensor on the server end (XDP
// ingress sees every packet) or on the client end (TC egress sees every
// packet). pkts/s is wall time on whatever else the machine runs; compare
// the sub-benchmarks of one run as ratios.
func BenchmarkVethTrafgen(b *testing.B) {
	if _, err := exec.LookPath("trafgen"); err != nil {
		b.Skip("needs trafgen (apt-get install netsniff-ng)")
	}
	const perRun = 1_000_000
	for _, mode := range []string{"none", "noop-xdp-server", "sensor-xdp-server", "sensor-tc-client"} {
		b.Run(mode, func(b *testing.B) {
			n := newNet(b)
			cfgPath := filepath.Join(b.TempDir(), "udp.cfg")
			conf := fmt.Sprintf("{ eth(da=%s, sa=%s), ipv4(sa=%s, da=%s, ttl=64), udp(sp=4000, dp=9), fill(0x41, 64) }\n",
				macOf(b, n.ServerNS, n.ServerIf), macOf(b, n.ClientNS, n.ClientIf), n.ClientIP, n.ServerIP)
			if err := os.WriteFile(cfgPath, []byte(conf), 0o644); err != nil {
				b.Fatal(err)
			}
			var src *collector.KernelSource
			switch mode {
			case "noop-xdp-server":
				var objs bpf.FlowhawkObjects
				if err := bpf.LoadFlowhawkObjects(&objs, nil); err != nil {
					b.Fatal(err)
				}
				defer objs.Close()
				var l link.Link
				if err := inNetns(n.ServerNS, func() error {
					idx, err := ifIndex(n.ServerIf)
					if err != nil {
						return err
					}
					l, err = link.AttachXDP(link.XDPOptions{Program: objs.NoopXdp, Interface: idx})
					return err
				}); err != nil {
					b.Fatal(err)
				}
				defer l.Close()
			case "sensor-xdp-server", "sensor-tc-client":
				ns, ifc := n.ServerNS, n.ServerIf
				if mode == "sensor-tc-client" {
					ns, ifc = n.ClientNS, n.ClientIf
				}
				if err := inNetns(ns, func() error {
					var err error
					src, err = collector.OpenKernel(collector.KernelConfig{Interfaces: []string{ifc}})
					return err
				}); err != nil {
					b.Fatal(err)
				}
				defer src.Close()
			}
			var pkts uint64
			var el time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				before := rxPackets(b, n.ServerNS, n.ServerIf)
				t0 := time.Now()
				out, err := exec.Command("ip", "netns", "exec", n.ClientNS, "trafgen", "--dev", n.ClientIf, "--out", n.ClientIf,
					"--qdisc-path", "--conf", cfgPath, "-n", strconv.Itoa(perRun), "-P", "1", "-C").CombinedOutput()
				el += time.Since(t0)
				if err != nil {
					b.Fatalf("trafgen: %v: %s", err, out)
				}
				pkts += rxPackets(b, n.ServerNS, n.ServerIf) - before
			}
			b.ReportMetric(float64(pkts)/el.Seconds(), "pkts/s")
			if src != nil {
				st := src.Stats()
				b.ReportMetric(float64(st.Packets)/float64(pkts), "seen/rx")
			}
		})
	}
}
