//go:build linux

package collector

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vishvananda/netlink"
)

// TestStaleFilters reads a hook's filters as rtnetlink lists them:
// flowhawk's filters of a dead process are stale (named as this version
// names them, and as tc(8) named the pinned ones of earlier versions),
// those of live processes and of this one, and other tools' filters, are
// not. The kernel lists a preference's chain head before its filters.
func TestStaleFilters(t *testing.T) {
	bpf := func(pref uint16, name string) *netlink.BpfFilter {
		return &netlink.BpfFilter{FilterAttrs: netlink.FilterAttrs{Priority: pref, Handle: 1}, Name: name, DirectAction: true}
	}
	fs := []netlink.Filter{
		&netlink.BpfFilter{FilterAttrs: netlink.FilterAttrs{Priority: 61802}},
		bpf(61802, "flowhawk_12650_2_va_egress:[*fsobj]"),
		bpf(49153, "flowhawk_777_1_va_egress"),
		bpf(49154, "flowhawk_42_1_va_egress"),
		bpf(49155, "flowhawk_13000_7_va_egress"),
		bpf(1, "cilium_egress:[*fsobj]"),
		&netlink.U32{FilterAttrs: netlink.FilterAttrs{Priority: 2}},
	}
	alive := func(pid int) bool { return pid == 777 }
	got := fmt.Sprint(staleFilters(fs, 42, alive))
	if want := "[{61802 12650} {49155 13000}]"; got != want {
		t.Errorf("stale filters %s, want %s", got, want)
	}
	if st := staleFilters(nil, 42, alive); len(st) != 0 {
		t.Errorf("no filters: %v", st)
	}
}

// TestRemoveStaleBPFFS checks that the private bpffs directory of a
// capture of an earlier version killed with SIGKILL goes when the next
// clsact capture starts, and nothing else: a live owner's, a non-empty
// one, other names. Before, each killed clsact capture left a directory
// in /tmp for good.
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
