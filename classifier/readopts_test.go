package classifier

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowhawk/flowhawk/internal/testshared"
)

// nslkddHead writes the first n lines of KDDTest-21.txt to a file of its
// own and returns its path.
func nslkddHead(t *testing.T, n int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testshared.Path(t, "datasets/nsl-kdd"), "KDDTest-21.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	path := filepath.Join(t.TempDir(), "head.txt")
	if err := os.WriteFile(path, []byte(strings.Join(lines[:n], "")), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestNSLKDDDrop: --drop leaves NSL-KDD columns out as it does CSV ones,
// in whole reads (train, cv, importance) and chunked ones (eval, predict),
// where the NSL-KDD reader ignored it and kept every column.
func TestNSLKDDDrop(t *testing.T) {
	path := nslkddHead(t, 300)
	f, err := ReadFiles([]string{path}, ReadOptions{NSLKDDClasses: 2, Drop: []string{"protocol_type", " service"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Names) != 39 || slices.Contains(f.Names, "protocol_type") || slices.Contains(f.Names, "service") {
		t.Fatalf("columns %q: want the 41 less protocol_type and service", f.Names)
	}
	if f.Cat[f.Column("flag")] == nil || f.Num[f.Column("src_bytes")] == nil {
		t.Errorf("flag text %v, src_bytes numbers %v", f.Cat[f.Column("flag")] != nil, f.Num[f.Column("src_bytes")] != nil)
	}
	whole, err := ReadFiles([]string{path}, ReadOptions{NSLKDDClasses: 2})
	if err != nil {
		t.Fatal(err)
	}
	m := trainOrFatal(t, whole, Config{Kind: "dt"})
	if !slices.Contains(m.Features(), "src_bytes") {
		t.Fatalf("model features %q lack src_bytes", m.Features())
	}
	_, _, err = m.EvaluateFiles([]string{path}, ReadOptions{NSLKDDClasses: 2, Drop: []string{"src_bytes"}}, false, 0)
	var mc *MissingColumnsError
	if !errors.As(err, &mc) || !slices.Equal(mc.Columns, []string{"src_bytes"}) {
		t.Errorf("eval --drop src_bytes: error %v, want src_bytes missing", err)
	}
}
