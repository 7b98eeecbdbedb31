package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/flowhawk/flowhawk/collector"
)

func testFlow(proto uint8, fwdPk, fwdB, bwdPk, bwdB uint64, r collector.EndReason) *collector.Flow {
	a, b := collector.Addr16(netip.MustParseAddr("10.0.0.1")), collector.Addr16(netip.MustParseAddr("10.0.0.2"))
	k, lo := collector.MakeKey(&a, &b, 40000, 443, proto, 0, 0)
	f := &collector.Flow{Key: k, FwdIsLo: lo, EndReason: r}
	f.Fwd.Packets, f.Fwd.Bytes, f.Bwd.Packets, f.Bwd.Bytes = fwdPk, fwdB, bwdPk, bwdB
	return f
}

// scrape fetches /metrics over HTTP and parses it with expfmt, as a
// Prometheus server would.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape: status %d: %s", resp.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse exposition: %v", err)
	}
	return mf
}

// value returns the value of the series of family name with exactly the
// given labels, failing if absent.
func value(t *testing.T, mf map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	fam, ok := mf[name]
	if !ok {
		t.Fatalf("metric %s missing", name)
	}
next:
	for _, m := range fam.Metric {
		got := map[string]string{}
		for _, lp := range m.Label {
			got[lp.GetName()] = lp.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if got[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Untyped != nil:
			return m.Untyped.GetValue()
		}
	}
	t.Fatalf("metric %s%v missing", name, labels)
	return 0
}

type fakeLoss struct{ mapFull, ringFull, parse atomic.Uint64 }

func (f *fakeLoss) Losses() map[string]uint64 {
	return map[string]uint64{"map_full": f.mapFull.Load(), "ringbuf_full": f.ringFull.Load(), "parse_error": f.parse.Load()}
}

func TestScrapeValues(t *testing.T) {
	e := New(Config{Sensor: "gw1", Version: "1.2.3", Classes: []string{"BENIGN"}, Detectors: []string{"portscan"}})
	addr, err := e.Serve("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	url := "http://" + addr.String() + "/metrics"

	e.Export(testFlow(6, 10, 1000, 8, 5000, collector.EndFIN))
	e.Export(testFlow(6, 2, 120, 0, 0, collector.EndIdle))
	e.Export(testFlow(17, 1, 80, 1, 200, collector.EndIdle))
	e.Export(testFlow(47, 3, 300, 0, 0, collector.EndFlush))
	e.Classified("BENIGN")
	e.Classified("BENIGN")
	e.Classified("DoS Hulk")
	e.Alert("portscan")
	e.Alert("dns-tunnel")
	e.SetActiveFlows(42)
	e.SetLag(1500 * time.Millisecond)

	kern := &fakeLoss{}
	kern.mapFull.Store(7)
	kern.ringFull.Store(3)
	e.AddLossSource("kernel", kern)
	e.AddDecodeErrorSource("pcap", LossFunc(func() map[string]uint64 { return map[string]uint64{"truncated": 5} }))
	e.AddSkipSource("kernel", LossFunc(func() map[string]uint64 { return map[string]uint64{"non_ip": 9} }))
	e.AddWindowSource(LossFunc(func() map[string]uint64 { return map[string]uint64{"observed": 11, "truncated": 4} }))

	mf := scrape(t, url)
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"flowhawk_packets_total", []string{"proto", "tcp", "direction", "fwd"}, 12},
		{"flowhawk_packets_total", []string{"proto", "tcp", "direction", "bwd"}, 8},
		{"flowhawk_ip_bytes_total", []string{"proto", "tcp", "direction", "fwd"}, 1120},
		{"flowhawk_ip_bytes_total", []string{"proto", "tcp", "direction", "bwd"}, 5000},
		{"flowhawk_ip_bytes_total", []string{"proto", "udp", "direction", "bwd"}, 200},
		{"flowhawk_packets_total", []string{"proto", "other", "direction", "fwd"}, 3},
		{"flowhawk_flows_total", []string{"proto", "tcp", "end_reason", "fin"}, 1},
		{"flowhawk_flows_total", []string{"proto", "tcp", "end_reason", "idle"}, 1},
		{"flowhawk_flows_total", []string{"proto", "udp", "end_reason", "idle"}, 1},
		{"flowhawk_flows_total", []string{"proto", "other", "end_reason", "flush"}, 1},
		{"flowhawk_active_flows", nil, 42},
		{"flowhawk_collector_lag_seconds", nil, 1.5},
		{"flowhawk_classified_flows_total", []string{"class", "BENIGN"}, 2},
		{"flowhawk_classified_flows_total", []string{"class", "DoS Hulk"}, 1},
		{"flowhawk_alerts_total", []string{"detector", "portscan"}, 1},
		{"flowhawk_alerts_total", []string{"detector", "dns-tunnel"}, 1},
		{"flowhawk_dropped_total", []string{"component", "kernel", "reason", "map_full"}, 7},
		{"flowhawk_window_flows_total", []string{"outcome", "observed"}, 11},
		{"flowhawk_window_flows_total", []string{"outcome", "truncated"}, 4},
		{"flowhawk_dropped_total", []string{"component", "kernel", "reason", "ringbuf_full"}, 3},
		{"flowhawk_dropped_total", []string{"component", "kernel", "reason", "parse_error"}, 0},
		{"flowhawk_decode_errors_total", []string{"source", "pcap", "reason", "truncated"}, 5},
		{"flowhawk_skipped_packets_total", []string{"component", "kernel", "reason", "non_ip"}, 9},
		{"flowhawk_build_info", []string{"version", "1.2.3", "sensor", "gw1"}, 1},
	}
	for _, c := range checks {
		if got := value(t, mf, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, m := range mf["flowhawk_dropped_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "reason" && l.GetValue() == "non_ip" {
				t.Errorf("non_ip is a loss: ARP would fire the loss alert")
			}
		}
	}
	if mf["flowhawk_dropped_total"].GetType() != dto.MetricType_COUNTER {
		t.Errorf("dropped_total type %v, want counter", mf["flowhawk_dropped_total"].GetType())
	}
	if _, ok := mf["go_goroutines"]; !ok {
		t.Errorf("go runtime metrics missing")
	}

	// Loss counters are read at scrape time: a change shows on the next scrape.
	kern.mapFull.Add(100)
	mf = scrape(t, url)
	if got := value(t, mf, "flowhawk_dropped_total", "component", "kernel", "reason", "map_full"); got != 107 {
		t.Errorf("map_full after increase = %v, want 107", got)
	}
}

