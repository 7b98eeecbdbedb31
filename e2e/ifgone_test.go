//go:build linux

package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/internal/syncbuf"
)

// goneModes are the attach methods a deleted interface is checked under:
// TCX links and XDP links report interface 0, clsact filters go with their
// device and are found gone by its index.
var goneModes = []struct {
	name string
	cfg  collector.KernelConfig
	args []string // the same for the CLI
}{
	{"tcx", collector.KernelConfig{}, nil},
	{"clsact", collector.KernelConfig{TCAttach: "clsact"}, []string{"--tc-attach", "clsact"}},
	{"xdp", collector.KernelConfig{Ingress: "xdp", XDPMode: "generic"}, []string{"--xdp-mode", "generic"}},
}

// needTC skips clsact cases where tc(8) is missing: they inspect and
// remove the filters with it (the capture itself does not run it).
func needTC(t *testing.T, mode string) {
	t.Helper()
	if _, err := exec.LookPath("tc"); err != nil && mode == "clsact" {
		t.Skip("tc(8) not installed: the clsact filters cannot be checked")
	}
}

// captureLog sends slog's output to a buffer for the rest of the test.
func captureLog(t *testing.T) *syncbuf.Buffer {
	var logged syncbuf.Buffer
	prev := slog.Default()
	t.Cleanup(func() { slog.SetDefault(prev) })
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	return &logged
}

// waitLog waits up to 10 s for text in the capture's log: the scans that
// find an interface or a filter gone come a scan interval or more later,
// which a fixed sleep missed on a busy machine.
func waitLog(t *testing.T, logged *syncbuf.Buffer, text string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logged.String(), text); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log after 10 s: %s", text, logged.String())
		}
	}
}

// TestCaptureInterfaceGone captures on two interfaces and deletes one: the
// source must warn once, naming it, and go on counting the other (a
// capture audit saw a deleted interface pass without a word; with clsact
// it still did, since filters have no link to ask).
func TestCaptureInterfaceGone(t *testing.T) {
	for _, m := range goneModes {
		t.Run(m.name, func(t *testing.T) {
			n := newNet(t)
			run(t, "ip", "-n", n.ClientNS, "link", "add", "fhgone0", "type", "veth", "peer", "name", "fhgone1")
			run(t, "ip", "-n", n.ClientNS, "link", "set", "fhgone0", "up")
			logged := captureLog(t)
			cfg := m.cfg
			cfg.Interfaces, cfg.ScanInterval = []string{n.ClientIf, "fhgone0"}, 100*time.Millisecond
			kc := startKernel(t, n.ClientNS, cfg)
			run(t, "ip", "-n", n.ClientNS, "link", "del", "fhgone0")
			waitLog(t, logged, "interface is gone")
			clientRun(t, n, "ping", "-c", "2", "-i", "0.05", n.ServerIP)
			time.Sleep(200 * time.Millisecond)
			if icmp := protoPackets(kc.stop(t), 1); icmp != 4 {
				t.Errorf("%d ICMP packets counted on %s after the other interface went, want 4", icmp, n.ClientIf)
			}
			if l := logged.String(); strings.Count(l, "interface is gone") != 1 || !strings.Contains(l, "iface=fhgone0") {
				t.Errorf("log: %q, want one warning naming fhgone0", l)
			}
		})
	}
}

