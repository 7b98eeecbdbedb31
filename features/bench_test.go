package features

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/collector/pcapgen"
)

// BenchmarkFill measures one flow's full row (every group, SPLT 10), with
// BenchmarkMomentsBaseline as the same-run yardstick: reading mean and
// std of every Moments of the flow once.
func BenchmarkFill(b *testing.B) {
	f := sessionFlow(b)
	x, err := New(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	row := x.NewRow()
	wv := WindowValues{Count: 3}
	x.Fill(f, &wv, row)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		x.Fill(f, &wv, row)
	}
	b.ReportMetric(float64(len(x.Columns())), "cols")
}

func BenchmarkMomentsBaseline(b *testing.B) {
	f := sessionFlow(b)
	ms := []*collector.Moments{&f.Fwd.PayloadLen, &f.Bwd.PayloadLen, &f.Fwd.IAT, &f.Bwd.IAT, &f.IAT, &f.Active, &f.Idle, &f.Fwd.IPLen, &f.Bwd.IPLen}
	var s float64
	b.ReportAllocs()
	for b.Loop() {
		for _, m := range ms {
			s += m.Mean() + m.Std() + m.Skewness() + m.Kurtosis()
		}
	}
	if s == 1 {
		b.Log(s)
	}
}

func BenchmarkObserve(b *testing.B) {
	var flows []*collector.Flow
	for i := range 1000 {
		p := mkPacket(client, server, uint16(1000+i%300), uint16(i%50), 6, pkt{int64(i) * 100, true, syn, 40, 0, 1})
		flows = append(flows, runTable(b, []collector.Packet{p}, 0)...)
	}
	benchObserve(b, flows, 100_000)
}

// benchObserve observes flows once, then again and again in a loop with
// their starts moved step ns forward each time, so time keeps moving.
func benchObserve(b *testing.B, flows []*collector.Flow, step int64) {
	w := NewWindows(WindowConfig{})
	for _, f := range flows {
		w.Observe(f)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		f := flows[i%len(flows)]
		f.Start += step
		w.Observe(f)
		i++
	}
}

// BenchmarkObserveMixed is BenchmarkObserve on traffic with many hosts
// and services, as a gateway sees (and the replay benchmark's capture
// has): 1,000 responders, 64 ports, so most connections in the windows
// share neither host nor service with the observed one.
func BenchmarkObserveMixed(b *testing.B) {
	var flows []*collector.Flow
	for i := range 4000 {
		dst := netip.AddrFrom4([4]byte{10, 1, byte(i * 7919 % 1000 / 256), byte(i * 7919 % 1000)})
		p := mkPacket(client, dst, uint16(1000+i), uint16(i*31%64), 6, pkt{int64(i) * 100, true, syn, 40, 0, 1})
		flows = append(flows, runTable(b, []collector.Packet{p}, 0)...)
	}
	benchObserve(b, flows, 400_000)
}

// BenchmarkObserveGateway is BenchmarkObserve at the replay benchmark's
// scale: a flow every 44 µs (so about 45,000 in the 2 s window) among
// 30,000 responders and 1,000 services, where every tally lookup misses
// the cache.
func BenchmarkObserveGateway(b *testing.B) {
	const n = 50_000
	var pkts []collector.Packet
	for i := range n {
		h := uint32(i) * 2654435761 % 30_000
		dst := netip.AddrFrom4([4]byte{10, byte(h >> 16), byte(h >> 8), byte(h)})
		p := mkPacket(client, dst, uint16(1024+i%60000), uint16(i*7919%1000), 17, pkt{int64(i) * 44_000, true, 0, 40, 0, 1})
		pkts = append(pkts, p)
	}
	benchObserve(b, runTable(b, pkts, 0), n*44_000)
}

// emitted is what Observe reads of a flow, kept compactly so a benchmark
// can hold hundreds of thousands of flows without their full records.
type emitted struct {
	key        collector.Key
	start      int64
	fwdIsLo    bool
	fwdF, bwdF [8]uint64
}

// BenchmarkObserveReplay observes the flows of a generated capture (the
// replay benchmark's mix: 395,342 flows in 17.5 s, 4,000 responders) in
// the order a flow table with the default timeouts emits them: TCP
// connections 2 s after they close, the rest at the end, so three in four
// flows arrive after flows that started later. Each pass over the flows
// comes 20 s after the one before, so time keeps moving and the store
// fills to its bound.
func BenchmarkObserveReplay(b *testing.B) {
	var buf bytes.Buffer
	st, err := pcapgen.Write(&buf, pcapgen.Config{Seed: 1, Packets: 1_000_000, Flows: 400_000})
	if err != nil {
		b.Fatal(err)
	}
	src, err := collector.NewPcapSource(&buf, "gen", collector.PcapOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var flows []emitted
	tab := collector.NewTable(collector.TableConfig{}, func(f *collector.Flow) {
		flows = append(flows, emitted{f.Key, f.Start, f.FwdIsLo, f.Fwd.FlagCounts, f.Bwd.FlagCounts})
	})
	var p collector.Packet
	for {
		if err := src.NextPacket(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			b.Fatal(err)
		}
		tab.Add(&p)
	}
	tab.Flush()
	w := NewWindows(WindowConfig{})
	var f collector.Flow
	step := st.LastNano - st.FirstNano + int64(2*time.Second)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		e := &flows[i%len(flows)]
		f.Key, f.Start, f.FwdIsLo, f.Fwd.FlagCounts, f.Bwd.FlagCounts = e.key, e.start+int64(i/len(flows))*step, e.fwdIsLo, e.fwdF, e.bwdF
		w.Observe(&f)
	}
}
