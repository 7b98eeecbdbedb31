package collector

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowhawk/flowhawk/internal/testshared"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// rawFrame is one record as the test oracle (pcapgo) sees it.
type rawFrame struct {
	ts      int64
	wireLen int
	data    []byte
	link    uint32
}

// pcapgoFrames reads a file with pcapgo, the independent oracle.
func pcapgoFrames(t *testing.T, data []byte) ([]rawFrame, error) {
	t.Helper()
	var out []rawFrame
	if bytes.HasPrefix(data, magicPcapng) {
		r, err := pcapgo.NewNgReader(bytes.NewReader(data), pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			return nil, err
		}
		for {
			d, ci, err := r.ReadPacketData()
			if err == io.EOF {
				return out, nil
			}
			if err != nil {
				return out, err
			}
			ifc, _ := r.Interface(ci.InterfaceIndex)
			ts := ci.Timestamp.UnixNano()
			if ci.Timestamp.IsZero() {
				ts = -1 // simple packet block: no timestamp
			}
			out = append(out, rawFrame{ts, ci.Length, d, uint32(ifc.LinkType)})
		}
	}
	r, err := pcapgo.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	for {
		d, ci, err := r.ReadPacketData()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, rawFrame{ci.Timestamp.UnixNano(), ci.Length, d, uint32(r.LinkType())})
	}
}

// ourFrames reads raw records with our reader.
func ourFrames(data []byte) ([]rawFrame, []int64, error) {
	s, err := NewPcapSource(bytes.NewReader(data), "mem", PcapOptions{})
	if err != nil {
		return nil, nil, err
	}
	var out []rawFrame
	var offs []int64
	for {
		var f frame
		if err := s.rd.next(&f); err != nil {
			if err == io.EOF {
				return out, offs, nil
			}
			return out, offs, err
		}
		out = append(out, rawFrame{f.ts, int(f.wireLen), slices.Clone(f.data), f.linkType})
		offs = append(offs, f.off)
	}
}

// TestReaderMatchesPcapgo compares every record of every shared capture
// (timestamps, lengths, bytes, link types) with pcapgo's reading.
func TestReaderMatchesPcapgo(t *testing.T) {
	dir := testshared.Path(t, "pcaps")
	files, err := filepath.Glob(filepath.Join(dir, "*.*ap*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		if strings.HasSuffix(path, ".tsv") || strings.HasSuffix(path, ".md") {
			continue
		}
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want, werr := pcapgoFrames(t, data)
			got, _, gerr := ourFrames(data)
			if (werr != nil) != (gerr != nil) {
				// pcapgo silently accepts some damage we report (and vice versa):
				// only the packets before the error must agree.
				t.Logf("pcapgo error %v, ours %v", werr, gerr)
			}
			n := min(len(want), len(got))
			if werr == nil && gerr == nil && len(want) != len(got) {
				t.Fatalf("%d frames, pcapgo %d", len(got), len(want))
			}
			for i := range n {
				w, g := want[i], got[i]
				if (w.ts != g.ts && w.ts != -1) || w.wireLen != g.wireLen || !bytes.Equal(w.data, g.data) || w.link != g.link {
					t.Fatalf("frame %d: ts %d/%d wire %d/%d caplen %d/%d link %d/%d", i, g.ts, w.ts, g.wireLen, w.wireLen, len(g.data), len(w.data), g.link, w.link)
				}
			}
		})
	}
}

// recordOffsets walks a capture independently of the reader: the offset of
// every record (pcap) or block (pcapng), whether it is a packet, and the
// file size.
func recordOffsets(t *testing.T, data []byte) (offs []int64, isPkt []bool) {
	t.Helper()
	if bytes.HasPrefix(data, magicPcapng) {
		var bo binary.ByteOrder = binary.LittleEndian
		for off := 0; off+12 <= len(data); {
			if binary.LittleEndian.Uint32(data[off:]) == ngSHB {
				if binary.LittleEndian.Uint32(data[off+8:]) == 0x1A2B3C4D {
					bo = binary.LittleEndian
				} else {
					bo = binary.BigEndian
				}
			}
			typ, n := bo.Uint32(data[off:]), int(bo.Uint32(data[off+4:]))
			offs = append(offs, int64(off))
			isPkt = append(isPkt, typ == ngEPB || typ == ngSPB || typ == ngOPB)
			off += n
		}
		return offs, isPkt
	}
	bo := binary.ByteOrder(binary.LittleEndian)
	if data[0] == 0xa1 {
		bo = binary.BigEndian
	}
	for off := 24; off+16 <= len(data); {
		offs = append(offs, int64(off))
		isPkt = append(isPkt, true)
		off += 16 + int(bo.Uint32(data[off+8:]))
	}
	return offs, isPkt
}

