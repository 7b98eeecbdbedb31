package export

import (
	"bytes"
	"math"
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
	})
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
