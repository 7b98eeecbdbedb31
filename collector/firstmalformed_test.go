package collector

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestFirstMalformed checks that the first frame of each malformed reason
// is kept in the stats (file, frame number, offset), so a summary can
// point at it: malformed frames were counted by reason, with no way to
// find one.
func TestFirstMalformed(t *testing.T) {
	good := cat(ether(0x0800), ipv4Pkt("10.0.0.1", "10.0.0.2", 17, 1, 0, false, 0, udpHdr(1, 2, 0)))
	cutIP := good[:14+10]
	badVer := cat(ether(0x0800), []byte{0x60}, good[15:])
	// IP length beyond the frame (kept), and no whole TCP header: two
	// reasons in one frame.
	long := cat(ether(0x0800), ipv4Pkt("10.0.0.1", "10.0.0.2", 6, 1, 0, false, 0, make([]byte, 40)))[:14+20+10]
	recs := []pcapRecord{{good, len(good)}, {cutIP, len(cutIP)}, {good, len(good)}, {badVer, len(badVer)}, {cutIP, len(cutIP)}, {long, len(long)}}
	data := pcapBytes(LinkEthernet, 65535, recs...)
	off := func(i int) int64 {
		o := int64(24)
		for _, r := range recs[:i] {
			o += 16 + int64(len(r.data))
		}
		return o
	}
	st := summarize(t, data)
	fm := st.FirstMalformed
	for _, c := range []struct {
		r     MalformedReason
		frame int
	}{{MalTruncatedIP, 2}, {MalBadIPVersion, 4}, {MalIPLengthExceedsFrame, 6}, {MalTruncatedL4, 6}} {
		want := FrameRef{Path: "mem", Frame: uint64(c.frame), Offset: off(c.frame - 1)}
		if fm[c.r] != want {
			t.Errorf("%v: %+v, want %+v", c.r, fm[c.r], want)
		}
	}
	if fm[MalBadIHL].Frame != 0 || fm[MalBadIHL].String() != "" {
		t.Errorf("no bad ihl frame, but %+v", fm[MalBadIHL])
	}
	if s := fm[MalTruncatedIP].String(); s != "mem frame 2 (offset 82)" {
		t.Errorf("String() = %q", s)
	}

	// Over several files: the first file's, and the second's for a
	// reason only it has.
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.pcap"), filepath.Join(dir, "b.pcap")
	os.WriteFile(a, pcapBytes(LinkEthernet, 65535, pcapRecord{good, len(good)}, pcapRecord{cutIP, len(cutIP)}), 0o644)
	os.WriteFile(b, data, 0o644)
	m := NewMultiSource([]string{a, b}, PcapOptions{})
	defer m.Close()
	var p Packet
	for {
		if err := m.NextPacket(&p); err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
	}
	fm = m.Stats().FirstMalformed
	if fm[MalTruncatedIP] != (FrameRef{Path: a, Frame: 2, Offset: off(1)}) || fm[MalBadIPVersion] != (FrameRef{Path: b, Frame: 4, Offset: off(3)}) {
		t.Errorf("multi: truncated ip %+v, bad version %+v", fm[MalTruncatedIP], fm[MalBadIPVersion])
	}
	// Compressed: the offset is flagged as in the decompressed stream.
	s, err := NewPcapSource(bytes.NewReader(gzipBytes(t, data)), "z.pcap.gz", PcapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for s.NextPacket(&p) == nil {
	}
	if r := s.Stats().FirstMalformed[MalTruncatedIP]; !r.Compressed || r.Frame != 2 || r.String() != "z.pcap.gz frame 2 (decompressed offset 82)" {
		t.Errorf("gzip: %+v %q", r, r.String())
	}
}
