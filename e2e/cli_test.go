//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/internal/promtest"
	"github.com/flowhawk/flowhawk/internal/syncbuf"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildOut  []byte
)

// flowhawkBin builds the flowhawk binary once per test run, or takes
// $FLOWHAWK_E2E_BIN, built beforehand (scripts/test-kernels.sh runs the
// tests in a VM without a Go toolchain of its own).
func flowhawkBin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if p := os.Getenv("FLOWHAWK_E2E_BIN"); p != "" {
			binPath = p
			return
		}
		dir, err := os.MkdirTemp("", "flowhawk-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "flowhawk")
		buildOut, buildErr = exec.Command("go", "build", "-o", binPath, "../cmd/flowhawk").CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("build flowhawk: %v: %s", buildErr, buildOut)
	}
	return binPath
}

// TestCLICaptureSIGTERM runs `flowhawk capture` in the client namespace,
// pings through it, stops it with SIGTERM and checks the flows written,
// the exit status and that nothing stays attached. Its --metrics-textfile
// holds the final counts once it has exited: flows_total sums to the
// records written, and the kernel's counters (the ARP of the first ping,
// non-IP) are the summary's, read before the kernel objects closed.
func TestCLICaptureSIGTERM(t *testing.T) {
	n := newNet(t)
	bin := flowhawkBin(t)
	tmp := t.TempDir()
	out, prom := filepath.Join(tmp, "flows.jsonl"), filepath.Join(tmp, "flowhawk.prom")
	cmd, stderr := startCLI(t, n.ClientNS, bin, "capture", "-i", n.ClientIf, "-o", out, "--metrics-textfile", prom)
	waitCapturing(t, stderr)
	// On veth --ingress auto picks TC: both programs are TCX links
	// (clsact filters before Linux 6.6).
	if want := n.ClientIf + ": ingress " + tcHook() + ", egress " + tcHook(); !strings.Contains(stderr.String(), want) {
		t.Errorf("banner does not say %q: %s", want, stderr.String())
	}
	for _, dir := range []string{"ingress", "egress"} {
		if got := tcPrograms(t, n.ClientNS, n.ClientIf, dir); len(got) != 1 || !strings.HasPrefix(got[0], "flowhawk_tc") {
			t.Errorf("TC %s programs while capturing: %v, want ours", dir, got)
		}
	}
	clientRun(t, n, "ping", "-c", "4", "-i", "0.05", n.ServerIP)
	// ip netns exec execs the binary, so the signal reaches flowhawk.
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("capture exit: %v\n%s", err, stderr.String())
	}
	assertDetached(t, n)
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	found, records := false, 0
	for ; sc.Scan(); records++ {
		var row map[string]any
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("bad JSON line %q: %v", sc.Text(), err)
		}
		if row["Protocol"] == float64(1) && row["Source IP"] == n.ClientIP && row["Total Fwd Packets"] == float64(4) && row["Total Backward Packets"] == float64(4) {
			found = true
		}
	}
	if !found {
		t.Errorf("no ICMP flow %s -> %s with 4+4 packets in %s; stderr:\n%s", n.ClientIP, n.ServerIP, out, stderr.String())
	}
	if !strings.Contains(stderr.String(), "map full 0") {
		t.Errorf("summary does not report the loss counters: %s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "\nstopped by SIGTERM\n") {
		t.Errorf("summary does not say the capture was stopped by SIGTERM: %s", stderr.String())
	}

	mf := promtest.ReadTextfile(t, prom)
	if got := promtest.Sum(mf, "flowhawk_flows_total", nil); got != float64(records) || records == 0 {
		t.Errorf("textfile flows_total %v, want the %d records written", got, records)
	}
	m := regexp.MustCompile(`non-ip (\d+)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no non-ip count in the summary: %s", stderr.String())
	}
	nonIP, _ := strconv.Atoi(m[1])
	if got := promtest.Sum(mf, "flowhawk_skipped_packets_total", map[string]string{"reason": "non_ip"}); nonIP == 0 || got != float64(nonIP) {
		t.Errorf("textfile skipped non_ip %v, want the summary's %d (and some: the ping's ARP)", got, nonIP)
	}
	if _, ok := mf["flowhawk_dropped_total"]; !ok {
		t.Errorf("textfile lacks the kernel's dropped_total")
	}
	if got := promtest.Sum(mf, "flowhawk_window_flows_total", map[string]string{"outcome": "observed"}); got != float64(records) {
		t.Errorf("textfile window_flows_total{observed} %v, want the %d records written", got, records)
	}
	if got := promtest.Sum(mf, "flowhawk_skipped_packets_total", map[string]string{"component": "pcap"}); got != 0 {
		t.Errorf("a capture shows %v pcap skipped packets", got)
	}
}

// TestCLICaptureSIGTERMWhileAttaching stops `flowhawk capture --decap`
// with SIGTERM half a second after it starts, while the verifier is still
// loading its programs (seconds with --decap): it must still exit cleanly
// through its flush and summary, with nothing left attached, not die of
// the signal half-attached.
func TestCLICaptureSIGTERMWhileAttaching(t *testing.T) {
	n := newNet(t)
	bin := flowhawkBin(t)
	cmd, stderr := startCLI(t, n.ClientNS, bin, "capture", "-i", n.ClientIf, "--decap", "-o", "none")
	time.Sleep(500 * time.Millisecond)
	attached := strings.Contains(stderr.String(), "capturing on")
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("capture exit: %v\n%s", err, stderr.String())
	}
	if attached {
		t.Logf("attached within 500 ms: the signal came after the attach phase")
	}
	if !strings.Contains(stderr.String(), "buffers seen") || !strings.Contains(stderr.String(), "\nstopped by SIGTERM\n") {
		t.Errorf("no summary naming SIGTERM: %s", stderr.String())
	}
	assertDetached(t, n)
}

// startCLI starts the flowhawk binary bin with args in namespace ns,
// its stderr collected; it is killed when the test ends if still running.
func startCLI(t *testing.T, ns, bin string, args ...string) (*exec.Cmd, *syncbuf.Buffer) {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, bin}, args...)...)
	return cmd, startCmd(t, cmd)
}

// startCmd starts cmd with its stderr in the returned buffer, and kills
// it at the end of the test if it still runs.
func startCmd(t *testing.T, cmd *exec.Cmd) *syncbuf.Buffer {
	t.Helper()
	stderr := &syncbuf.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return stderr
}

// TestCLIErrors checks the messages for a missing interface and for
// missing capabilities.
func TestCLIErrors(t *testing.T) {
	needRoot(t)
	bin := flowhawkBin(t)
	out, err := exec.Command(bin, "capture", "-i", "fhnosuch0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `interface "fhnosuch0": no such network interface`) {
		t.Errorf("missing interface: err %v, output %s", err, out)
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv not installed: capability error not checked")
	}
	out, err = exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", bin, "capture", "-i", "lo").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "CAP_BPF") || !strings.Contains(string(out), "CAP_NET_ADMIN") {
		t.Errorf("unprivileged: err %v, output %s", err, out)
	}
	t.Logf("unprivileged message: %s", strings.TrimSpace(string(out)))
}

// TestCLIClsactTwoInterfaces runs capture through ip netns exec (which
// mounts a fresh /sys, so no bpffs is there) on two interfaces with the
// clsact fallback: the egress program is attached once per interface (it
// was pinned once per interface, each in a private bpffs, before the
// netlink attach), and afterwards no qdisc is left.
func TestCLIClsactTwoInterfaces(t *testing.T) {
	if _, err := exec.LookPath("tc"); err != nil {
		t.Skip("tc(8) not installed: the qdiscs left cannot be checked")
	}
	n := newNet(t)
	bin := flowhawkBin(t)
	out := filepath.Join(t.TempDir(), "flows.csv")
	cmd, stderr := startCLI(t, n.ClientNS, bin, "capture", "-i", "lo,"+n.ClientIf, "--tc-attach", "clsact",
		"--duration", "2s", "-o", out, "--no-windows")
	time.Sleep(500 * time.Millisecond)
	clientRun(t, n, "ping", "-c", "3", "-i", "0.05", n.ServerIP)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("capture: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{"lo: ingress none, egress clsact", n.ClientIf + ": ingress clsact, egress clsact", "\nstopped by --duration 2s\n"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("banner or summary does not say %q: %s", want, stderr.String())
		}
	}
	for _, ifc := range []string{"lo", n.ClientIf} {
		if q := run(t, "tc", "-n", n.ClientNS, "qdisc", "show", "dev", ifc); strings.Contains(q, "clsact") {
			t.Errorf("clsact qdisc left on %s: %s", ifc, q)
		}
	}
}

// TestCLIClsactWithoutTC runs a clsact capture whose PATH holds no
// tc(8): it attaches through rtnetlink, so it must measure a ping, show
// its filters under their flowhawk_PID_N_IFACE_DIR names while it runs,
// and leave nothing attached. It used to fail: "clsact fallback needs
// tc(8) from iproute2".
func TestCLIClsactWithoutTC(t *testing.T) {
	if _, err := exec.LookPath("tc"); err != nil {
		t.Skip("tc(8) not installed: the filters cannot be checked")
	}
	n := newNet(t)
	bin := flowhawkBin(t)
	empty := t.TempDir()
	out := filepath.Join(t.TempDir(), "flows.jsonl")
	cmd := exec.Command("ip", "netns", "exec", n.ClientNS, "env", "PATH="+empty, bin, "capture", "-i", n.ClientIf,
		"--tc-attach", "clsact", "--duration", "3s", "-o", out, "--no-windows")
	stderr := startCmd(t, cmd)
	waitCapturing(t, stderr)
	name := fmt.Sprintf("flowhawk_%d_", cmd.Process.Pid) // ip netns exec and env exec in place: the capture's pid
	for _, dir := range []string{"ingress", "egress"} {
		if f := run(t, "tc", "-n", n.ClientNS, "filter", "show", "dev", n.ClientIf, dir); !strings.Contains(f, name) || !strings.Contains(f, "_"+n.ClientIf+"_"+dir+" direct-action") {
			t.Errorf("%s filter not named %s..._%s_%s: %s", dir, name, n.ClientIf, dir, f)
		}
	}
	clientRun(t, n, "ping", "-c", "3", "-i", "0.05", n.ServerIP)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("capture without tc(8) in PATH: %v\n%s", err, stderr.String())
	}
	if want := n.ClientIf + ": ingress clsact, egress clsact"; !strings.Contains(stderr.String(), want) {
		t.Errorf("banner does not say %q: %s", want, stderr.String())
	}
	if got := icmpFlows(t, out, n.ClientIP); got != 1 {
		t.Errorf("%d ICMP flows of 3+3 packets in %s, want 1:\n%s", got, out, stderr.String())
	}
	assertNothingLeft(t, n)
}

// TestCLIIngressChoice attaches to a bridge, which has no driver-mode XDP:
// --ingress auto falls back to TC ingress and says why, while an explicit
// --xdp-mode native is an error that names the mode and the interface.
func TestCLIIngressChoice(t *testing.T) {
	n := newNet(t)
	bin := flowhawkBin(t)
	br := "fhbr" + n.ClientIf[len(n.ClientIf)-6:]
	run(t, "ip", "-n", n.ClientNS, "link", "add", br, "type", "bridge")
	run(t, "ip", "-n", n.ClientNS, "link", "set", br, "up")
	out, err := exec.Command("ip", "netns", "exec", n.ClientNS, bin, "capture", "-i", br, "--duration", "1s", "-o", "none").CombinedOutput()
	if err != nil || !strings.Contains(string(out), br+": ingress "+tcHook()+", egress "+tcHook()+" (no native XDP") {
		t.Errorf("auto on a bridge: err %v, output %s", err, out)
	}
	out, err = exec.Command("ip", "netns", "exec", n.ClientNS, bin, "capture", "-i", br, "--xdp-mode", "native", "--duration", "1s", "-o", "none").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "attach XDP (native mode) to "+br) {
		t.Errorf("--xdp-mode native on a bridge: err %v, output %s", err, out)
	}
}

// TestCLIStaleClsactWarned kills a clsact capture (SIGKILL: no detach), so
// its filters stay attached and keep running on every packet, and checks
// that the next capture on the interface says so, naming the command
// that removes each, and that the command works.
func TestCLIStaleClsactWarned(t *testing.T) {
	if _, err := exec.LookPath("tc"); err != nil {
		t.Skip("tc(8) not installed: the command the warning gives cannot be run")
	}
	n := newNet(t)
	bin := flowhawkBin(t)
	waitStart := func(stderr *syncbuf.Buffer) {
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(stderr.String(), "capturing on") {
			if time.Now().After(deadline) {
				t.Fatalf("capture did not start: %s", stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	args := []string{"capture", "-i", n.ClientIf, "--tc-attach", "clsact", "--ingress", "tc", "-o", "none"}
	first, stderr := startCLI(t, n.ClientNS, bin, args...)
	waitStart(stderr)
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()
	second, stderr2 := startCLI(t, n.ClientNS, bin, args...)
	waitStart(stderr2)
	second.Process.Signal(syscall.SIGTERM)
	second.Wait()
	// Neither made a private bpffs directory (before the netlink attach
	// each mounted one for its pins, ip netns exec having no bpffs at
	// /sys/fs/bpf, and the killed capture's stayed until the next).
	for _, c := range []*exec.Cmd{first, second} {
		if left, _ := filepath.Glob(filepath.Join(os.TempDir(), fmt.Sprintf("flowhawk-bpffs-%d-*", c.Process.Pid))); len(left) > 0 {
			t.Errorf("private bpffs directories of pid %d: %v", c.Process.Pid, left)
		}
	}
	var cmds []string
	for _, line := range strings.Split(stderr2.String(), "\n") {
		if i := strings.Index(line, `command="tc filter del `); i >= 0 && strings.Contains(line, "not running") {
			c := strings.TrimPrefix(line[i:], `command="`)
			cmds = append(cmds, c[:strings.IndexByte(c, '"')])
		}
	}
	if len(cmds) != 2 {
		t.Fatalf("want a warning with a command for each stale filter (ingress, egress), got %q in:\n%s", cmds, stderr2.String())
	}
	for _, c := range cmds {
		run(t, "ip", append([]string{"netns", "exec", n.ClientNS}, strings.Fields(c)...)...)
	}
	for _, dir := range []string{"ingress", "egress"} {
		if out := run(t, "tc", "-n", n.ClientNS, "filter", "show", "dev", n.ClientIf, dir); strings.TrimSpace(out) != "" {
			t.Errorf("%s filters left after the commands: %s", dir, out)
		}
	}
}

