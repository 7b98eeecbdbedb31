package collector

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowhawk/flowhawk/internal/testshared"
	"github.com/klauspost/compress/zstd"
)

// readStream reads a capture in memory to its end and returns the frames
// read, the stats and the error that ended it (nil at io.EOF).
func readStream(t *testing.T, data []byte, name string) (uint64, SourceStats, error) {
	t.Helper()
	s, err := NewPcapSource(bytes.NewReader(data), name, PcapOptions{})
	if err != nil {
		return 0, SourceStats{}, err
	}
	var p Packet
	for {
		if err := s.NextPacket(&p); err != nil {
			st := s.Stats()
			if err == io.EOF {
				err = nil
			}
			return st.Frames, st, err
		}
	}
}

// TestDecompressErrors checks that a stream that cannot be decompressed is
// reported as such (decompress gzip at compressed offset N), not as a
// bad capture record ("record header: gzip: invalid checksum (0 of 16
// bytes)"); that zero padding after the last gzip member is read past, as
// gzip does, where it failed "invalid header" after every frame; and that
// a zstd window over the limit says what the limit is.
func TestDecompressErrors(t *testing.T) {
	orig, err := os.ReadFile(filepath.Join(testshared.Path(t, "pcaps"), "zeek__wikipedia.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	want := summarize(t, orig)
	gz := gzipBytes(t, orig)

	// A bad CRC: every frame, then the error.
	bad := slices.Clone(gz)
	bad[len(bad)-8] ^= 0xff
	n, _, err := readStream(t, bad, "badcrc.pcap.gz")
	var de *DecompressError
	var re *ReadError
	if n != want.Frames || !errors.As(err, &re) || !re.Compressed || !errors.As(err, &de) || !errors.Is(err, gzip.ErrChecksum) {
		t.Fatalf("bad crc: %d frames (want %d), %v", n, want.Frames, err)
	}
	msg := err.Error()
	t.Log(msg)
	if !strings.HasPrefix(msg, "badcrc.pcap.gz: decompressed offset ") || !strings.Contains(msg, "decompress gzip at compressed offset ") ||
		!strings.HasSuffix(msg, ": invalid checksum") || strings.Contains(msg, "record") || de.Offset <= 0 || de.Offset > int64(len(bad)) {
		t.Errorf("bad crc: %q (compressed offset %d of %d)", msg, de.Offset, len(bad))
	}

	// Zero padding after the last member (dd, tape), after one member or
	// three, is read past; other bytes are an error.
	three := slices.Concat(gzipBytes(t, orig[:1000]), gzipBytes(t, orig[1000:5000]), gzipBytes(t, orig[5000:]))
	for name, data := range map[string][]byte{
		"100 zeros":           slices.Concat(gz, make([]byte, 100)),
		"1 zero":              slices.Concat(gz, []byte{0}),
		"10240 zeros":         slices.Concat(gz, make([]byte, 10240)),
		"3 members, 77 zeros": slices.Concat(three, make([]byte, 77)),
		"3 members":           three,
	} {
		n, st, err := readStream(t, data, "pad.pcap.gz")
		if err != nil || n != want.Frames || st.IPPackets != want.IPPackets || st.Bytes != want.Bytes {
			t.Errorf("%s: %d frames (want %d), %v", name, n, want.Frames, err)
		}
	}
	_, _, err = readStream(t, slices.Concat(gz, make([]byte, 50), []byte("x"), make([]byte, 5)), "garbage.pcap.gz")
	t.Log(err)
	if !errors.As(err, &de) || de.Offset != int64(len(gz)) || !strings.Contains(err.Error(), "decompress gzip at compressed offset") {
		t.Errorf("garbage after the member: %v", err)
	}
	// A second member whose header is bad.
	_, _, err = readStream(t, slices.Concat(gz, []byte{0x1f, 0x8b, 0, 0, 0, 0, 0, 0, 0, 0}), "member2.pcap.gz")
	if !errors.As(err, &de) || !errors.Is(err, gzip.ErrHeader) {
		t.Errorf("bad second member: %v", err)
	}

	// A zstd frame asking for a 256 MiB window: magic, descriptor (no
	// content size, not single segment), window descriptor 2^(10+18),
	// then a last raw block of 4 bytes.
	zbig := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 18 << 3, 1 | 4<<3, 0, 0, 0xd4, 0xc3, 0xb2, 0xa1}
	_, err = NewPcapSource(bytes.NewReader(zbig), "big.pcap.zst", PcapOptions{})
	t.Log(err)
	if !errors.Is(err, zstd.ErrWindowSizeExceeded) || !strings.Contains(err.Error(), "decompress zstd at compressed offset") ||
		!strings.Contains(err.Error(), "128 MiB") || !strings.Contains(err.Error(), "--long") {
		t.Errorf("zstd window: %v", err)
	}
	// A zstd stream that is corrupt inside a block.
	zs := zstdBytes(t, orig)
	zs[len(zs)/2] ^= 0xff
	if _, _, err := readStream(t, zs, "bad.pcap.zst"); err != nil && !strings.Contains(err.Error(), "decompress zstd at compressed offset") && !strings.Contains(err.Error(), "record") {
		t.Errorf("corrupt zstd: %v", err)
	}
	// A bad gzip header.
	_, err = NewPcapSource(bytes.NewReader([]byte{0x1f, 0x8b, 9, 9, 9, 9, 9, 9, 9, 9, 9}), "hdr.pcap.gz", PcapOptions{})
	if !errors.Is(err, gzip.ErrHeader) || !strings.Contains(err.Error(), "hdr.pcap.gz: offset 0: decompress gzip at compressed offset") {
		t.Errorf("bad gzip header: %v", err)
	}
}

// TestLZ4Frames reads an lz4 stream of several frames (cat a.lz4 b.lz4,
// what lz4 -d and Wireshark read whole) to its end, past a skippable
// frame, where only the first frame was read and the rest dropped without
// a word; bytes after a frame that are not one are an error at their
// compressed offset, as lz4 -d fails on them.
func TestLZ4Frames(t *testing.T) {
	orig, err := os.ReadFile(filepath.Join(testshared.Path(t, "pcaps"), "zeek__wikipedia.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	want := summarize(t, orig)
	first := lz4Bytes(t, orig[:1000])
	// A skippable frame: magic 0x184D2A5A, length 6, 6 bytes.
	skip := []byte{0x5a, 0x2a, 0x4d, 0x18, 6, 0, 0, 0, 1, 2, 3, 4, 5, 6}
	for name, data := range map[string][]byte{
		"2 frames":            slices.Concat(first, lz4Bytes(t, orig[1000:])),
		"3 frames, skippable": slices.Concat(first, lz4Bytes(t, orig[1000:5000]), skip, lz4Bytes(t, orig[5000:])),
	} {
		n, st, err := readStream(t, data, "cat.pcap.lz4")
		if err != nil || n != want.Frames || st.IPPackets != want.IPPackets || st.Bytes != want.Bytes {
			t.Errorf("%s: %d frames (want %d), %d bytes (want %d), %v", name, n, want.Frames, st.Bytes, want.Bytes, err)
		}
	}
	whole := lz4Bytes(t, orig)
	_, _, err = readStream(t, slices.Concat(whole, []byte("garbage!")), "garbage.pcap.lz4")
	t.Log(err)
	var de *DecompressError
	if !errors.As(err, &de) || de.Format != "lz4" || de.Offset != int64(len(whole)) {
		t.Errorf("garbage after the frame: %v, want a decompress lz4 error at compressed offset %d", err, len(whole))
	}
}

// TestExpandPathsCutCompressed checks that a directory walk names a
// compressed capture cut before its first decompressed bytes (a killed
// tcpdump | lz4, whose blocks are 4 MiB) with the decompressor's error:
// it was warned about as "not a pcap or pcapng file", and skipped without
// a word if its name did not say capture.
func TestExpandPathsCutCompressed(t *testing.T) {
	orig, err := os.ReadFile(filepath.Join(testshared.Path(t, "pcaps"), "zeek__wikipedia.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	files := map[string][]byte{
		"a.pcap":     orig,
		"b.pcap.lz4": lz4Bytes(t, orig)[:100],
		"c.lz4":      lz4Bytes(t, orig)[:100],
		"d.zst":      zstdBytes(t, orig)[:10],
		"e.gz":       gzipBytes(t, orig)[:12],
		"f.gz":       gzipBytes(t, []byte("a log, not a capture")),
	}
	for n, d := range files {
		if err := os.WriteFile(filepath.Join(tmp, n), d, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	logged := captureSlog(t)
	got, err := ExpandPaths([]string{tmp})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(tmp, "a.pcap")}; !slices.Equal(got, want) {
		t.Errorf("ExpandPaths = %v, want %v", got, want)
	}
	lines := strings.Split(strings.TrimSpace(logged.String()), "\n")
	t.Log(logged.String())
	for _, n := range []string{"b.pcap.lz4", "c.lz4", "d.zst", "e.gz"} {
		i := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, filepath.Join(tmp, n)) })
		if i < 0 || !strings.Contains(lines[i], "cannot be decompressed") || !strings.Contains(lines[i], "at compressed offset") {
			t.Errorf("%s: no warning with the decompressor's error: %q", n, logged.String())
		}
	}
	if strings.Contains(logged.String(), "f.gz") || len(lines) != 4 {
		t.Errorf("want 4 warnings, none for f.gz (a good gzip stream of no capture): %q", logged.String())
	}
}