func TestNamingConventions(t *testing.T) {
	e := New(Config{NoRuntime: true})
	e.Export(testFlow(6, 1, 1, 1, 1, collector.EndIdle))
	e.Alert("x")
	e.Classified("y")
	e.AddLossSource("k", LossFunc(func() map[string]uint64 { return map[string]uint64{"a": 1} }))
	e.AddDecodeErrorSource("p", LossFunc(func() map[string]uint64 { return map[string]uint64{"b": 1} }))
	fams, err := e.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		n := f.GetName()
		if !strings.HasPrefix(n, "flowhawk_") {
			t.Errorf("%s: no flowhawk_ prefix", n)
		}
		if f.GetType() == dto.MetricType_COUNTER && !strings.HasSuffix(n, "_total") {
			t.Errorf("counter %s does not end in _total", n)
		}
		if f.GetHelp() == "" {
			t.Errorf("%s has no help", n)
		}
	}
}

func TestActiveFlowsFunc(t *testing.T) {
	e := New(Config{NoRuntime: true})
	n := 0.0
	e.AddActiveFlowsFunc(func() float64 { n++; return n })
	e.AddLagFunc(func() float64 { return 2.5 })
	fams, err := e.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "flowhawk_active_flows" && f.Metric[0].Gauge.GetValue() != 1 {
			t.Errorf("active_flows = %v, want 1", f.Metric[0].Gauge.GetValue())
		}
		if f.GetName() == "flowhawk_collector_lag_seconds" && f.Metric[0].Gauge.GetValue() != 2.5 {
			t.Errorf("collector_lag_seconds = %v, want 2.5", f.Metric[0].Gauge.GetValue())
		}
	}
}

