package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
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
