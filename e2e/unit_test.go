//go:build linux

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestServiceUnit checks deploy/flowhawk.service: it grants exactly the
// capabilities TestCLILeastPrivilege shows capture needs, allows bpf(2)
// past its system call filter (bpf is a capture's only call outside
// @system-service, with TCX and with the clsact fallback; the latter also
// made mount and umount2, for a private bpffs, until it attached through
// rtnetlink), keeps flow files from other users, and
// systemd-analyze verify accepts it where systemd-analyze is installed.
func TestServiceUnit(t *testing.T) {
	b, unit := readUnit(t, "flowhawk.service")
	var want []string
	for _, c := range leastCaps {
		want = append(want, "CAP_"+strings.ToUpper(c))
	}
	slices.Sort(want)
	for _, k := range []string{"AmbientCapabilities", "CapabilityBoundingSet"} {
		got := strings.Fields(strings.Join(unit[k], " "))
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s=%v, want %v", k, got, want)
		}
	}
	filter := strings.Fields(strings.Join(unit["SystemCallFilter"], " "))
	if !slices.Contains(filter, "@system-service") || !slices.Contains(filter, "bpf") {
		t.Errorf("SystemCallFilter=%v, want @system-service and bpf", filter)
	}
	if got := unit["UMask"]; len(got) != 1 || got[0] != "0027" {
		t.Errorf("UMask=%v, want 0027: flow files are not for other users", got)
	}
	for _, k := range []string{"NoNewPrivileges", "ProtectKernelTunables", "PrivateDevices", "MemoryDenyWriteExecute"} {
		if got := unit[k]; len(got) != 1 || got[0] != "yes" {
			t.Errorf("%s=%v, want yes", k, got)
		}
	}
	verifyUnit(t, "flowhawk.service", b)
}

// readUnit returns deploy/NAME and its settings, each key's values in
// order (comments left out).
func readUnit(t *testing.T, name string) ([]byte, map[string][]string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "deploy", name))
	if err != nil {
		t.Fatal(err)
	}
	unit := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			unit[k] = append(unit[k], v)
		}
	}
	return b, unit
}

// verifyUnit runs systemd-analyze verify on a unit's text b where it is
// installed.
func verifyUnit(t *testing.T, name string, b []byte) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze not installed: unit not verified")
	}
	// verify wants ExecStart's binary to exist.
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(b), "/usr/local/bin/flowhawk", "/bin/true")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v: %s", err, out)
	}
}

// TestCollectServiceUnit checks deploy/flowhawk-collect.service: it runs
// collect with no capability and no bpf(2), stops it with SIGTERM (which
// closes and syncs its files before acknowledging), keeps its files from
// other users, and has every sandboxing setting of the sensor's unit with
// the same value, so a hardening added to one is not forgotten in the
// other; systemd-analyze verify accepts it where it is installed.
func TestCollectServiceUnit(t *testing.T) {
	b, unit := readUnit(t, "flowhawk-collect.service")
	_, sensor := readUnit(t, "flowhawk.service")
	if got := unit["CapabilityBoundingSet"]; len(got) != 1 || got[0] != "" {
		t.Errorf("CapabilityBoundingSet=%v, want empty: collect needs no capability", got)
	}
	if got := unit["AmbientCapabilities"]; len(got) != 0 {
		t.Errorf("AmbientCapabilities=%v, want none", got)
	}
	if got := unit["SystemCallFilter"]; len(got) != 1 || got[0] != "@system-service" {
		t.Errorf("SystemCallFilter=%v, want @system-service alone (no bpf)", got)
	}
	if got := unit["RestrictAddressFamilies"]; len(got) != 1 || slices.Contains(strings.Fields(got[0]), "AF_NETLINK") {
		t.Errorf("RestrictAddressFamilies=%v, want no AF_NETLINK", got)
	}
	start := strings.Join(unit["ExecStart"], " ")
	if !strings.Contains(start, " collect ") || !strings.Contains(start, "--nats ") || !strings.Contains(start, "--dir ") {
		t.Errorf("ExecStart=%s, want flowhawk collect --nats ... --dir ...", start)
	}
	if got := unit["KillSignal"]; len(got) != 1 || got[0] != "SIGTERM" {
		t.Errorf("KillSignal=%v, want SIGTERM", got)
	}
	if got := unit["Restart"]; len(got) != 1 || got[0] != "on-failure" {
		t.Errorf("Restart=%v, want on-failure: a broker down at start is retried", got)
	}
	for _, k := range []string{"UMask", "DynamicUser", "NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp",
		"ProtectKernelModules", "ProtectKernelTunables", "PrivateDevices", "PrivateMounts", "ProtectKernelLogs",
		"ProtectControlGroups", "ProtectClock", "ProtectHostname", "RestrictNamespaces", "RestrictRealtime",
		"RestrictSUIDSGID", "LockPersonality", "MemoryDenyWriteExecute", "SystemCallArchitectures", "SystemCallErrorNumber"} {
		if len(sensor[k]) == 0 {
			t.Errorf("flowhawk.service has no %s: update this list", k)
		} else if !slices.Equal(unit[k], sensor[k]) {
			t.Errorf("%s=%v, the sensor's unit has %v", k, unit[k], sensor[k])
		}
	}
	verifyUnit(t, "flowhawk-collect.service", b)
}