// TestTruncatedFile cuts good files at many offsets: the error names the
// file and the exact offset of the record that was cut, and every packet
// before it was returned.
func TestTruncatedFile(t *testing.T) {
	dir := testshared.Path(t, "pcaps")
	for _, name := range []string{"zeek__wikipedia.pcap", "pcapplusplus__nanosecs_big_endian.pcap", "pcapplusplus__pcapng-example.pcapng", "gopacket__be-test202.pcapng"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		offs, isPkt := recordOffsets(t, data)
		cuts := []int{1, 3, 10, 23, 24, 25, 39, 40, len(data) / 3, len(data) / 2, len(data) - 1, len(data)}
		for _, o := range offs {
			cuts = append(cuts, int(o), int(o)+5, int(o)+17)
		}
		for _, cut := range cuts {
			if cut > len(data) || cut < 1 {
				continue
			}
			// Expected: the record containing byte cut-1 is cut unless cut is
			// exactly at a record boundary; packets before it are returned.
			wantOff, wantPkts, clean := int64(-1), 0, false
			for i, o := range offs {
				end := int64(len(data))
				if i+1 < len(offs) {
					end = offs[i+1]
				}
				if end <= int64(cut) {
					if isPkt[i] {
						wantPkts++
					}
					continue
				}
				if o == int64(cut) {
					clean = true
				} else {
					wantOff = o
				}
				break
			}
			if cut == len(data) {
				clean = true
			}
			if len(offs) > 0 && int64(cut) < offs[0] {
				wantOff, clean = 0, false // inside the file header
			}
			s, err := NewPcapSource(bytes.NewReader(data[:cut]), name, PcapOptions{})
			pkts := 0
			if err == nil {
				var p Packet
				for {
					if err = s.NextPacket(&p); err != nil {
						break
					}
					pkts++
				}
				pkts = int(s.Stats().Frames)
			}
			if clean {
				if err != io.EOF {
					t.Errorf("%s cut at %d (record boundary): err %v, want io.EOF", name, cut, err)
				}
			} else {
				var re *ReadError
				if !errors.As(err, &re) || re.Offset != wantOff || re.Path != name {
					t.Errorf("%s cut at %d: err %v, want a ReadError at offset %d", name, cut, err, wantOff)
					continue
				}
				if !strings.Contains(err.Error(), fmt.Sprintf("%s: offset %d: ", name, wantOff)) {
					t.Errorf("error text %q does not name file and offset", err)
				}
			}
			if pkts != wantPkts {
				t.Errorf("%s cut at %d: %d frames before the error, want %d", name, cut, pkts, wantPkts)
			}
		}
	}
}

