//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/export"
	"github.com/flowhawk/flowhawk/pipeline"
)

func init() {
	register(&command{
		name:    "capture",
		summary: "measure flows on live interfaces with eBPF (XDP or TC ingress, TC egress) into flow records and features",
		run:     runCapture,
	})
}

func runCapture(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("capture", "-i IFACE[,IFACE...] [flags]", stdout, stderr)
	ifaces := fs.StringSliceP("interface", "i", nil, "attach to `IFACE`s (comma-separated or repeated)")
	ingress := fs.String("ingress", "auto", "ingress hook: auto (driver-mode XDP where the driver has it, except veth; TC elsewhere, and on devices without a link-layer header such as tun or WireGuard, whatever is asked), xdp, tc; loopback takes none (egress sees every packet it receives): xdp or tc with loopback interfaces alone is an error, and with others a warning")
	xdpMode := fs.String("xdp-mode", "auto", "XDP attach mode when XDP is used: auto (driver where supported, else generic), native, generic; native or generic implies --ingress xdp")
	tcAttach := fs.String("tc-attach", "auto", "how TC programs attach: auto (TCX, else a clsact qdisc, added through rtnetlink: tc(8) is not needed), tcx, clsact")
	duration := fs.Duration("duration", 0, "stop after this long (0: until SIGINT, SIGTERM or SIGHUP)")
	samples := fs.Int("samples", 32, "first `N` packets of each flow the kernel sends to user space (at least --splt, which raises the default; at most 65536)")
	sampleRate := fs.Int("sample-rate", 1, "account 1 packet in `N` (counters are scaled back up and records marked sampled)")
	maxFlows6 := fs.Int("max-flows-ipv6", 0, "size of the kernel's IPv6 flow map (`N`; 0: as --max-flows, which sizes the IPv4 map)")
	ringSize := fs.Int("ring-size", 4<<20, "kernel ring buffer size in `BYTES`: a power of two from the page size to 2 GiB")
	var ff flowFlags
	addFlowFlags(fs, &ff, true)
	addRotateFlags(fs, &ff)
	// The kernel maps are preallocated and refuse new flows when full: the
	// replay table's default and wording do not fit them.
	mfl := fs.Lookup("max-flows")
	mfl.DefValue = "65536"
	mfl.Usage = "size of the kernel's IPv4 flow map (and of the IPv6 one, unless --max-flows-ipv6); when a map is full new flows are counted, not stored"
	var mf modelFlags
	addModelFlags(fs, &mf)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		// flowhawk capture -i lo flows.csv wrote CSV to standard output.
		usageError(fs, stderr)
		return fmt.Errorf("%w: unexpected argument %q (capture takes flags only%s)", errUsage, fs.Arg(0), meantFlag(fs.Arg(0)))
	}
	if *duration < 0 {
		return fmt.Errorf("%w: --duration %v: want 0 (until a signal) or more", errUsage, *duration)
	}
	if err := checkCaptureSizes(&ff, *samples, *sampleRate, *maxFlows6, *ringSize); err != nil {
		return err
	}
	if dup := duplicateIface(*ifaces); dup != "" {
		return fmt.Errorf("%w: -i names %s twice", errUsage, dup)
	}
	if len(*ifaces) == 0 {
		usageError(fs, stderr)
		return fmt.Errorf("%w: no interface given (-i IFACE)", errUsage)
	}
	if err := ff.validate(); err != nil {
		return err
	}
	// The first-packet (SPLT) columns are built from the kernel's samples,
	// so samples follow --splt up when only the default was given; a
	// --samples asked for below --splt was raised without a word (5 sent
	// 10), which is not what a user lowering ring buffer traffic wanted.
	// After validate: a --splt out of range is that error, not a call to
	// raise --samples up to it (--samples 100 --splt 5000).
	if fs.Changed("samples") && *samples < ff.splt {
		return fmt.Errorf("%w: --samples %d is below --splt %d: the first-packet columns need the first --splt packets of each flow (raise --samples or lower --splt)", errUsage, *samples, ff.splt)
	}
	if err := ff.checkRotate(); err != nil {
		return err
	}
	// Before attaching, as the other usage errors.
	ff.inputs = append(ff.inputs, namedPath{"--model", mf.path})
	if err := checkOwnFiles(ff.writes(), ff.reads()); err != nil {
		return err
	}
	switch *xdpMode {
	case "auto", "native", "generic":
	default:
		return fmt.Errorf("%w: --xdp-mode %q: want auto, native or generic", errUsage, *xdpMode)
	}
	switch *ingress {
	case "auto", "xdp", "tc":
	default:
		return fmt.Errorf("%w: --ingress %q: want auto, xdp or tc", errUsage, *ingress)
	}
	if *ingress == "tc" && *xdpMode != "auto" {
		return fmt.Errorf("%w: --xdp-mode %s with --ingress tc: XDP is not used", errUsage, *xdpMode)
	}
	if err := checkLoopbackIngress(*ifaces, *ingress, *xdpMode); err != nil {
		return err
	}
	switch *tcAttach {
	case "auto":
		*tcAttach = ""
	case "tcx", "clsact":
	default:
		return fmt.Errorf("%w: --tc-attach %q: want auto, tcx or clsact", errUsage, *tcAttach)
	}
	kcfg := collector.KernelConfig{
		Interfaces:    *ifaces,
		Ingress:       *ingress,
		XDPMode:       *xdpMode,
		TCAttach:      *tcAttach,
		MaxFlows:      ff.maxFlows,
		MaxFlows6:     *maxFlows6,
		Samples:       max(*samples, ff.splt),
		SampleRate:    *sampleRate,
		IdleTimeout:   ff.idleTimeout,
		ActiveTimeout: ff.activeTimeout,
		RingSize:      *ringSize,
		Decap:         ff.decap,
	}
	if !fs.Changed("max-flows") {
		// The table's default (1M) would preallocate ~1 GB of kernel maps
		// (IPv4 and IPv6, ~500 B a flow each).
		kcfg.MaxFlows = 65536
	}

	cfg := pipeline.Config{Table: ff.tableConfig(), Features: ff.featureConfig(), Windows: ff.windowConfig(), Workers: ff.workers}
	if err := mf.load(&cfg); err != nil {
		return err
	}
	var extra []string
	if cfg.Label != nil {
		extra = append(extra, "Label")
	}
	if cfg.Predictor != nil {
		extra = append(extra, "Predicted Label", "Confidence")
	}

	// Catch SIGINT, SIGTERM and SIGHUP (a closed terminal) before
	// attaching: loading and attaching take a while, and a signal then must
	// still end the capture through Run's flush and detach, not be lost (a
	// background job starts with SIGINT ignored until Notify) or kill the
	// process half-attached. SIGPIPE is caught too, so that -o - into a
	// reader that quit (| head) is a write error that stops the capture
	// cleanly, not a death that leaves clsact filters attached.
	// A second signal detaches at once and exits with status 1, without
	// the final flush: bpf links would go with the process anyway, but
	// clsact filters (kernels before TCX) would stay on the interfaces.
	var attached atomic.Pointer[collector.KernelSource]
	ctx, release := stopOnSignals(func(s os.Signal) {
		src := attached.Load()
		if src == nil {
			slog.Warn("signalled again while attaching: the capture stops once attached", "signal", signalName(s))
			return
		}
		err := src.Abort()
		slog.Error("signalled again: detached, exiting now without the final flush; flows still in the kernel map are lost and the outputs may end mid-row", "signal", signalName(s), "detach error", err)
		exitNow(1)
	})
	defer release()
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	// Attach before opening outputs, so privilege and interface errors come
	// first and leave no half-written file.
	src, err := collector.OpenKernel(kcfg)
	if err != nil {
		return err
	}
	attached.Store(src)
	defer src.Close()
	// Records come from map scans, a little after the table would have
	// emitted them: toptalkers waits for them (Engine.SetFlowDelay).
	cfg.FlowLag = src.RecordLag()
	if ff.detect != nil {
		// The detectors see the kernel's samples: with 1-in-N sampling,
		// or fewer than the three packets of a handshake per flow, they
		// cannot pair a SYN with its completing ACK.
		ff.detect.PartialPackets = *sampleRate > 1 || kcfg.Samples < 3
		if *sampleRate > 1 {
			slog.Warn("the detectors see the sampled packets only: their packet-count thresholds need the sample rate times the traffic (divide them by it for an unsampled capture's sensitivity; docs/kernel.md, Sampling)", "sample_rate", *sampleRate)
		}
	}
	outs, err := ff.openOutputs(&cfg, extra, stdout, stderr)
	if err != nil {
		return err
	}
	p, err := pipeline.New(cfg)
	if err != nil {
		outs.close()
		return err
	}
	outs.exporters.bindKernel(src)
	outs.exporters.bindLag(p)
	outs.exporters.bindWindows(p)
	outs.exporters.start()
	// Records go back to the pipeline's pool once written; build from it.
	src.UseFlowPool(p.Table().Pool())
	// Records leave (file, exporters) after each scan of the flow map, not
	// only once a batch of 256 is full, and the detectors' clock moves on
	// to the scan's time: the kernel path feeds them only the first
	// packets of each flow and ended records, so on a link of long-lived
	// flows their windows would not end until a new flow came.
	src.AfterScan(func() {
		p.Advance(src.Now())
		p.Submit()
	})

	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	// A failed flow output (disk full, a closed pipe) ends the capture:
	// flows after it would be lost, and a service manager restarts it.
	ctx, cancelFailed := context.WithCancelCause(ctx)
	defer cancelFailed(nil)
	go func() {
		select {
		case <-p.Failed():
			cancelFailed(errOutputFailed)
		case <-ctx.Done():
		}
	}()
	if !ff.quiet {
		var how []string
		for _, a := range src.Attachments() {
			how = append(how, a.String())
		}
		fmt.Fprintf(stderr, "capturing on %s; stop with Ctrl-C\n", strings.Join(how, "; "))
	}
	start := time.Now()
	rerr := src.Run(ctx, p.Flow, p.PacketDetectOnly)
	ks := src.Stats() // before Close releases the counters map
	outs.exporters.freezeKernel()
	cerr := src.Close()
	sum, perr := p.Close()
	oerr := outs.close()
	if errors.Is(rerr, context.Canceled) || errors.Is(rerr, context.DeadlineExceeded) {
		rerr = nil
	}
	if !ff.quiet {
		sum.Print(stderr)
		ks.Print(stderr)
		fmt.Fprintf(stderr, "elapsed    %.2fs\n", time.Since(start).Seconds())
		fmt.Fprintf(stderr, "stopped by %s\n", stopReason(context.Cause(ctx), rerr, *duration))
		outs.summary(stderr)
	}
	return errors.Join(rerr, cerr, perr, oerr)
}

