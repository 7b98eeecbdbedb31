package export

import (
	"bytes"
	"testing"
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
