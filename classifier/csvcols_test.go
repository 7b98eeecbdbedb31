package classifier

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowhawk/flowhawk/features"
)

// TestReadCSVWorkers reads one CSV with 1 to 7 column workers, whole and
// in chunks: every frame must be the one a single goroutine builds, bit
// for bit, with columns of numbers, of text from the first row, of
// numbers that turn to text late (the cells before re-read as text) and
// of missing cells; a stray word in a column of numbers gets the same
// error.
func TestReadCSVWorkers(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	b.WriteString("Flow Duration,proto,late,gappy,Fwd Packets,word,Label\n")
	const rows = 5000 // several batches and chunks, and a part batch
	for i := range rows {
		late := fmt.Sprint(rng.IntN(5))
		if i > 3100 && i%7 == 0 {
			late = "x" + late
		}
		gappy := ""
		if i%3 != 0 {
			gappy = fmt.Sprint(rng.Float64() * 1e6)
		}
		word := fmt.Sprint(i)
		if i == 4321 {
			word = "WORD" // a number here, "oops" in the second file
		}
		fmt.Fprintf(&b, "%d,%s,%s,%s,%d,%s,%s\n", rng.IntN(1e9), []string{"tcp", "udp", "icmp"}[i%3], late, gappy,
			rng.IntN(100), word, []string{"benign", "scan"}[rng.IntN(2)])
	}
	path, stray := filepath.Join(t.TempDir(), "w.csv"), filepath.Join(t.TempDir(), "stray.csv")
	if err := os.WriteFile(path, []byte(strings.Replace(b.String(), "WORD", "4321", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stray, []byte(strings.Replace(b.String(), "WORD", "oops", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	one, err := ReadFiles([]string{path}, ReadOptions{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if one.Rows != rows || one.Column("late") < 0 || one.Cat[one.Column("late")] == nil || one.Cat[one.Column("proto")] == nil {
		t.Fatalf("fixture did not give the columns it tests: %d rows, %v", one.Rows, one.Names)
	}
	chunks := func(workers int) []*Frame {
		var out []*Frame
		sink := &rowSink{n: 1500, numeric: map[string]bool{}, emit: func(f *Frame) error { out = append(out, f); return nil }}
		if _, err := readFileTo(path, ReadOptions{Workers: workers}, io.Discard, sink); err != nil {
			t.Fatal(err)
		}
		return out
	}
	oneChunks := chunks(1)
	if len(oneChunks) != 4 {
		t.Fatalf("%d chunks, want 4", len(oneChunks))
	}
	for _, w := range []int{2, 3, 7, 0} {
		t.Run(fmt.Sprint("workers=", w), func(t *testing.T) {
			f, err := ReadFiles([]string{path}, ReadOptions{Workers: w})
			if err != nil {
				t.Fatal(err)
			}
			sameFrame(t, one, f)
			got := chunks(w)
			if len(got) != len(oneChunks) {
				t.Fatalf("%d chunks, want %d", len(got), len(oneChunks))
			}
			for i := range got {
				sameFrame(t, oneChunks[i], got[i])
			}
		})
	}
	// A column of numbers with a stray word is refused with the same
	// message on any number of workers.
	var msgs []string
	for _, w := range []int{1, 3} {
		sink := &rowSink{n: 1500, numeric: map[string]bool{"word": true}, emit: func(*Frame) error { return nil }}
		_, err := readFileTo(stray, ReadOptions{Workers: w}, io.Discard, sink)
		if err == nil {
			t.Fatalf("workers %d: the stray word was not refused", w)
		}
		msgs = append(msgs, err.Error())
	}
	if msgs[0] != msgs[1] || !strings.Contains(msgs[0], `"oops"`) {
		t.Errorf("errors differ or do not name the cell: %q", msgs)
	}
}

// sameFrame fails the test unless a and b hold the same columns, labels
// and cells, numbers bit for bit.
func sameFrame(t *testing.T, a, b *Frame) {
	t.Helper()
	if fmt.Sprint(a.Names, a.Rows, a.Labels) != fmt.Sprint(b.Names, b.Rows, b.Labels) {
		t.Fatalf("names, rows or labels differ")
	}
	for c := range a.Names {
		if fmt.Sprint(a.Cat[c]) != fmt.Sprint(b.Cat[c]) || len(a.Num[c]) != len(b.Num[c]) {
			t.Fatalf("column %s differs", a.Names[c])
		}
		for i, v := range a.Num[c] {
			if math.Float64bits(v) != math.Float64bits(b.Num[c][i]) {
				t.Fatalf("column %s row %d: %v, want %v", a.Names[c], i, b.Num[c][i], v)
			}
		}
	}
}

// TestReadParquetWorkers reads a flowhawk Parquet file of several batches
// and chunks with 1 and 3 column workers: the same frames.
func TestReadParquetWorkers(t *testing.T) {
	x, err := features.New(features.Config{SPLT: 2})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "flows.parquet")
	rng := rand.New(rand.NewPCG(3, 4))
	writeRows(t, x, path, 3000, func(i int, row *features.Row) string {
		for c := range row.Num {
			row.Num[c] = math.Round(rng.NormFloat64()*1e6) / 1e3
		}
		return []string{"BENIGN", "attack"}[i%2]
	})
	read := func(workers int) (*Frame, []*Frame) {
		whole, err := ReadFiles([]string{path}, ReadOptions{Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		var chunks []*Frame
		sink := &rowSink{n: 1100, numeric: map[string]bool{}, emit: func(f *Frame) error { chunks = append(chunks, f); return nil }}
		if _, err := readFileTo(path, ReadOptions{Workers: workers}, io.Discard, sink); err != nil {
			t.Fatal(err)
		}
		return whole, chunks
	}
	one, oneChunks := read(1)
	three, threeChunks := read(3)
	if one.Rows != 3000 || len(oneChunks) != 3 || len(threeChunks) != 3 {
		t.Fatalf("%d rows, %d and %d chunks", one.Rows, len(oneChunks), len(threeChunks))
	}
	sameFrame(t, one, three)
	for i := range oneChunks {
		sameFrame(t, oneChunks[i], threeChunks[i])
	}
}

// TestReadCSVCells reads a file of several batches on one and two
// workers and checks every cell against what was written.
func TestReadCSVCells(t *testing.T) {
	const rows = 16*csvBatchRows + 77
	var b strings.Builder
	b.WriteString("a,b,Label\n")
	for i := range rows {
		fmt.Fprintf(&b, "%d,%d.25,%s\n", i, rows-i, []string{"x", "y"}[i%2])
	}
	path := filepath.Join(t.TempDir(), "cells.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, w := range []int{1, 2} {
		f, err := ReadFiles([]string{path}, ReadOptions{Workers: w})
		if err != nil {
			t.Fatal(err)
		}
		a, c := f.Num[f.Column("a")], f.Num[f.Column("b")]
		if f.Rows != rows || len(a) != rows || len(c) != rows {
			t.Fatalf("%d rows, columns of %d and %d", f.Rows, len(a), len(c))
		}
		for i := range rows {
			if a[i] != float64(i) || c[i] != float64(rows-i)+0.25 {
				t.Fatalf("workers=%d row %d: %v, %v", w, i, a[i], c[i])
			}
		}
	}
}
