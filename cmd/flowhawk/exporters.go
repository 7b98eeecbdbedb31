package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	flag "github.com/spf13/pflag"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/detect"
	"github.com/flowhawk/flowhawk/export/ipfix"
	"github.com/flowhawk/flowhawk/export/metrics"
	"github.com/flowhawk/flowhawk/export/stream"
	"github.com/flowhawk/flowhawk/features"
	"github.com/flowhawk/flowhawk/pipeline"
)

// exporterFlags select the operator outputs (Prometheus, IPFIX, NATS).
type exporterFlags struct {
	sensor      string
	metricsAddr string
	// textfile is --metrics-textfile, rewritten every textfileEvery.
	textfile      string
	textfileEvery time.Duration
	ipfixAddr     string
	ipfixPEN      uint32
	ipfixDomain   uint32
	ipfixRate     int
	// ipfixWait makes the IPFIX exporter wait for queue room instead of
	// dropping: set by replay and dataset, whose input can wait.
	ipfixWait    bool
	natsURL      string
	natsStream   string
	natsCreate   bool
	natsBuffer   int
	natsFeatures bool
	natsFormat   string
	natsCreds    string
}

func defaultSensor() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "default"
	}
	// A subject token may not hold dots, spaces or wildcards.
	return strings.NewReplacer(".", "-", " ", "-", "*", "-", ">", "-").Replace(h)
}

func addExporterFlags(fs *flag.FlagSet, ef *exporterFlags) {
	fs.StringVar(&ef.sensor, "sensor", defaultSensor(), "`NAME` of this sensor in metrics, NATS subjects and alerts (observer.name)")
	fs.StringVar(&ef.metricsAddr, "metrics-addr", "", "serve Prometheus /metrics on `ADDR`, e.g. "+metrics.DefaultAddr+" (0.0.0.0:PORT listens on every interface)")
	fs.StringVar(&ef.textfile, "metrics-textfile", "", "write the Prometheus metrics to `FILE` for node_exporter's textfile collector (a .prom file in the directory it reads), "+
		"every --metrics-textfile-interval and once more with the final counts at the end; flowhawk_ families alone, each series labelled sensor; replaced by a rename, never written in place")
	fs.DurationVar(&ef.textfileEvery, "metrics-textfile-interval", metrics.DefaultTextfileInterval, "how often --metrics-textfile is rewritten while the run goes on (1s or more)")
	fs.StringVar(&ef.ipfixAddr, "ipfix", "", "export IPFIX biflows over UDP to `HOST:PORT`")
	fs.Uint32Var(&ef.ipfixPEN, "ipfix-pen", ipfix.DefaultPEN, "private enterprise number of flowhawk's own IPFIX elements")
	fs.Uint32Var(&ef.ipfixDomain, "ipfix-domain", 1, "IPFIX observation domain ID (give each sensor its own)")
	fs.IntVar(&ef.ipfixRate, "ipfix-rate", 0, "at most `N` IPFIX datagrams per second (0: no limit); pace a replay for a collector with a small receive buffer")
	fs.StringVar(&ef.natsURL, "nats", "", "publish flows and alerts to NATS JetStream at `URL` (subjects flowhawk.<sensor>.flows/.alerts); "+
		"give a password or token in $FLOWHAWK_NATS_USER, $FLOWHAWK_NATS_PASSWORD, $FLOWHAWK_NATS_TOKEN or --nats-creds, not in the URL, which ps shows to every user")
	fs.StringVar(&ef.natsCreds, "nats-creds", "", "authenticate to NATS with the JWT and NKey seed of this `FILE` (a .creds file)")
	fs.StringVar(&ef.natsStream, "nats-stream", "FLOWHAWK", "JetStream stream holding the subjects")
	fs.BoolVar(&ef.natsCreate, "nats-create-stream", false, "create the stream if it is missing")
	fs.IntVar(&ef.natsBuffer, "nats-buffer", 100_000, "`N` records (flows and alerts) held locally until the broker acknowledges them, so that an outage loses none of N (beyond: counted drops; 100000 take about 30 MB, 110 MB with --nats-features)")
	fs.BoolVar(&ef.natsFeatures, "nats-features", false, "include every feature column in the published flow records")
	fs.StringVar(&ef.natsFormat, "nats-format", "json", "encoding of published flow records: json (JSON lines) or protobuf (delimited flowhawk.v1.Flow, export/stream/flow.proto)")
}

// exporterSet is the set of operator outputs of one run.
type exporterSet struct {
	metrics   *metrics.Exporter
	textfile  *metrics.Textfile // --metrics-textfile
	every     time.Duration
	started   bool // the run began: close writes the textfile's final values
	kernel    *kernelCounters
	ipfix     *ipfix.Exporter
	ipfixAddr string
	nats      *stream.Publisher
}

