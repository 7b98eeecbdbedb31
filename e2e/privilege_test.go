//go:build linux

package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/internal/syncbuf"
)

// leastUID is the unprivileged user the least-privilege tests run
// flowhawk as (nobody on Debian).
const leastUID = "65534"

// leastCaps are the capabilities README.md and deploy/flowhawk.service
// say capture needs, in setpriv's spelling.
var leastCaps = []string{"bpf", "net_admin", "perfmon"}

// runLeast runs `flowhawk capture args...` in the client namespace as
// leastUID holding exactly caps (inheritable, ambient and bounding set, as
// systemd's AmbientCapabilities and CapabilityBoundingSet give them). ip
// netns exec mounts a fresh /sys, so there is no bpffs at /sys/fs/bpf: a
// capture that needed one would fail. While it captures, it pings the
// server three times. It returns the combined output and whether it
// exited 0.
func runLeast(t *testing.T, n *testNet, bin string, caps []string, args ...string) (string, bool) {
	t.Helper()
	set := "-all"
	for _, c := range caps {
		set += ",+" + c
	}
	script := `exec setpriv --reuid=` + leastUID + ` --regid=` + leastUID + ` --clear-groups` +
		` --inh-caps=` + set + ` --ambient-caps=` + set + ` --bounding-set=` + set + ` "$@"`
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.ClientNS, "sh", "-c", script, "sh", bin, "capture"}, args...)...)
	out := &syncbuf.Buffer{}
	cmd.Stdout = out
	stderr := startCmd(t, cmd)
	deadline := time.Now().Add(30 * time.Second)
	for {
		s := stderr.String()
		if strings.Contains(s, "capturing on") {
			clientRun(t, n, "ping", "-c", "3", "-i", "0.05", n.ServerIP)
			break
		}
		if strings.Contains(s, "flowhawk capture: ") || time.Now().After(deadline) {
			break // failed, or never started: Wait says which
		}
		time.Sleep(50 * time.Millisecond)
	}
	err := cmd.Wait()
	return out.String() + stderr.String(), err == nil
}

// assertNothingLeft checks that neither TCX programs, XDP, clsact filters
// nor the clsact qdisc of a capture are left on the client interface.
func assertNothingLeft(t *testing.T, n *testNet) {
	t.Helper()
	assertDetached(t, n)
	if q := run(t, "tc", "-n", n.ClientNS, "qdisc", "show", "dev", n.ClientIf); strings.Contains(q, "clsact") {
		t.Errorf("clsact qdisc left: %s", q)
	}
	for _, dir := range []string{"ingress", "egress"} {
		if f := run(t, "tc", "-n", n.ClientNS, "filter", "show", "dev", n.ClientIf, dir); strings.TrimSpace(f) != "" {
			t.Errorf("tc %s filters left: %s", dir, f)
		}
	}
}

// icmpFlows counts the ICMP flows of 3+3 packets from the client in the
// JSON Lines file path.
func icmpFlows(t *testing.T, path, client string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var row map[string]any
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("bad JSON line in %s: %v", path, err)
		}
		if row["Protocol"] == float64(1) && row["Source IP"] == client && row["Total Fwd Packets"] == float64(3) && row["Total Backward Packets"] == float64(3) {
			n++
		}
	}
	return n
}

// TestCLILeastPrivilege runs `flowhawk capture` as an unprivileged user
// holding only CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON, as the systemd unit
// does: with TCX, with the clsact fallback and with generic XDP it must
// measure traffic and detach; with any one of the three removed it must
// fail naming it, with nothing attached. The clsact fallback needed
// CAP_SYS_ADMIN or a bpffs the user could write to (it pinned its
// programs for tc(8)) until it attached through rtnetlink: it must now
// work with exactly the three, and no bpffs.
func TestCLILeastPrivilege(t *testing.T) {
	n := newNet(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv (util-linux) not installed: least-privilege capture not checked")
	}
	if _, err := exec.LookPath("tc"); err != nil {
		t.Skip("tc(8) not installed: what a capture leaves attached cannot be checked")
	}
	bin := flowhawkBin(t)
	// The build directory is MkdirTemp's (0700): let the user reach the binary.
	if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	// t.TempDir's parent is 0700: the user's output directory is its own.
	outDir, err := os.MkdirTemp("", "flowhawk-least-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(outDir) })
	if err := os.Chown(outDir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	works := []struct {
		name   string
		args   []string
		banner string
	}{
		{"auto", nil, "ingress " + tcHook() + ", egress " + tcHook()},
		{"xdp-generic", []string{"--ingress", "xdp", "--xdp-mode", "generic"}, "ingress xdp generic, egress " + tcHook()},
		{"clsact", []string{"--tc-attach", "clsact"}, "ingress clsact, egress clsact"},
	}
	for _, w := range works {
		t.Run(w.name, func(t *testing.T) {
			out := filepath.Join(outDir, w.name+".jsonl")
			args := append([]string{"-i", n.ClientIf, "-o", out, "--no-windows", "--duration", "2s"}, w.args...)
			msg, ok := runLeast(t, n, bin, leastCaps, args...)
			if !ok || !strings.Contains(msg, n.ClientIf+": "+w.banner) {
				t.Fatalf("capture as uid %s with %v: ok %v, want %q in:\n%s", leastUID, leastCaps, ok, w.banner, msg)
			}
			if got := icmpFlows(t, out, n.ClientIP); got != 1 {
				t.Errorf("%d ICMP flows of 3+3 packets in %s, want 1:\n%s", got, out, msg)
			}
			assertNothingLeft(t, n)
		})
	}
	for _, mode := range [][]string{nil, {"--tc-attach", "clsact"}, {"--ingress", "xdp", "--xdp-mode", "generic"}} {
		for i, missing := range leastCaps {
			caps := append(append([]string{}, leastCaps[:i]...), leastCaps[i+1:]...)
			t.Run("without-"+missing+strings.Join(mode, ""), func(t *testing.T) {
				args := append([]string{"-i", n.ClientIf, "-o", "none", "--duration", "2s"}, mode...)
				msg, ok := runLeast(t, n, bin, caps, args...)
				want := "missing capability: CAP_" + strings.ToUpper(missing)
				if ok || !strings.Contains(msg, want) {
					t.Errorf("without CAP_%s: ok %v, want %q in:\n%s", strings.ToUpper(missing), ok, want, msg)
				}
				assertNothingLeft(t, n)
			})
		}
	}
}
