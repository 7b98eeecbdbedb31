package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/pipeline"
)

func init() {
	register(&command{
		name:    "replay",
		summary: "turn pcap/pcapng files (directories of them, or - for standard input) into flow records and features",
		run:     runReplay,
	})
}

// checkProgress rejects a --progress value the bar does not know.
func checkProgress(v string) error {
	switch v {
	case "auto", "always", "never":
		return nil
	}
	return fmt.Errorf("%w: --progress %q: want auto, always or never", errUsage, v)
}

func runReplay(args []string, stdout, stderr io.Writer) (err error) {
	fs := newFlagSet("replay", "[flags] PCAP|DIR|-...", stdout, stderr)
	var ff flowFlags
	addFlowFlags(fs, &ff, true)
	addTableMemoryFlag(fs, &ff)
	var mf modelFlags
	addModelFlags(fs, &mf)
	progress := fs.String("progress", "auto", "progress bar on stderr: auto (when stderr is a terminal and the input is over 64 MiB), always, never")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to `FILE` (for go tool pprof)")
	memprofile := fs.String("memprofile", "", "write a heap profile (live and allocated memory) to `FILE` at the end (for go tool pprof)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkProgress(*progress); err != nil {
		return err
	}
	ff.inputs = append(ff.inputs, namedPath{"--model", mf.path})
	// The profiles are created before anything else is checked: none may
	// be an output or an input (--cpuprofile m.json --model m.json
	// destroyed the model).
	profiles := []namedPath{{"--cpuprofile", *cpuprofile}, {"--memprofile", *memprofile}}
	if err := checkOwnFiles(append(ff.writes(), profiles...), append(ff.reads(), named("capture", fs.Args()...)...)); err != nil {
		return err
	}
	if *memprofile != "" {
		// Created now, so a path that cannot be written fails the run
		// before it starts rather than after.
		mf, err := os.Create(*memprofile)
		if err != nil {
			return fmt.Errorf("heap profile: %w", err)
		}
		runtime.MemProfileRate = 64 << 10
		defer func() {
			if e := writeHeapProfile(mf); e != nil && err == nil {
				err = e
			}
		}()
	}
	if *cpuprofile != "" {
		stopProfile, err := startCPUProfile(*cpuprofile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	if fs.NArg() == 0 {
		usageError(fs, stderr)
		return fmt.Errorf("%w: no capture given", errUsage)
	}
	if err := ff.validate(); err != nil {
		return err
	}
	if err := checkStdinArgs(fs.Args()); err != nil {
		return err
	}
	paths, err := collector.ExpandPaths(fs.Args())
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return fmt.Errorf("no capture files in %v", fs.Args())
	}
	cfg := pipeline.Config{Table: ff.tableConfig(), Features: ff.featureConfig(), Windows: ff.windowConfig(), Workers: ff.workers,
		Pcap: collector.PcapOptions{Decap: ff.decap}}
	return replayRun(&cfg, &ff, &mf, paths, *progress, stdout, stderr)
}

// replayRun runs paths through a pipeline built from cfg and the flags, and
// prints the summary. Shared by replay and dataset.
func replayRun(cfg *pipeline.Config, ff *flowFlags, mf *modelFlags, paths []string, progress string, stdout, stderr io.Writer) error {
	if err := mf.load(cfg); err != nil {
		return err
	}
	var extra []string
	if cfg.Label != nil {
		extra = append(extra, "Label")
	}
	if cfg.Predictor != nil {
		extra = append(extra, "Predicted Label", "Confidence")
	}
	if err := checkOwnFiles(ff.writes(), append(ff.reads(), named("capture", paths...)...)); err != nil {
		return err
	}
	if err := checkCaptures(paths, cfg.Pcap); err != nil {
		return err
	}
	var in *stdinInput
	if slices.Contains(paths, collector.StdinPath) {
		var err error
		if in, err = openStdin(); err != nil {
			return err
		}
		defer in.restore()
		cfg.Stdin = in
	}
	// A file can wait for the IPFIX sender: with --ipfix-rate, dropping
	// what the queue cannot hold lost most records of a large capture.
	ff.out.ipfixWait = true
	outs, err := ff.openOutputs(cfg, extra, stdout, stderr)
	if err != nil {
		return err
	}
	p, err := pipeline.New(*cfg)
	if err != nil {
		outs.close()
		return err
	}
	outs.exporters.bind(p)
	outs.exporters.start()
	ctx, stop, readDone := replaySignals(in)
	defer stop()
	if e := outs.exporters.ipfix; e != nil {
		// Stopped, the replay drops what the paced sender cannot take
		// rather than send every remaining flow at --ipfix-rate.
		defer context.AfterFunc(ctx, e.StopWaiting)()
	}

	prog := pipeline.NewProgress(paths)
	done := make(chan struct{})
	barDone := startProgress(progress, prog, stderr, done)
	start := time.Now()
	rerr := p.ReplayFiles(ctx, paths, prog)
	readDone() // a signal from now on comes while the flows are written: it exits at once
	sum, cerr := p.Close()
	close(done)
	<-barDone
	oerr := outs.close()
	if !ff.quiet {
		el := time.Since(start)
		sum.Print(stderr)
		fmt.Fprintf(stderr, "elapsed    %.2fs (%.0f packets/s)\n", el.Seconds(), float64(sum.Source.Frames)/el.Seconds())
		outs.summary(stderr)
	}
	if errors.Is(rerr, context.Canceled) {
		return fmt.Errorf("interrupted; flows so far were written")
	}
	if ff.quiet {
		// The summary's lines naming every bad file are not printed:
		// the error names them all, not the first alone.
		rerr = fileErrors(sum.Files, rerr)
	}
	return errors.Join(rerr, cerr, oerr)
}

// fileErrors returns the read errors of files, one a line, when more
// than one file failed; else first, the one the replay returned.
func fileErrors(files []pipeline.FileSummary, first error) error {
	var errs []error
	for _, f := range files {
		if f.Err != nil && !errors.Is(f.Err, context.Canceled) {
			errs = append(errs, f.Err)
		}
	}
	if len(errs) < 2 {
		return first
	}
	return errors.Join(errs...)
}

// checkCaptures reads the headers of the captures that are regular files
// and returns their errors when none of paths can be read, so
// that a run whose input is no capture at all (a text file, an empty one)
// fails before the outputs are created, leaving an existing -o file as
// it was rather than truncated to a header. Standard input and FIFOs are
// not read ahead (what is read could not be read again) and count as
// readable. When any input is good the run goes on: a bad file, first or
// not, ends only itself, and the good files' flows are written.
func checkCaptures(paths []string, opts collector.PcapOptions) error {
	var errs []error
	for _, path := range paths {
		if path == collector.StdinPath {
			return nil
		}
		if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
			return nil
		}
		src, err := collector.OpenPcap(path, opts)
		if err == nil {
			src.Close()
			return nil
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// startProgress shows a byte-based progress bar when asked or when stderr
// is a terminal; the returned channel closes when the bar has finished.
func startProgress(mode string, prog *pipeline.Progress, stderr io.Writer, done <-chan struct{}) <-chan struct{} {
	finished := make(chan struct{})
	show := mode == "always"
	if mode == "auto" {
		if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			show = prog.Total > 64<<20
		}
	}
	if !show {
		close(finished)
		return finished
	}
	total := prog.Total
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetDescription("replay"),
		progressbar.OptionThrottle(200 * time.Millisecond),
		progressbar.OptionClearOnFinish(),
	}
	if prog.Unsized {
		// A spinner with the bytes read so far (the count), as the end is
		// unknown: without the count it showed only a rate.
		total = -1
		opts = append(opts, progressbar.OptionShowCount())
	}
	bar := progressbar.NewOptions64(total, opts...)
	// Its clock starts now, with the read: left to its first render, 200 ms
	// in, the bar divided every byte read so far by a few microseconds and
	// showed rates of hundreds of GB/s.
	bar.StartWithoutRender()
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				bar.Set64(prog.Read.Load())
				bar.Finish()
				return
			case <-t.C:
				bar.Set64(prog.Read.Load())
			}
		}
	}()
	return finished
}

// writeHeapProfile writes the heap profile: allocations since the start
// (alloc_space) and what the flow table still held at the end (inuse_space).
func writeHeapProfile(f *os.File) error {
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("heap profile %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("heap profile %s: %w", f.Name(), err)
	}
	return nil
}

// startCPUProfile profiles the process into path until the returned
// function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