// checkLoopbackIngress refuses an ingress hook asked for (--ingress xdp
// or tc, --xdp-mode native or generic) when every interface is loopback,
// which takes no ingress program: capture -i lo --ingress xdp ran with
// "ingress none" and said nothing. With other interfaces, which take the
// hook, a warning names the loopback ones. Names that are no interface
// are left to the attach, which lists those there are.
func checkLoopbackIngress(ifaces []string, ingress, xdpMode string) error {
	asked := ingress
	switch {
	case ingress == "auto" && xdpMode != "auto":
		asked = "xdp"
	case ingress == "auto":
		return nil
	}
	var lo []string
	for _, name := range ifaces {
		if ifi, err := collector.InterfaceByName(name); err == nil && ifi.Flags&net.FlagLoopback != 0 { // an altname too
			lo = append(lo, name)
		}
	}
	switch {
	case len(lo) == 0:
		return nil
	case len(lo) == len(ifaces):
		return fmt.Errorf("%w: --ingress %s on %s: loopback takes no ingress hook (egress alone sees every packet it receives, once); leave --ingress and --xdp-mode at auto", errUsage, asked, strings.Join(lo, ", "))
	}
	slog.Warn("loopback takes no ingress hook (egress alone sees every packet it receives); --ingress applies to the other interfaces", "ingress", asked, "loopback", strings.Join(lo, ","))
	return nil
}

