package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/label"
	"github.com/flowhawk/flowhawk/pipeline"
)

func init() {
	register(&command{
		name:    "dataset",
		summary: "build a labeled flow dataset from captures (labels from directories or rules)",
		run:     runDataset,
	})
}

func runDataset(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dataset", "(--label-dir DIR | --label-rules FILE PCAP|DIR|-...) -o out.csv", stdout, stderr)
	var ff flowFlags
	addFlowFlags(fs, &ff, false)
	addTableMemoryFlag(fs, &ff)
	labelDir := fs.String("label-dir", "", "label each flow with the name of the sub-directory of `DIR` its capture is in (DIR/Browser/x.pcap -> Browser)")
	labelRules := fs.String("label-rules", "", "label flows by the address/port/protocol/time rules in `FILE` (see README)")
	defLabel := fs.String("default-label", "", "label for flows no rule matches (overrides the rules file's 'default' line; without either, BENIGN), or with --label-dir of captures directly in DIR (without it, unlabeled)")
	progress := fs.String("progress", "auto", "progress bar on stderr: auto (when stderr is a terminal and the input is over 64 MiB), always, never")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkProgress(*progress); err != nil {
		return err
	}
	if err := ff.validate(); err != nil {
		return err
	}
	if (*labelDir == "") == (*labelRules == "") {
		return fmt.Errorf("%w: give exactly one of --label-dir or --label-rules", errUsage)
	}
	// Before the rules are read, which a bad -o would make the error.
	ff.inputs = append(ff.inputs, namedPath{"--label-rules", *labelRules})
	if err := checkOwnFiles(ff.writes(), ff.reads()); err != nil {
		return err
	}
	cfg := pipeline.Config{Table: ff.tableConfig(), Features: ff.featureConfig(), Windows: ff.windowConfig(), Workers: ff.workers,
		Pcap: collector.PcapOptions{Decap: ff.decap}}
	var inputs []string
	check := func([]string) {} // warns about captures the labels will not name
	if *labelDir != "" {
		root := filepath.Clean(*labelDir)
		inputs = append([]string{root}, fs.Args()...)
		if fs.NArg() > 0 {
			return fmt.Errorf("%w: with --label-dir the captures are the files under DIR; no other arguments", errUsage)
		}
		if st, err := os.Stat(root); err != nil {
			return fmt.Errorf("--label-dir: %w", err)
		} else if !st.IsDir() {
			return fmt.Errorf("%w: --label-dir %s is not a directory", errUsage, root)
		}
		none := "unlabeled"
		if *defLabel != "" {
			none = label.Valid(*defLabel)
		}
		// Flows never mix files of different classes.
		cfg.FlushPerFile = true
		cfg.Label = func(_ *collector.Flow, file string) string {
			l, err := label.FromDir(root, file)
			if err != nil || l == "" {
				return none
			}
			return l
		}
		check = func(paths []string) {
			found := make(map[string]bool)
			for _, p := range paths {
				if l, err := label.FromDir(root, p); err != nil || l == "" {
					slog.Warn("capture not in a class sub-directory of --label-dir; its flows are labelled "+none, "file", p)
				} else {
					found[l] = true
				}
			}
			warnEmptyClasses(root, found)
		}
	} else {
		if fs.NArg() == 0 {
			return fmt.Errorf("%w: no capture given", errUsage)
		}
		rules, err := label.LoadRules(*labelRules)
		if err != nil {
			return err
		}
		if *defLabel != "" {
			rules.Default = label.Valid(*defLabel)
		}
		if err := checkStdinArgs(fs.Args()); err != nil {
			return err
		}
		inputs = fs.Args()
		cfg.Label = func(f *collector.Flow, _ string) string { return rules.Label(f) }
	}
	paths, err := collector.ExpandPaths(inputs)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return fmt.Errorf("no capture files in %v", inputs)
	}
	check(paths)
	var mf modelFlags
	return replayRun(&cfg, &ff, &mf, paths, *progress, stdout, stderr)
}

// warnEmptyClasses warns about each class sub-directory of root that holds
// no capture: its class is missing from the dataset, which the summary's
// labels alone do not show (a misnamed extension, a copy not finished).
func warnEmptyClasses(root string, found map[string]bool) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return // ExpandPaths read it; a class list is not worth an error
	}
	// The real directories of the classes with captures: a link to one of
	// them (Alias -> DNS) was skipped as walked already, with its own
	// warning, and holds captures.
	real := make(map[string]bool)
	for _, e := range entries {
		if found[label.Valid(e.Name())] {
			if r, err := filepath.EvalSymlinks(filepath.Join(root, e.Name())); err == nil {
				real[r] = true
			}
		}
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue // .git, .snapshot: not classes when they hold no capture
		}
		dir := filepath.Join(root, e.Name())
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			continue
		}
		if r, err := filepath.EvalSymlinks(dir); err == nil && real[r] {
			continue
		}
		if l := label.Valid(e.Name()); !found[l] {
			slog.Warn("class sub-directory of --label-dir holds no capture; the dataset has no flows of this class", "class", l, "dir", dir)
		}
	}
}