// TestCaptureInterfaceReturns deletes one of two captured interfaces and
// creates it again under its name (a PPP or VPN device re-created on
// reconnect): the capture must warn once that it went, attach again when
// it is back, count the new device's traffic, list it once in
// Attachments, and leave nothing attached to it after stop. It used to go
// on without it until restarted.
func TestCaptureInterfaceReturns(t *testing.T) {
	for _, m := range goneModes {
		t.Run(m.name, func(t *testing.T) {
			needTC(t, m.name)
			n := newNet(t)
			mk := func() {
				run(t, "ip", "-n", n.ClientNS, "link", "add", "fhback0", "type", "veth", "peer", "name", "fhback1", "netns", n.ServerNS)
				run(t, "ip", "-n", n.ClientNS, "addr", "add", "10.198.0.1/24", "dev", "fhback0")
				run(t, "ip", "-n", n.ServerNS, "addr", "add", "10.198.0.2/24", "dev", "fhback1")
				run(t, "ip", "-n", n.ClientNS, "link", "set", "fhback0", "up")
				run(t, "ip", "-n", n.ServerNS, "link", "set", "fhback1", "up")
			}
			mk()
			logged := captureLog(t)
			cfg := m.cfg
			cfg.Interfaces, cfg.ScanInterval = []string{n.ClientIf, "fhback0"}, 100*time.Millisecond
			kc := startKernel(t, n.ClientNS, cfg)
			run(t, "ip", "-n", n.ClientNS, "link", "del", "fhback0")
			time.Sleep(500 * time.Millisecond)
			mk()
			time.Sleep(500 * time.Millisecond)
			clientRun(t, n, "ping", "-c", "2", "-i", "0.05", "10.198.0.2")
			time.Sleep(200 * time.Millisecond)
			if icmp := protoPackets(kc.stop(t), 1); icmp != 4 {
				t.Errorf("%d ICMP packets counted on the re-created fhback0, want 4", icmp)
			}
			l := logged.String()
			if strings.Count(l, "interface is gone") != 1 || strings.Count(l, "attached again") != 1 || !strings.Contains(l, "iface=fhback0") {
				t.Errorf("log: %q, want one warning that fhback0 went and one note that it was attached again", l)
			}
			var names []string
			for _, a := range kc.src.Attachments() {
				names = append(names, a.Iface)
			}
			if strings.Join(names, ",") != n.ClientIf+",fhback0" {
				t.Errorf("attachments %v, want %s and fhback0 once each", names, n.ClientIf)
			}
			switch m.name {
			case "clsact":
				for _, dir := range []string{"ingress", "egress"} {
					if out := run(t, "tc", "-n", n.ClientNS, "filter", "show", "dev", "fhback0", dir); strings.Contains(out, "flowhawk") {
						t.Errorf("our %s filter left on fhback0 after stop: %s", dir, out)
					}
				}
			case "xdp":
				if out := run(t, "ip", "-n", n.ClientNS, "link", "show", "fhback0"); strings.Contains(out, "xdp") {
					t.Errorf("XDP left on fhback0 after stop: %s", out)
				}
			}
		})
	}
}

// TestCaptureAllInterfacesGone deletes the only captured interface, or
// moves it to another network namespace: Run must end by itself, through
// its flush (the flow counted before is handed over), with
// ErrInterfacesGone naming it. It ran on with nothing attached until
// stopped, and returned nil, so a service manager never restarted it. A
// moved device keeps its TCX and XDP links and its index: that capture ran
// on without a word, counting the other namespace's traffic.
func TestCaptureAllInterfacesGone(t *testing.T) {
	for _, way := range []struct {
		name string
		do   func(t *testing.T, n *testNet)
	}{
		{"deleted", func(t *testing.T, n *testNet) { run(t, "ip", "-n", n.ClientNS, "link", "del", n.ClientIf) }},
		{"moved", func(t *testing.T, n *testNet) {
			other := n.ClientNS + "-mv"
			run(t, "ip", "netns", "add", other)
			t.Cleanup(func() { exec.Command("ip", "netns", "del", other).Run() })
			run(t, "ip", "-n", n.ClientNS, "link", "set", n.ClientIf, "netns", other)
		}},
	} {
		for _, m := range goneModes {
			t.Run(way.name+"/"+m.name, func(t *testing.T) {
				n := newNet(t)
				logged := captureLog(t)
				cfg := m.cfg
				cfg.Interfaces, cfg.ScanInterval = []string{n.ClientIf}, 100*time.Millisecond
				kc := startKernel(t, n.ClientNS, cfg)
				clientRun(t, n, "ping", "-c", "2", "-i", "0.05", n.ServerIP)
				way.do(t, n)
				select {
				case err := <-kc.done:
					if !errors.Is(err, collector.ErrInterfacesGone) || !strings.Contains(err.Error(), n.ClientIf) {
						t.Errorf("Run: %v, want ErrInterfacesGone naming %s", err, n.ClientIf)
					}
				case <-time.After(5 * time.Second):
					kc.cancel()
					<-kc.done
					t.Fatalf("Run went on 5 s after its only interface was %s", way.name)
				}
				kc.mu.Lock()
				icmp := protoPackets(kc.flows, 1)
				kc.mu.Unlock()
				if icmp != 4 {
					t.Errorf("%d ICMP packets flushed, want 4", icmp)
				}
				if l := logged.String(); !strings.Contains(l, "interface is gone") || !strings.Contains(l, "iface="+n.ClientIf) {
					t.Errorf("log: %q, want a warning naming %s", l, n.ClientIf)
				}
			})
		}
	}
}

