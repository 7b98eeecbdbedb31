package export

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/flowhawk/flowhawk/features"
)

// fullDisk takes room bytes, then fails as a full disk does.
type fullDisk struct {
	bytes.Buffer
	room int
}

func (d *fullDisk) Write(p []byte) (int, error) {
	k := min(len(p), d.room)
	d.room -= k
	d.Buffer.Write(p[:k])
	if k < len(p) {
		return k, errors.New("no space left on device")
	}
	return k, nil
}

// TestRowsWrittenFullDisk checks that a writer counts the rows its
// destination took, not those it was given: on a disk that fills, the rows
// in the writer's buffer are lost with the failing write. Labels hold
// line breaks and quotes, which a CSV line count must not take for rows.
func TestRowsWrittenFullDisk(t *testing.T) {
	cols, rs := defaultRows(t)
	for _, format := range []Format{CSV, JSONL, Parquet} {
		for _, room := range []int{0, 100, 300 << 10, 700 << 10, 1 << 30} {
			d := &fullDisk{room: room}
			w, err := NewWriter(d, format, cols, []string{"Label"})
			if err != nil {
				if room < 1<<20 {
					continue // the header did not fit: nothing to count
				}
				t.Fatal(err)
			}
			const n = 2000
			given := 0
			for i := range n {
				lab := fmt.Sprintf("class %d", i)
				if i%7 == 0 {
					lab = fmt.Sprintf("two\nlines, \"quoted\" %d", i)
				}
				if w.Write(rs[i%len(rs)], []string{lab}) != nil {
					break
				}
				given++
			}
			cerr := w.Close()
			got := w.(RowsWritten).RowsWritten()
			var want int
			switch {
			case format == Parquet && cerr == nil && given == n:
				want = n // compressed, it may fit where CSV does not
			case format == Parquet:
				want = 0 // no footer, no rows
			default:
				want = completeRows(t, format, d.Bytes(), cols)
			}
			failed := cerr != nil || given < n
			if int(got) != want || (format != Parquet && failed != (room < 1<<30)) {
				t.Errorf("%v, room %d: RowsWritten %d, want %d (%d given, close error %v)", format, room, got, want, given, cerr)
			}
		}
	}
}

// completeRows counts the whole rows in b, the bytes a disk took: the
// records before the last line end outside quotes.
func completeRows(t *testing.T, format Format, b []byte, cols []features.Column) int {
	t.Helper()
	rows, inQuote := 0, false
	for _, c := range b {
		switch {
		case c == '"' && format == CSV:
			inQuote = !inQuote
		case c == '\n' && !inQuote:
			rows++
		}
	}
	if format == CSV && rows > 0 {
		rows-- // the header
	}
	return rows
}
