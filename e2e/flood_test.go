//go:build linux

package e2e

import (
	"fmt"
	"net/netip"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/collector"
)

// TestSynFloodFillsMap floods SYNs from random sources into a 256-entry
// flow map while a ping runs: the source keeps running, the map and the
// user-space state stay bounded, the refused flows are counted as map
// full, and the ping flow (created before the map filled) is still
// measured exactly.
func TestSynFloodFillsMap(t *testing.T) {
	if _, err := exec.LookPath("hping3"); err != nil {
		t.Skip("SYN flood test needs hping3")
	}
	n := newNet(t)
	servers(t, n)
	const maxFlows = 256
	kc := startKernel(t, n.ClientNS, collector.KernelConfig{Interfaces: []string{n.ClientIf}, MaxFlows: maxFlows, Samples: 4, ScanInterval: 100 * time.Millisecond})

	pingDone := make(chan string, 1)
	go func() {
		out, _ := nsCmd(t.Context(), n.ClientNS, "ping", "-c", "20", "-i", "0.05", n.ServerIP).CombinedOutput()
		pingDone <- string(out)
	}()
	time.Sleep(200 * time.Millisecond) // the ping flow exists before the flood
	clientRun(t, n, "sh", "-c", fmt.Sprintf("timeout 1 hping3 -q -S -p 80 --rand-source --flood %s >/dev/null 2>&1; true", n.ServerIP))
	pingOut := <-pingDone
	if !strings.Contains(pingOut, "20 received") {
		t.Fatalf("ping lost packets, cannot check exact counts: %s", pingOut)
	}
	st := kc.src.Stats()
	flows := kc.stop(t)

	if st.MapFull == 0 {
		t.Errorf("flood did not register as map full: %+v", st)
	}
	if st.MapEntries > maxFlows {
		t.Errorf("map holds %d entries, limit %d", st.MapEntries, maxFlows)
	}
	if st.PendingSamples > maxFlows*4 {
		t.Errorf("%d samples pending, bound %d", st.PendingSamples, maxFlows*4)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("flood: %d packets seen, %d refused as map full, %d flows emitted; heap %d MiB", st.Packets, st.MapFull, len(flows), ms.HeapAlloc>>20)
	if len(flows) > 4*maxFlows {
		t.Errorf("%d flow records from a %d-entry map in ~2 s: flood flows should have been refused", len(flows), maxFlows)
	}
	client, server := netip.MustParseAddr(n.ClientIP), netip.MustParseAddr(n.ServerIP)
	var ping *collector.Flow
	for _, f := range flows {
		if f.Key.Proto == 1 && f.Src().Addr == client && f.Dst().Addr == server {
			ping = f
		}
	}
	if ping == nil {
		t.Fatalf("ping flow missing from %d records", len(flows))
	}
	if ping.Fwd.Packets != 20 || ping.Bwd.Packets != 20 || ping.Fwd.Bytes != 20*84 || ping.Bwd.Bytes != 20*84 {
		t.Errorf("ping flow %d/%d packets %d/%d bytes, want 20/20 and 1680/1680", ping.Fwd.Packets, ping.Bwd.Packets, ping.Fwd.Bytes, ping.Bwd.Bytes)
	}
	if len(ping.Samples) != 4 {
		t.Errorf("ping flow has %d samples, want 4", len(ping.Samples))
	}
}