// TestCLICaptureAllInterfacesGone is the systemd unit's case: the only
// interface goes away, and `flowhawk capture` must end by itself with exit
// status 1 and say why (Restart=on-failure then restarts it), after
// writing the flows it had. It ran on and exited 0 on SIGTERM.
func TestCLICaptureAllInterfacesGone(t *testing.T) {
	for _, m := range goneModes {
		t.Run(m.name, func(t *testing.T) {
			n := newNet(t)
			bin := flowhawkBin(t)
			out := filepath.Join(t.TempDir(), "flows.jsonl")
			cmd, stderr := startCLI(t, n.ClientNS, bin, append([]string{"capture", "-i", n.ClientIf, "-o", out, "--no-windows"}, m.args...)...)
			waitCapturing(t, stderr)
			clientRun(t, n, "ping", "-c", "2", "-i", "0.05", n.ServerIP)
			run(t, "ip", "-n", n.ClientNS, "link", "del", n.ClientIf)
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			var err error
			select {
			case err = <-exited:
			case <-time.After(10 * time.Second):
				cmd.Process.Signal(syscall.SIGTERM)
				<-exited
				t.Fatalf("capture went on 10 s after its only interface was deleted:\n%s", stderr.String())
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Errorf("exit: %v, want status 1\n%s", err, stderr.String())
			}
			s := stderr.String()
			if !strings.Contains(s, "iface="+n.ClientIf) || !strings.Contains(s, "every captured interface is gone ("+n.ClientIf) ||
				!strings.Contains(s, "\nstopped by an error: every captured interface is gone") {
				t.Errorf("stderr does not name the interface gone and the reason for ending:\n%s", s)
			}
			if strings.Contains(s, "detach") {
				t.Errorf("detaching from a deleted device reported an error:\n%s", s)
			}
			if icmp := jsonlPackets(t, out, 1); icmp != 4 {
				t.Errorf("%v ICMP packets in %s, want 4", icmp, out)
			}
		})
	}
}

// TestCLICaptureInterfaceRecreated deletes one of two captured interfaces
// with --tc-attach clsact and creates another of the same name, on which
// another tool adds its own clsact filter: the capture must warn, attach
// again to the new device beside that filter, and at SIGTERM exit 0,
// deleting its own filter there and nothing else. It once said nothing,
// then failed (exit 1) deleting its filter from the new device: "tc
// filter del ... Filter with specified priority/protocol not found".
func TestCLICaptureInterfaceRecreated(t *testing.T) {
	needTC(t, "clsact")
	n := newNet(t)
	bin := flowhawkBin(t)
	mk := func() {
		run(t, "ip", "-n", n.ClientNS, "link", "add", "fhrc0", "type", "veth", "peer", "name", "fhrc1")
		run(t, "ip", "-n", n.ClientNS, "link", "set", "fhrc0", "up")
	}
	mk()
	cmd, stderr := startCLI(t, n.ClientNS, bin, "capture", "-i", n.ClientIf+",fhrc0", "--tc-attach", "clsact", "-o", "none")
	waitCapturing(t, stderr)
	run(t, "ip", "-n", n.ClientNS, "link", "del", "fhrc0")
	mk()
	// replace: the capture may have attached again, adding the qdisc, first.
	run(t, "tc", "-n", n.ClientNS, "qdisc", "replace", "dev", "fhrc0", "clsact")
	run(t, "tc", "-n", n.ClientNS, "filter", "add", "dev", "fhrc0", "ingress", "pref", "100", "protocol", "ip", "bpf", "da", "bytecode", "1,6 0 0 0,")
	time.Sleep(1500 * time.Millisecond) // a scan (1 s) sees the old device gone
	clientRun(t, n, "ping", "-c", "2", "-i", "0.05", n.ServerIP)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("capture exit: %v\n%s", err, stderr.String())
	}
	s := stderr.String()
	if strings.Count(s, "interface is gone") != 1 || strings.Count(s, "attached again") != 1 || !strings.Contains(s, "iface=fhrc0") {
		t.Errorf("stderr: want one warning naming fhrc0 and one note that it was attached again:\n%s", s)
	}
	if !strings.Contains(s, "icmp ") {
		t.Errorf("no ICMP in the summary after fhrc0 was re-created:\n%s", s)
	}
	if out := run(t, "tc", "-n", n.ClientNS, "filter", "show", "dev", "fhrc0", "ingress"); !strings.Contains(out, "pref 100") || strings.Contains(out, "flowhawk") {
		t.Errorf("on the new fhrc0 after stop: %q, want the other tool's filter and not ours", out)
	}
	for _, dir := range []string{"ingress", "egress"} {
		if out := run(t, "tc", "-n", n.ClientNS, "filter", "show", "dev", n.ClientIf, dir); strings.Contains(out, "flowhawk") {
			t.Errorf("our %s filter left on %s: %s", dir, n.ClientIf, out)
		}
	}
}