// check refuses, as usage errors naming the flag, the values that can be
// judged without the network, so a typo fails before capture attaches and
// is not taken for an unreachable collector or broker.
func (ef *exporterFlags) check() error {
	if ef.ipfixRate < 0 {
		return fmt.Errorf("%w: --ipfix-rate %d: want 0 (no limit) or more", errUsage, ef.ipfixRate)
	}
	// 0 would silently become the default; under 29305, the RFC 5103
	// reverse PEN, our elements 1 and 2 read as the reverse counters.
	if ef.ipfixPEN == 0 || ef.ipfixPEN == ipfix.ReversePEN {
		return fmt.Errorf("%w: --ipfix-pen %d: want your organisation's private enterprise number (not 0, not %d, the RFC 5103 reverse PEN)", errUsage, ef.ipfixPEN, ipfix.ReversePEN)
	}
	// 0 would silently become 1, the domain of another sensor.
	if ef.ipfixDomain == 0 {
		return fmt.Errorf("%w: --ipfix-domain 0: want 1 or more", errUsage)
	}
	if ef.ipfixAddr != "" {
		_, port, err := net.SplitHostPort(ef.ipfixAddr)
		n := 0
		if err == nil {
			n, err = net.LookupPort("udp", port)
		}
		if err == nil && n == 0 {
			err = errors.New("no port")
		}
		if err != nil {
			return fmt.Errorf("%w: --ipfix %q: want HOST:PORT (%v)", errUsage, ef.ipfixAddr, err)
		}
	}
	if ef.metricsAddr != "" {
		_, port, err := net.SplitHostPort(ef.metricsAddr)
		if err == nil {
			_, err = net.LookupPort("tcp", port)
		}
		if err != nil {
			return fmt.Errorf("%w: --metrics-addr %q: want [HOST]:PORT (%v)", errUsage, ef.metricsAddr, err)
		}
	}
	if err := ef.checkTextfile(); err != nil {
		return err
	}
	if ef.natsURL != "" && !stream.ValidSensor(ef.sensor) {
		return fmt.Errorf("%w: --sensor %q: a NATS subject token may not hold dots, spaces, * or >", errUsage, ef.sensor)
	}
	switch ef.natsFormat {
	case stream.FormatJSON, stream.FormatProtobuf:
	default:
		return fmt.Errorf("%w: --nats-format %q: want %s or %s", errUsage, ef.natsFormat, stream.FormatJSON, stream.FormatProtobuf)
	}
	if ef.natsBuffer < 1 {
		// stream.New would replace it by its default.
		return fmt.Errorf("%w: --nats-buffer %d: want 1 or more", errUsage, ef.natsBuffer)
	}
	return nil
}

// checkTextfile refuses a --metrics-textfile that cannot be written
// (its directory missing or read-only, a directory itself) and a
// --metrics-textfile-interval under a second, before anything attaches or
// any output is created; a name node_exporter would not read is warned of.
func (ef *exporterFlags) checkTextfile() error {
	if ef.textfile == "" {
		if ef.textfileEvery != metrics.DefaultTextfileInterval {
			return fmt.Errorf("%w: --metrics-textfile-interval needs --metrics-textfile", errUsage)
		}
		return nil
	}
	if ef.textfileEvery < time.Second {
		return fmt.Errorf("%w: --metrics-textfile-interval %v: want 1s or more", errUsage, ef.textfileEvery)
	}
	if ef.textfile == "-" {
		return fmt.Errorf("%w: --metrics-textfile -: want a file (node_exporter reads the *.prom files of a directory)", errUsage)
	}
	if err := metrics.CheckTextfile(ef.textfile); err != nil {
		return fmt.Errorf("--metrics-textfile %s: %w", ef.textfile, err)
	}
	if !strings.HasSuffix(ef.textfile, ".prom") {
		slog.Warn("--metrics-textfile does not end in .prom: node_exporter's textfile collector reads *.prom files alone", "file", ef.textfile)
	}
	return nil
}

