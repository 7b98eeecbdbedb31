package main

import "testing"

func TestByteSizeFlag(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "192MiB": 192 << 20, "192mib": 192 << 20, "1G": 1e9, "1.5GiB": 3 << 29, "200 MB": 200e6, "4096": 4096, "64k": 64e3, "2TiB": 2 << 40,
	} {
		var b byteSize
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, int64(b), err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "12XB", "1e400", "1.2.3M"} {
		var b byteSize
		if err := b.Set(in); err == nil {
			t.Errorf("Set(%q) = %d, want an error", in, int64(b))
		}
	}
	b := byteSize(192 << 20)
	if b.String() != "192MiB" {
		t.Errorf("String() = %q, want 192MiB", b.String())
	}
}
