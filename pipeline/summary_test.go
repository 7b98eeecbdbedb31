package pipeline

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowhawk/flowhawk/features"
	"github.com/flowhawk/flowhawk/internal/testshared"
)

// TestSummaryTimeJumps checks that the summary says how many records jump
// more than a day in time, and where the first is: a corrupt ts_sec split
// every open flow with no word in the summary.
func TestSummaryTimeJumps(t *testing.T) {
	data, err := os.ReadFile(testshared.Path(t, "pcaps/zeek__wikipedia.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	off := 24 // record 60's ts_sec to 0xFFFFFFFF (2106)
	for i := 1; i < 60; i++ {
		off += 16 + int(binary.LittleEndian.Uint32(data[off+8:]))
	}
	binary.LittleEndian.PutUint32(data[off:], 0xFFFFFFFF)
	path := filepath.Join(t.TempDir(), "jump.pcap")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Features: features.DefaultConfig(), Workers: 1, Out: &memWriter{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ReplayFiles(context.Background(), []string{path}, nil); err != nil {
		t.Fatal(err)
	}
	sum, err := p.Close()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	sum.Print(&b)
	want := fmt.Sprintf("records    2 with a time over a day from the previous record's (kept; flows across them split), first: %s frame 60 (offset %d)", path, off)
	if !strings.Contains(b.String(), want) {
		t.Errorf("summary lacks %q:\n%s", want, b.String())
	}
}
