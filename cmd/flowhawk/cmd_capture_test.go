//go:build linux

package main

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCaptureSizeFlags checks that every size and rate flag of capture is
// checked before anything is attached, as a usage error (exit 2) naming the
// flag, its value and the allowed range. They were truncated to 32 bits
// (--sample-rate 4294967297 sampled every packet and scaled the counters
// by 2^32+1; --max-flows 4294967297 made maps of one entry), replaced by
// the default (--ring-size -1 or 0: 4 MiB), or refused by the kernel with
// a wrong reason and exit 1 (--ring-size 12288).
func TestCaptureSizeFlags(t *testing.T) {
	page := strconv.Itoa(os.Getpagesize())
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--sample-rate", "4294967297"}, "--sample-rate 4294967297 out of range 1..4294967295"},
		{[]string{"--sample-rate", "0"}, "--sample-rate 0 out of range 1..4294967295"},
		{[]string{"--max-flows", "4294967297"}, "--max-flows 4294967297 out of range 1..134217728"},
		{[]string{"--max-flows", "0"}, "--max-flows 0 out of range 1..134217728"},
		{[]string{"--max-flows-ipv6", "4294967296"}, "--max-flows-ipv6 4294967296 out of range 0..134217728"},
		{[]string{"--max-flows-ipv6", "-1"}, "--max-flows-ipv6 -1 out of range 0..134217728"},
		{[]string{"--samples", "4294967297"}, "--samples 4294967297 out of range 1..65536"},
		{[]string{"--samples", "0"}, "--samples 0 out of range 1..65536"},
		{[]string{"--ring-size", "4294971392"}, "--ring-size 4294971392: want a power of two from " + page + " (the page size) to 2147483648 bytes"},
		{[]string{"--ring-size", "-1"}, "--ring-size -1: want a power of two"},
		{[]string{"--ring-size", "0"}, "--ring-size 0: want a power of two"},
		{[]string{"--ring-size", "12288"}, "--ring-size 12288: want a power of two"},
		{[]string{"--ring-size", "2048"}, "--ring-size 2048: want a power of two"},
		{[]string{"--workers", "0"}, "--workers 0: want 1 or more"},
		// An explicit --samples below --splt was raised to --splt in silence.
		{[]string{"--samples", "5", "--splt", "10"}, "--samples 5 is below --splt 10"},
		// A --splt out of range is that error, not one asking to raise
		// --samples to a value --splt cannot take.
		{[]string{"--samples", "100", "--splt", "5000"}, "--splt 5000 out of range 0..1024"},
	} {
		args := append([]string{"capture", "-i", "fhnosuch0", "-o", "none"}, c.args...)
		code, _, errOut := runCLI(t, args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 and %q", strings.Join(c.args, " "), code, errOut, c.want)
		}
	}
	// In range: the flags pass and the missing interface is what fails.
	for _, ok := range [][]string{
		{"--ring-size", page}, {"--ring-size", "2147483648"}, {"--sample-rate", "4294967295"},
		{"--max-flows", "134217728", "--max-flows-ipv6", "0"}, {"--samples", "65536"},
		{"--samples", "10", "--splt", "10"}, {"--splt", "40"},
	} {
		args := append([]string{"capture", "-i", "fhnosuch0", "-o", "none"}, ok...)
		if code, _, errOut := runCLI(t, args...); code != 1 || !strings.Contains(errOut, "no such network interface") {
			t.Errorf("%s: exit %d, stderr %q; want the interface error", strings.Join(ok, " "), code, errOut)
		}
	}
}

