package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopSignal is the cause of a capture stopped by a signal.
type stopSignal struct{ sig os.Signal }

func (s stopSignal) Error() string { return signalName(s.sig) + " received" }

// errOutputFailed is the cause of a capture stopped by its flow output.
var errOutputFailed = errors.New("the flow output failed")

// signalName gives the signals capture stops on their usual names, which
// os.Signal's String ("interrupt", "terminated") does not.
func signalName(s os.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return s.String()
}

// stopReason says how a capture ended, for its summary: a signal, the end
// of --duration, a failed output, or the error Run returned (an operator
// reading the summary of a service otherwise cannot tell a stop from a
// failure).
func stopReason(cause, runErr error, duration time.Duration) string {
	var sig stopSignal
	switch {
	case runErr != nil:
		return "an error: " + strings.ReplaceAll(runErr.Error(), "\n", "; ")
	case errors.As(cause, &sig):
		return signalName(sig.sig)
	case errors.Is(cause, context.DeadlineExceeded):
		return fmt.Sprintf("--duration %v", duration)
	case errors.Is(cause, errOutputFailed):
		return "an error: " + errOutputFailed.Error()
	}
	return "an unknown cause" // Run returns only once ctx is done or with an error
}

// stopOnSignals catches SIGINT, SIGTERM and SIGHUP (a closed terminal):
// the first cancels the returned context with a stopSignal cause, so the
// command ends through its flush; each later one, from a user who will
// not wait for that flush (an output that takes nothing, a hung file
// system), calls force, which should release what outlives the process
// and exit.
// Call release when the command returns.
func stopOnSignals(force func(os.Signal)) (ctx context.Context, release func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	ctx, stop := context.WithCancelCause(context.Background())
	done := make(chan struct{})
	go watchSignals(sigs, done, func(s os.Signal) { stop(stopSignal{s}) }, force)
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(done)
			stop(nil)
		})
	}
}

// watchSignals calls stop with the first signal on sigs and force with
// each later one, until done closes.
func watchSignals(sigs <-chan os.Signal, done <-chan struct{}, stop, force func(os.Signal)) {
	stopped := false
	for {
		select {
		case s := <-sigs:
			if !stopped {
				stopped = true
				stop(s)
				continue
			}
			force(s)
		case <-done:
			return
		}
	}
}
