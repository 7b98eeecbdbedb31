package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/flowhawk/flowhawk/features"
)

// TestUsageErrorsNameTheFlag checks that a refused flag value is a usage
// error (exit 2) that names the flag, for replay and for capture (before it
// attaches). Detector values were refused with "windows must be positive"
// or "count thresholds must be at least 1", and capture checked them only
// after attaching. An unknown --nats-format failed as a runtime error
// (exit 1), and --nats-buffer 0 or less became the default 100000; an
// unknown -o extension and a malformed --ipfix address were exit 1.
func TestUsageErrorsNameTheFlag(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--idle-timeout", "0"}, "--idle-timeout 0s"},
		{[]string{"--active-timeout", "-1s"}, "--active-timeout -1s"},
		{[]string{"--detect", "all", "--portscan-window", "0"}, "--portscan-window 0s"},
		{[]string{"--detect", "all", "--synflood-window", "-1s"}, "--synflood-window -1s"},
		{[]string{"--detect", "all", "--dns-window", "0"}, "--dns-window 0s"},
		{[]string{"--detect", "all", "--toptalkers-window", "0"}, "--toptalkers-window 0s"},
		{[]string{"--detect", "all", "--seq-max-age", "0"}, "--seq-max-age 0s"},
		{[]string{"--detect", "all", "--alert-interval", "-1s"}, "--alert-interval -1s"},
		{[]string{"--detect", "all", "--blocklist-reload", "-1s"}, "--blocklist-reload -1s"},
		{[]string{"--detect", "all", "--portscan-ports", "0"}, "--portscan-ports 0"},
		{[]string{"--detect", "all", "--portscan-hosts", "0"}, "--portscan-hosts 0"},
		{[]string{"--detect", "all", "--halfopen-syns", "0"}, "--halfopen-syns 0"},
		{[]string{"--detect", "all", "--synflood-syns", "0"}, "--synflood-syns 0"},
		{[]string{"--detect", "all", "--dns-nxdomain", "0"}, "--dns-nxdomain 0"},
		{[]string{"--detect", "all", "--dns-names", "0"}, "--dns-names 0"},
		{[]string{"--detect", "all", "--seq-repeats", "0"}, "--seq-repeats 0"},
		{[]string{"--detect", "all", "--halfopen-ratio", "1.5"}, "--halfopen-ratio 1.5"},
		{[]string{"--detect", "all", "--synflood-halfopen", "-0.1"}, "--synflood-halfopen -0.1"},
		{[]string{"--detect", "all", "--synflood-halfopen", "NaN"}, "--synflood-halfopen NaN"},
		{[]string{"--detect", "all", "--dga-score", "0"}, "--dga-score 0"},
		{[]string{"--detect", "all", "--mtu", "67"}, "--mtu 67"},
		{[]string{"--detect", "all", "--detect-max-hosts", "15"}, "--detect-max-hosts 15"},
		{[]string{"--detect", "all", "--toptalkers-k", "-1"}, "--toptalkers-k -1"},
		{[]string{"--detect", "all", "--toptalkers-min-hosts", "-1"}, "--toptalkers-min-hosts -1"},
		{[]string{"--detect", "all", "--dga-min-len", "-1"}, "--dga-min-len -1"},
		{[]string{"--detect", "all", "--dns-tunnel-len", "-1"}, "--dns-tunnel-len -1"},
		{[]string{"--detect", "all", "--min-ip-size", "-1"}, "--min-ip-size -1"},
		{[]string{"--detect", "all", "--blocklist-max-entries", "0"}, "--blocklist-max-entries 0"},
		{[]string{"--nats", "nats://127.0.0.1:1", "--nats-format", "xml"}, `--nats-format "xml"`},
		{[]string{"--nats-format", "JSON"}, `--nats-format "JSON"`},
		{[]string{"--nats", "nats://127.0.0.1:1", "--nats-buffer", "-1"}, "--nats-buffer -1"},
		{[]string{"--nats-buffer", "0"}, "--nats-buffer 0"},
		{[]string{"--ipfix-rate", "-1"}, "--ipfix-rate -1"},
		{[]string{"--ipfix-pen", "29305"}, "--ipfix-pen 29305"},
		{[]string{"--ipfix-pen", "0"}, "--ipfix-pen 0"},
		{[]string{"--ipfix-domain", "0"}, "--ipfix-domain 0"},
		{[]string{"-o", dir + "/x.txt"}, "-o " + dir + "/x.txt: unknown extension"},
		{[]string{"-o", dir + "/flows"}, "-o " + dir + "/flows: unknown extension"},
		{[]string{"--append", "-o", dir + "/x.parquet"}, "--append with -o " + dir + "/x.parquet"},
		{[]string{"--ipfix", "nohostport"}, `--ipfix "nohostport"`},
		{[]string{"--ipfix", "collector:99999"}, `--ipfix "collector:99999"`},
		{[]string{"--ipfix", "collector:"}, `--ipfix "collector:"`},
		{[]string{"--ipfix", "collector:0"}, `--ipfix "collector:0"`},
		{[]string{"--metrics-addr", "nohostport"}, `--metrics-addr "nohostport"`},
		{[]string{"--metrics-addr", "127.0.0.1:http-nope"}, `--metrics-addr "127.0.0.1:http-nope"`},
		{[]string{"--nats", "nats://127.0.0.1:1", "--sensor", "gw.1"}, `--sensor "gw.1"`},
	} {
		for _, cmd := range [][]string{
			{"replay", "-q", demoPcap, "-o", "none"},
			{"capture", "-i", "fhnosuch0", "-o", "none"},
		} {
			if commands[cmd[0]] == nil {
				continue // capture is Linux only
			}
			args := append(append([]string(nil), cmd...), c.args...)
			code, _, errOut := runCLI(t, args...)
			if code != 2 || !strings.Contains(errOut, c.want) {
				t.Errorf("%s %s: exit %d, stderr %q; want exit 2 naming %q", cmd[0], strings.Join(c.args, " "), code, errOut, c.want)
			}
		}
	}
	// The values the checks let through still run.
	for _, ok := range [][]string{
		{"--alert-interval", "0"}, {"--toptalkers-k", "0"}, {"--dga-min-len", "0"}, {"--blocklist-reload", "0"},
	} {
		args := append([]string{"replay", "-q", demoPcap, "-o", "none", "--detect", "all"}, ok...)
		if code, _, errOut := runCLI(t, args...); code != 0 {
			t.Errorf("%s: exit %d: %s", strings.Join(ok, " "), code, errOut)
		}
	}
}

