package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
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
	workers       int
	idleTimeout   time.Duration
	activeTimeout time.Duration
	maxFlows      int
	splt          int
	noWindows     bool
	noExtras      bool
	quiet         bool
	detect        *detect.Config
	out           exporterFlags
}

func addFlowFlags(fs *flag.FlagSet, ff *flowFlags, withDetect bool) {
	d := collector.DefaultTableConfig()
	fs.StringVarP(&ff.output, "output", "o", "-", "write flows to `FILE`; the format follows the extension (.csv, .jsonl, .parquet); - writes CSV to stdout; none writes no rows (exporters, alerts and the summary only)")
	fs.IntVar(&ff.workers, "workers", runtime.NumCPU(), "goroutines computing features; the default is every core")
	fs.DurationVar(&ff.idleTimeout, "idle-timeout", d.IdleTimeout, "end a flow after this long without packets")
	fs.DurationVar(&ff.activeTimeout, "active-timeout", d.ActiveTimeout, "cut a flow lasting longer than this into a partial record")
	fs.IntVar(&ff.maxFlows, "max-flows", d.MaxFlows, "flows held at once; beyond it the least recently seen is evicted (counted)")
	fs.IntVar(&ff.splt, "splt", 10, "describe the first `N` packets of each flow (sizes, directions, gaps)")
	fs.BoolVar(&ff.noWindows, "no-windows", false, "leave out the NSL-KDD-style window features")
	fs.BoolVar(&ff.noExtras, "no-extras", false, "leave out flowhawk's extra statistics (CIC columns only, plus SPLT)")
	fs.BoolVarP(&ff.quiet, "quiet", "q", false, "do not print the summary on stderr")
	if withDetect {
		ff.detect = detect.RegisterFlags(fs)
	}
	addExporterFlags(fs, &ff.out)
}

func (ff *flowFlags) tableConfig() collector.TableConfig {
	return collector.TableConfig{
		IdleTimeout:   ff.idleTimeout,
		ActiveTimeout: ff.activeTimeout,
		MaxFlows:      ff.maxFlows,
		Samples:       ff.splt,
	}
}

func (ff *flowFlags) featureConfig() features.Config {
	return features.Config{SPLT: ff.splt, Extras: !ff.noExtras, Windows: !ff.noWindows}
}

func (ff *flowFlags) validate() error {
	if ff.splt < 0 || ff.splt > features.MaxSPLT {
		return fmt.Errorf("%w: --splt %d out of range 0..%d", errUsage, ff.splt, features.MaxSPLT)
	}
	if ff.maxFlows <= 0 {
		return fmt.Errorf("%w: --max-flows must be positive", errUsage)
	}
	if ff.idleTimeout <= 0 || ff.activeTimeout <= 0 {
		return fmt.Errorf("%w: timeouts must be positive", errUsage)
	}
	return nil
}

// outputs holds what a run writes to, so it can be closed in one place.
type outputs struct {
	alertsFile *os.File
	alerts     *detect.JSONLSink
	detect     *detect.Engine
	exporters  *exporterSet
}

// openOutputs builds the pipeline configuration's writer, detectors and
// exporters from the flags.
func (ff *flowFlags) openOutputs(cfg *pipeline.Config, extra []string, stdout, stderr io.Writer) (*outputs, error) {
	x, err := features.New(cfg.Features)
	if err != nil {
		return nil, err
	}
	var w export.RowWriter
	switch ff.output {
	case "none":
		w = discard{}
	case "-":
		w, err = export.NewCSVWriter(stdout, x.Columns(), extra)
	default:
		w, err = export.Create(ff.output, x.Columns(), extra)
	}
	if err != nil {
		return nil, err
	}
	cfg.Out = w
	o := &outputs{}
	if ff.detect != nil && ff.detect.On() {
		switch ff.detect.Alerts {
		case "":
		case "-":
			o.alerts = detect.NewJSONLSink(stdout)
		default:
			o.alertsFile, err = os.Create(ff.detect.Alerts)
			if err != nil {
				w.Close()
				return nil, fmt.Errorf("alerts: %w", err)
			}
			o.alerts = detect.NewJSONLSink(o.alertsFile)
		}
		o.detect, err = detect.New(*ff.detect, o.alertSink)
		if err != nil {
			w.Close()
			return nil, err
		}
		cfg.Detect = o.detect
	}
	o.exporters, err = ff.out.open(cfg, stderr)
	if err != nil {
		w.Close()
		return nil, err
	}
	return o, nil
}

// close ends the alert file and exporters after the pipeline closed.
func (o *outputs) close(stderr io.Writer, quiet bool) error {
	var err error
	if o.detect != nil && !quiet {
		fmt.Fprintln(stderr)
		o.detect.Summary(stderr)
	}
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
	if o.exporters != nil {
		if e := o.exporters.close(); e != nil && err == nil {
			err = e
		}
	}
	return err
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
