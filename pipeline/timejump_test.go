package pipeline

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowhawk/flowhawk/features"
	"github.com/flowhawk/flowhawk/internal/testshared"
)

// TestWindowsAfterTimeJumpBack: record 60 of zeek__wikipedia.pcap set to
// 2106 ends the open flows and the table's clock goes back with the
// packets (docs/reader.md). The flows that start after it, well clear of
// it, are the same records as in the clean file, so their 2 s window
// counts must be too: the windows stayed in 2106, and every later flow
// was behind their horizon (count and srv_count 1).
func TestWindowsAfterTimeJumpBack(t *testing.T) {
	orig, err := os.ReadFile(filepath.Join(testshared.Path(t, "pcaps"), "zeek__wikipedia.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), orig...)
	off := 24
	for i := 1; i < 60; i++ {
		off += 16 + int(binary.LittleEndian.Uint32(bad[off+8:]))
	}
	binary.LittleEndian.PutUint32(bad[off:], 0xFFFFFFFF)
	dir := t.TempDir()
	rows := func(data []byte) (map[string]string, Summary) {
		path := filepath.Join(dir, "w.pcap")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		w := &memWriter{}
		p, err := New(Config{Features: features.DefaultConfig(), Workers: 1, Out: w})
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
		x := p.Extractor()
		id, ts, cnt, srv := x.Index("Flow ID"), x.Index("Timestamp"), x.Index("count"), x.Index("srv_count")
		m := map[string]string{}
		for _, l := range w.lines {
			c := strings.Split(l, ",")
			if c[ts] >= "2011-03-18 19:06:11" && c[ts] < "2012" {
				m[c[id]+" "+c[ts]] = "count " + c[cnt] + " srv_count " + c[srv]
			}
		}
		return m, sum
	}
	clean, _ := rows(orig)
	jumped, sum := rows(bad)
	if len(clean) == 0 {
		t.Fatal("no flows after 19:06:11")
	}
	for k, v := range clean {
		if jumped[k] != v {
			t.Errorf("%s: %s, want %s as in the clean capture", k, jumped[k], v)
		}
	}
	if sum.Windows.Truncated != 0 {
		t.Errorf("%d flows truncated after the jump back", sum.Windows.Truncated)
	}
}
