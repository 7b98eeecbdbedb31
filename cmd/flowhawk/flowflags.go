package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	flag "github.com/spf13/pflag"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/detect"
	"github.com/flowhawk/flowhawk/export"
	"github.com/flowhawk/flowhawk/features"
	"github.com/flowhawk/flowhawk/pipeline"
)

// flowFlags are the flags shared by every command that produces flows
// (replay, dataset, capture), so they behave the same everywhere.
type flowFlags struct {
	output        string
	appendOut     bool
	workers       int
	idleTimeout   time.Duration
	activeTimeout time.Duration
	maxFlows      int
	tableMemory   byteSize // 0: MaxFlows alone bounds the table (capture: unused)
	splt          int
	noWindows     bool
	windowConns   int // --window-max-conns
	noExtras      bool
	quiet         bool
	decap         bool
	detect        *detect.Config
	out           exporterFlags
	rotate        time.Duration // capture --rotate: 0 writes one file
	rotateKeep    int           // capture --rotate-keep
	// inputs are the command's input files besides the captures and the
	// flow flags' own (--model, --label-rules), which no output may be.
	inputs []namedPath
}

func addFlowFlags(fs *flag.FlagSet, ff *flowFlags, withDetect bool) {
	d := collector.DefaultTableConfig()
	// dataset has no detectors: its help must not promise alerts or --alerts.
	noRows, alertsToo := "exporters and the summary only", " instead of replacing it"
	if withDetect {
		noRows, alertsToo = "exporters, alerts and the summary only", ", and to the --alerts file, instead of replacing them"
	}
	fs.StringVarP(&ff.output, "output", "o", "-", "write flows to `FILE`; the format follows the extension (.csv, .jsonl, .parquet); - writes CSV to stdout; none writes no rows ("+noRows+"); a device or FIFO without such an extension gets CSV")
	fs.BoolVar(&ff.appendOut, "append", false, "append to an existing -o .csv or .jsonl file (same columns)"+alertsToo+", so a restarted agent keeps earlier flows")
	fs.IntVar(&ff.workers, "workers", runtime.NumCPU(), "goroutines computing features; the default is every core")
	fs.DurationVar(&ff.idleTimeout, "idle-timeout", d.IdleTimeout, "end a flow after more than this without packets")
	fs.DurationVar(&ff.activeTimeout, "active-timeout", d.ActiveTimeout, "cut a flow into a partial record once it has lasted this long (replay cuts it at its next packet, capture at the next map scan)")
	fs.IntVar(&ff.maxFlows, "max-flows", d.MaxFlows, "flows held at once; beyond it a flow FIN/RST already closed ends first, else the least recently seen is evicted (counted)")
	fs.IntVar(&ff.splt, "splt", 10, "describe the first `N` packets of each flow (sizes, directions, gaps)")
	kdd, extra := groupColumns(features.GroupKDD), groupColumns(features.GroupExtra)
	fs.BoolVar(&ff.noWindows, "no-windows", false, fmt.Sprintf("leave out the %d NSL-KDD columns, %s … %s: the per-connection ones (such as service and flag) and the 2 s and 100-connection window counts",
		len(kdd), kdd[0], kdd[len(kdd)-1]))
	fs.IntVar(&ff.windowConns, "window-max-conns", features.DefaultMaxSpanConns,
		"flows the 2 s window holds for count, srv_count and their rates (about 130 bytes each); a link with more flows than this in an idle timeout undercounts them (flowhawk_window_flows_total{outcome=\"truncated\"}, and the summary)")
	fs.BoolVar(&ff.noExtras, "no-extras", false, fmt.Sprintf("leave out flowhawk's %d extra columns: %s (the CIC-IDS2017 columns, SPLT and NSL-KDD stay)",
		len(extra), strings.Join(extra, ", ")))
	fs.BoolVarP(&ff.quiet, "quiet", "q", false, "do not print the summary on stderr")
	fs.BoolVar(&ff.decap, "decap", false, "unwrap one level of tunnel (IP-in-IP, GRE, VXLAN on UDP 4789, GENEVE on UDP 6081): a tunneled packet counts in its inner flow")
	if withDetect {
		ff.detect = detect.RegisterFlags(fs)
	}
	addExporterFlags(fs, &ff.out)
}

