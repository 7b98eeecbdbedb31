package metrics_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/detect"
	"github.com/flowhawk/flowhawk/export/metrics"
	"github.com/flowhawk/flowhawk/features"
	"github.com/flowhawk/flowhawk/internal/promtest"
	"github.com/flowhawk/flowhawk/internal/testshared"
	"github.com/flowhawk/flowhawk/pipeline"
)

// TestScrapeDuringReplay replays every shared capture through a pipeline
// with the metrics exporter wired as `flowhawk replay --metrics-addr
// --detect all` wires it, scrapes /metrics over HTTP while it runs and
// after, and checks each scrape as a Prometheus operator would: promlint
// finds nothing, no counter series ever goes down, and the number of series
// stays bounded by the label values the exporter fixes in advance (no
// per-address or per-flow label), however many hosts and flows go by. The
// last scrape agrees with the pipeline's own summary.
func TestScrapeDuringReplay(t *testing.T) {
	dir := testshared.Path(t, "pcaps")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range ents {
		if n := e.Name(); strings.HasSuffix(n, ".pcap") || strings.HasSuffix(n, ".pcapng") || strings.HasSuffix(n, ".cap") {
			paths = append(paths, filepath.Join(dir, n))
		}
	}
	if len(paths) < 10 {
		t.Fatalf("%d captures in %s", len(paths), dir)
	}

	m := metrics.New(metrics.Config{Sensor: "audit", Version: "test", Detectors: detect.AllDetectors})
	dc := detect.DefaultConfig()
	dc.Detect = "all"
	var sent atomic.Int64 // alerts the engine handed to its sink
	eng, err := detect.New(dc, func(a *detect.Alert) { sent.Add(1); m.ExportAlert(a) })
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.New(pipeline.Config{
		Table:     collector.DefaultTableConfig(),
		Features:  features.Config{Extras: true},
		Detect:    eng,
		Exporters: []pipeline.FlowExporter{m},
	})
	if err != nil {
		t.Fatal(err)
	}
	m.AddActiveFlowsFunc(func() float64 { return float64(p.Live().ActiveFlows.Load()) })
	m.AddDecodeErrorSource("pcap", metrics.LossFunc(p.Live().DecodeErrors))
	m.AddLossSource("detect", eng)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	var (
		mu      sync.Mutex
		scrapes int
		last    = map[string]float64{} // counter series -> value
		maxSer  int
	)
	check := func() map[string]*dto.MetricFamily {
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Errorf("scrape: %v", err)
			return nil
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		body := string(raw)
		if err != nil {
			t.Errorf("scrape: %v", err)
			return nil
		}
		probs, err := promlint.New(strings.NewReader(body)).Lint()
		if err != nil {
			t.Errorf("promlint: %v", err)
		}
		for _, pr := range probs {
			t.Errorf("promlint: %s: %s", pr.Metric, pr.Text)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		mfs, err := parser.TextToMetricFamilies(strings.NewReader(body))
		if err != nil {
			t.Errorf("parse: %v", err)
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		scrapes++
		n := 0
		for name, mf := range mfs {
			if !strings.HasPrefix(name, "flowhawk_") {
				continue
			}
			if mf.GetHelp() == "" {
				t.Errorf("%s has no HELP", name)
			}
			for _, s := range mf.GetMetric() {
				n++
				for _, lp := range s.GetLabel() {
					if strings.Count(lp.GetValue(), ".") == 3 || strings.Contains(lp.GetValue(), ":") && lp.GetName() != "goversion" {
						t.Errorf("%s has an address-like label %s=%q", name, lp.GetName(), lp.GetValue())
					}
				}
				if mf.GetType() != dto.MetricType_COUNTER {
					continue
				}
				id := promtest.SeriesID(name, s)
				v := s.GetCounter().GetValue()
				if v < last[id] {
					t.Errorf("counter %s went down: %v -> %v", id, last[id], v)
				}
				last[id] = v
			}
		}
		maxSer = max(maxSer, n)
		return mfs
	}

	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
				check()
			}
		}
	}()
	err = p.ReplayFiles(context.Background(), paths, nil)
	sum, cerr := p.Close()
	close(done)
	wg.Wait()
	if err != nil {
		t.Logf("replay: %v (a bad capture ends its file; the rest go on)", err)
	}
	if cerr != nil {
		t.Fatal(cerr)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	mfs := check()

	// Series: 5 protocols x 2 directions for packets and bytes, 5 x the end
	// reasons for flows, one per detector for alerts, a handful of fixed
	// gauges, and loss / decode reasons named by the code.
	reasons := int(collector.EndFlush) + 1
	bound := 5*2*2 + 5*reasons + len(detect.AllDetectors) + 4 + 30
	if maxSer > bound {
		t.Errorf("%d flowhawk series in one scrape, more than the %d the fixed label values allow", maxSer, bound)
	}
	var flows, pkts float64
	for _, s := range mfs["flowhawk_flows_total"].GetMetric() {
		flows += s.GetCounter().GetValue()
	}
	for _, s := range mfs["flowhawk_packets_total"].GetMetric() {
		pkts += s.GetCounter().GetValue()
	}
	var sumPkts uint64
	for _, ps := range sum.Protos {
		sumPkts += ps.Packets
	}
	if flows != float64(sum.Flows) || pkts != float64(sumPkts) {
		t.Errorf("last scrape: %v flows, %v packets; the replay summary: %d flows, %d packets", flows, pkts, sum.Flows, sumPkts)
	}
	var alerts float64
	for _, s := range mfs["flowhawk_alerts_total"].GetMetric() {
		alerts += s.GetCounter().GetValue()
	}
	if alerts != float64(sent.Load()) {
		t.Errorf("alerts_total sums to %v, the engine sent %d alerts", alerts, sent.Load())
	}
	// It counts alert lines sent, not occurrences raised (the summary's
	// OCCURRENCES): its HELP said "Alerts raised".
	if h := mfs["flowhawk_alerts_total"].GetHelp(); !strings.Contains(h, "sent") || strings.Contains(h, "raised") {
		t.Errorf("alerts_total HELP %q, want it to say it counts the alert lines sent", h)
	}
	t.Logf("%d captures, %d scrapes, at most %d flowhawk series; %v flows, %v packets, %v alerts", len(paths), scrapes, maxSer, flows, pkts, alerts)
}
