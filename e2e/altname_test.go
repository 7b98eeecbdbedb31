//go:build linux

package e2e

import (
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// TestCLICaptureAltname captures on an interface named by its altnames
// (ip link property add ... altname), one short and one past the 15 bytes
// of IFNAMSIZ: net.InterfaceByName knows neither, and the capture failed
// with "no such network interface". The banner names the real interface.
func TestCLICaptureAltname(t *testing.T) {
	n := newNet(t)
	bin := flowhawkBin(t)
	short, long := "fhalt"+n.ClientIf[3:], "flowhawk-altname-"+n.ClientIf[3:]+"-long"
	for _, alt := range []string{short, long} {
		run(t, "ip", "-n", n.ClientNS, "link", "property", "add", "dev", n.ClientIf, "altname", alt)
	}
	for _, alt := range []string{short, long} {
		out, err := exec.Command("ip", "netns", "exec", n.ClientNS, bin, "capture", "-i", alt, "-o", "none", "--duration", "300ms").CombinedOutput()
		if err != nil {
			t.Errorf("-i %s: %v\n%s", alt, err, out)
			continue
		}
		if want := "capturing on " + n.ClientIf + ": ingress " + tcHook(); !strings.Contains(string(out), want) {
			t.Errorf("-i %s: banner does not say %q:\n%s", alt, want, out)
		}
	}
	// The same device twice, by name and by altname, is refused.
	out, err := exec.Command("ip", "netns", "exec", n.ClientNS, bin, "capture", "-i", n.ClientIf+","+long, "-o", "none", "--duration", "300ms").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "same device") {
		t.Errorf("-i %s,%s: %v, want a same-device error:\n%s", n.ClientIf, long, err, out)
	}
}

// TestCLILoopbackAltnameIngress: --ingress xdp on loopback is a usage
// error (loopback takes no ingress hook) also when loopback is named by an
// altname; the check looked the name up without altnames, and the capture
// ran with "ingress none".
func TestCLILoopbackAltnameIngress(t *testing.T) {
	n := newNet(t)
	bin := flowhawkBin(t)
	alt := "fhlo" + n.ClientIf[3:]
	run(t, "ip", "-n", n.ClientNS, "link", "property", "add", "dev", "lo", "altname", alt)
	for _, name := range []string{"lo", alt} {
		out, err := exec.Command("ip", "netns", "exec", n.ClientNS, bin, "capture", "-i", name, "--ingress", "xdp", "-o", "none", "--duration", "300ms").CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "loopback takes no ingress hook") {
			t.Errorf("-i %s --ingress xdp: %v, want usage error (status 2) about loopback:\n%s", name, err, out)
		}
	}
}

// TestCLIXDPNativeMTUTooLarge asks for native XDP on a veth pair with
// jumbo frames: the driver refuses it and the kernel says only "numerical
// result out of range"; the error must say the MTU is too large for native
// XDP there and what to use instead.
func TestCLIXDPNativeMTUTooLarge(t *testing.T) {
	n := newNet(t)
	bin := flowhawkBin(t)
	run(t, "ip", "-n", n.ClientNS, "link", "set", n.ClientIf, "mtu", "9000")
	run(t, "ip", "-n", n.ServerNS, "link", "set", n.ServerIf, "mtu", "9000")
	out, err := exec.Command("ip", "netns", "exec", n.ClientNS, bin, "capture", "-i", n.ClientIf, "--xdp-mode", "native", "-o", "none", "--duration", "300ms").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("exit: %v, want status 1\n%s", err, out)
	}
	for _, want := range []string{"attach XDP (native mode) to " + n.ClientIf, "MTU is too large for native XDP", "--xdp-mode generic", "--ingress tc"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output does not say %q:\n%s", want, out)
		}
	}
	assertDetached(t, n)
}

// TestCLIXDPSlotTaken asks for XDP on an interface whose XDP slot another
// program holds (here a first capture's): the kernel says only "device or
// resource busy"; the error must say another XDP program is attached and
// what to do. The first capture must go on undisturbed.
func TestCLIXDPSlotTaken(t *testing.T) {
	n := newNet(t)
	bin := flowhawkBin(t)
	first, stderr := startCLI(t, n.ClientNS, bin, "capture", "-i", n.ClientIf, "--ingress", "xdp", "-o", "none")
	waitCapturing(t, stderr)
	out, err := exec.Command("ip", "netns", "exec", n.ClientNS, bin, "capture", "-i", n.ClientIf, "--ingress", "xdp", "-o", "none", "--duration", "300ms").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("exit: %v, want status 1\n%s", err, out)
	}
	for _, want := range []string{"attach XDP (auto mode) to " + n.ClientIf, "another XDP program is attached", "--ingress tc"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output does not say %q:\n%s", want, out)
		}
	}
	if first.ProcessState != nil {
		t.Fatalf("the first capture ended: %s", stderr.String())
	}
	first.Process.Signal(syscall.SIGTERM)
	if err := first.Wait(); err != nil {
		t.Errorf("first capture: %v\n%s", err, stderr.String())
	}
	assertDetached(t, n)
}