func (ef *exporterFlags) open(cfg *pipeline.Config, stderr io.Writer) (*exporterSet, error) {
	s := &exporterSet{}
	if ef.metricsAddr != "" || ef.textfile != "" {
		s.metrics = metrics.New(metrics.Config{Sensor: ef.sensor, Version: version, Detectors: detect.AllDetectors})
		if ef.metricsAddr != "" {
			if _, err := s.metrics.Serve(ef.metricsAddr); err != nil {
				return nil, listenErr("--metrics-addr", ef.metricsAddr, err)
			}
		}
		if ef.textfile != "" {
			s.textfile, s.every = s.metrics.Textfile(ef.textfile), ef.textfileEvery
		}
		cfg.Exporters = append(cfg.Exporters, s.metrics)
	}
	if ef.ipfixAddr != "" {
		e, err := ipfix.New(ipfix.Config{Addr: ef.ipfixAddr, PEN: ef.ipfixPEN, ObservationDomain: ef.ipfixDomain, Rate: ef.ipfixRate, Wait: ef.ipfixWait})
		if err != nil {
			s.close()
			return nil, err
		}
		s.ipfix, s.ipfixAddr = e, ef.ipfixAddr
		cfg.Exporters = append(cfg.Exporters, e)
		if s.metrics != nil {
			s.metrics.AddLossSource("ipfix", e)
		}
	}
	if ef.natsURL != "" {
		sc := stream.Config{URL: ef.natsURL, Sensor: ef.sensor, Stream: ef.natsStream, CreateStream: ef.natsCreate, BufferSize: ef.natsBuffer, Format: ef.natsFormat}
		natsAuth(&sc, os.Getenv, ef.natsCreds)
		if ef.natsFeatures {
			x, err := featuresFor(cfg)
			if err != nil {
				s.close()
				return nil, err
			}
			sc.Columns = x
		}
		pub, err := stream.New(sc)
		if err != nil {
			s.close()
			return nil, err
		}
		s.nats = pub
		cfg.Exporters = append(cfg.Exporters, pub)
		if s.metrics != nil {
			s.metrics.AddLossSource("nats", pub)
		}
	}
	return s, nil
}

// listenErr names the flag of an address that cannot be listened on, and
// says the address once: "--metrics-addr 127.0.0.1:9464: bind: address
// already in use", rather than "metrics: listen ADDR: listen tcp ADDR: ...",
// which left the operator to guess which flag it came from.
func listenErr(flag, addr string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		err = oe.Err
	}
	if errors.Is(err, syscall.EACCES) {
		// A service user without CAP_NET_BIND_SERVICE (deploy/flowhawk.service grants none) gets only EACCES.
		return fmt.Errorf("%s %s: %w (a port below net.ipv4.ip_unprivileged_port_start, 1024 by default, needs CAP_NET_BIND_SERVICE: "+
			"use a higher port, or add the capability to AmbientCapabilities= and CapabilityBoundingSet= of the unit)", flag, addr, err)
	}
	return fmt.Errorf("%s %s: %w", flag, addr, err)
}

// start begins the periodic --metrics-textfile writes, once the pipeline
// exists: from then on close writes the file a last time. A run that
// fails before it (a bad model, an output that cannot be created) leaves
// an earlier run's file as it was.
func (s *exporterSet) start() {
	if s == nil || s.textfile == nil {
		return
	}
	s.textfile.Start(s.every)
	s.started = true
}

// bind lets the metrics read the running pipeline's live counters.
func (s *exporterSet) bind(p *pipeline.Pipeline) {
	if s == nil || s.metrics == nil {
		return
	}
	s.metrics.AddActiveFlowsFunc(func() float64 { return float64(p.Live().ActiveFlows.Load()) })
	s.bindLag(p)
	s.metrics.AddDecodeErrorSource("pcap", metrics.LossFunc(p.Live().DecodeErrors))
	s.metrics.AddSkipSource("pcap", metrics.LossFunc(p.Live().Skipped))
	s.bindWindows(p)
}

// bindWindows exposes the NSL-KDD windows' counts (window_flows_total),
// which tell when the 2 s window features undercount.
func (s *exporterSet) bindWindows(p *pipeline.Pipeline) {
	if s == nil || s.metrics == nil {
		return
	}
	s.metrics.AddWindowSource(metrics.LossFunc(p.Live().Windows))
}

// bindDetect exposes the detectors' state overflows as losses.
func (s *exporterSet) bindDetect(e *detect.Engine) {
	if s == nil || s.metrics == nil || e == nil {
		return
	}
	s.metrics.AddLossSource("detect", e)
}

// bindLag makes collector_lag_seconds the wall clock minus the packet time
// of the newest record the pipeline handed to the outputs.
func (s *exporterSet) bindLag(p *pipeline.Pipeline) {
	if s == nil || s.metrics == nil {
		return
	}
	s.metrics.AddLagFunc(func() float64 {
		t := p.Live().NewestRecord.Load()
		if t == 0 {
			return 0 // no record yet
		}
		return time.Since(time.Unix(0, t)).Seconds()
	})
}

// kernelSource is what the metrics read from the kernel path at scrape time.
type kernelSource interface {
	Losses() map[string]uint64
	Skipped() map[string]uint64
	Stats() collector.KernelStats
}

// bindKernel exposes the kernel loss counters and flow map occupancy,
// read at scrape time until freezeKernel.
func (s *exporterSet) bindKernel(k kernelSource) {
	if s == nil || s.metrics == nil {
		return
	}
	s.kernel = &kernelCounters{k: k}
	s.metrics.AddLossSource("kernel", metrics.LossFunc(s.kernel.losses))
	s.metrics.AddSkipSource("kernel", metrics.LossFunc(s.kernel.skipped))
	s.metrics.AddActiveFlowsFunc(s.kernel.mapEntries)
}

