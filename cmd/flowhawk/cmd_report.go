package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/flowhawk/flowhawk/export/report"
)

func init() {
	register(&command{
		name:    "report",
		summary: "write a self-contained HTML report of a flow file (with alerts and model evaluations)",
		run:     runReport,
	})
}

func runReport(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", "FLOWS [--alerts FILE] [--eval FILE]... -o report.html", stdout, stderr)
	alerts := fs.String("alerts", "", "alerts file (ECS JSON lines from detect)")
	evals := fs.StringArray("eval", nil, "output of 'flowhawk eval --json' (repeat, or concatenate documents, to compare models)")
	out := fs.StringP("output", "o", "report.html", "HTML file to write")
	title := fs.String("title", "", "page title (default: flowhawk report: FLOWS)")
	top := fs.Int("top", 15, "addresses in the top-N charts")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *top < 1 {
		// report.Write would draw the default 15 instead.
		return fmt.Errorf("%w: --top %d: want 1 or more", errUsage, *top)
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: want one flow file (.csv, .jsonl or .parquet), got %d arguments", errUsage, fs.NArg())
	}
	in := report.Input{Source: filepath.Base(fs.Arg(0)), Title: *title, TopN: *top}
	if in.Title == "" {
		in.Title = "flowhawk report: " + in.Source
	}
	var err error
	if in.Stats, err = report.ReadFlowStats(fs.Arg(0)); err != nil {
		return err
	}
	if *alerts != "" {
		if in.Alerts, err = report.ReadAlerts(*alerts); err != nil {
			return err
		}
	}
	for _, e := range *evals {
		ev, err := report.ReadEvals(e)
		if err != nil {
			return err
		}
		in.Evals = append(in.Evals, ev...)
	}
	// Render before opening the output, so a report that cannot be made
	// (nothing to chart) leaves an existing file as it was.
	if in.Stats.N == 0 && len(in.Alerts) == 0 && len(in.Evals) == 0 {
		return fmt.Errorf("report: nothing to chart: %s holds no flows, and no alerts or evaluations were given", fs.Arg(0))
	}
	var page bytes.Buffer
	if err := report.Write(&page, in); err != nil {
		return err
	}
	if err := os.WriteFile(*out, page.Bytes(), 0o666); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d flows, %d alerts, %d evaluations\n", *out, in.Stats.N, len(in.Alerts), len(in.Evals))
	return nil
}
