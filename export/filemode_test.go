package export

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/flowhawk/flowhawk/features"
)

// TestCreateFileMode checks that flow files are created without read
// access for other users, whatever the umask lets through: they were
// created 0666 less the umask, so world-readable under the usual 022.
func TestCreateFileMode(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	x, err := features.New(features.Config{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, c := range []struct {
		name   string
		append bool
	}{{"a.csv", false}, {"b.jsonl", false}, {"c.parquet", false}, {"d.jsonl", true}} {
		path := filepath.Join(dir, c.name)
		var w RowWriter
		if c.append {
			w, err = CreateAppend(path, x.Columns(), nil)
		} else {
			w, err = Create(path, x.Columns(), nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != FileMode {
			t.Errorf("%s (append %v) created with mode %o, want %o", c.name, c.append, got, FileMode)
		}
	}
}
