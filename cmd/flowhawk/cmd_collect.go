package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/flowhawk/flowhawk/export/stream"
)

func init() {
	register(&command{
		name:    "collect",
		summary: "store a fleet's flows (Parquet) and alerts (JSON lines) from NATS JetStream, the central side of --nats",
		run:     runCollect,
	})
}

// collectFlags are collect's command line.
type collectFlags struct {
	natsURL, creds, streamName string
	create                     bool
	dir                        string
	durable, subject, alerts   string
	noAlerts                   bool
	roll, ackWait              time.Duration
	rollRows, fetch            int
	duration                   time.Duration
	quiet                      bool
}

func runCollect(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("collect", "--nats URL --dir DIR [flags]", stdout, stderr)
	var cf collectFlags
	fs.StringVar(&cf.natsURL, "nats", "", "consume from the NATS JetStream server at `URL` (comma-separated for a cluster); "+
		"give a password or token in $FLOWHAWK_NATS_USER, $FLOWHAWK_NATS_PASSWORD, $FLOWHAWK_NATS_TOKEN or --nats-creds, not in the URL, which ps shows to every user")
	fs.StringVar(&cf.creds, "nats-creds", "", "authenticate to NATS with the JWT and NKey seed of this `FILE` (a .creds file)")
	fs.StringVar(&cf.streamName, "nats-stream", "FLOWHAWK", "`NAME` of the JetStream stream holding the sensors' subjects")
	fs.BoolVar(&cf.create, "nats-create-stream", false, "create the stream if it is missing (subjects flowhawk.>, file storage, 7 days, 10 min duplicate window)")
	fs.StringVar(&cf.dir, "dir", "", "store files in `DIR` (created if missing): flows-<UTC time>.parquet and alerts-<UTC time>.jsonl")
	fs.StringVar(&cf.durable, "durable", "flowhawk-parquet", "`NAME` of the durable consumer of flows (of alerts: NAME-alerts); JetStream remembers what it acknowledged, so a restart resumes where it stopped")
	fs.StringVar(&cf.subject, "subject", "flowhawk.*.flows", "store the flows of the subjects matching `SUBJ` (flowhawk.gw1.flows: one sensor's)")
	fs.StringVar(&cf.alerts, "alerts-subject", "flowhawk.*.alerts", "store the alerts of the subjects matching `SUBJ`")
	fs.BoolVar(&cf.noAlerts, "no-alerts", false, "store flows only")
	fs.DurationVar(&cf.roll, "roll-interval", time.Minute, "close a file and start the next after this long; a message is acknowledged once the file holding it is closed, synced and renamed")
	fs.IntVar(&cf.rollRows, "roll-rows", 1_000_000, "close a file once it holds `N` rows (flows, or alerts) or more, too; a message's rows are not split between files, so a file passes N by less than a message")
	fs.DurationVar(&cf.ackWait, "ack-wait", 0, "how long JetStream waits for an acknowledgement before delivering a message again: how soon a crashed collector's messages come back; an open file's messages are reported in progress every quarter of it (0: twice --roll-interval plus 30s; more than --roll-interval)")
	fs.IntVar(&cf.fetch, "fetch", 256, "ask the server for up to `N` messages per pull")
	fs.DurationVar(&cf.duration, "duration", 0, "stop after this long (0: until SIGINT, SIGTERM or SIGHUP)")
	fs.BoolVarP(&cf.quiet, "quiet", "q", false, "do not print the summary on stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		usageError(fs, stderr)
		return fmt.Errorf("%w: unexpected argument %q (collect takes flags only)", errUsage, fs.Arg(0))
	}
	if cf.natsURL == "" {
		usageError(fs, stderr)
		return fmt.Errorf("%w: no broker given (--nats URL)", errUsage)
	}
	if cf.dir == "" {
		usageError(fs, stderr)
		return fmt.Errorf("%w: no directory given (--dir DIR)", errUsage)
	}
	if err := cf.check(); err != nil {
		return err
	}
	pc := stream.ParquetConfig{
		URL: cf.natsURL, Stream: cf.streamName, CreateStream: cf.create, Durable: cf.durable, Subject: cf.subject,
		Dir: cf.dir, Rotate: cf.roll, MaxRows: cf.rollRows, AckWait: cf.ackWait, Fetch: cf.fetch,
	}
	var auth stream.Config
	natsAuth(&auth, os.Getenv, cf.creds)
	pc.User, pc.Password, pc.Token, pc.CredsFile = auth.User, auth.Password, auth.Token, auth.CredsFile

	// A second signal exits at once with status 1: what was not written
	// and acknowledged yet stays in the stream, for the next collect.
	ctx, release := stopOnSignals(func(s os.Signal) {
		slog.Error("signalled again: exiting now; messages not acknowledged yet are delivered again to the next collect, and the file being written stays behind under its .tmp name", "signal", signalName(s))
		exitNow(1)
	})
	defer release()
	if cf.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cf.duration)
		defer cancel()
	}
	// One consumer failing (a full disk, a missing stream) stops the
	// other: a service manager then restarts the whole collector.
	runCtx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	// Each consumer logs "consuming" once it is set up: a line printed
	// here would claim a start that may yet fail.
	start := time.Now()
	var (
		wg               sync.WaitGroup
		flowSt, alertSt  stream.ConsumeStats
		flowErr, alertEr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if flowSt, flowErr = stream.ConsumeToParquet(runCtx, pc); flowErr != nil {
			fail(flowErr)
		}
	}()
	if !cf.noAlerts {
		ac := stream.AlertsConfig(pc)
		ac.Durable, ac.Subject = cf.durable+"-alerts", cf.alerts
		wg.Add(1)
		go func() {
			defer wg.Done()
			if alertSt, alertEr = stream.ConsumeAlerts(runCtx, ac); alertEr != nil {
				fail(alertEr)
			}
		}()
	}
	wg.Wait()
	// A consumer stopped while it was still connecting (by a signal, or
	// by the other one's failure) returns the context's error: that is a
	// stop, not a failure of its own.
	for _, e := range []*error{&flowErr, &alertEr} {
		if *e != nil && runCtx.Err() != nil && (errors.Is(*e, context.Canceled) || errors.Is(*e, context.DeadlineExceeded)) {
			*e = nil
		}
	}
	if flowErr != nil && alertEr != nil && flowErr.Error() == alertEr.Error() {
		alertEr = nil // both failed to connect, or found no stream: say it once
	}
	err := errors.Join(flowErr, alertEr)
	// A collector that could not start received nothing: its error says
	// all, a summary of zeros would only bury it.
	started := err == nil || flowSt.Messages+alertSt.Messages > 0
	if !cf.quiet && started {
		fmt.Fprintf(stderr, "flows      %d rows in %s from %s; %d bad records skipped\n", flowSt.Rows, plural(flowSt.Files, "file"), plural(flowSt.Messages, "message"), flowSt.Bad)
		if !cf.noAlerts {
			fmt.Fprintf(stderr, "alerts     %s in %s from %s; %d bad lines skipped\n", plural(alertSt.Rows, "alert"), plural(alertSt.Files, "file"), plural(alertSt.Messages, "message"), alertSt.Bad)
		}
		fmt.Fprintf(stderr, "nats       %s redelivered; %d fetch or ack errors\n", plural(flowSt.Redelivered+alertSt.Redelivered, "message"), flowSt.Errors+alertSt.Errors)
		fmt.Fprintf(stderr, "elapsed    %.2fs\n", time.Since(start).Seconds())
		fmt.Fprintf(stderr, "stopped by %s\n", stopReason(context.Cause(ctx), err, cf.duration))
	}
	return err
}

