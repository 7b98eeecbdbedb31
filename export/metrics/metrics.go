// Package metrics exposes flowhawk's operational counters to Prometheus:
// packets, bytes and flows by protocol and direction, active flows, every
// loss counter of the sources and exporters (read at scrape time), decode
// errors, collector lag, flows by class, alerts by detector and build info,
// over HTTP (Serve) or in a file for node_exporter (Textfile).
//
// Counting on the hot path is a handful of atomic adds on label children
// resolved once at construction; nothing is allocated per flow.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/detect"
	"github.com/flowhawk/flowhawk/features"
	"github.com/flowhawk/flowhawk/label"
)

// DefaultAddr is where the metrics endpoint listens unless told otherwise:
// loopback only, so a sensor never exposes its counters to the network by
// accident.
const DefaultAddr = "127.0.0.1:9464"

// Namespace prefixes every metric name.
const Namespace = "flowhawk"

// LossSource reports cumulative loss counters by reason (for example
// "map_full", "ringbuf_full", "parse_error"). It is read at scrape time, so
// the kernel source, the pcap source and the exporters only keep their own
// counters and never push them. Values must be monotonic.
type LossSource interface {
	Losses() map[string]uint64
}

// LossFunc adapts a function to LossSource.
type LossFunc func() map[string]uint64

// Losses calls f.
func (f LossFunc) Losses() map[string]uint64 { return f() }

// Protocol label values; other IP protocols count as "other".
var protoNames = [...]string{"tcp", "udp", "icmp", "icmpv6", "other"}

func protoIndex(p uint8) int {
	switch p {
	case 6:
		return 0
	case 17:
		return 1
	case 1:
		return 2
	case 58:
		return 3
	}
	return 4
}

// ProtoLabel returns the protocol label value used for IP protocol p.
func ProtoLabel(p uint8) string { return protoNames[protoIndex(p)] }

var dirNames = [2]string{"fwd", "bwd"}

const numReasons = int(collector.EndFlush) + 1

// Config configures an Exporter.
type Config struct {
	// Sensor names this sensor; it becomes a constant "sensor" label on
	// build info so dashboards can tell sensors apart, and a label of
	// every series a Textfile writes.
	Sensor string
	// Version is the build version reported in flowhawk_build_info.
	Version string
	// Classes pre-resolves the class label children (classifier output);
	// other class names still work, at the cost of one map lookup.
	Classes []string
	// Detectors pre-resolves the detector label children of alerts.
	Detectors []string
	// NoRuntime leaves out the Go runtime and process collectors (tests).
	NoRuntime bool
}

