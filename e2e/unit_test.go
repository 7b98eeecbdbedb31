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
// past its system call filter (a capture made bpf, mount and umount2 its
// only calls outside @system-service, the latter two for the clsact
// fallback's private bpffs), keeps flow files from other users, and
// systemd-analyze verify accepts it where systemd-analyze is installed.
func TestServiceUnit(t *testing.T) {
	b, err := os.ReadFile("../deploy/flowhawk.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			unit[k] = append(unit[k], v)
		}
	}
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
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze not installed: unit not verified")
	}
	// verify wants ExecStart's binary to exist.
	dir := t.TempDir()
	path := filepath.Join(dir, "flowhawk.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(b), "/usr/local/bin/flowhawk", "/bin/true")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v: %s", err, out)
	}
}
