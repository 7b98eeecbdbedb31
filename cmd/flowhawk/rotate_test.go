//go:build linux

package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/flowhawk/flowhawk/pipeline"
)

// TestRotateUsageErrors checks that capture refuses, as usage errors
// naming the flag and before it attaches, a --rotate period a file name
// cannot carry and outputs that cannot be rotated.
func TestRotateUsageErrors(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "flows.jsonl")
	fifo := filepath.Join(dir, "fifo.jsonl")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--rotate", "500ms", "-o", f}, "--rotate 500ms: want whole seconds, 1s or more"},
		{[]string{"--rotate", "1500ms", "-o", f}, "--rotate 1.5s: want whole seconds"},
		{[]string{"--rotate", "-1h", "-o", f}, "--rotate -1h0m0s"},
		{[]string{"--rotate-keep", "3", "-o", f}, "--rotate-keep 3 needs --rotate"},
		{[]string{"--rotate", "1h", "--rotate-keep", "-1", "-o", f}, "--rotate-keep -1"},
		{[]string{"--rotate", "1h", "-o", "-"}, "--rotate with -o -: standard output cannot be rotated"},
		{[]string{"--rotate", "1h", "-o", "/dev/null"}, "--rotate with -o /dev/null: it is not a regular file"},
		{[]string{"--rotate", "1h", "-o", fifo}, "--rotate with -o " + fifo + ": it is not a regular file"},
		{[]string{"--rotate", "1h", "-o", dir}, "-o " + dir + ": unknown extension"},
		{[]string{"--rotate", "1h", "-o", "none"}, "--rotate with -o none and no --alerts file: nothing to rotate"},
		{[]string{"--rotate", "1h", "-o", f, "--detect", "all", "--alerts", "-"}, "--rotate with --alerts -: standard output"},
		{[]string{"--rotate", "1h", "-o", f, "--detect", "all", "--alerts", "/dev/null"}, "--rotate with --alerts /dev/null"},
		{[]string{"--rotate", "1h", "--append", "-o", filepath.Join(dir, "x.parquet")}, "--append with -o " + dir + "/x.parquet"},
	} {
		args := append([]string{"capture", "-i", "fhnosuch0"}, c.args...)
		code, _, errOut := runCLI(t, args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("capture %s: exit %d, stderr %q; want exit 2 naming %q", strings.Join(c.args, " "), code, errOut, c.want)
		}
	}
	// Rotating only the alerts (-o none) is no usage error: this one fails
	// on the interface, and leaves no file.
	code, _, errOut := runCLI(t, "capture", "-i", "fhnosuch0", "-o", "none", "--detect", "all", "--alerts", filepath.Join(dir, "alerts.jsonl"), "--rotate", "1h", "--rotate-keep", "24")
	if code == 2 || !strings.Contains(errOut, "fhnosuch0") {
		t.Errorf("alerts-only rotation: exit %d, stderr %q; want the interface's error", code, errOut)
	}
	if names, _ := filepath.Glob(filepath.Join(dir, "*alerts*")); len(names) != 0 {
		t.Errorf("a capture that failed to attach left %v", names)
	}
}

// TestRotateFailedStartLeavesNoFile: a run whose alert file cannot be
// opened, after its rotating flow file was, fails without leaving that
// file behind, so a service restarted in a loop does not pile up one
// empty file per try; a rotating run that starts writes both outputs'
// files of the period and finishes them at close.
func TestRotateFailedStartLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	open := func(alerts string) (*outputs, error) {
		var ff flowFlags
		fs := newFlagSet("capture", "", io.Discard, io.Discard)
		addFlowFlags(fs, &ff, true)
		addRotateFlags(fs, &ff)
		if err := parseFlags(fs, []string{"-o", filepath.Join(dir, "flows.csv"), "--detect", "all", "--alerts", alerts, "--rotate", "1h"}); err != nil {
			t.Fatal(err)
		}
		if err := ff.checkRotate(); err != nil {
			t.Fatal(err)
		}
		cfg := pipeline.Config{Features: ff.featureConfig()}
		return ff.openOutputs(&cfg, nil, io.Discard, io.Discard)
	}
	if _, err := open(filepath.Join(dir, "missing", "alerts.jsonl")); err == nil {
		t.Fatal("an alert file in a missing directory opened")
	}
	if names, _ := os.ReadDir(dir); len(names) != 0 {
		t.Errorf("a failed start left %v", names)
	}
	o, err := open(filepath.Join(dir, "alerts.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := o.rows.Close(); err != nil {
		t.Fatal(err)
	}
	if err := o.close(); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	o.summary(&b)
	for _, want := range []string{"flow files 1 written (--rotate 1h0m0s): " + dir + "/flows-", "alert files 1 written (--rotate 1h0m0s): " + dir + "/alerts-"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
	if names, _ := filepath.Glob(filepath.Join(dir, "*")); len(names) != 2 {
		t.Errorf("files %v, want the period's flow and alert files", names)
	}
}