// freezeKernel reads the kernel counters a last time, before the kernel
// source is closed: its counters map goes with it, and the final
// --metrics-textfile write (or a scrape) comes later, after the pipeline
// has closed. They then read these values, as the summary does.
func (s *exporterSet) freezeKernel() {
	if s != nil && s.kernel != nil {
		s.kernel.freeze()
	}
}

// kernelCounters reads a kernel source for the metrics until frozen, then
// the last values read.
type kernelCounters struct {
	k kernelSource

	mu         sync.Mutex
	frozen     bool
	lost, skip map[string]uint64
	entries    float64
}

func (c *kernelCounters) freeze() {
	lost, skip, entries := c.k.Losses(), c.k.Skipped(), float64(c.k.Stats().MapEntries)
	c.mu.Lock()
	c.frozen, c.lost, c.skip, c.entries = true, lost, skip, entries
	c.mu.Unlock()
}

func (c *kernelCounters) losses() map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.frozen {
		return c.lost
	}
	return c.k.Losses()
}

func (c *kernelCounters) skipped() map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.frozen {
		return c.skip
	}
	return c.k.Skipped()
}

func (c *kernelCounters) mapEntries() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.frozen {
		return c.entries
	}
	return float64(c.k.Stats().MapEntries)
}

func (s *exporterSet) alert(a *detect.Alert) {
	if s.metrics != nil {
		s.metrics.ExportAlert(a)
	}
	if s.nats != nil {
		s.nats.ExportAlert(a)
	}
}

// close flushes and stops every exporter, reporting what they dropped.
func (s *exporterSet) close() error {
	var errs []error
	if s.ipfix != nil {
		if err := s.ipfix.Close(); err != nil {
			errs = append(errs, fmt.Errorf("ipfix: %w", err))
		}
	}
	if s.nats != nil {
		if err := s.nats.Close(); err != nil {
			errs = append(errs, fmt.Errorf("nats: %w", err))
		}
	}
	// The final --metrics-textfile write comes after the pipeline closed
	// (every flow counted, the detectors' last alerts sent) and after the
	// IPFIX and NATS exporters closed, so it has their drops at close too:
	// their counters, and the detectors', stay readable once closed; the
	// kernel's were frozen before its source closed.
	if s.textfile != nil && s.started {
		if err := s.textfile.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("--metrics-textfile: final write: %w", err))
		}
		s.started = false
	}
	if s.metrics != nil {
		if err := s.metrics.Close(); err != nil {
			errs = append(errs, fmt.Errorf("metrics: %w", err))
		}
	}
	return errors.Join(errs...)
}

// summary prints what the network exporters sent and dropped, after
// close: a UDP collector that loses datagrams cannot tell the sender, so
// the sent counts are what an operator compares with the collector's.
func (s *exporterSet) summary(w io.Writer) {
	if s.ipfix != nil {
		st := s.ipfix.Stats()
		fmt.Fprintf(w, "ipfix      %d records in %d messages to %s; dropped %d (queue full %d, send errors %d, after close %d)\n",
			st.Records, st.Messages, s.ipfixAddr, st.DropQueueFull+st.DropSendError+st.DropClosed, st.DropQueueFull, st.DropSendError, st.DropClosed)
	}
	if s.nats != nil {
		st := s.nats.Stats()
		fmt.Fprintf(w, "nats       %d records acknowledged in %d messages (%d record retries); dropped %d records (buffer full %d, undelivered at close %d, encode %d, too large %d)\n",
			st.Published, st.Messages, st.Retried, st.DropQueueFull+st.DropShutdown+st.DropClosed+st.DropEncode+st.DropTooLarge, st.DropQueueFull, st.DropShutdown, st.DropEncode, st.DropTooLarge)
	}
}

// featuresFor returns the feature columns the pipeline built from cfg
// will produce.
func featuresFor(cfg *pipeline.Config) ([]features.Column, error) {
	x, err := features.New(cfg.Features)
	if err != nil {
		return nil, err
	}
	return x.Columns(), nil
}

// natsAuth sets sc's credentials from the environment ($FLOWHAWK_NATS_USER,
// $FLOWHAWK_NATS_PASSWORD, $FLOWHAWK_NATS_TOKEN) and --nats-creds, which
// keep them off the command line that ps shows to every local user.
func natsAuth(sc *stream.Config, getenv func(string) string, creds string) {
	sc.User = getenv("FLOWHAWK_NATS_USER")
	sc.Password = getenv("FLOWHAWK_NATS_PASSWORD")
	sc.Token = getenv("FLOWHAWK_NATS_TOKEN")
	sc.CredsFile = creds
}
