package stream

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/collector/pcapgen"
	"github.com/flowhawk/flowhawk/export"
	"github.com/flowhawk/flowhawk/export/ipfix"
	"github.com/flowhawk/flowhawk/export/metrics"
	"github.com/flowhawk/flowhawk/features"
	"github.com/flowhawk/flowhawk/internal/natstest"
	"github.com/flowhawk/flowhawk/pipeline"
)

// use reports whether the exporter is selected by FLOWHAWK_BENCH_EXPORTERS
// (a comma-separated list; default all), to measure one at a time.
func use(name string) bool {
	v := os.Getenv("FLOWHAWK_BENCH_EXPORTERS")
	return v == "" || strings.Contains(","+v+",", ","+name+",")
}

// cpuTime is the CPU time (user + system) used so far by this process and,
// when pid > 0, by that process too (the local nats-server: a broker on the
// sensor is the sensor's cost).
func cpuTime(pid int) time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	d := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	if pid > 0 {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			// Fields after the parenthesised command: utime and stime are
			// the 12th and 13th, in clock ticks (100 per second on Linux).
			if i := bytes.LastIndexByte(b, ')'); i > 0 {
				f := strings.Fields(string(b[i+1:]))
				if len(f) > 12 {
					u, _ := strconv.ParseInt(f[11], 10, 64)
					s, _ := strconv.ParseInt(f[12], 10, 64)
					d += time.Duration(u+s) * 10 * time.Millisecond
				}
			}
		}
	}
	return d
}

// runPipeline replays the packets through a full pipeline (features,
// CSV rows to io.Discard, and the given exporters) and returns the time.
func runPipeline(b *testing.B, pcap string, ex []pipeline.FlowExporter) (time.Duration, uint64) {
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
	if err := p.ReplayFile(context.Background(), pcap); err != nil {
		b.Fatal(err)
	}
	sum, err := p.Close()
	if err != nil {
		b.Fatal(err)
	}
	return time.Since(start), sum.Flows
}

// BenchmarkExporterOverhead measures replay throughput (flows/s) with
// every exporter off and on in the same run, interleaved so both see the
// same machine state, and reports the ratio on/off (goal: at least 0.90).
// "On" is Prometheus counting, IPFIX to a local UDP socket and NATS
// JetStream to a real nats-server (skipped, with the others kept, when
// nats-server is not installed).
func BenchmarkExporterOverhead(b *testing.B) {
	// A realistic replay: a pcapgen capture (TCP and UDP flows of varied
	// sizes) read and decoded from a file, as `flowhawk replay` does.
	pk := filepath.Join(b.TempDir(), "overhead.pcap")
	fh, err := os.Create(pk)
	if err != nil {
		b.Fatal(err)
	}
	gst, err := pcapgen.Write(fh, pcapgen.Config{Seed: 1, Packets: 120_000, Flows: 8_000})
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		b.Fatal(err)
	}
	_, nflows := runPipeline(b, pk, nil) // warm-up, and the flow count
	b.Logf("workload: %d packets, %d flows (%d in the pcapgen stats)", gst.Packets, nflows, gst.Flows)

	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer udp.Close()
	// Nobody reads the socket: the collector is another machine's CPU. The
	// kernel drops what overflows its receive buffer, after our send.
	natsURL, natsPID := "", 0
	if _, err := exec.LookPath("nats-server"); err == nil && use("nats") {
		srv := natstest.Start(b)
		natsURL, natsPID = srv.URL(), srv.PID()
	} else {
		b.Logf("nats-server not installed: measuring without the NATS exporter")
	}

	// The exporters live across iterations, as on a sensor that runs for
	// days: connection and stream setup are not per-flow costs.
	m := metrics.New(metrics.Config{NoRuntime: true})
	// A short flush interval keeps the wait for the last partial message
	// (settle, below) short.
	ix, err := ipfix.New(ipfix.Config{Addr: udp.LocalAddr().String(), QueueSize: 1 << 16, FlushInterval: 20 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	defer ix.Close()
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
		defer pub.Close()
		ex = append(ex, pub)
	}
	// settle waits until the exporters sent (or counted as dropped) every
	// flow handed to them so far, so their asynchronous work is charged to
	// the run that caused it.
	var handed uint64
	settle := func() {
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			done := true
			if use("ipfix") {
				st := ix.Stats()
				done = st.Records+st.DropQueueFull+st.DropSendError >= handed
			}
			if pub != nil {
				ps := pub.Stats()
				done = done && ps.Published+ps.DropQueueFull >= handed
			}
			if done {
				return
			}
		}
		b.Fatalf("exporters did not settle: ipfix %+v", ix.Stats())
	}

	var off, on, cpuOff, cpuOn, selfOff, selfOn time.Duration
	var ratios []float64
	offRun := func() time.Duration {
		c, cs := cpuTime(natsPID), cpuTime(0)
		d, _ := runPipeline(b, pk, nil)
		b.StopTimer()
		// The same idle tail as the "on" run gets after settling, so that
		// background runtime work (GC, scavenger) lands alike in both.
		time.Sleep(100 * time.Millisecond)
		b.StartTimer()
		cpuOff += cpuTime(natsPID) - c
		selfOff += cpuTime(0) - cs
		return d
	}
	for i := 0; b.Loop(); i++ {
		var o time.Duration
		if i%2 == 0 { // alternate the order so neither run always goes first
			o = offRun()
		}
		c, cs := cpuTime(natsPID), cpuTime(0)
		w, _ := runPipeline(b, pk, ex)
		handed += nflows
		b.StopTimer() // draining the queues is off the hot path: not timed, but its CPU counts
		settle()
		time.Sleep(100 * time.Millisecond)
		cpuOn += cpuTime(natsPID) - c
		selfOn += cpuTime(0) - cs
		b.StartTimer()
		if i%2 == 1 {
			o = offRun()
		}
		off += o
		on += w
		ratios = append(ratios, o.Seconds()/w.Seconds())
	}
	if st := ix.Stats(); st.DropQueueFull > 0 {
		b.Logf("ipfix dropped %d (queue full)", st.DropQueueFull)
	}
	if pub != nil {
		if ps := pub.Stats(); ps.DropQueueFull > 0 {
			b.Logf("nats dropped %d (buffer full)", ps.DropQueueFull)
		}
	}
	n := float64(b.N) * float64(nflows)
	b.ReportMetric(n/off.Seconds(), "flows/s-off")
	b.ReportMetric(n/on.Seconds(), "flows/s-on")
	// The median of paired ratios resists the noise of a shared machine
	// better than the ratio of the sums.
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "on/off-median")
	b.ReportMetric(off.Seconds()/on.Seconds(), "on/off")
	// Flows per CPU-second, on relative to off: immune to other load on
	// the machine. "cpu-self" is this process only; "cpu-on/off" also
	// charges the local nats-server's CPU to "on" (a broker on the sensor).
	b.ReportMetric(selfOff.Seconds()/selfOn.Seconds(), "cpu-self-on/off")
	b.ReportMetric(cpuOff.Seconds()/cpuOn.Seconds(), "cpu-on/off")
	b.ReportMetric(0, "ns/op")
}