// TestAlertTableEndsSummary checks that a run with detectors ends its
// stderr with the alert table, after the flow counts and the top hosts, so
// it is what the terminal shows last; the detection summary used to come
// first and scroll away behind the flow counts.
func TestAlertTableEndsSummary(t *testing.T) {
	code, _, errOut := runCLI(t, "replay", demoPcap, "-o", "none", "--detect", "all")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	counts := strings.Index(errOut, "\nframes ")
	hosts := strings.Index(errOut, "Top hosts in alerts")
	table := strings.Index(errOut, "DETECTOR ")
	if counts < 0 || hosts < 0 || table < 0 || !(counts < hosts && hosts < table) {
		t.Fatalf("want flow counts, then top hosts, then the alert table:\n%s", errOut)
	}
	// After the header: one row per rule and the totals row, nothing else.
	rows := strings.Split(strings.TrimSuffix(errOut[table:], "\n"), "\n")[1:]
	last := strings.Fields(rows[len(rows)-1])
	if len(rows) < 2 || len(last) != 2 || strings.Trim(last[0]+last[1], "0123456789") != "" {
		t.Errorf("stderr does not end with the alert table's totals row:\n%s", errOut[table:])
	}
	for _, r := range rows[:len(rows)-1] {
		if f := strings.Fields(r); len(f) != 5 {
			t.Errorf("alert table row %q", r)
		}
	}
}

