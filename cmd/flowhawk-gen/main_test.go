package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadFlagsWriteNothing checks that a flag out of range is a usage
// error (exit 2) naming it, before -o is created: --flows 0 left an empty
// file behind and exited 1 with pcapgen's "need packets >= 0 and flows > 0".
func TestBadFlagsWriteNothing(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "g.pcap")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--flows", "0"}, "--flows 0: want 1 or more"},
		{[]string{"--packets", "-1"}, "--packets -1: want 0 or more"},
		{[]string{"--concurrency", "-2"}, "--concurrency -2"},
		{[]string{"--flows", "x"}, "--flows"},
		{[]string{"extra.pcap"}, `unexpected argument "extra.pcap"`},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"-o", out}, c.args...), &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 saying %q", c.args, code, stderr.String(), c.want)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Fatalf("%q: %s created (%v)", c.args, out, err)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "-o FILE is required") {
		t.Errorf("no -o: exit %d, stderr %q; want 2", code, stderr.String())
	}
	if code := run([]string{"-o", out, "--packets", "10", "--flows", "2"}, &stdout, &stderr); code != 0 {
		t.Fatalf("good flags: exit %d: %s", code, stderr.String())
	}
	if st, err := os.Stat(out); err != nil || st.Size() <= 24 {
		t.Errorf("good flags: %v, %v; want a pcap of 10 packets", st, err)
	}
}