// meantFlag guesses the flag a stray capture argument was meant for: a
// flow file's name is -o's, an interface's -i's.
func meantFlag(arg string) string {
	if _, err := export.FormatOf(arg); err == nil {
		return "; did you mean -o " + arg + "?"
	}
	if _, err := collector.InterfaceByName(arg); err == nil {
		return "; did you mean -i " + arg + "?"
	}
	return ""
}

// maxCaptureSamples bounds --samples: every flow record reserves room for
// that many samples (24 B each), and past it the ring buffer carries
// nearly every packet of every flow.
const maxCaptureSamples = 65536

// checkCaptureSizes refuses, as usage errors naming the flag, its value and
// the allowed range, the sizes and rates the kernel would truncate to 32
// bits or the source would replace by a default.
func checkCaptureSizes(ff *flowFlags, samples, sampleRate, maxFlows6, ringSize int) error {
	for _, c := range []struct {
		name   string
		v      int
		lo, hi int64
	}{
		{"max-flows", ff.maxFlows, 1, collector.MaxKernelFlows},
		{"max-flows-ipv6", maxFlows6, 0, collector.MaxKernelFlows},
		{"samples", samples, 1, maxCaptureSamples},
		{"sample-rate", sampleRate, 1, collector.MaxSampleRate},
		{"workers", ff.workers, 1, math.MaxInt},
	} {
		switch {
		case int64(c.v) >= c.lo && int64(c.v) <= c.hi:
		case c.hi == math.MaxInt:
			return fmt.Errorf("%w: --%s %d: want %d or more", errUsage, c.name, c.v, c.lo)
		default:
			return fmt.Errorf("%w: --%s %d out of range %d..%d", errUsage, c.name, c.v, c.lo, c.hi)
		}
	}
	if err := collector.CheckRingSize(ringSize); err != nil {
		return fmt.Errorf("%w: --ring-size %d: %v", errUsage, ringSize, err)
	}
	return nil
}

// duplicateIface returns an interface named twice in -i, or "".
func duplicateIface(names []string) string {
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if seen[n] {
			return n
		}
		seen[n] = true
	}
	return ""
}