// Exporter owns a Prometheus registry with flowhawk's metrics. Its
// counting methods are safe for concurrent use and never block on I/O.
type Exporter struct {
	reg    *prometheus.Registry
	sensor string // the sensor label of build_info, and of a Textfile's series

	packets [len(protoNames)][2]prometheus.Counter
	bytes   [len(protoNames)][2]prometheus.Counter
	flows   [len(protoNames)][numReasons]prometheus.Counter

	active prometheus.Gauge
	lag    prometheus.Gauge

	classVec *prometheus.CounterVec
	alertVec *prometheus.CounterVec
	classes  sync.Map // string -> prometheus.Counter
	alerts   sync.Map // string -> prometheus.Counter

	scrape *scrapeCollector

	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// New builds an Exporter with all metrics registered. It does not listen:
// call Serve, or mount Handler in your own server.
func New(cfg Config) *Exporter {
	e := &Exporter{reg: prometheus.NewRegistry(), sensor: label.Valid(cfg.Sensor)}
	pk := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "packets_total",
		Help: "Packets accounted to finished flow records, by IP protocol and direction (fwd = from the flow's initiator).",
	}, []string{"proto", "direction"})
	by := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "ip_bytes_total",
		Help: "IP bytes (sum of IP datagram lengths) accounted to finished flow records, by IP protocol and direction.",
	}, []string{"proto", "direction"})
	fl := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "flows_total",
		Help: "Finished flow records, by IP protocol and end reason.",
	}, []string{"proto", "end_reason"})
	for i, p := range protoNames {
		for d, dn := range dirNames {
			e.packets[i][d] = pk.WithLabelValues(p, dn)
			e.bytes[i][d] = by.WithLabelValues(p, dn)
		}
		for r := 0; r < numReasons; r++ {
			e.flows[i][r] = fl.WithLabelValues(p, collector.EndReason(r).String())
		}
	}
	e.active = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "active_flows",
		Help: "Flows currently held in the flow table (or kernel flow map).",
	})
	e.lag = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "collector_lag_seconds",
		Help: "Wall-clock time minus the packet time of the newest flow record handed to the outputs.",
	})
	e.classVec = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "classified_flows_total",
		Help: "Flow records by the class the classifier gave them.",
	}, []string{"class"})
	e.alertVec = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "alerts_total",
		Help: "Alert lines sent to the alert outputs, by detector: after --alert-interval aggregation, so one line may stand for many occurrences (its flowhawk.count).",
	}, []string{"detector"})
	for _, c := range cfg.Classes {
		e.classes.Store(c, e.classVec.WithLabelValues(label.Valid(c)))
	}
	for _, d := range cfg.Detectors {
		e.alerts.Store(d, e.alertVec.WithLabelValues(label.Valid(d)))
	}
	// A --sensor or host name that is not UTF-8 made MustRegister panic.
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "build_info",
		Help:        "Always 1; the labels tell the flowhawk version, Go version and sensor name.",
		ConstLabels: prometheus.Labels{"version": label.Valid(orDefault(cfg.Version, "dev")), "goversion": runtime.Version(), "sensor": e.sensor},
	})
	build.Set(1)
	e.scrape = newScrapeCollector()
	e.reg.MustRegister(pk, by, fl, e.active, e.lag, e.classVec, e.alertVec, build, e.scrape)
	if !cfg.NoRuntime {
		e.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return e
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// Registry returns the registry, for tests or to add more collectors.
func (e *Exporter) Registry() *prometheus.Registry { return e.reg }

// Export counts one finished flow record. It is the hot-path call: six
// atomic adds, no allocation, no lock.
func (e *Exporter) Export(f *collector.Flow) {
	pi := protoIndex(f.Key.Proto)
	p, b := &e.packets[pi], &e.bytes[pi]
	if f.Fwd.Packets != 0 {
		p[0].Add(float64(f.Fwd.Packets))
		b[0].Add(float64(f.Fwd.Bytes))
	}
	if f.Bwd.Packets != 0 {
		p[1].Add(float64(f.Bwd.Packets))
		b[1].Add(float64(f.Bwd.Bytes))
	}
	r := int(f.EndReason)
	if r >= numReasons {
		r = int(collector.EndFlush)
	}
	e.flows[pi][r].Inc()
}

// ExportFlow is the pipeline.FlowExporter hook: it counts the flow and,
// when the classifier labelled it, its class.
func (e *Exporter) ExportFlow(f *collector.Flow, _ *features.Row, label string) {
	e.Export(f)
	if label != "" {
		e.Classified(label)
	}
}

// ExportAlert is a detect.Engine sink: it counts the alert by detector.
func (e *Exporter) ExportAlert(a *detect.Alert) { e.Alert(a.Detector) }

// Classified counts one flow record labelled class by the classifier.
func (e *Exporter) Classified(class string) { e.child(&e.classes, e.classVec, class).Inc() }

// Alert counts one alert raised by detector.
func (e *Exporter) Alert(detector string) { e.child(&e.alerts, e.alertVec, detector).Inc() }

func (e *Exporter) child(cache *sync.Map, vec *prometheus.CounterVec, v string) prometheus.Counter {
	if c, ok := cache.Load(v); ok {
		return c.(prometheus.Counter)
	}
	// A label value that is not UTF-8 makes WithLabelValues panic: a
	// class or detector name from the Go API gets each bad byte U+FFFD,
	// as the outputs write it (the commands already make labels valid).
	c, _ := cache.LoadOrStore(v, vec.WithLabelValues(label.Valid(v)))
	return c.(prometheus.Counter)
}

// SetActiveFlows sets the number of flows held in the table now.
func (e *Exporter) SetActiveFlows(n int) { e.active.Set(float64(n)) }

// SetLag sets the collector lag: how far the newest record's packet time
// is behind the wall clock.
func (e *Exporter) SetLag(d time.Duration) { e.lag.Set(d.Seconds()) }

// AddLossSource makes the loss counters of component (for example
// "kernel", "ipfix", "nats", "detect") appear as
// flowhawk_dropped_total{component, reason}, read at scrape time.
func (e *Exporter) AddLossSource(component string, s LossSource) {
	e.scrape.add(&e.scrape.losses, component, s)
}

// AddSkipSource makes the counters of packets a component leaves out by
// design appear as flowhawk_skipped_packets_total{component, reason},
// apart from flowhawk_dropped_total, which alerts watch.
func (e *Exporter) AddSkipSource(component string, s LossSource) {
	e.scrape.add(&e.scrape.skipped, component, s)
}

// AddDecodeErrorSource makes the decode error counters of a packet source
// (the pcap path) appear as flowhawk_decode_errors_total{source, reason}.
func (e *Exporter) AddDecodeErrorSource(source string, s LossSource) {
	e.scrape.add(&e.scrape.decode, source, s)
}

// AddWindowSource makes the counts of the NSL-KDD time windows ("observed",
// "dropped", "truncated": features.WindowStats) appear as
// flowhawk_window_flows_total{outcome}: on a link with more flows than
// the windows hold, count, srv_count and their rates undercount, and only
// this shows it while the sensor runs.
func (e *Exporter) AddWindowSource(s LossSource) {
	e.scrape.add(&e.scrape.windows, "", s)
}

// AddActiveFlowsFunc makes active_flows read f at scrape time instead of
// the last SetActiveFlows value.
func (e *Exporter) AddActiveFlowsFunc(f func() float64) {
	e.reg.Unregister(e.active)
	e.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "active_flows",
		Help: "Flows currently held in the flow table (or kernel flow map).",
	}, f))
}

