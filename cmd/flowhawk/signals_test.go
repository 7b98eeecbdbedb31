package main

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// TestWatchSignals: the first signal stops, each later one forces, and
// nothing is called once done closes.
func TestWatchSignals(t *testing.T) {
	sigs := make(chan os.Signal)
	done := make(chan struct{})
	calls := make(chan string, 4)
	ended := make(chan struct{})
	go func() {
		watchSignals(sigs, done, func(s os.Signal) { calls <- "stop " + signalName(s) }, func(s os.Signal) { calls <- "force " + signalName(s) })
		close(ended)
	}()
	for i, want := range []struct {
		sig  os.Signal
		call string
	}{{syscall.SIGTERM, "stop SIGTERM"}, {syscall.SIGINT, "force SIGINT"}, {syscall.SIGHUP, "force SIGHUP"}} {
		sigs <- want.sig
		select {
		case got := <-calls:
			if got != want.call {
				t.Errorf("signal %d: %q, want %q", i+1, got, want.call)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("signal %d: no call", i+1)
		}
	}
	close(done)
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("watchSignals still runs after done closed")
	}
	if len(calls) != 0 {
		t.Errorf("extra call: %s", <-calls)
	}
}