// check refuses, as usage errors naming the flag, the values the consumer
// would replace by a default or the server would refuse only after
// connecting.
func (cf *collectFlags) check() error {
	switch {
	case cf.roll <= 0:
		return fmt.Errorf("%w: --roll-interval %v: want more than 0", errUsage, cf.roll)
	case cf.rollRows < 1:
		return fmt.Errorf("%w: --roll-rows %d: want 1 or more", errUsage, cf.rollRows)
	case cf.ackWait < 0 || (cf.ackWait > 0 && cf.ackWait <= cf.roll):
		return fmt.Errorf("%w: --ack-wait %v: want 0 (the default) or more than --roll-interval %v, or messages come back while their file is open", errUsage, cf.ackWait, cf.roll)
	case cf.fetch < 1:
		return fmt.Errorf("%w: --fetch %d: want 1 or more", errUsage, cf.fetch)
	case cf.duration < 0:
		return fmt.Errorf("%w: --duration %v: want 0 (until a signal) or more", errUsage, cf.duration)
	case !stream.ValidSensor(cf.streamName):
		return fmt.Errorf("%w: --nats-stream %q: a stream name may not hold dots, spaces, * or >", errUsage, cf.streamName)
	case !stream.ValidSensor(cf.durable):
		return fmt.Errorf("%w: --durable %q: a consumer name may not hold dots, spaces, * or >", errUsage, cf.durable)
	case !validSubject(cf.subject):
		return fmt.Errorf("%w: --subject %q: want a NATS subject such as flowhawk.*.flows", errUsage, cf.subject)
	}
	if !cf.noAlerts {
		if !validSubject(cf.alerts) {
			return fmt.Errorf("%w: --alerts-subject %q: want a NATS subject such as flowhawk.*.alerts (or --no-alerts)", errUsage, cf.alerts)
		}
		if cf.alerts == cf.subject {
			return fmt.Errorf("%w: --subject and --alerts-subject are both %q: alerts would be read as flows", errUsage, cf.subject)
		}
	}
	return nil
}

// validSubject reports whether s is a NATS subject filter: dot-separated
// non-empty tokens without spaces, * standing alone as a token and >
// only as the last one.
func validSubject(s string) bool {
	toks := strings.Split(s, ".")
	for i, t := range toks {
		switch {
		case t == "" || strings.ContainsAny(t, " \t\r\n"):
			return false
		case t == ">" && i != len(toks)-1:
			return false
		case t != "*" && t != ">" && strings.ContainsAny(t, "*>"):
			return false
		}
	}
	return true
}

// plural writes n with noun, in the plural unless n is 1.
func plural(n uint64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