// waitCapturing waits for the capture's banner, printed once attached.
func waitCapturing(t *testing.T, stderr *syncbuf.Buffer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stderr.String(), "capturing on") {
		if time.Now().After(deadline) {
			t.Fatalf("capture did not start: %s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCLICaptureHangupAndBrokenPipe checks that a closed terminal (SIGHUP)
// ends a capture as SIGTERM does, flows flushed and clsact filters
// removed, and that -o - into a reader that quit stops the capture with
// the write error, detached: both used to kill the process with no flush,
// no summary and the filters left attached.
func TestCLICaptureHangupAndBrokenPipe(t *testing.T) {
	n := newNet(t)
	bin := flowhawkBin(t)
	out := filepath.Join(t.TempDir(), "flows.jsonl")
	cmd, stderr := startCLI(t, n.ClientNS, bin, "capture", "-i", n.ClientIf, "--tc-attach", "clsact", "-o", out, "--no-windows")
	waitCapturing(t, stderr)
	clientRun(t, n, "ping", "-c", "2", "-i", "0.05", n.ServerIP)
	cmd.Process.Signal(syscall.SIGHUP)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("capture exit after SIGHUP: %v\n%s", err, stderr.String())
	}
	assertDetached(t, n)
	if b, _ := os.ReadFile(out); !bytes.Contains(b, []byte(`"Protocol":1`)) {
		t.Errorf("no ICMP flow flushed after SIGHUP:\n%s", b)
	}
	if !strings.Contains(stderr.String(), "\nstopped by SIGHUP\n") {
		t.Errorf("summary does not say the capture was stopped by SIGHUP: %s", stderr.String())
	}

	cmd = exec.Command("ip", "netns", "exec", n.ClientNS, bin, "capture", "-i", n.ClientIf, "--tc-attach", "clsact", "-o", "-", "--no-windows")
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr = startCmd(t, cmd)
	waitCapturing(t, stderr)
	pipe.Close() // the reader quits, as head does
	clientRun(t, n, "ping", "-c", "2", "-i", "0.05", n.ServerIP)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "writing flows failed") ||
			!strings.Contains(stderr.String(), "\nstopped by an error: the flow output failed\n") {
			t.Errorf("capture into a closed pipe: %v, want exit status 1, the write error and a summary naming it\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("capture into a closed pipe still runs:\n%s", stderr.String())
	}
	assertDetached(t, n)
}

// TestCLICaptureSecondSignal stalls a clsact capture's output (-o - into
// a pipe nobody reads), so that the flush after SIGTERM cannot end: a
// second SIGTERM detaches and exits with status 1 at once, leaving no
// filter behind. Before, the second signal was swallowed and only
// SIGKILL, which leaves clsact filters attached, ended the process.
func TestCLICaptureSecondSignal(t *testing.T) {
	n := newNet(t)
	bin := flowhawkBin(t)
	cmd := exec.Command("ip", "netns", "exec", n.ClientNS, bin, "capture", "-i", n.ClientIf, "--tc-attach", "clsact", "-o", "-", "--no-windows")
	pipe, err := cmd.StdoutPipe() // never read: the pipe fills
	if err != nil {
		t.Fatal(err)
	}
	defer pipe.Close()
	stderr := startCmd(t, cmd)
	waitCapturing(t, stderr)
	// 300 UDP flows (bash opens a socket, so a source port, per
	// redirection): about 200 KB of CSV, three times a pipe's buffer.
	clientRun(t, n, "bash", "-c", "for p in $(seq 1000 1299); do echo x > /dev/udp/"+n.ServerIP+"/$p; done")
	time.Sleep(2500 * time.Millisecond) // a scan or two hands the flows to the output
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		t.Fatalf("capture ended after one SIGTERM (%v) although its output was stalled: the test needs a flush that cannot end\n%s", err, stderr.String())
	case <-time.After(2 * time.Second):
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "signalled again: detached, exiting now") {
			t.Errorf("capture after a second SIGTERM: %v, want exit status 1 and a message that it detached\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("capture still runs 20 s after a second SIGTERM:\n%s", stderr.String())
	}
	assertDetached(t, n)
}
