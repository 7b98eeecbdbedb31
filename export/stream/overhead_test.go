package stream

import (
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/export"
	"github.com/flowhawk/flowhawk/export/ipfix"
	"github.com/flowhawk/flowhawk/export/metrics"
	"github.com/flowhawk/flowhawk/features"
	"github.com/flowhawk/flowhawk/pipeline"
)

// overheadPackets is a replay workload: nflows TCP conversations of 8
// packets each (handshake, data, FIN close) between 250 clients and 40
// servers, in time order.
func overheadPackets(nflows int) []collector.Packet {
	pk := make([]collector.Packet, 0, nflows*8)
	ts := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC).UnixNano()
	flags := []uint8{collector.FlagSYN, collector.FlagSYN | collector.FlagACK, collector.FlagACK, collector.FlagPSH | collector.FlagACK,
		collector.FlagPSH | collector.FlagACK, collector.FlagACK, collector.FlagFIN | collector.FlagACK, collector.FlagFIN | collector.FlagACK}
	for i := 0; i < nflows; i++ {
		a := netip.AddrFrom4([4]byte{10, 1, byte(i % 250), 1}).As16()
		b := netip.AddrFrom4([4]byte{198, 51, 100, byte(i % 40)}).As16()
		k, lo := collector.MakeKey(&a, &b, uint16(1024+i%60000), 443, 6, 0, 0)
		for j := 0; j < 8; j++ {
			p := collector.Packet{Timestamp: ts, Key: k, SrcIsLo: lo == (j%2 == 0), IPHeaderLen: 20, L4HeaderLen: 20, TCPFlags: flags[j], TCPWindow: 64240, TTL: 64}
			if j == 3 || j == 4 {
				p.PayloadLen = uint32(200 + 300*j)
			}
			p.IPLen = 40 + p.PayloadLen
			pk = append(pk, p)
			ts += 50_000
		}
	}
	return pk
}

// use reports whether the exporter is selected by FLOWHAWK_BENCH_EXPORTERS
// (a comma-separated list; default all), to measure one at a time.
func use(name string) bool {
	v := os.Getenv("FLOWHAWK_BENCH_EXPORTERS")
	return v == "" || strings.Contains(","+v+",", ","+name+",")
}

// runPipeline replays the packets through a full pipeline (features,
// CSV rows to io.Discard, and the given exporters) and returns the time.
func runPipeline(b *testing.B, pk []collector.Packet, ex []pipeline.FlowExporter) time.Duration {
	x, err := features.New(features.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	w, err := export.NewWriter(io.Discard, export.CSV, x.Columns(), nil)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	p, err := pipeline.New(pipeline.Config{Features: features.DefaultConfig(), Out: w, Exporters: ex})
	if err != nil {
		b.Fatal(err)
	}
	for i := range pk {
		p.Packet(&pk[i])
	}
	if _, err := p.Close(); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// BenchmarkExporterOverhead measures replay throughput (flows/s) with
// every exporter off and on in the same run, interleaved so both see the
// same machine state, and reports the ratio on/off (goal: at least 0.90).
// "On" is Prometheus counting, IPFIX to a local UDP collector and NATS
// JetStream to a real nats-server (skipped, with the others kept, when
// nats-server is not installed).
func BenchmarkExporterOverhead(b *testing.B) {
	const nflows = 8000
	pk := overheadPackets(nflows)

	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer udp.Close()
	go func() { // the collector: read and discard
		buf := make([]byte, 65536)
		for {
			if _, err := udp.Read(buf); err != nil {
				return
			}
		}
	}()
	natsURL := ""
	if _, err := exec.LookPath("nats-server"); err == nil && use("nats") {
		natsURL = startNATS(b).url()
	} else {
		b.Logf("nats-server not installed: measuring without the NATS exporter")
	}

	var off, on time.Duration
	var ratios []float64
	for i := 0; b.Loop(); i++ {
		var o time.Duration
		if i%2 == 0 { // alternate the order so neither run always goes first
			o = runPipeline(b, pk, nil)
		}

		m := metrics.New(metrics.Config{NoRuntime: true})
		ix, err := ipfix.New(ipfix.Config{Addr: udp.LocalAddr().String(), QueueSize: 1 << 16})
		if err != nil {
			b.Fatal(err)
		}
		var ex []pipeline.FlowExporter
		if use("metrics") {
			ex = append(ex, m)
		}
		if use("ipfix") {
			ex = append(ex, ix)
		}
		var pub *Publisher
		if natsURL != "" {
			pub, err = New(Config{URL: natsURL, Sensor: "bench", CreateStream: true, BufferSize: 1 << 16})
			if err != nil {
				b.Fatal(err)
			}
			ex = append(ex, pub)
		}
		w := runPipeline(b, pk, ex)
		if i%2 == 1 {
			o = runPipeline(b, pk, nil)
		}
		off += o
		on += w
		ratios = append(ratios, o.Seconds()/w.Seconds())
		// Closing (draining the queues) is not on the hot path: not timed.
		b.StopTimer()
		ix.Close()
		st := ix.Stats()
		if pub != nil {
			pub.Close()
			if ps := pub.Stats(); ps.DropQueueFull > 0 {
				b.Logf("nats dropped %d of %d (buffer full)", ps.DropQueueFull, nflows)
			}
		}
		if st.DropQueueFull > 0 {
			b.Logf("ipfix dropped %d of %d (queue full)", st.DropQueueFull, nflows)
		}
		b.StartTimer()
	}
	n := float64(b.N) * nflows
	b.ReportMetric(n/off.Seconds(), "flows/s-off")
	b.ReportMetric(n/on.Seconds(), "flows/s-on")
	// The median of paired ratios resists the noise of a shared machine
	// better than the ratio of the sums.
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "on/off-median")
	b.ReportMetric(off.Seconds()/on.Seconds(), "on/off")
	b.ReportMetric(0, "ns/op")
}
