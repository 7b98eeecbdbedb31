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

// TestSummaryProtoOrder checks that protocols with as many flows print in
// one order, by number: map order gave tcp/udp in either order run to run.
func TestSummaryProtoOrder(t *testing.T) {
	s := Summary{Protos: map[uint8]*ProtoSummary{}}
	for _, p := range []uint8{17, 6, 1, 58, 132, 47} {
		s.Protos[p] = &ProtoSummary{Flows: 2}
	}
	s.Protos[47].Flows = 3
	want := []string{"gre", "icmp", "tcp", "udp", "icmpv6", "sctp"}
	for range 20 {
		var b strings.Builder
		s.Print(&b)
		var got []string
		for _, l := range strings.Split(b.String(), "\n") {
			if f := strings.Fields(l); len(f) == 4 && f[1] != "flows" {
				got = append(got, f[0])
			}
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("protocols in order %q, want %q", got, want)
		}
	}
}

// TestSummaryLabelLineBreak: a label holding a line break (a --label-dir
// directory's name) split the summary's labels line; it is quoted there.
func TestSummaryLabelLineBreak(t *testing.T) {
	s := Summary{Labels: map[string]uint64{"new\nline": 2, "Web": 1}}
	var b strings.Builder
	s.Print(&b)
	n := 0
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(l, "labels ") {
			n++
			if !strings.Contains(l, `"new\nline" 2`) || !strings.Contains(l, "Web 1") {
				t.Errorf("labels line %q, want both labels' counts, the odd one quoted", l)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d labels lines in\n%s", n, b.String())
	}
}
