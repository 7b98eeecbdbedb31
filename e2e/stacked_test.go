//go:build linux

package e2e

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCLIStackedInterfaces checks three attach cases a bridge brings:
//   - a bridge and its port together are refused, naming both: a packet
//     to or from the bridge's own address passes the hooks of both and was
//     counted twice (a ping to the bridge came out 6 and 6 packets where
//     tcpdump on the port saw 3 and 3);
//   - XDP on the bridge, which has no native XDP, is reported as generic,
//     where the banner said plain "xdp";
//   - XDP in one mode on a device that holds XDP in the other mode fails
//     with a message that says so, where it said only "file exists".
func TestCLIStackedInterfaces(t *testing.T) {
	n := newNet(t)
	bin := flowhawkBin(t)
	br := "fhbr" + n.ClientIf[3:]
	run(t, "ip", "-n", n.ClientNS, "link", "add", br, "type", "bridge")
	run(t, "ip", "-n", n.ClientNS, "link", "set", n.ClientIf, "master", br)
	run(t, "ip", "-n", n.ClientNS, "link", "set", br, "up")

	capture := func(args ...string) (string, error) {
		out, err := exec.Command("ip", append([]string{"netns", "exec", n.ClientNS, bin, "capture", "-o", "none", "--duration", "300ms"}, args...)...).CombinedOutput()
		return string(out), err
	}
	for _, ifs := range []string{br + "," + n.ClientIf, n.ClientIf + "," + br} {
		out, err := capture("-i", ifs)
		if err == nil || !strings.Contains(out, br+" is stacked on "+n.ClientIf) || !strings.Contains(out, "counted twice") {
			t.Errorf("-i %s: %v, want a stacked-interfaces error:\n%s", ifs, err, out)
		}
	}
	assertDetached(t, n)

	out, err := capture("-i", br, "--ingress", "xdp")
	if err != nil || !strings.Contains(out, "capturing on "+br+": ingress xdp generic") {
		t.Errorf("-i %s --ingress xdp: %v, want the banner to say generic:\n%s", br, err, out)
	}

	// The port holds native XDP; generic XDP on it is refused.
	hold, stderr := startCLI(t, n.ClientNS, bin, "capture", "-i", n.ClientIf, "--xdp-mode", "native", "-o", "none", "--duration", "20s")
	waitCapturing(t, stderr)
	out, err = capture("-i", n.ClientIf, "--xdp-mode", "generic")
	if err == nil || !strings.Contains(out, "an XDP program is attached to it in another mode") {
		t.Errorf("generic beside native: %v, want a message naming the other mode:\n%s", err, out)
	}
	hold.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- hold.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		hold.Process.Kill()
		t.Fatal("holding capture did not stop")
	}
	run(t, "ip", "-n", n.ClientNS, "link", "set", n.ClientIf, "nomaster")
	assertDetached(t, n)
}