// TestStopReason checks the summary's "stopped by" line for each way a
// capture ends; the summary used not to say whether it was stopped or
// failed.
func TestStopReason(t *testing.T) {
	for _, c := range []struct {
		cause, runErr error
		want          string
	}{
		{stopSignal{syscall.SIGINT}, nil, "SIGINT"},
		{stopSignal{syscall.SIGTERM}, nil, "SIGTERM"},
		{stopSignal{syscall.SIGHUP}, nil, "SIGHUP"},
		{context.DeadlineExceeded, nil, "--duration 10m0s"},
		{errOutputFailed, nil, "an error: the flow output failed"},
		{nil, errors.Join(errors.New("interface eth1 is gone"), errors.New("flush")), "an error: interface eth1 is gone; flush"},
		{stopSignal{syscall.SIGINT}, errors.New("ring buffer"), "an error: ring buffer"},
	} {
		if got := stopReason(c.cause, c.runErr, 10*time.Minute); got != c.want {
			t.Errorf("stopReason(%v, %v) = %q, want %q", c.cause, c.runErr, got, c.want)
		}
	}
}

// TestCaptureMissingInterfaceHint checks a missing interface's error lists
// the namespace's interfaces, and that "any" (tcpdump's) says capture
// takes named devices: it said only "no such network interface".
func TestCaptureMissingInterfaceHint(t *testing.T) {
	for _, c := range []struct{ iface, want string }{
		{"fhnosuch0", "(this network namespace has lo"},
		{"any", `it has no "any" like tcpdump`},
	} {
		code, _, errOut := runCLI(t, "capture", "-i", c.iface, "-o", "none")
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("-i %s: exit %d, stderr %q; want exit 1 and %q", c.iface, code, errOut, c.want)
		}
	}
}

// TestCaptureRefusesArguments: capture takes flags only; a file name after
// them (meant for -o) is a usage error, not ignored while the flows go to
// standard output.
func TestCaptureRefusesArguments(t *testing.T) {
	for arg, want := range map[string]string{
		"flows.csv": `unexpected argument "flows.csv" (capture takes flags only; did you mean -o flows.csv?)`,
		"lo":        `unexpected argument "lo" (capture takes flags only; did you mean -i lo?)`,
		"zzz":       `unexpected argument "zzz" (capture takes flags only)`,
	} {
		code, out, errOut := runCLI(t, "capture", "-i", "fhnosuch0", arg, "--duration", "1s")
		if code != 2 || out != "" || !strings.Contains(errOut, want) {
			t.Errorf("capture -i fhnosuch0 %s: exit %d, stdout %q, stderr %q; want exit 2 and %q", arg, code, out, errOut, want)
		}
	}
}

// TestCaptureLoopbackIngress: loopback takes no ingress hook, so one asked
// for on loopback alone is a usage error before anything is attached
// (capture -i lo --ingress xdp ran with "ingress none" and said nothing),
// and with other interfaces a warning.
func TestCaptureLoopbackIngress(t *testing.T) {
	lo := loopbackName(t)
	for _, flags := range [][]string{{"--ingress", "xdp"}, {"--ingress", "tc"}, {"--xdp-mode", "generic"}} {
		args := append([]string{"capture", "-i", lo, "-o", "none", "--duration", "1s"}, flags...)
		code, _, errOut := runCLI(t, args...)
		if code != 2 || !strings.Contains(errOut, " on "+lo+": loopback takes no ingress hook") {
			t.Errorf("%v: exit %d, stderr %q; want a usage error", flags, code, errOut)
		}
	}
	code, _, errOut := runCLI(t, "capture", "-i", lo+",fhnosuch0", "-o", "none", "--ingress", "xdp")
	if code != 1 || !strings.Contains(errOut, "loopback takes no ingress hook") || !strings.Contains(errOut, "loopback="+lo) || !strings.Contains(errOut, "no such network interface") {
		t.Errorf("-i %s,fhnosuch0 --ingress xdp: exit %d, stderr %q; want the warning, then the missing interface", lo, code, errOut)
	}
}

// loopbackName returns the name of a loopback interface, skipping the test
// where there is none.
func loopbackName(t *testing.T) string {
	ifs, err := net.Interfaces()
	if err != nil {
		t.Skip(err)
	}
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagLoopback != 0 {
			return ifi.Name
		}
	}
	t.Skip("no loopback interface")
	return ""
}