// jsonlPackets sums the packets of the flows of protocol proto in a JSONL
// flow file.
func jsonlPackets(t *testing.T, path string, proto float64) float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var n float64
	for sc.Scan() {
		var row map[string]any
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("bad JSON line %q: %v", sc.Text(), err)
		}
		if row["Protocol"] == proto {
			n += row["Total Fwd Packets"].(float64) + row["Total Backward Packets"].(float64)
		}
	}
	return n
}

// TestCaptureInterfaceRenamed renames a captured interface under the
// clsact fallback: its index now names a device with another name, but the
// device, and our filters on it, are the same. The capture must not take it
// for gone, must go on counting, and at stop must delete its filters under
// the new name.
func TestCaptureInterfaceRenamed(t *testing.T) {
	needTC(t, "clsact")
	n := newNet(t)
	logged := captureLog(t)
	kc := startKernel(t, n.ClientNS, collector.KernelConfig{Interfaces: []string{n.ClientIf}, TCAttach: "clsact", ScanInterval: 100 * time.Millisecond})
	renamed := "fhrn" + n.ClientIf[3:]
	run(t, "ip", "-n", n.ClientNS, "link", "set", n.ClientIf, "down")
	run(t, "ip", "-n", n.ClientNS, "link", "set", n.ClientIf, "name", renamed)
	run(t, "ip", "-n", n.ClientNS, "link", "set", renamed, "up")
	time.Sleep(500 * time.Millisecond)
	clientRun(t, n, "ping", "-c", "2", "-i", "0.05", n.ServerIP)
	time.Sleep(200 * time.Millisecond)
	if icmp := protoPackets(kc.stop(t), 1); icmp != 4 {
		t.Errorf("%d ICMP packets counted after the rename, want 4", icmp)
	}
	if l := logged.String(); strings.Contains(l, "interface is gone") {
		t.Errorf("a renamed interface was taken for gone: %s", l)
	}
	for _, dir := range []string{"ingress", "egress"} {
		if out := run(t, "tc", "-n", n.ClientNS, "filter", "show", "dev", renamed, dir); strings.Contains(out, "flowhawk") {
			t.Errorf("our %s filter left on %s after stop: %s", dir, renamed, out)
		}
	}
}

// TestCaptureClsactFilterRemoved takes our clsact filters away while the
// interface stays (another tool's `tc qdisc del dev IFACE clsact`, or `tc
// filter del dev IFACE ingress`): the capture must warn, naming the
// interface, attach again, count every packet once, and leave nothing
// after stop. It ran on counting nothing without a word, and its stop
// failed (exit 1) deleting the qdisc that was no longer there.
func TestCaptureClsactFilterRemoved(t *testing.T) {
	needTC(t, "clsact")
	for _, c := range []struct{ name, remove string }{
		{"qdisc", "qdisc del dev %s clsact"},
		{"ingress-filters", "filter del dev %s ingress"},
		// The egress filter is not the one whose attach added the qdisc
		// (ingress is attached first): the qdisc was left after stop.
		{"egress-filters", "filter del dev %s egress"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := newNet(t)
			logged := captureLog(t)
			cfg := collector.KernelConfig{TCAttach: "clsact", Interfaces: []string{n.ClientIf}, ScanInterval: 100 * time.Millisecond}
			kc := startKernel(t, n.ClientNS, cfg)
			clientRun(t, n, "ping", "-c", "2", "-i", "0.05", n.ServerIP)
			run(t, "tc", append([]string{"-n", n.ClientNS}, strings.Fields(fmt.Sprintf(c.remove, n.ClientIf))...)...)
			waitLog(t, logged, "attached again")
			clientRun(t, n, "ping", "-c", "2", "-i", "0.05", n.ServerIP)
			time.Sleep(200 * time.Millisecond)
			if icmp := protoPackets(kc.stop(t), 1); icmp != 8 {
				t.Errorf("%d ICMP packets counted, want 8 (2 pings before the filters were removed, 2 after)", icmp)
			}
			if l := logged.String(); strings.Count(l, "lost our tc filter") != 1 || strings.Count(l, "attached again") != 1 || !strings.Contains(l, "iface="+n.ClientIf) {
				t.Errorf("log: %q, want one warning that %s lost our filter and one note that it was attached again", l, n.ClientIf)
			}
			assertNothingLeft(t, n)
		})
	}
}
