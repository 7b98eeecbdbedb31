package collector

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/rlimit"

	"github.com/flowhawk/flowhawk/bpf"
)

// TestFlowMapBytesMatchesKernel: the estimate capture prints when the
// kernel cannot allocate the flow maps (ENOMEM) is the memory the kernel
// charges for them. It used fixed figures of 480 and 504 B per entry,
// which the value's growth had left 56 B short (536 and 560 B).
func TestFlowMapBytesMatchesKernel(t *testing.T) {
	needRoot(t)
	if err := rlimit.RemoveMemlock(); err != nil {
		t.Fatal(err)
	}
	spec, err := bpf.LoadFlowhawk()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{bpf.FlowhawkMapFlows4, bpf.FlowhawkMapFlows} {
		for _, n := range []uint32{1000, 65536} {
			ms := spec.Maps[name].Copy()
			ms.MaxEntries = n
			m, err := ebpf.NewMap(ms)
			if err != nil {
				t.Fatalf("%s with %d entries: %v", name, n, err)
			}
			info, err := m.Info()
			m.Close()
			if err != nil {
				t.Fatal(err)
			}
			got, ok := info.Memlock()
			if !ok {
				t.Skip("kernel does not report memlock")
			}
			if got == oldFootprint(ms) {
				// Before Linux 6.4 memlock is not the memory used but
				// key and value per entry, to the page (6.1 reports
				// 475,136 B for 1,000 IPv4 entries): nothing to check
				// the estimate against.
				t.Logf("%s, %d entries: the kernel reports the pre-6.4 footprint (%d B), not the memory used", name, n, got)
				continue
			}
			want := flowMapBytes(ms)
			// The kernel adds a spare element per possible CPU and a few
			// hundred bytes of map header: allow 2 %.
			if d := float64(want) - float64(got); d < -0.02*float64(got) || d > 0.02*float64(got) {
				t.Errorf("%s, %d entries: estimate %d B, kernel memlock %d B (%.1f B per entry)", name, n, want, got, float64(got)/float64(n))
			}
		}
	}
}

// oldFootprint is the memlock kernels before 6.4 report for a map
// (bpf_map_memory_footprint): key and value per entry, rounded up to 8
// bytes, times the entries, rounded up to a page.
func oldFootprint(ms *ebpf.MapSpec) uint64 {
	per := (uint64(ms.KeySize) + uint64(ms.ValueSize) + 7) &^ 7
	return (per*uint64(ms.MaxEntries) + 4095) &^ 4095
}
