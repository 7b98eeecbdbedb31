package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/flowhawk/flowhawk/export"
	"github.com/flowhawk/flowhawk/export/report"
)

func init() {
	register(&command{
		name:    "report",
		summary: "write a self-contained HTML report of flow files (with alerts and model evaluations)",
		run:     runReport,
	})
}

func runReport(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", "FLOWS... [--alerts FILE]... [--eval FILE]... -o report.html", stdout, stderr)
	alerts := fs.StringArray("alerts", nil, "alerts file (ECS JSON lines from detect; repeat for several, as collect stores them)")
	evals := fs.StringArray("eval", nil, "output of 'flowhawk eval --json' (repeat, or concatenate documents, to compare models)")
	out := fs.StringP("output", "o", "report.html", "write the HTML page to `FILE` (.html or .htm; - for stdout)")
	title := fs.String("title", "", "page title (default: flowhawk report: FLOWS, or the number of flow files)")
	top := fs.Int("top", 15, "addresses in the top-N charts")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *top < 1 {
		// report.Write would draw the default 15 instead.
		return fmt.Errorf("%w: --top %d: want 1 or more", errUsage, *top)
	}
	// report -o r.csv wrote HTML into r.csv.
	if err := checkOutputExt(*out, "report writes HTML", ".html", ".htm"); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: want a flow file (.csv, .jsonl or .parquet), or several", errUsage)
	}
	// The page replaced an input of the same name (report flows.csv -o flows.csv).
	reads := append(named("flow file", fs.Args()...), named("--alerts", *alerts...)...)
	if err := checkOwnFiles([]namedPath{{"-o", *out}}, append(reads, named("--eval", *evals...)...)); err != nil {
		return err
	}
	// Written once every input is read, which may take a while.
	if *out != "-" {
		if err := checkWritable("-o", *out); err != nil {
			return err
		}
	}
	in := report.Input{Source: filepath.Base(fs.Arg(0)), Title: *title, TopN: *top}
	if fs.NArg() > 1 {
		in.Source = fmt.Sprintf("%d flow files", fs.NArg())
	}
	if in.Title == "" {
		in.Title = "flowhawk report: " + in.Source
	}
	in.Stats = report.NewFlowStats()
	for _, f := range fs.Args() {
		if err := in.Stats.Read(f); err != nil {
			return err
		}
	}
	for _, a := range *alerts {
		al, err := report.ReadAlerts(a)
		if err != nil {
			return err
		}
		in.Alerts = append(in.Alerts, al...)
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
		what := fs.Arg(0) + " holds"
		if n := fs.NArg(); n > 1 {
			what = fmt.Sprintf("the %d flow files (%s ... %s) hold", n, fs.Arg(0), fs.Arg(n-1))
		}
		return fmt.Errorf("report: nothing to chart: %s no flows, and no alerts or evaluations were given", what)
	}
	var page bytes.Buffer
	if err := report.Write(&page, in); err != nil {
		return err
	}
	said := stdout
	if *out == "-" {
		if _, err := stdout.Write(page.Bytes()); err != nil {
			return err
		}
		said = stderr // not into the page
	} else if err := os.WriteFile(*out, page.Bytes(), export.FileMode); err != nil { // the top addresses: as private as the flows
		return flagFileErr("-o", *out, err)
	}
	fmt.Fprintf(said, "wrote %s: %d flows, %d alerts, %d evaluations\n", *out, in.Stats.N, len(in.Alerts), len(in.Evals))
	return nil
}
