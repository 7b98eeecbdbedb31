//go:build linux

package collector

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestStaleFilters reads `tc filter show` output as iproute2 prints it:
// flowhawk's filters of a dead process are stale, those of live processes
// and of this one, and other tools' filters, are not.
func TestStaleFilters(t *testing.T) {
	out := `filter protocol all pref 61802 bpf chain 0 
filter protocol all pref 61802 bpf chain 0 handle 0x1 flowhawk_12650_2_va_egress:[*fsobj] direct-action not_in_hw id 3333 name flowhawk_tc tag 976e80157945dd21 jited 
filter protocol all pref 49153 bpf chain 0 
filter protocol all pref 49153 bpf chain 0 handle 0x1 flowhawk_777_1_va_egress:[*fsobj] direct-action not_in_hw id 3400 name flowhawk_tc tag 976e80157945dd21 jited 
filter protocol all pref 49154 bpf chain 0 
filter protocol all pref 49154 bpf chain 0 handle 0x1 flowhawk_42_1_va_egress:[*fsobj] direct-action not_in_hw id 3401 name flowhawk_tc tag 976e80157945dd21 jited 
filter protocol all pref 1 bpf chain 0 
filter protocol all pref 1 bpf chain 0 handle 0x1 cilium_egress:[*fsobj] direct-action not_in_hw id 12 name cil_to tag 0123 jited 
`
	alive := func(pid int) bool { return pid == 777 }
	got := fmt.Sprint(staleFilters(out, 42, alive))
	if want := "[{61802 12650}]"; got != want {
		t.Errorf("stale filters %s, want %s", got, want)
	}
	if st := staleFilters("", 42, alive); len(st) != 0 {
		t.Errorf("no filters: %v", st)
	}
}

// TestRemoveStaleBPFFS checks that the private bpffs directory of a
// capture killed with SIGKILL goes when the next one mounts its own, and
// nothing else: a live owner's, a non-empty one, other names. Before, each
// killed clsact capture left a directory in /tmp for good.
func TestRemoveStaleBPFFS(t *testing.T) {
	tmp := t.TempDir()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dead := gone.Process.Pid
	mk := func(name string) string {
		d := filepath.Join(tmp, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		return d
	}
	stale := mk(fmt.Sprintf("%s%d-123", bpffsPrefix, dead))
	live := mk(fmt.Sprintf("%s%d-456", bpffsPrefix, os.Getpid()))
	full := mk(fmt.Sprintf("%s%d-789", bpffsPrefix, dead))
	os.WriteFile(filepath.Join(full, "x"), nil, 0o600)
	old := mk(bpffsPrefix + "1051582452") // before the pid was in the name
	other := mk(fmt.Sprintf("other-%d-1", dead))
	removeStaleBPFFS(tmp)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("%s (owner %d gone) still there: %v", stale, dead, err)
	}
	for _, d := range []string{live, full, old, other} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s removed: %v", d, err)
		}
	}
}
