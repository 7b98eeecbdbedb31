//go:build linux

package collector

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/flowhawk/flowhawk/bpf"
)

// fillFlows puts n synthetic flows (10 packets each way) into the kernel map
// from user space.
func fillFlows(tb testing.TB, s *KernelSource, n int) {
	tb.Helper()
	keys := make([]bpf.FlowhawkFlowKey4, n)
	vals := make([]bpf.FlowhawkFlowValue, n)
	now := uint64(monoNow())
	for i := range keys {
		var k bpf.FlowhawkFlowKey
		k.AddrLo[10], k.AddrLo[11], k.AddrHi[10], k.AddrHi[11] = 0xff, 0xff, 0xff, 0xff
		binary.BigEndian.PutUint32(k.AddrLo[12:], 0x0ac70000|uint32(i>>16))
		binary.BigEndian.PutUint32(k.AddrHi[12:], 0x0ac80001)
		k.PortLo, k.PortHi, k.Proto = uint16(i), 443, 6
		keys[i], _ = narrow4(&k) // IPv4 flows live in flows4, as the programs put them
		v := &vals[i]
		v.First, v.Last = now-uint64(time.Second), now
		v.IatMin, v.IatMax = 1e6, 2e8
		for d := range v.Dir {
			ds := &v.Dir[d]
			ds.Packets, ds.Bytes, ds.IplenSq = 10, 10*600, 10*600*600
			ds.PayloadBytes, ds.PayloadSq, ds.IpHdrBytes, ds.L4HdrBytes, ds.DataPackets = 10*548, 10*548*548, 200, 320, 8
			ds.First, ds.Last = v.First, v.Last
			ds.IatSq, ds.IatMin, ds.IatMax = 9*1e5*1e5, 1e6, 2e8
			ds.FlowIatSq = 19 * 100 * 100 / 2
			ds.FlagCounts[4] = 10
			ds.PayloadMin, ds.PayloadMax, ds.IplenMin, ds.IplenMax = 0, 1448, 52, 1500
			ds.InitWindow, ds.MinL4Hdr = 64240, 32
		}
	}
	if _, err := s.objs.Flows4.BatchUpdate(keys, vals, &ebpf.BatchOptions{}); err != nil {
		tb.Fatalf("fill flow map: %v", err)
	}
}

// BenchmarkKernelDrain measures how fast the collector empties a full flow
// map into Flow records (BatchLookupAndDelete + conversion), in flows/s.
func BenchmarkKernelDrain(b *testing.B) {
	const n = 65536
	s := loadTestKernel(b, KernelConfig{MaxFlows: n})
	// As in the agent, records go back to a pool once consumed.
	var pool FlowPool
	s.UseFlowPool(&pool)
	// One drain off the clock first, so the pool holds a map's worth of
	// records, as in an agent that has run for a while: otherwise a run of
	// one iteration (what -benchtime 1s gives on a slow host) measures the
	// first allocation of 65,536 records and their page faults.
	fillFlows(b, s, n)
	if err := s.drainAll(func(f *Flow) { pool.Put(f) }); err != nil {
		b.Fatal(err)
	}
	var got int
	var el, cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		fillFlows(b, s, n)
		b.StartTimer()
		t0, c0 := time.Now(), cpuTime()
		if err := s.drainAll(func(f *Flow) { got++; pool.Put(f) }); err != nil {
			b.Fatal(err)
		}
		el += time.Since(t0)
		cpu += cpuTime() - c0
	}
	if got != n*b.N {
		b.Fatalf("drained %d flows, want %d", got, n*b.N)
	}
	b.ReportMetric(float64(got)/el.Seconds(), "flows/s")
	b.ReportMetric(float64(got)/cpu.Seconds(), "flows/cpu-s")
}

// cpuTime is the process's user+system CPU time: on a shared, loaded
// machine it measures our cost where wall time measures the neighbours.
func cpuTime() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkKernelScan measures a timeout scan of a full map in which no
// flow has expired (BatchLookup only), in entries/s.
func BenchmarkKernelScan(b *testing.B) {
	const n = 65536
	s := loadTestKernel(b, KernelConfig{MaxFlows: n})
	fillFlows(b, s, n)
	b.ResetTimer()
	t0, c0 := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		if err := s.Scan(func(*Flow) { b.Fatal("no flow should expire") }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/time.Since(t0).Seconds(), "entries/s")
	b.ReportMetric(float64(n*b.N)/(cpuTime()-c0).Seconds(), "entries/cpu-s")
}