func TestDefaultAddrIsLoopback(t *testing.T) {
	ap := netip.MustParseAddrPort(DefaultAddr)
	if !ap.Addr().IsLoopback() {
		t.Fatalf("default metrics address %s is not loopback", DefaultAddr)
	}
}

func TestExportAllocs(t *testing.T) {
	e := New(Config{NoRuntime: true})
	f := testFlow(6, 10, 1000, 8, 5000, collector.EndFIN)
	if a := testing.AllocsPerRun(1000, func() { e.Export(f) }); a != 0 {
		t.Errorf("Export allocates %v per call, want 0", a)
	}
	e.Classified("c")
	if a := testing.AllocsPerRun(1000, func() { e.Classified("c") }); a != 0 {
		t.Errorf("Classified allocates %v per call, want 0", a)
	}
}

func BenchmarkExport(b *testing.B) {
	e := New(Config{NoRuntime: true})
	f := testFlow(6, 10, 1000, 8, 5000, collector.EndFIN)
	b.ReportAllocs()
	for b.Loop() {
		e.Export(f)
	}
}

func BenchmarkExportParallel(b *testing.B) {
	e := New(Config{NoRuntime: true})
	b.RunParallel(func(pb *testing.PB) {
		f := testFlow(17, 1, 80, 1, 200, collector.EndIdle)
		for pb.Next() {
			e.Export(f)
		}
	})
}

// TestLabelNotUTF8 counts a class and a detector whose names are not
// UTF-8, as a caller of the Go API may pass them: WithLabelValues panicked
// on them; the series carry U+FFFD for each bad byte.
func TestLabelNotUTF8(t *testing.T) {
	e := New(Config{Classes: []string{"caf\xe9"}})
	e.Classified("caf\xe9")
	e.Classified("ok\xff")
	e.Alert("det\xfe")
	rec := httptest.NewRecorder()
	e.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{`class="caf` + "\uFFFD" + `"} 1`, `class="ok` + "\uFFFD" + `"} 1`, `detector="det` + "\uFFFD" + `"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestSensorNotUTF8 builds an exporter for a sensor named with a byte that
// is not UTF-8 (--sensor, or the default host name): New panicked in
// MustRegister; build_info carries U+FFFD for the byte.
func TestSensorNotUTF8(t *testing.T) {
	e := New(Config{Sensor: "gw\xff", Version: "v\xfe", NoRuntime: true})
	rec := httptest.NewRecorder()
	e.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if body := rec.Body.String(); !strings.Contains(body, "sensor=\"gw\uFFFD\"") || !strings.Contains(body, "version=\"v\uFFFD\"") {
		t.Errorf("build_info lacks sensor=\"gw\uFFFD\" and version=\"v\uFFFD\":\n%s", body)
	}
}

// TestDroppedHelpNamesItsComponents checks that the HELP of dropped_total
// names the components the commands register (cmd/flowhawk/exporters.go)
// and no other: it named a "table" that nothing registers (a full table's
// evictions are flows_total{end_reason="evicted"}) and left out "detect".
func TestDroppedHelpNamesItsComponents(t *testing.T) {
	e := New(Config{NoRuntime: true})
	e.AddLossSource("detect", LossFunc(func() map[string]uint64 { return map[string]uint64{"alert_causes_evicted": 1} }))
	fams, err := e.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "flowhawk_dropped_total" {
			continue
		}
		h := f.GetHelp()
		for _, c := range []string{"kernel", "ipfix", "nats", "detect"} {
			if !strings.Contains(h, c) {
				t.Errorf("HELP %q does not name component %s", h, c)
			}
		}
		if strings.Contains(h, "table") {
			t.Errorf("HELP %q names a table component that nothing registers", h)
		}
		return
	}
	t.Fatal("no flowhawk_dropped_total")
}
