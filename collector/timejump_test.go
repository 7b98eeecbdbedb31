package collector

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/internal/testshared"
)

// withRecordTime returns a copy of a little-endian classic pcap whose
// record n (from 1) has ts_sec set to sec, and that record's offset.
func withRecordTime(t *testing.T, pcap []byte, n int, sec uint32) ([]byte, int64) {
	t.Helper()
	out := bytes.Clone(pcap)
	off := recordOffset(out, n)
	binary.LittleEndian.PutUint32(out[off:], sec)
	return out, int64(off)
}

// countFlows reads data through a table with the default timeouts.
func countFlows(t *testing.T, data []byte, name string) (int, SourceStats, string) {
	t.Helper()
	logged := captureSlog(t)
	s, err := NewPcapSource(bytes.NewReader(data), name, PcapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	flows := 0
	tab := NewTable(TableConfig{}, func(*Flow) { flows++ })
	var p Packet
	for {
		if err := s.NextPacket(&p); err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
		tab.Add(&p)
	}
	tab.Flush()
	return flows, s.Stats(), logged.String()
}

// TestTimeJumps checks that a record whose time is more than a day from
// the previous record's is counted, located and warned about: record 60
// of zeek__wikipedia.pcap set to ts_sec 0xFFFFFFFF (2106) or 0 (1970)
// split its 34 flows into 41, one lasting 95 years, without a word.
func TestTimeJumps(t *testing.T) {
	orig, err := os.ReadFile(filepath.Join(testshared.Path(t, "pcaps"), "zeek__wikipedia.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	n, st, logged := countFlows(t, orig, "w.pcap")
	if st.TimeJumps != 0 || st.FirstTimeJump.Frame != 0 || logged != "" {
		t.Fatalf("clean capture: %d flows, %d jumps (%+v), log %q", n, st.TimeJumps, st.FirstTimeJump, logged)
	}
	for _, sec := range []uint32{0xFFFFFFFF, 0} {
		bad, off := withRecordTime(t, orig, 60, sec)
		got, st, logged := countFlows(t, bad, "w.pcap")
		// Away at 60 and back at 61. The packet is kept, so the flows
		// still split (as in tshark's conversations): the count is what
		// tells the reader why.
		want := FrameRef{Path: "w.pcap", Frame: 60, Offset: off}
		if st.TimeJumps != 2 || st.FirstTimeJump != want || st.IPPackets+st.NonIP+st.Dropped != st.Frames || st.Frames != 136 {
			t.Errorf("ts_sec %#x: %d jumps first %+v (want 2, %+v); frames %d", sec, st.TimeJumps, st.FirstTimeJump, want, st.Frames)
		}
		if strings.Count(logged, "level=WARN") != 1 || !strings.Contains(logged, "file=w.pcap frame=60 offset="+strconv.FormatInt(off, 10)) {
			t.Errorf("ts_sec %#x: want one warning naming file, frame and offset, got %q", sec, logged)
		}
		t.Logf("ts_sec %#x: %d flows (clean %d)", sec, got, n)
	}

	// A real clock step (every record from 60 on a year later) counts
	// once; in a second file, the jump from the first file's last record
	// is no jump (per file).
	step := bytes.Clone(orig)
	for i := 60; i <= 136; i++ {
		off := recordOffset(step, i)
		binary.LittleEndian.PutUint32(step[off:], binary.LittleEndian.Uint32(step[off:])+365*86400)
	}
	if _, st, _ := countFlows(t, step, "s.pcap"); st.TimeJumps != 1 || st.FirstTimeJump.Frame != 60 {
		t.Errorf("clock step: %d jumps, first %+v; want 1 at frame 60", st.TimeJumps, st.FirstTimeJump)
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.pcap"), filepath.Join(dir, "b.pcap")
	later, _ := withRecordTime(t, orig, 1, 0) // b: only its first record jumps back, to 1970
	os.WriteFile(a, step, 0o644)
	os.WriteFile(b, later, 0o644)
	m := NewMultiSource([]string{a, b}, PcapOptions{})
	defer m.Close()
	var p Packet
	for m.NextPacket(&p) == nil {
	}
	if st := m.Stats(); st.TimeJumps != 2 || st.FirstTimeJump.Path != a || st.FirstTimeJump.Frame != 60 {
		t.Errorf("two files: %d jumps, first %+v; want a's at 60 and b's at 2", st.TimeJumps, st.FirstTimeJump)
	}
}

// recordOffset is the offset of record n (from 1) of a little-endian
// classic pcap.
func recordOffset(pcap []byte, n int) int {
	off := 24
	for i := 1; i < n; i++ {
		off += 16 + int(binary.LittleEndian.Uint32(pcap[off+8:]))
	}
	return off
}

// TestTableClockBeforeEpoch: packet times before 1970 are kept
// (docs/reader.md: a negative if_tsoffset), so the table's idle timeouts
// run on them as on any other time. The clock started at 0, taken for
// "no time yet", so for a capture in the day before the epoch it never
// moved: no flow timed out before the flush, and with a full table a flow
// long idle was evicted as a partial record instead of ending idle.
func TestTableClockBeforeEpoch(t *testing.T) {
	for _, base := range []float64{10_000, -10_000} {
		var got []*Flow
		tab := NewTable(TableConfig{IdleTimeout: 10 * time.Second, MaxFlows: 1}, func(f *Flow) { got = append(got, f) })
		a := pkt(base, "10.0.0.1", "10.0.0.2", 1, 2, 17, 0, 10)
		b := pkt(base+100, "10.0.0.3", "10.0.0.4", 1, 2, 17, 0, 10)
		tab.Add(&a)
		tab.Add(&b)
		if len(got) != 1 || got[0].EndReason != EndIdle || got[0].Partial {
			for _, f := range got {
				t.Logf("base %v: record %v end %v partial %v", base, f.Src(), f.EndReason, f.Partial)
			}
			t.Errorf("base %v s: %d records before the flush; want the first flow ended idle (100 s after its packet, idle timeout 10 s)", base, len(got))
		}
	}
}