func TestCorruptFiles(t *testing.T) {
	dir := testshared.Path(t, "pcaps")
	cases := []struct{ file, want string }{
		{"ndpi__fuzz-2021-10-13.pcap", "ndpi__fuzz-2021-10-13.pcap: offset 24: record caplen 524501 exceeds the 262144-byte limit for link type 0 (snaplen 0)"},
		{"libpcap__shb-option-too-long.pcapng", "libpcap__shb-option-too-long.pcapng: offset 0: block type 0xa0d0d0a"},
	}
	for _, c := range cases {
		path := filepath.Join(dir, c.file)
		s, err := OpenPcap(path, PcapOptions{})
		if err == nil {
			var p Packet
			for err == nil {
				err = s.NextPacket(&p)
			}
			// The error is sticky.
			if err2 := s.NextPacket(&p); err2 != err {
				t.Errorf("%s: second call returned %v, want the same error", c.file, err2)
			}
			s.Close()
		}
		var re *ReadError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", c.file, err, c.want)
		}
	}
	// A record header claiming a huge caplen is rejected without allocating it.
	data, err := os.ReadFile(filepath.Join(dir, "zeek__hrr.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	offs, _ := recordOffsets(t, data)
	bad := slices.Clone(data)
	binary.LittleEndian.PutUint32(bad[offs[3]+8:], 1<<30)
	s, err := NewPcapSource(bytes.NewReader(bad), "bad.pcap", PcapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var p Packet
	n := 0
	for err = s.NextPacket(&p); err == nil; err = s.NextPacket(&p) {
		n++
	}
	if want := fmt.Sprintf("bad.pcap: offset %d: record caplen 1073741824 exceeds", offs[3]); err == nil || !strings.HasPrefix(err.Error(), want) || n != 3 {
		t.Errorf("huge caplen: %d packets, err %v, want 3 and %q", n, err, want)
	}
	// A caplen over libpcap's 256 KiB (and the file's snaplen) is refused
	// at its own record, as tshark refuses it: read as a record, it
	// swallowed the records after it and the error came later, at
	// whatever offset its end happened to fall on.
	mid := slices.Clone(data)
	binary.LittleEndian.PutUint32(mid[offs[3]+8:], 300_000)
	s, _ = NewPcapSource(bytes.NewReader(mid), "mid.pcap", PcapOptions{})
	n = 0
	for err = s.NextPacket(&p); err == nil; err = s.NextPacket(&p) {
		n++
	}
	if want := fmt.Sprintf("mid.pcap: offset %d: record caplen 300000 exceeds the 262144-byte limit for link type 1", offs[3]); !strings.HasPrefix(fmt.Sprint(err), want) || n != 3 {
		t.Errorf("caplen 300000: %d packets, err %v; want 3 and %q", n, err, want)
	}
	// A claimed 15 MiB record in a short file whose snaplen allows it
	// fails without allocating it.
	big := slices.Clone(data)
	binary.LittleEndian.PutUint32(big[16:], 16<<20) // snaplen
	binary.LittleEndian.PutUint32(big[offs[3]+8:], 15<<20)
	s, _ = NewPcapSource(bytes.NewReader(big), "big.pcap", PcapOptions{})
	for err = s.NextPacket(&p); err == nil; err = s.NextPacket(&p) {
	}
	if !strings.Contains(fmt.Sprint(err), fmt.Sprintf("big.pcap: offset %d: record data: caplen 15728640 but only", offs[3])) || len(s.off.buf) > 256<<10 {
		t.Errorf("claimed 15 MiB: err %v, buffer grew to %d", err, len(s.off.buf))
	}
	// Unknown link type: error names the type and the file.
	lt := slices.Clone(data)
	binary.LittleEndian.PutUint32(lt[20:], 147)
	if _, err := NewPcapSource(bytes.NewReader(lt), "lt.pcap", PcapOptions{}); err == nil || err.Error() != "lt.pcap: offset 0: unsupported link type 147" {
		t.Errorf("unknown link type: %v", err)
	}
	if _, err := NewPcapSource(strings.NewReader("hello, world"), "text.txt", PcapOptions{}); err == nil || !strings.Contains(err.Error(), "text.txt: offset 0: not a pcap") {
		t.Errorf("not a capture: %v", err)
	}
}

// compress returns data compressed in kind ("gzip", "zstd" or "lz4"),
// zstd and lz4 in their smallest blocks, so half a file holds whole ones.
func compress(t testing.TB, kind string, data []byte) []byte {
	var b bytes.Buffer
	var zw io.WriteCloser
	switch kind {
	case "gzip":
		zw = gzip.NewWriter(&b)
	case "zstd":
		w, err := zstd.NewWriter(&b, zstd.WithWindowSize(1<<12))
		if err != nil {
			t.Fatal(err)
		}
		zw = w
	case "lz4":
		w := lz4.NewWriter(&b)
		if err := w.Apply(lz4.BlockSizeOption(lz4.Block64Kb)); err != nil {
			t.Fatal(err)
		}
		zw = w
	}
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gzipBytes(t testing.TB, data []byte) []byte { return compress(t, "gzip", data) }
func zstdBytes(t testing.TB, data []byte) []byte { return compress(t, "zstd", data) }
func lz4Bytes(t testing.TB, data []byte) []byte  { return compress(t, "lz4", data) }

func TestGzipAndExpandPaths(t *testing.T) {
	dir := testshared.Path(t, "pcaps")
	tmp := t.TempDir()
	pcap, _ := os.ReadFile(filepath.Join(dir, "zeek__wikipedia.pcap"))
	ng, _ := os.ReadFile(filepath.Join(dir, "pcapplusplus__pcapng-example.pcapng"))
	os.MkdirAll(filepath.Join(tmp, "sub", "deeper"), 0o755)
	files := map[string][]byte{
		"b.txt":               pcap,                    // a pcap with a misleading name
		"a.pcap":              []byte("not a capture"), // extension lies the other way
		"sub/x.bin":           gzipBytes(t, ng),
		"sub/deeper/c":        gzipBytes(t, pcap),
		"sub/deeper/d.gz":     gzipBytes(t, []byte("text")),
		"sub/deeper/e.pcapng": ng,
	}
	for n, d := range files {
		if err := os.WriteFile(filepath.Join(tmp, n), d, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	logged := captureSlog(t)
	got, err := ExpandPaths([]string{tmp, filepath.Join(tmp, "a.pcap")})
	if err != nil {
		t.Fatal(err)
	}
	// Skipped files named like captures are warned about, others not.
	if l := logged.String(); !strings.Contains(l, "a.pcap") || strings.Contains(l, "d.gz") || strings.Count(l, "\n") != 1 {
		t.Errorf("warnings: %q, want one naming a.pcap", l)
	}
	want := []string{"b.txt", "sub/deeper/c", "sub/deeper/e.pcapng", "sub/x.bin", "a.pcap"}
	for i := range want {
		want[i] = filepath.Join(tmp, want[i])
	}
	if !slices.Equal(got, want) {
		t.Errorf("ExpandPaths = %v, want %v", got, want)
	}
	if _, err := ExpandPaths([]string{filepath.Join(tmp, "missing")}); err == nil {
		t.Errorf("missing path: no error")
	}
	// Gzipped files decode exactly like the originals.
	for _, pair := range [][2]string{{"b.txt", "sub/deeper/c"}, {"sub/deeper/e.pcapng", "sub/x.bin"}} {
		a, b := runFile(t, filepath.Join(tmp, pair[0])), runFile(t, filepath.Join(tmp, pair[1]))
		if a.err != nil || b.err != nil || a.frames != b.frames || a.bytes != b.bytes || a.tcp != b.tcp || a.udp != b.udp || a.frames == 0 {
			t.Errorf("%s vs gzipped: %+v vs %+v", pair[0], a, b)
		}
	}
	// A truncated gzip stream is an error at a decompressed offset.
	gz := gzipBytes(t, pcap)
	s, err := NewPcapSource(bytes.NewReader(gz[:len(gz)/2]), "cut.pcap.gz", PcapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var p Packet
	for err == nil {
		err = s.NextPacket(&p)
	}
	if !strings.Contains(fmt.Sprint(err), "cut.pcap.gz: decompressed offset ") {
		t.Errorf("truncated gzip: %v", err)
	}
	// MultiSource reads all files as one stream and sums the stats.
	m := NewMultiSource(got, PcapOptions{})
	n, errs := 0, 0
	for {
		err := m.NextPacket(&p)
		if err == io.EOF {
			break
		}
		if err != nil {
			errs++
			continue
		}
		n++
	}
	st := m.Stats()
	if errs != 1 || st.Files != 4 || st.IPPackets != uint64(n) || st.Frames != 2*136+2*159 {
		t.Errorf("multi: %d packets, %d errors, stats %+v", n, errs, st)
	}
}

// TestZstdAndLZ4 reads zstd- and lz4-compressed captures (what Wireshark
// and `tcpdump -w - | zstd` write) as their originals, finds them in
// directories by magic number, and reports a cut stream at a decompressed
// offset; they used to be refused as "not a pcap or pcapng file".
func TestZstdAndLZ4(t *testing.T) {
	dir := testshared.Path(t, "pcaps")
	tmp := t.TempDir()
	pcap, _ := os.ReadFile(filepath.Join(dir, "zeek__wikipedia.pcap"))
	ng, _ := os.ReadFile(filepath.Join(dir, "pcapplusplus__pcapng-example.pcapng"))
	files := map[string][]byte{
		"a.pcap":         pcap,
		"b.pcapng":       ng,
		"z/a.pcap.zst":   zstdBytes(t, pcap),
		"z/b.zst":        zstdBytes(t, ng),
		"z/c.pcap.lz4":   lz4Bytes(t, pcap),
		"z/d":            lz4Bytes(t, ng),
		"z/e.zst":        zstdBytes(t, []byte("not a capture")),
		"z/f.pcapng.lz4": lz4Bytes(t, []byte("not a capture either")),
	}
	os.MkdirAll(filepath.Join(tmp, "z"), 0o755)
	for n, d := range files {
		if err := os.WriteFile(filepath.Join(tmp, n), d, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	got, err := ExpandPaths([]string{filepath.Join(tmp, "z")})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"z/a.pcap.zst", "z/b.zst", "z/c.pcap.lz4", "z/d"}
	for i := range want {
		want[i] = filepath.Join(tmp, want[i])
	}
	if !slices.Equal(got, want) {
		t.Errorf("ExpandPaths = %v, want %v", got, want)
	}
	for _, pair := range [][2]string{{"a.pcap", "z/a.pcap.zst"}, {"b.pcapng", "z/b.zst"}, {"a.pcap", "z/c.pcap.lz4"}, {"b.pcapng", "z/d"}} {
		a, b := runFile(t, filepath.Join(tmp, pair[0])), runFile(t, filepath.Join(tmp, pair[1]))
		if a.err != nil || b.err != nil || a.frames != b.frames || a.bytes != b.bytes || a.tcp != b.tcp || a.udp != b.udp || a.frames == 0 {
			t.Errorf("%s vs %s: %+v vs %+v", pair[0], pair[1], a, b)
		}
	}
	// Eight copies of the records: larger than an lz4 block of 64 KiB.
	big := append(slices.Clip(pcap), bytes.Repeat(pcap[24:], 7)...)
	for name, z := range map[string][]byte{"cut.pcap.zst": zstdBytes(t, big), "cut.pcap.lz4": lz4Bytes(t, big)} {
		s, err := NewPcapSource(bytes.NewReader(z[:len(z)/2]), name, PcapOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var p Packet
		n := 0
		for err == nil {
			if err = s.NextPacket(&p); err == nil {
				n++
			}
		}
		if !strings.Contains(fmt.Sprint(err), name+": decompressed offset ") || n == 0 {
			t.Errorf("%s: %d packets, then %v; want packets, then an error at a decompressed offset", name, n, err)
		}
		s.Close()
	}
}

// TestLargeRecord reads a record larger than the initial buffer (a 300 KB
// GRO/TSO super-frame) and the record after it.
func TestLargeRecord(t *testing.T) {
	var b bytes.Buffer
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr, 0xa1b2c3d4)
	binary.LittleEndian.PutUint32(hdr[16:], 1<<20)
	binary.LittleEndian.PutUint32(hdr[20:], LinkRaw)
	b.Write(hdr)
	rec := func(data []byte) {
		var h [16]byte
		binary.LittleEndian.PutUint32(h[8:], uint32(len(data)))
		binary.LittleEndian.PutUint32(h[12:], uint32(len(data)))
		b.Write(h[:])
		b.Write(data)
	}
	big := ipv4Pkt("10.0.0.1", "10.0.0.2", 6, 1, 0, false, 0, cat(tcpHdr(1, 2, FlagACK, 0), make([]byte, 300_000)))
	binary.BigEndian.PutUint16(big[2:], 0) // TSO: total length 0
	rec(big)
	rec(ipv4Pkt("10.0.0.1", "10.0.0.2", 17, 1, 0, false, 0, udpHdr(3, 4, 0)))
	s, err := NewPcapSource(&b, "big.pcap", PcapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var p Packet
	if err := s.NextPacket(&p); err != nil || p.IPLen != uint32(len(big)) || p.PayloadLen != 300_000 || len(p.Payload) != 300_000 {
		t.Fatalf("big record: err %v iplen %d payload %d/%d", err, p.IPLen, p.PayloadLen, len(p.Payload))
	}
	if err := s.NextPacket(&p); err != nil || p.Key.Proto != 17 {
		t.Fatalf("record after the big one: err %v key %v", err, p.Key)
	}
	if err := s.NextPacket(&p); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

// TestModifiedPcap reads Kuznetzov's modified pcap (magic a1b2cd34, 24-byte
// record headers) like the classic file it was converted from.
func TestModifiedPcap(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testshared.Path(t, "pcaps"), "zeek__hrr.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	mod := slices.Clone(data[:24])
	binary.LittleEndian.PutUint32(mod, 0xa1b2cd34)
	offs, _ := recordOffsets(t, data)
	for i, o := range offs {
		end := int64(len(data))
		if i+1 < len(offs) {
			end = offs[i+1]
		}
		mod = append(mod, data[o:o+16]...)
		mod = append(mod, 1, 0, 0, 0, 0x08, 0x00, 0, 0) // ifindex, protocol, pkt_type, pad
		mod = append(mod, data[o+16:end]...)
	}
	want, _, err := ourFrames(data)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := ourFrames(mod)
	if err != nil || len(got) != len(want) {
		t.Fatalf("modified pcap: %d frames, err %v; want %d", len(got), err, len(want))
	}
	for i := range want {
		if got[i].ts != want[i].ts || !bytes.Equal(got[i].data, want[i].data) {
			t.Fatalf("frame %d differs", i)
		}
	}
}

// TestFCSStripped reads a pcap whose link-type field says every frame ends
// in a 4-byte FCS: the FCS is not payload and the frames are not malformed.
func TestFCSStripped(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testshared.Path(t, "pcaps"), "zeek__hrr.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	fcs := slices.Clone(data[:24])
	binary.LittleEndian.PutUint32(fcs[20:], 1|1<<26|2<<28)
	offs, _ := recordOffsets(t, data)
	for i, o := range offs {
		end := int64(len(data))
		if i+1 < len(offs) {
			end = offs[i+1]
		}
		h := slices.Clone(data[o : o+16])
		binary.LittleEndian.PutUint32(h[8:], binary.LittleEndian.Uint32(h[8:])+4)
		binary.LittleEndian.PutUint32(h[12:], binary.LittleEndian.Uint32(h[12:])+4)
		fcs = append(fcs, h...)
		fcs = append(fcs, data[o+16:end]...)
		fcs = append(fcs, 0xde, 0xad, 0xbe, 0xef)
	}
	read := func(b []byte) (payload [][]byte, st SourceStats) {
		s, err := NewPcapSource(bytes.NewReader(b), "fcs.pcap", PcapOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var p Packet
		for s.NextPacket(&p) == nil {
			payload = append(payload, slices.Clone(p.Payload))
		}
		return payload, s.Stats()
	}
	want, wst := read(data)
	got, gst := read(fcs)
	if len(got) != len(want) || gst.Malformed != wst.Malformed || gst.Bytes != wst.Bytes+4*uint64(len(offs)) {
		t.Fatalf("fcs: %d packets (want %d), malformed %d (want %d), bytes %d", len(got), len(want), gst.Malformed, wst.Malformed, gst.Bytes)
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("packet %d: payload %x, want %x", i, got[i], want[i])
		}
	}
}

// TestWireShorterThanCaptured reads a record whose orig_len (10) is below
// its caplen: the frame is taken at its captured length and counted, where
// it used to add 10 bytes on the wire and decode against 10.
func TestWireShorterThanCaptured(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testshared.Path(t, "pcaps"), "zeek__hrr.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	want := summarize(t, data)
	mod := slices.Clone(data)
	offs, _ := recordOffsets(t, data)
	binary.LittleEndian.PutUint32(mod[offs[0]+12:], 10)
	got := summarize(t, mod)
	if got.WireShorter != 1 || got.Bytes != want.Bytes || got.IPPackets != want.IPPackets || got.Malformed != want.Malformed {
		t.Fatalf("orig_len 10: %+v; want the original's bytes %d, IP packets %d, malformed %d and WireShorter 1",
			got, want.Bytes, want.IPPackets, want.Malformed)
	}
}

// summarize decodes a capture in memory and returns its source counters.
func summarize(t *testing.T, data []byte) SourceStats {
	t.Helper()
	s, err := NewPcapSource(bytes.NewReader(data), "mem", PcapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var p Packet
	for {
		if err := s.NextPacket(&p); err != nil {
			if err == io.EOF {
				return s.Stats()
			}
			t.Fatal(err)
		}
	}
}