// AddLagFunc makes collector_lag_seconds read f at scrape time (for
// example wall clock minus the flow table's packet clock) instead of the
// last SetLag value.
func (e *Exporter) AddLagFunc(f func() float64) {
	e.reg.Unregister(e.lag)
	e.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "collector_lag_seconds",
		Help: "Wall-clock time minus the packet time of the newest flow record handed to the outputs.",
	}, f))
}

// Handler returns the HTTP handler serving the registry in the text or
// protobuf exposition format.
func (e *Exporter) Handler() http.Handler {
	return promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(slog.Default().Handler(), slog.LevelWarn),
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

// Serve listens on addr (DefaultAddr if empty) and serves /metrics in the
// background until Close. It returns the bound address, useful with port 0.
func (e *Exporter) Serve(addr string) (net.Addr, error) {
	if addr == "" {
		addr = DefaultAddr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", e.Handler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "flowhawk metrics: see /metrics")
	})
	e.ln = ln
	e.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	e.done = make(chan struct{})
	go func() {
		defer close(e.done)
		if err := e.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Warn("metrics server stopped", "addr", addr, "err", err)
		}
	}()
	slog.Info("serving metrics", "addr", ln.Addr().String(), "path", "/metrics")
	return ln.Addr(), nil
}

// Close stops the HTTP server, if Serve started one.
func (e *Exporter) Close() error {
	if e.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := e.srv.Shutdown(ctx)
	<-e.done
	e.srv = nil
	return err
}

// scrapeCollector reads the registered loss and decode-error sources at
// scrape time and emits them as constant counters.
type scrapeCollector struct {
	mu         sync.Mutex
	losses     []namedSource
	decode     []namedSource
	skipped    []namedSource
	windows    []namedSource
	lossDesc   *prometheus.Desc
	decodeDesc *prometheus.Desc
	skipDesc   *prometheus.Desc
	windowDesc *prometheus.Desc
}

type namedSource struct {
	name string
	src  LossSource
}

func newScrapeCollector() *scrapeCollector {
	return &scrapeCollector{
		lossDesc: prometheus.NewDesc(Namespace+"_dropped_total",
			"Records, packets or events lost, by component (kernel, ipfix, nats, detect) and reason; read from the component at scrape time.",
			[]string{"component", "reason"}, nil),
		decodeDesc: prometheus.NewDesc(Namespace+"_decode_errors_total",
			"Packets a packet source could not decode, by source and reason.",
			[]string{"source", "reason"}, nil),
		skipDesc: prometheus.NewDesc(Namespace+"_skipped_packets_total",
			"Packets left out by design (not IP, sampled out), by component and reason; not losses.",
			[]string{"component", "reason"}, nil),
		windowDesc: prometheus.NewDesc(Namespace+"_window_flows_total",
			"Flows through the NSL-KDD 2 s window: observed; dropped, let go of before the horizon because the window held --window-max-conns; truncated, whose window reached before the flows still held, so count, srv_count and their rates may miss connections.",
			[]string{"outcome"}, nil),
	}
}

func (c *scrapeCollector) add(list *[]namedSource, name string, s LossSource) {
	c.mu.Lock()
	*list = append(*list, namedSource{name, s})
	c.mu.Unlock()
}

// Describe sends the four descriptors.
func (c *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lossDesc
	ch <- c.decodeDesc
	ch <- c.skipDesc
	ch <- c.windowDesc
}

// Collect reads every source now.
func (c *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	losses := append([]namedSource(nil), c.losses...)
	decode := append([]namedSource(nil), c.decode...)
	skipped := append([]namedSource(nil), c.skipped...)
	windows := append([]namedSource(nil), c.windows...)
	c.mu.Unlock()
	emit := func(d *prometheus.Desc, list []namedSource) {
		seen := map[[2]string]bool{}
		for _, s := range list {
			m := s.src.Losses()
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				id := [2]string{s.name, k}
				if seen[id] { // two sources under one name: keep the first
					continue
				}
				seen[id] = true
				labels := []string{s.name, k}
				if s.name == "" { // window_flows_total: one label
					labels = labels[1:]
				}
				ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(m[k]), labels...)
			}
		}
	}
	emit(c.lossDesc, losses)
	emit(c.decodeDesc, decode)
	emit(c.skipDesc, skipped)
	emit(c.windowDesc, windows)
}
