//go:build linux

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoScript runs scripts/demo.sh, what `make demo` runs, so a flag
// or output it relies on cannot change without CI noticing: `make test`
// does not run the demo itself.
func TestDemoScript(t *testing.T) {
	bin := flowhawkBin(t)
	out := t.TempDir()
	cmd := exec.Command("bash", "../scripts/demo.sh")
	cmd.Env = append(os.Environ(), "FLOWHAWK="+bin, "DEMO_OUT="+out)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo.sh: %v\n%s", err, b)
	}
	text := string(b)
	for _, want := range []string{"== flowhawk replay testdata/demo.pcap", "== first flows", "Predicted Label", "== alerts", "== report:"} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q:\n%s", want, text)
		}
	}
	for _, f := range []string{"flows.csv", "flows.parquet", "flows.jsonl", "alerts.jsonl", "report.html"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("demo wrote no %s: %v", f, err)
		}
	}
}
