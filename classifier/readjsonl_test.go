package classifier

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadJSONLFlat reads records that take the flat path and records
// that do not (escapes, other key orders, nested values, a missing or an
// extra field, true and null), whole and in chunks, on 1 and 3 workers:
// the frames and errors are encoding/json's.
func TestReadJSONLFlat(t *testing.T) {
	var b strings.Builder
	for i := range 3000 {
		switch i % 7 {
		case 3:
			fmt.Fprintf(&b, `{"Label":"scan","b":"w\u00e9%d","a":%d,"c":{"n":%d},"d":null}`+"\n", i%5, i, i)
		case 5:
			fmt.Fprintf(&b, "{\"a\": %d.25 , \"b\":\"t%d\", \"c\": true, \"d\": -%de-2, \"Label\":\"BENIGN\"}\n", i, i%3, i)
		default:
			fmt.Fprintf(&b, `{"a":%d,"b":"t%d","c":%d,"d":%d.5,"Label":"%s"}`+"\n", i, i%4, i*7, i, []string{"BENIGN", "scan"}[i%2])
		}
	}
	good := b.String()
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	type result struct {
		whole  *Frame
		chunks []*Frame
		errs   []string
	}
	bad := []string{
		write("missing.jsonl", good+`{"a":1,"b":"x","c":2,"Label":"BENIGN"}`+"\n"),
		write("extra.jsonl", good+`{"a":1,"b":"x","c":2,"d":3,"e":4,"Label":"BENIGN"}`+"\n"),
		write("nolabel.jsonl", good+`{"a":1,"b":"x","c":2,"d":3}`+"\n"),
		write("broken.jsonl", good+`{"a":1,"b":"x","c":2,"d":3,"Label":"BENIGN"`+"\n"),
	}
	path := write("good.jsonl", good)
	read := func(workers int) result {
		var r result
		var err error
		if r.whole, err = ReadFiles([]string{path}, ReadOptions{Workers: workers}); err != nil {
			t.Fatal(err)
		}
		sink := &rowSink{n: 1100, numeric: map[string]bool{}, emit: func(f *Frame) error { r.chunks = append(r.chunks, f); return nil }}
		if _, err := readFileTo(path, ReadOptions{Workers: workers}, io.Discard, sink); err != nil {
			t.Fatal(err)
		}
		for _, p := range bad {
			_, err := ReadFiles([]string{p}, ReadOptions{Workers: workers})
			r.errs = append(r.errs, fmt.Sprint(err))
		}
		return r
	}
	flatJSON = false
	want := read(1)
	flatJSON = true
	t.Cleanup(func() { flatJSON = true })
	if want.whole.Rows != 3000 || len(want.chunks) != 3 || want.whole.Cat[want.whole.Column("b")] == nil {
		t.Fatalf("fixture: %d rows, %d chunks, columns %q", want.whole.Rows, len(want.chunks), want.whole.Names)
	}
	for _, w := range []int{1, 3} {
		got := read(w)
		sameFrame(t, want.whole, got.whole)
		for i := range want.chunks {
			sameFrame(t, want.chunks[i], got.chunks[i])
		}
		for i := range bad {
			if got.errs[i] != want.errs[i] || want.errs[i] == "<nil>" {
				t.Errorf("workers %d, %s: error %q, encoding/json's %q", w, filepath.Base(bad[i]), got.errs[i], want.errs[i])
			}
		}
	}
}