// groupColumns returns the names of a feature group's columns, so the
// help of --no-windows and --no-extras follows the registry.
func groupColumns(g features.Group) []string {
	x, err := features.New(features.Config{Extras: true, Windows: true})
	if err != nil {
		panic(err) // the registry's own full configuration
	}
	var names []string
	for _, c := range x.Columns() {
		if c.Group == g {
			names = append(names, c.Name)
		}
	}
	return names
}

// addTableMemoryFlag adds --max-table-memory, for the commands whose flows
// come through the pcap path's table (replay, dataset).
func addTableMemoryFlag(fs *flag.FlagSet, ff *flowFlags) {
	ff.tableMemory = defaultTableMemory
	fs.Var(&ff.tableMemory, "max-table-memory", "bound the flow table's memory (`SIZE`: 200MiB, 1G, ...; 0: --max-flows alone); beyond it the least recently seen flows are evicted (counted)")
}

// defaultTableMemory keeps a replay's peak RSS under 300 MB whatever the
// flows' lengths: the table's share plus about 60 MB for the rest
// (docs/benchmarks.md, "Memory against file size").
const defaultTableMemory = 192 << 20

func (ff *flowFlags) tableConfig() collector.TableConfig {
	return collector.TableConfig{
		IdleTimeout:   ff.idleTimeout,
		ActiveTimeout: ff.activeTimeout,
		MaxFlows:      ff.maxFlows,
		MaxBytes:      int64(ff.tableMemory),
		Samples:       ff.splt,
	}
}

// byteSize is a flag value in bytes written with an optional unit: K, M,
// G, T (powers of 1000, also KB, MB, ...) or KiB, MiB, GiB, TiB (powers of
// 1024); case does not matter.
type byteSize int64