// TestNoCommandUsageOnStderr checks that flowhawk without a command is a
// usage error: exit 2 with the usage on stderr, as for an unknown command,
// so "flowhawk > out" does not fill out with help. It went to stdout.
func TestNoCommandUsageOnStderr(t *testing.T) {
	code, out, errOut := runCLI(t)
	if code != 2 || out != "" || !strings.Contains(errOut, "Usage: flowhawk COMMAND") {
		t.Errorf("no command: exit %d, stdout %q, stderr %q; want exit 2 and the usage on stderr", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "--help"); code != 0 || errOut != "" || !strings.Contains(out, "Usage: flowhawk COMMAND") {
		t.Errorf("--help: exit %d, stdout %q, stderr %q; want exit 0 and the usage on stdout", code, out, errOut)
	}
}

// TestFeatureFlagsNameColumns checks that the help of --no-extras names
// every column it removes and that of --no-windows its count and range:
// "extra statistics" hid that --no-extras drops the VLAN IDs and tunnel ID
// of the flow key, and "window features" that --no-windows also drops
// service, flag and the other per-connection NSL-KDD columns.
func TestFeatureFlagsNameColumns(t *testing.T) {
	x, err := features.New(features.Config{Extras: true, Windows: true})
	if err != nil {
		t.Fatal(err)
	}
	var extra, kdd []string
	for _, c := range x.Columns() {
		switch c.Group {
		case features.GroupExtra:
			extra = append(extra, c.Name)
		case features.GroupKDD:
			kdd = append(kdd, c.Name)
		}
	}
	_, out, _ := runCLI(t, "replay", "--help")
	var noExtras, noWindows string
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.Contains(l, "--no-extras"):
			noExtras = l
		case strings.Contains(l, "--no-windows"):
			noWindows = l
		}
	}
	for _, c := range extra {
		if !strings.Contains(noExtras, " "+c+",") && !strings.Contains(noExtras, " "+c+" ") {
			t.Errorf("--no-extras help does not name %s: %q", c, noExtras)
		}
	}
	for _, want := range []string{fmt.Sprint(len(kdd), " NSL-KDD columns"), kdd[0], kdd[len(kdd)-1], "service"} {
		if !strings.Contains(noWindows, want) {
			t.Errorf("--no-windows help lacks %q: %q", want, noWindows)
		}
	}
}

// TestMetricsAddrTaken checks that a --metrics-addr another process holds
// fails the run with the flag and the address named once: it said
// "metrics: listen ADDR: listen tcp ADDR: bind: ...", naming no flag.
func TestMetricsAddrTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	code, _, errOut := runCLI(t, "replay", "-q", demoPcap, "-o", "none", "--metrics-addr", addr)
	if code != 1 || !strings.Contains(errOut, "--metrics-addr "+addr+": ") || strings.Count(errOut, addr) != 1 {
		t.Errorf("exit %d, stderr %q; want exit 1 naming --metrics-addr %s once", code, errOut, addr)
	}
}

// TestListenErrPrivilegedPort checks that a --metrics-addr refused for
// lack of CAP_NET_BIND_SERVICE (a port below 1024, as a non-root service)
// names that capability: the systemd unit does not grant it, and "bind:
// permission denied" left the operator to guess why.
func TestListenErrPrivilegedPort(t *testing.T) {
	denied := &net.OpError{Op: "listen", Net: "tcp", Err: os.NewSyscallError("bind", syscall.EACCES)}
	err := listenErr("--metrics-addr", "127.0.0.1:80", denied)
	if msg := err.Error(); !strings.HasPrefix(msg, "--metrics-addr 127.0.0.1:80: bind: permission denied") || !strings.Contains(msg, "CAP_NET_BIND_SERVICE") {
		t.Errorf("%q: want the flag, the address and CAP_NET_BIND_SERVICE", msg)
	}
	if !errors.Is(err, syscall.EACCES) {
		t.Errorf("%v: the cause is not wrapped", err)
	}
	taken := &net.OpError{Op: "listen", Net: "tcp", Err: os.NewSyscallError("bind", syscall.EADDRINUSE)}
	if msg := listenErr("--metrics-addr", "127.0.0.1:80", taken).Error(); strings.Contains(msg, "CAP_") {
		t.Errorf("%q: a port in use is no capability matter", msg)
	}
}

// TestVersionCommandListed: the usage lists version with the other
// commands, and version takes --help as every command does (it printed
// the version) and refuses anything else.
func TestVersionCommandListed(t *testing.T) {
	var out, errb bytes.Buffer
	if rc := run([]string{"--help"}, &out, &errb); rc != 0 || !strings.Contains(out.String(), "\n  version ") {
		t.Errorf("--help: %d, usage without version:\n%s", rc, out.String())
	}
	out.Reset()
	if rc := run([]string{"version", "--help"}, &out, &errb); rc != 0 || !strings.HasPrefix(out.String(), "Usage: flowhawk version") {
		t.Errorf("version --help: %d, %q", rc, out.String())
	}
	if rc := run([]string{"version", "x"}, &out, &errb); rc != 2 {
		t.Errorf("version x: exit %d, want 2", rc)
	}
}
