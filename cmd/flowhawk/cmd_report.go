package main

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
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
	alerts := fs.StringArray("alerts", nil, "alerts file (ECS JSON lines from detect; repeat for several, in time order, as a rotated capture and collect write them: a cause's running count goes on from file to file; a file given twice is read once)")
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
	flows, alertFiles := readOnce("flow file", fs.Args()), readOnce("--alerts file", *alerts)
	in := report.Input{Source: filepath.Base(flows[0]), Title: *title, TopN: *top}
	if len(flows) > 1 {
		in.Source = fmt.Sprintf("%d flow files", len(flows))
	}
	if in.Title == "" {
		in.Title = "flowhawk report: " + in.Source
	}
	in.Stats = report.NewFlowStats()
	for _, f := range flows {
		if err := in.Stats.Read(f); err != nil {
			return err
		}
	}
	// One stream: a cause's running count goes on from file to file.
	var err error
	if in.AlertStats, err = report.ReadAlertStats(alertFiles); err != nil {
		return err
	}
	for _, e := range readOnce("--eval file", *evals) {
		ev, err := report.ReadEvals(e)
		if err != nil {
			return err
		}
		in.Evals = append(in.Evals, ev...)
	}
	// Render before opening the output, so a report that cannot be made
	// (nothing to chart) leaves an existing file as it was.
	if in.Stats.N == 0 && in.AlertStats.Lines == 0 && len(in.Evals) == 0 {
		what := flows[0] + " holds"
		if n := len(flows); n > 1 {
			what = fmt.Sprintf("the %d flow files (%s ... %s) hold", n, flows[0], flows[n-1])
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
	fmt.Fprintf(said, "wrote %s: %s, %s, %s\n", *out, plural(uint64(in.Stats.N), "flow"), plural(uint64(in.AlertStats.Lines), "alert"), plural(uint64(len(in.Evals)), "evaluation"))
	return nil
}

// maxDupWarnings bounds the warnings readOnce logs one by one, so that
// two overlapping globs of a fleet store do not print a line per file.
const maxDupWarnings = 10

// readOnce drops each of paths that names a file listed before it (the
// same name twice, overlapping globs, another spelling, a link or a hard
// link: compared by file identity, not by name), with a warning naming
// both, as replay does for captures: report F F counted every flow, and
// --alerts A --alerts A every alert, twice. what names the files in the
// warning. A path that cannot be stat'ed is kept, for its read to fail.
func readOnce(what string, paths []string) []string {
	type seen struct {
		path string
		info os.FileInfo
	}
	bySize := make(map[int64][]seen, len(paths)) // os.SameFile candidates
	out := make([]string, 0, len(paths))
	dups := 0
next:
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			out = append(out, p)
			continue
		}
		for _, s := range bySize[info.Size()] {
			if os.SameFile(s.info, info) {
				if dups++; dups <= maxDupWarnings {
					slog.Warn(what+" listed more than once, read once", "file", p, "first", s.path)
				}
				continue next
			}
		}
		bySize[info.Size()] = append(bySize[info.Size()], seen{p, info})
		out = append(out, p)
	}
	if dups > maxDupWarnings {
		slog.Warn("more "+what+"s listed more than once, each read once", "more", dups-maxDupWarnings)
	}
	return out
}