func (b *byteSize) String() string {
	n := int64(*b)
	for _, u := range []struct {
		s string
		v int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.v && n%u.v == 0 {
			return strconv.FormatInt(n/u.v, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}

func (b *byteSize) Set(s string) error {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return fmt.Errorf("size %q: want a number of bytes with an optional unit (K, M, G, T, KiB, MiB, GiB, TiB)", s)
	}
	mult := map[string]float64{"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}
	m, ok := mult[unit]
	if !ok {
		return fmt.Errorf("size %q: unknown unit %q (K, M, G, T, KiB, MiB, GiB, TiB)", s, t[i:])
	}
	if v*m > math.MaxInt64 {
		return fmt.Errorf("size %q: too large", s)
	}
	*b = byteSize(v * m)
	return nil
}

func (b *byteSize) Type() string { return "size" }

func (ff *flowFlags) featureConfig() features.Config {
	return features.Config{SPLT: ff.splt, Extras: !ff.noExtras, Windows: !ff.noWindows}
}

// windowConfig is the NSL-KDD windows' configuration (the horizon follows
// the table's idle timeout: pipeline.Config.Windows).
func (ff *flowFlags) windowConfig() features.WindowConfig {
	return features.WindowConfig{MaxSpanConns: ff.windowConns}
}

func (ff *flowFlags) validate() error {
	if ff.windowConns < 1 {
		return fmt.Errorf("%w: --window-max-conns %d: want 1 or more", errUsage, ff.windowConns)
	}
	if ff.splt < 0 || ff.splt > features.MaxSPLT {
		return fmt.Errorf("%w: --splt %d out of range 0..%d", errUsage, ff.splt, features.MaxSPLT)
	}
	if ff.maxFlows <= 0 {
		return fmt.Errorf("%w: --max-flows %d: want 1 or more", errUsage, ff.maxFlows)
	}
	if ff.workers < 1 {
		return fmt.Errorf("%w: --workers %d: want 1 or more", errUsage, ff.workers)
	}
	if ff.idleTimeout <= 0 {
		return fmt.Errorf("%w: --idle-timeout %v: want more than 0", errUsage, ff.idleTimeout)
	}
	if ff.activeTimeout <= 0 {
		return fmt.Errorf("%w: --active-timeout %v: want more than 0", errUsage, ff.activeTimeout)
	}
	if ff.output != "-" && ff.output != "none" {
		f, err := export.FormatOf(ff.output)
		if err != nil {
			return fmt.Errorf("%w: -o %s: unknown extension (want .csv, .jsonl or .parquet; - for CSV on stdout, none for no rows)", errUsage, ff.output)
		}
		if f == export.Parquet && ff.appendOut {
			return fmt.Errorf("%w: --append with -o %s: a Parquet file cannot be appended to (use .csv or .jsonl)", errUsage, ff.output)
		}
	}
	if ff.detect != nil && ff.detect.On() {
		if err := ff.detect.Check(); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	return ff.out.check()
}

// addRotateFlags adds --rotate and --rotate-keep, for capture: a
// long-running agent's files must not grow forever.
func addRotateFlags(fs *flag.FlagSet, ff *flowFlags) {
	fs.DurationVar(&ff.rotate, "rotate", 0, "start a new -o and --alerts file every `PERIOD` (whole seconds, 1s or more; 0: one file), at multiples of it in UTC (1h: at :00): FILE.EXT becomes FILE-<UTC start, 20261205T080000Z>.EXT, written as .FILE-<start>.EXT.tmp and renamed into place when the period ends")
	fs.IntVar(&ff.rotateKeep, "rotate-keep", 0, "with --rotate, keep the files of the `N` most recent periods and delete older ones named as -o's and --alerts' rotated files (0: keep all)")
	if f := fs.Lookup("append"); f != nil {
		f.Usage += "; with --rotate, continue the period's .tmp file a killed run left, and finish those of earlier periods"
	}
}

// rotation is the export package's Rotation of the --rotate flags.
func (ff *flowFlags) rotation() export.Rotation {
	return export.Rotation{Every: ff.rotate, Keep: ff.rotateKeep, Append: ff.appendOut}
}

// checkRotate refuses, as usage errors naming the flag, a --rotate period
// a file name cannot carry, and an output that is no file to rotate
// (standard output, a device, a FIFO), before anything is attached or
// opened.
func (ff *flowFlags) checkRotate() error {
	if ff.rotate == 0 {
		if ff.rotateKeep != 0 {
			return fmt.Errorf("%w: --rotate-keep %d needs --rotate", errUsage, ff.rotateKeep)
		}
		return nil
	}
	if ff.rotate < export.MinRotation || ff.rotate%time.Second != 0 {
		return fmt.Errorf("%w: --rotate %v: want whole seconds, %v or more (0: one file, no rotation)", errUsage, ff.rotate, export.MinRotation)
	}
	if ff.rotateKeep < 0 {
		return fmt.Errorf("%w: --rotate-keep %d: want 0 (keep every file) or more", errUsage, ff.rotateKeep)
	}
	files := 0
	for _, w := range ff.rotated() {
		switch w.path {
		case "", "none":
			continue
		case "-":
			return fmt.Errorf("%w: --rotate with %s -: standard output cannot be rotated; give %s a file", errUsage, w.flag, w.flag)
		}
		if st, err := os.Stat(w.path); err == nil && !st.Mode().IsRegular() {
			return fmt.Errorf("%w: --rotate with %s %s: it is not a regular file (a device, FIFO or directory) and cannot be rotated", errUsage, w.flag, w.path)
		}
		files++
	}
	if files == 0 {
		return fmt.Errorf("%w: --rotate with -o %s and no --alerts file: nothing to rotate", errUsage, ff.output)
	}
	return nil
}

// outputs holds what a run writes to, so it can be closed in one place.
type outputs struct {
	rows       export.RowWriter // closed by the pipeline once it runs
	alertsFile *os.File
	alerts     *detect.JSONLSink
	// With --rotate: the rotating outputs (rows is rotRows's Writer), and
	// the ticker that flushes alerts and turns their file each second.
	rotRows   *export.RotatingWriter
	rotAlerts *export.RotatingFile
	tickStop  chan struct{}
	tickDone  chan struct{}
	rotate    time.Duration
	detect    *detect.Engine
	exporters *exporterSet
}

// openOutputs builds the pipeline configuration's writer, detectors and
// exporters from the flags. Everything that can refuse a setting (the
// detectors, their blocklists and GeoIP file, the exporters) is set up
// before the flow and alert files are created, so a bad flag never
// truncates an existing file.
func (ff *flowFlags) openOutputs(cfg *pipeline.Config, extra []string, stdout, stderr io.Writer) (_ *outputs, err error) {
	x, err := features.New(cfg.Features)
	if err != nil {
		return nil, err
	}
	o := &outputs{}
	defer func() {
		if err != nil {
			o.abort()
		}
	}()
	if ff.detect != nil && ff.detect.Alerts == "-" && ff.output == "-" {
		return nil, fmt.Errorf("%w: --alerts - and -o - would mix alerts into the CSV on stdout; send one of them to a file", errUsage)
	}
	// Two writers of one file: each alert overwrote the flow rows at its
	// offset. An output that is an input (--alerts bl.txt --blocklist
	// bl.txt) replaced it.
	if err := checkOwnFiles(ff.writes(), ff.reads()); err != nil {
		return nil, err
	}
	if ff.detect != nil {
		if ff.detect.On() {
			dc := *ff.detect
			dc.Observer = ff.out.sensor // observer.name: a fleet store keeps sensors' causes apart
			if o.detect, err = detect.New(dc, o.alertSink); err != nil {
				if ce := (*detect.ConfigError)(nil); errors.As(err, &ce) {
					return nil, fmt.Errorf("%w: %v", errUsage, err)
				}
				return nil, err
			}
		} else if ff.detect.Alerts != "" || ff.detect.GeoIP != "" || len(ff.detect.DGAAllow) > 0 {
			return nil, fmt.Errorf("%w: --alerts, --geoip and --dga-allow need --detect or --blocklist", errUsage)
		}
	}
	if o.exporters, err = ff.out.open(cfg, stderr); err != nil {
		return nil, err
	}
	o.exporters.bindDetect(o.detect)
	// The alert file is opened first, and emptied only once the flow file
	// is open too: either one failing must leave the other as it was (an
	// --alerts in a missing directory emptied the last run's -o file).
	plainAlerts := o.detect != nil && ff.detect.Alerts != "" && ff.detect.Alerts != "-" && ff.rotate == 0
	alertsCreated := false
	if plainAlerts {
		flags := os.O_WRONLY | os.O_CREATE
		if ff.appendOut {
			flags |= os.O_APPEND // alerts are JSON lines: append as -o does
		}
		_, serr := os.Lstat(ff.detect.Alerts)
		if o.alertsFile, err = os.OpenFile(ff.detect.Alerts, flags, export.FileMode); err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		alertsCreated = errors.Is(serr, os.ErrNotExist)
	}
	var w export.RowWriter
	switch ff.output {
	case "none":
		w = discard{}
	case "-":
		w, err = export.NewCSVWriter(stdout, x.Columns(), extra)
	default:
		switch {
		case ff.rotate > 0:
			if o.rotRows, err = export.CreateRotating(ff.output, x.Columns(), extra, ff.rotation()); err == nil {
				w = o.rotRows.Writer()
			}
		case ff.appendOut:
			w, err = export.CreateAppend(ff.output, x.Columns(), extra)
		default:
			w, err = export.Create(ff.output, x.Columns(), extra)
		}
	}
	if err != nil {
		if alertsCreated {
			os.Remove(ff.detect.Alerts)
		}
		return nil, err
	}
	o.rows, o.rotate = w, ff.rotate
	switch {
	case o.detect == nil:
	case ff.detect.Alerts == "":
	case ff.detect.Alerts == "-":
		o.alerts = detect.NewJSONLSink(stdout)
	case ff.rotate > 0:
		if o.rotAlerts, err = export.CreateRotatingFile(ff.detect.Alerts, ff.rotation()); err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		o.alerts = detect.NewJSONLSink(o.rotAlerts)
		o.tickAlerts()
	default: // opened above
		if st, serr := o.alertsFile.Stat(); !ff.appendOut && serr == nil && st.Mode().IsRegular() {
			if err = o.alertsFile.Truncate(0); err != nil {
				return nil, fmt.Errorf("alerts: %w", err)
			}
		}
		if ff.appendOut {
			// A killed agent may have left half an alert: cut it, or
			// the next alert would follow it on the same line.
			if err = export.TrimTornLine(o.alertsFile, ff.detect.Alerts); err != nil {
				return nil, fmt.Errorf("alerts: %w", err)
			}
		}
		o.alerts = detect.NewJSONLSink(o.alertsFile)
	}
	cfg.Out = w
	if o.detect != nil {
		cfg.Detect = o.detect
	}
	return o, nil
}

// abort releases what openOutputs had set up before one of its steps
// failed.
func (o *outputs) abort() {
	o.stopTick()
	if o.rotRows != nil {
		o.rotRows.Discard() // a service restarted in a loop must not leave a file per try
	} else if o.rows != nil {
		o.rows.Close()
	}
	if o.rotAlerts != nil {
		o.rotAlerts.Discard()
	}
	if o.alertsFile != nil {
		o.alertsFile.Close()
	}
	if o.detect != nil {
		o.detect.Close()
	}
	if o.exporters != nil {
		o.exporters.close()
	}
}

// close ends the alert file and exporters after the pipeline closed.
func (o *outputs) close() error {
	o.stopTick()
	var err error
	if o.alerts != nil {
		if e := o.alerts.Flush(); e != nil {
			err = fmt.Errorf("alerts: %w", e)
		}
	}
	if o.alertsFile != nil {
		if e := o.alertsFile.Close(); e != nil && err == nil {
			err = fmt.Errorf("alerts: %w", e)
		}
	}
	if o.rotAlerts != nil {
		if e := o.rotAlerts.Close(); e != nil && err == nil {
			err = fmt.Errorf("alerts: %w", e)
		}
	}
	if o.exporters != nil {
		if e := o.exporters.close(); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// tickAlerts flushes the alerts each second and turns their rotating
// file when its period is over, so a period's alerts are in its file
// when it is renamed into place, even if no alert comes after it.
func (o *outputs) tickAlerts() {
	o.tickStop, o.tickDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(o.tickDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-o.tickStop:
				return
			case <-t.C:
				if o.alerts.Flush() == nil {
					o.rotAlerts.Tick() // a failure is logged and returned again at close
				}
			}
		}
	}()
}

func (o *outputs) stopTick() {
	if o.tickStop != nil {
		close(o.tickStop)
		<-o.tickDone
		o.tickStop = nil
	}
}

// summary prints what the exporters sent, then the detection summary,
// whose alert table is meant to end a run's output, after close.
func (o *outputs) summary(stderr io.Writer) {
	if o.rotRows != nil {
		printRotated(stderr, "flow files", o.rotRows.Rotated(), o.rotate)
	}
	if o.rotAlerts != nil {
		printRotated(stderr, "alert files", o.rotAlerts.Rotated(), o.rotate)
	}
	if o.exporters != nil {
		o.exporters.summary(stderr)
	}
	if o.alerts != nil {
		// The detectors' summary counts the alerts raised; these never
		// reached the alerts file.
		if sent, lost, err := o.alerts.Stats(); lost > 0 {
			fmt.Fprintf(stderr, "alerts     %d of %d not written: %v\n", lost, sent, err)
		}
	}
	if o.detect != nil {
		fmt.Fprintln(stderr)
		o.detect.Summary(stderr)
	}
}

// printRotated says how many files a rotating output finished, the
// first and last of them, and how many older ones --rotate-keep deleted.
func printRotated(w io.Writer, what string, r export.RotatedFiles, every time.Duration) {
	fmt.Fprintf(w, "%s %d written (--rotate %v)", what, r.Count, every)
	switch n := len(r.Files); {
	case r.Count == 1:
		fmt.Fprintf(w, ": %s", r.First)
	case r.Count > 1 && n > 0:
		fmt.Fprintf(w, ": %s ... %s", r.First, filepath.Base(r.Files[n-1]))
	}
	if r.Removed > 0 {
		fmt.Fprintf(w, "; %d older deleted (--rotate-keep)", r.Removed)
	}
	fmt.Fprintln(w)
}

// alertSink sends each alert to the alert file and to the exporters.
func (o *outputs) alertSink(a *detect.Alert) {
	if o.alerts != nil {
		o.alerts.Write(a)
	}
	if o.exporters != nil {
		o.exporters.alert(a)
	}
}

// discard is the writer of -o none.
type discard struct{}

func (discard) Write(*features.Row, []string) error { return nil }
func (discard) Close() error                        { return nil }

// namedPath is a file a flag names. A flag that does not start with "-"
// is a noun for a positional argument ("capture", "flow file").
type namedPath struct{ flag, path string }

// is says which file n is, for an error: "the --blocklist file", or "the
// capture in.pcap" for a positional argument.
func (n namedPath) is() string {
	if strings.HasPrefix(n.flag, "-") {
		return "the " + n.flag + " file"
	}
	return "the " + n.flag + " " + n.path
}

// named gives each of paths the flag (or noun) that names it.
func named(flag string, paths ...string) []namedPath {
	n := make([]namedPath, len(paths))
	for i, p := range paths {
		n[i] = namedPath{flag, p}
	}
	return n
}

// writes are the files the flow flags write: -o, --alerts and
// --metrics-textfile.
func (ff *flowFlags) writes() []namedPath {
	return append(ff.rotated(), namedPath{"--metrics-textfile", ff.out.textfile})
}

// rotated are the files --rotate turns: -o and --alerts.
func (ff *flowFlags) rotated() []namedPath {
	w := []namedPath{{"-o", ff.output}}
	if ff.detect != nil {
		w = append(w, namedPath{"--alerts", ff.detect.Alerts})
	}
	return w
}

// reads are the files the flow flags read besides the captures: the
// detectors' lists and GeoIP database, the NATS credentials, and the
// command's own inputs (--model, --label-rules), so that no output
// replaces one of them.
func (ff *flowFlags) reads() []namedPath {
	r := append([]namedPath{{"--nats-creds", ff.out.natsCreds}}, ff.inputs...)
	if d := ff.detect; d != nil {
		r = append(r, named("--blocklist", d.Blocklists...)...)
		r = append(r, named("--dga-allow", d.DGAAllow...)...)
		r = append(r, namedPath{"--geoip", d.GeoIP})
	}
	return r
}

// checkOwnFiles refuses a file the run writes that is another file it
// writes, or one it reads: each is truncated or replaced when written,
// and the input is lost ("", "-" and none name no file; /dev/null may be
// shared). The error names both flags.
func checkOwnFiles(writes, reads []namedPath) error {
	isFile := func(p string) bool { return p != "" && p != "-" && p != "none" }
	for i, w := range writes {
		if !isFile(w.path) {
			continue
		}
		for _, o := range writes[i+1:] {
			if isFile(o.path) && sameFile(w.path, o.path) {
				return fmt.Errorf("%w: %s %s and %s %s are the same file; give each a file of its own", errUsage, w.flag, w.path, o.flag, o.path)
			}
		}
		for _, in := range reads {
			if isFile(in.path) && sameFile(w.path, in.path) {
				return fmt.Errorf("%w: %s %s is %s; write to a file of its own", errUsage, w.flag, w.path, in.is())
			}
		}
	}
	return nil
}

// sameFile reports whether paths a and b name one file: the same path once
// made absolute, or, for files that exist, the same file through links,
// or, for a file not there yet, the same name in the same directory
// through links (real/out.jsonl and alias/out.jsonl, alias a link to
// real, were two files until both were created as one). /dev/null is no
// file to share: writing both there is fine.
func sameFile(a, b string) bool {
	if n, err := os.Stat(os.DevNull); err == nil {
		if sa, err := os.Stat(a); err == nil && os.SameFile(sa, n) {
			return false
		}
	}
	aa, errA := filepath.Abs(a)
	ab, errB := filepath.Abs(b)
	if errA == nil && errB == nil && aa == ab {
		return true
	}
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(sa, sb)
	}
	if filepath.Base(a) != filepath.Base(b) {
		return false
	}
	da, errA := os.Stat(filepath.Dir(a))
	db, errB := os.Stat(filepath.Dir(b))
	return errA == nil && errB == nil && os.SameFile(da, db)
}
