package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A report with nothing to chart fails without touching an existing
// output file.
func TestReportNothingToChartKeepsOutput(t *testing.T) {
	dir := t.TempDir()
	flows := filepath.Join(dir, "empty.jsonl")
	out := filepath.Join(dir, "out.html")
	os.WriteFile(flows, nil, 0o644)
	os.WriteFile(out, []byte("previous report"), 0o644)
	code, _, stderr := runCLI(t, "report", flows, "-o", out)
	if code == 0 || !strings.Contains(stderr, "nothing to chart") {
		t.Fatalf("exit %d, stderr %q; want a nothing-to-chart failure", code, stderr)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "previous report" {
		t.Errorf("output now %q (%v), want it untouched", b, err)
	}
}
