package classifier

import (
	"path/filepath"
	"testing"

	"github.com/flowhawk/flowhawk/internal/testshared"
)

// TestLabelFlagTakesCICHeaderText: CIC-IDS2017 writes its label column
// " Label" (a leading space), as docs/features.md quotes it, and --drop
// and --only take names with that space; --label " Label" named the very
// column in the header and was refused ("no label column").
func TestLabelFlagTakesCICHeaderText(t *testing.T) {
	path := filepath.Join(testshared.Path(t, "datasets/cicids2017"), "Wednesday-workingHours.pcap_ISCX.sample1k.csv")
	f, err := ReadFiles([]string{path}, ReadOptions{Label: " Label", Workers: 1})
	if err != nil {
		t.Fatalf("--label %q on a CIC-IDS2017 file whose header has it: %v", " Label", err)
	}
	if len(f.Labels) != 1000 {
		t.Fatalf("labels: %d, want 1000", len(f.Labels))
	}
	if f.LabelColumn != "Label" {
		t.Errorf("LabelColumn %q, want the name trimmed as the header's are", f.LabelColumn)
	}
}
