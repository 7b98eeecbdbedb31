//go:build linux

package collector

import (
	"fmt"
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
