//go:build linux

package collector

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/gopacket/gopacket/layers"
)

// TestKernelEvictUnderPressure fills a 64-entry map with SYNs from 100
// sources: 36 are refused and counted; the next scan evicts the 4 least
// recently seen idle flows as partial EndEvicted records, after which a
// new flow fits. The map is then still within 1/16 of full (61 of 64), so
// the next scan evicts 4 more without a new refusal: after a flood the map
// does not stay full of its idle flows until they time out (a capture
// audit lost a whole curl flow that way). Below that (57) no scan evicts.
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
	if st := s.Stats(); st.MapFull != 36 || st.MapFull6 != 0 {
		t.Fatalf("map full %d, of them IPv6 %d; want 36 and 0", st.MapFull, st.MapFull6)
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
	for _, want := range []int{4, 0, 0} {
		got = got[:0]
		time.Sleep(50 * time.Millisecond)
		if err := s.Scan(func(f *Flow) { got = append(got, f) }); err != nil {
			t.Fatal(err)
		}
		if len(got) != want {
			t.Errorf("scan without new refusals, map %d of 64: emitted %d flows, want %d", s.Stats().MapEntries+len(got), len(got), want)
		}
	}
	if st := s.Stats(); st.Evicted != 8 || st.MapEntries != 57 {
		t.Errorf("evicted %d, %d entries left; want 8 and 57", st.Evicted, st.MapEntries)
	}
}

// TestKernelEvictOnlyFullMap fills the IPv6 flow map (16 entries) while the
// IPv4 map (64) has room: the scan evicts from the IPv6 map only, 1/16 of
// its own size, and the idle IPv4 flows stay.
func TestKernelEvictOnlyFullMap(t *testing.T) {
	s := loadTestKernel(t, KernelConfig{MaxFlows: 64, MaxFlows6: 16, EvictIdle: 20 * time.Millisecond})
	for i := 0; i < 8; i++ {
		ip := ip4(layers.IPProtocolTCP)
		ip.SrcIP = net.IP{10, 200, 0, byte(i)}
		if _, err := s.objs.FlowhawkXdp.Run(&ebpf.RunOptions{Data: kframe(t, eth(layers.EthernetTypeIPv4), ip, tcpSYN(uint16(1024+i), 80))}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 20; i++ {
		ip := ip6(layers.IPProtocolTCP)
		ip.SrcIP = net.ParseIP(fmt.Sprintf("fd00:200::%x", i+1))
		if _, err := s.objs.FlowhawkXdp.Run(&ebpf.RunOptions{Data: kframe(t, eth(layers.EthernetTypeIPv6), ip, tcpSYN(uint16(2048+i), 80))}); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.MapFull != 4 || st.MapFull6 != 4 {
		t.Fatalf("map full %d, of them IPv6 %d; want 4 and 4 (20 IPv6 flows, 16 fit)", st.MapFull, st.MapFull6)
	}
	if l := s.Losses(); l["map_full_ipv6"] != 4 || l["map_full_ipv4"] != 0 {
		t.Errorf("losses %v, want map_full_ipv6 4 and map_full_ipv4 0", l)
	}
	time.Sleep(50 * time.Millisecond)
	var got []*Flow
	if err := s.Scan(func(f *Flow) { got = append(got, f) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("scan under pressure emitted %d flows (%v), want the 1 least recently seen IPv6 flow", len(got), got)
	}
	if src := got[0].Src().Addr; src != netip.MustParseAddr("fd00:200::1") || got[0].EndReason != EndEvicted {
		t.Errorf("evicted %v (%v), want fd00:200::1 (evicted)", src, got[0].EndReason)
	}
	if st := s.Stats(); st.MapEntries != 8+15 {
		t.Errorf("%d flows left in the maps, want 23", st.MapEntries)
	}
}
