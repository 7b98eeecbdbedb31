package export

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestFormatOfDevices checks that a device or named pipe without a known
// extension is written as CSV (flowhawk replay -o /dev/null used to be
// refused as an unknown extension), while a regular file still needs one.
func TestFormatOfDevices(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "rows")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "flows")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		want Format
		ok   bool
	}{
		{os.DevNull, CSV, true},
		{fifo, CSV, true},
		{"-", CSV, true},
		{filepath.Join(dir, "x.JSONL"), JSONL, true},
		{plain, 0, false},
		{filepath.Join(dir, "x.txt"), 0, false},
		{filepath.Join(dir, "absent"), 0, false},
	} {
		f, err := FormatOf(c.path)
		if (err == nil) != c.ok || (c.ok && f != c.want) {
			t.Errorf("FormatOf(%s) = %v, %v; want %v, ok %v", c.path, f, err, c.want, c.ok)
		}
	}
}
