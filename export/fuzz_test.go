package export

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"testing"

	"github.com/flowhawk/flowhawk/features"
)

// drain reads every record; readers must return errors, never panic.
func drain(r Reader) {
	var rec Record
	for i := 0; i < 10000; i++ {
		if err := r.Next(&rec); err != nil {
			return
		}
		if len(rec.Str) != len(r.Columns()) || len(rec.Num) != len(rec.Str) {
			panic("record width differs from the header")
		}
	}
}

func FuzzCSVReader(f *testing.F) {
	f.Add([]byte("a, b,b\n1,x,Infinity\r\n2,\"q,\"\"\",NaN\n"))
	f.Add([]byte(" Label\nBENIGN\n"))
	f.Add([]byte("a,b\n1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewCSVReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		drain(r)
	})
}

func FuzzJSONLReader(f *testing.F) {
	f.Add([]byte("{\"a\":1,\"b\":\"x\"}\n{\"b\":\"y\",\"a\":2.5}\n"))
	f.Add([]byte("{\"a\":[1]}\n"))
	f.Add([]byte("\n\n{\"a\":null,\"b\":true}\n{\"a\":1}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewJSONLReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		drain(r)
		// Every row the reader accepts is its line as encoding/json reads
		// it: a valid object with exactly the columns as keys, each value
		// as text. (The k-th row comes from the k-th non-blank line.)
		r, _ = NewJSONLReader(bytes.NewReader(data))
		var lines [][]byte
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			if len(bytes.TrimSpace(sc.Bytes())) > 0 {
				lines = append(lines, bytes.Clone(sc.Bytes()))
			}
		}
		var rec Record
		for k := 0; k < len(lines) && r.Next(&rec) == nil; k++ {
			want, err := jsonRow(lines[k], r.Columns())
			if err != nil {
				t.Fatalf("row %d accepted, but line %q %v", k, lines[k], err)
			}
			for i, w := range want {
				if rec.Str[i] != w {
					t.Fatalf("row %d column %q: %q, encoding/json reads %q in %q", k, r.Columns()[i], rec.Str[i], w, lines[k])
				}
			}
		}
	})
}

// jsonRow is line's values as text in the order of cols, as encoding/json
// reads the line: an error unless it is one flat object with exactly the
// keys cols.
func jsonRow(line []byte, cols []string) ([]string, error) {
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	var obj map[string]any
	if err := d.Decode(&obj); err != nil || obj == nil {
		return nil, fmt.Errorf("is not a JSON object (%v)", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, fmt.Errorf("has data after the object")
	}
	if len(obj) != len(cols) {
		return nil, fmt.Errorf("has %d distinct keys, want %d", len(obj), len(cols))
	}
	out := make([]string, len(cols))
	for i, c := range cols {
		v, ok := obj[c]
		if !ok {
			return nil, fmt.Errorf("lacks key %q", c)
		}
		switch v := v.(type) {
		case string:
			out[i] = v
		case json.Number:
			out[i] = string(v)
		case bool:
			out[i] = strconv.FormatBool(v)
		case nil:
		default:
			return nil, fmt.Errorf("has a nested value under %q", c)
		}
	}
	return out, nil
}

// There is no FuzzParquetReader: parquet-go v0.32 allocates gigabytes on
// some corrupt footers (a fuzz worker reached 6 GB within seconds), which
// we cannot bound from outside the library. The Parquet reader is for
// files this package wrote; it turns library panics into errors.

// FuzzAppendValue checks AppendValue's fast paths byte for byte against
// strconv, on raw bit patterns and on rates (a count over a duration),
// the values that take the 16- and 17-digit path.
func FuzzAppendValue(f *testing.F) {
	f.Add(uint64(0x3ff5555555555555), uint32(7), uint64(3_000_000_007))
	f.Add(uint64(0x4069000000000001), uint32(1), uint64(1))
	f.Fuzz(func(t *testing.T, bits uint64, n uint32, ns uint64) {
		vals := []float64{math.Float64frombits(bits), float64(n) / (float64(ns) / 1e9), float64(n) / float64(ns|1)}
		for _, v := range vals {
			for _, k := range []features.Kind{features.Float, features.Int} {
				if got, want := AppendValue(nil, v, k), appendValueRef(nil, v, k); !bytes.Equal(got, want) {
					t.Fatalf("AppendValue(%v (%#x), %v) = %q, want %q", v, math.Float64bits(v), k, got, want)
				}
			}
		}
	})
}
