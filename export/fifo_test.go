package export

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/features"
)

// TestFIFOReaderGone checks that writing flows to a named pipe whose
// reader has gone away fails with EPIPE, for Create and CreateAppend
// alike. The files were opened read-write, so the writer held a read end
// of its own pipe: the writes never failed, and once the pipe's buffer
// was full the process blocked for good (and a signal only cancelled a
// context it no longer looked at).
func TestFIFOReaderGone(t *testing.T) {
	cols, rs := defaultRows(t)
	for _, tc := range []struct {
		name   string
		create func(string, []features.Column, []string) (RowWriter, error)
	}{{"create", Create}, {"append", CreateAppend}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "flows.csv")
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			// The reader takes a few bytes and leaves.
			go func() {
				r, err := os.Open(path)
				if err != nil {
					return
				}
				io.ReadFull(r, make([]byte, 100))
				r.Close()
			}()
			done := make(chan error, 1)
			go func() {
				w, err := tc.create(path, cols, nil)
				if err != nil {
					done <- err
					return
				}
				// Far more than a pipe holds (64 KiB): the writes must
				// reach the gone reader.
				for i := 0; i < 2000; i++ {
					for _, r := range rs {
						if err := w.Write(r, nil); err != nil {
							w.Close()
							done <- err
							return
						}
					}
				}
				done <- w.Close()
			}()
			select {
			case err := <-done:
				if !errors.Is(err, syscall.EPIPE) {
					t.Fatalf("writing to a pipe whose reader left: %v, want EPIPE", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("writing to a pipe whose reader left blocked for 30 s")
			}
		})
	}
}
