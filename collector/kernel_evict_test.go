//go:build linux

package collector

import (
	"net"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/gopacket/gopacket/layers"
)

// TestKernelEvictUnderPressure fills a 64-entry map with SYNs from 100
// sources: 36 are refused and counted; the next scan evicts the 4 least
// recently seen idle flows as partial EndEvicted records, after which a
// new flow fits; a scan without new refusals evicts nothing.
func TestKernelEvictUnderPressure(t *testing.T) {
	s := loadTestKernel(t, KernelConfig{MaxFlows: 64, EvictIdle: 20 * time.Millisecond})
	syn := func(i int) []byte {
		ip := ip4(layers.IPProtocolTCP)
		ip.SrcIP = net.IP{10, 200, byte(i >> 8), byte(i)}
		return kframe(t, eth(layers.EthernetTypeIPv4), ip, tcpSYN(uint16(1024+i), 80))
	}
	for i := 0; i < 100; i++ {
		if _, err := s.objs.FlowhawkXdp.Run(&ebpf.RunOptions{Data: syn(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.MapFull != 36 {
		t.Fatalf("map full %d, want 36", st.MapFull)
	}
	time.Sleep(50 * time.Millisecond)
	var got []*Flow
	if err := s.Scan(func(f *Flow) { got = append(got, f) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("scan under pressure emitted %d flows, want 4 (1/16 of 64)", len(got))
	}
	for i, f := range got {
		if f.EndReason != EndEvicted || !f.Partial || f.Packets() != 1 {
			t.Errorf("evicted flow %v: reason %v partial %v packets %d", f.Key, f.EndReason, f.Partial, f.Packets())
		}
		// Least recently seen first: sources 0..3.
		if src := f.Src().Addr.As4(); src[3] != byte(i) {
			t.Errorf("evicted flow %d is from %v, want 10.200.0.%d", i, f.Src().Addr, i)
		}
	}
	if _, err := s.objs.FlowhawkXdp.Run(&ebpf.RunOptions{Data: syn(500)}); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.MapFull != 36 || st.Evicted != 4 {
		t.Errorf("after eviction: map full %d (want 36), evicted %d (want 4)", st.MapFull, st.Evicted)
	}
	got = got[:0]
	time.Sleep(50 * time.Millisecond)
	if err := s.Scan(func(f *Flow) { got = append(got, f) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("scan without new refusals emitted %d flows", len(got))
	}
}
