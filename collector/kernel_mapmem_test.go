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
			want := flowMapBytes(ms)
			// The kernel adds a spare element per possible CPU and a few
			// hundred bytes of map header: allow 2 %.
			if d := float64(want) - float64(got); d < -0.02*float64(got) || d > 0.02*float64(got) {
				t.Errorf("%s, %d entries: estimate %d B, kernel memlock %d B (%.1f B per entry)", name, n, want, got, float64(got)/float64(n))
			}
		}
	}
}
