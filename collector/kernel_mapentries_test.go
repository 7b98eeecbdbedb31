//go:build linux

package collector

import (
	"testing"
	"time"

	"github.com/cilium/ebpf"
)

// TestKernelMapEntriesAfterFlush: after Flush has drained every flow from the kernel maps, Stats().MapEntries
// (flowhawk_active_flows in capture's final --metrics-textfile write) must
// be 0, not the count of the last scan before the drain.
func TestKernelMapEntriesAfterFlush(t *testing.T) {
	s := loadTestKernel(t, KernelConfig{Interfaces: []string{"lo"}})
	var flows []*Flow
	onFlow := func(f *Flow) { flows = append(flows, f) }
	fr := tcpSeg(t, true, "S", 0)
	if _, err := s.objs.FlowhawkTc.Run(&ebpf.RunOptions{Data: fr}); err != nil {
		t.Fatal(err)
	}
	s.readEvents(time.Now(), onFlow, nil)
	if err := s.Scan(onFlow); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().MapEntries; got != 1 {
		t.Fatalf("MapEntries after the scan = %d, want 1", got)
	}
	if err := s.Flush(onFlow, nil); err != nil {
		t.Fatal(err)
	}
	if len(flows) != 1 {
		t.Fatalf("%d flows emitted, want 1", len(flows))
	}
	if got := s.Stats().MapEntries; got != 0 {
		t.Errorf("MapEntries after Flush drained the maps = %d, want 0 (its flow was emitted: active_flows would count it twice)", got)
	}
}
