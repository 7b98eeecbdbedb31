package collector

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// PacketSource hands out decoded packets one at a time, so the flow table
// can be fed the same way from a pcap file or from the kernel.
type PacketSource interface {
	// NextPacket overwrites p with the next packet. It returns io.EOF at
	// the end of the input. p.Payload aliases the source's buffer and is
	// valid only until the next call.
	NextPacket(p *Packet) error
	// Stats returns the counters so far.
	Stats() SourceStats
}

// MalformedReason says why a frame could not be decoded (fully).
type MalformedReason uint8

// Reasons for a malformed frame; each is counted in SourceStats.MalformedBy.
const (
	MalTruncatedLink        MalformedReason = iota // link-layer header cut short
	MalTruncatedIP                                 // IP header cut short
	MalBadIPVersion                                // version nibble does not match the link/ethertype
	MalBadIHL                                      // IPv4 IHL < 5 or beyond the captured data
	MalBadIPLength                                 // IP total/payload length smaller than the header
	MalIPLengthExceedsFrame                        // IP length larger than a fully captured frame (kept)
	MalTruncatedExtHeader                          // IPv6 extension header chain cut short or too long
	MalTruncatedL4                                 // TCP/UDP/ICMP header cut short by the snap length
	MalBadTCPDataOffset                            // TCP data offset < 5 or beyond the IP payload
	MalBadUDPLength                                // IP payload shorter than a UDP header
	MalUnknownNullFamily                           // BSD NULL/LOOP address family not recognised
	NumMalformedReasons
)

var malformedNames = [NumMalformedReasons]string{
	"truncated link header", "truncated ip header", "bad ip version", "bad ipv4 ihl",
	"bad ip length", "ip length exceeds frame", "truncated ipv6 extension header",
	"truncated transport header", "bad tcp data offset", "bad udp length",
	"unknown null/loop address family",
}

// String names the reason.
func (r MalformedReason) String() string {
	if r < NumMalformedReasons {
		return malformedNames[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// LinkTypeCount is how many frames one link type carried.
type LinkTypeCount struct {
	LinkType uint32
	Frames   uint64
}

// SourceStats counts everything a source read, so no frame disappears
// silently: Frames = IPPackets + NonIP + Dropped.
type SourceStats struct {
	Files  int    // capture files opened
	Frames uint64 // records read (packet blocks for pcapng)
	// Bytes is the sum of orig_len (capinfos "Data size"); CapturedBytes
	// the sum of caplen.
	Bytes         uint64
	CapturedBytes uint64
	IPPackets     uint64 // packets handed to the caller
	NonIP         uint64 // ARP, LLC/CDP, LLDP, ... (not an error)
	// Malformed counts frames with any problem; MalformedBy splits them by
	// reason. Kept ones (MalIPLengthExceedsFrame) are also in IPPackets,
	// the rest are in Dropped, with a frame of an unknown link type.
	Malformed   uint64
	MalformedBy [NumMalformedReasons]uint64
	// FirstMalformed is, per reason, the first frame counted in
	// MalformedBy (zero Frame if none), so that a summary can say where to
	// look (tshark -r FILE -Y frame.number==N); MultiSource keeps the
	// first file's.
	FirstMalformed [NumMalformedReasons]FrameRef
	Dropped        uint64
	// SnapTruncated counts frames with caplen < orig_len.
	SnapTruncated uint64
	// WireShorter counts records whose orig_len was below their caplen,
	// which are taken at caplen.
	WireShorter uint64
	// Fragments counts IP fragments (first and later); OrphanFragments the
	// later fragments whose first fragment was not seen (ports 0);
	// WrongFragments the NSL-KDD wrong fragments; FragEvicted the cache
	// entries that had to be dropped before they expired.
	Fragments       uint64
	OrphanFragments uint64
	WrongFragments  uint64
	FragEvicted     uint64
	// Decapsulated counts tunnel packets (with PcapOptions.Decap) whose
	// inner packet was decoded instead.
	Decapsulated uint64
	// DecapFallback counts tunnel packets (with PcapOptions.Decap) kept in
	// their outer flow because the snap length cut the inner packet's
	// link, IP or transport header (ports): dropping them lost packets a
	// capture without --decap counts. Never counted by the kernel path,
	// which sees whole frames.
	DecapFallback uint64
	// SkippedBlocks counts pcapng blocks that carry no packet and were
	// skipped (custom, name resolution, statistics, unknown types).
	SkippedBlocks uint64
	// UnknownLink counts pcapng frames of interfaces whose link type the
	// decoder does not handle (USB, Bluetooth, 802.11 beside Ethernet):
	// skipped, so the file's other interfaces are read; LinkTypes says
	// which.
	UnknownLink uint64
	// BadTimestamps counts pcapng frames skipped because their time is
	// outside what int64 Unix nanoseconds hold (1677 to 2262).
	BadTimestamps uint64
	// TimeJumps counts records whose time is more than MaxTimeJump before
	// or after the previous record's in the same file: a corrupt timestamp
	// (ts_sec 0xFFFFFFFF, 2106) ends every open flow as idle and splits
	// them, so it must not pass silently. The packets are kept (as tshark
	// keeps them); an isolated bad record counts twice, away and back.
	// FirstTimeJump is the first such record (zero Frame if none);
	// MultiSource keeps the first file's.
	TimeJumps     uint64
	FirstTimeJump FrameRef
	// LinkTypes counts frames per link type, in order of first appearance.
	LinkTypes []LinkTypeCount
}

// FrameRef says where a frame is in a capture file.
type FrameRef struct {
	Path  string
	Frame uint64 // 1 for the file's first frame (tshark's frame.number); 0: none
	// Offset is where its record or block starts, in the decompressed
	// stream if Compressed.
	Offset     int64
	Compressed bool
}

// String formats the reference for a log line: "x.pcap frame 12 (offset
// 1234)", and "" for none.
func (f FrameRef) String() string {
	if f.Frame == 0 {
		return ""
	}
	where := "offset"
	if f.Compressed {
		where = "decompressed offset"
	}
	return fmt.Sprintf("%s frame %d (%s %d)", f.Path, f.Frame, where, f.Offset)
}

// MalformedString formats the non-zero malformed counters as
// "reason=N, reason=N", for logs.
func (s *SourceStats) MalformedString() string {
	var b bytes.Buffer
	for i, n := range s.MalformedBy {
		if n == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%d", MalformedReason(i), n)
	}
	return b.String()
}

// add accumulates o into s (used by MultiSource).
func (s *SourceStats) add(o *SourceStats) {
	s.Files += o.Files
	s.Frames += o.Frames
	s.Bytes += o.Bytes
	s.CapturedBytes += o.CapturedBytes
	s.IPPackets += o.IPPackets
	s.NonIP += o.NonIP
	s.Malformed += o.Malformed
	for i := range s.MalformedBy {
		s.MalformedBy[i] += o.MalformedBy[i]
		if s.FirstMalformed[i].Frame == 0 {
			s.FirstMalformed[i] = o.FirstMalformed[i]
		}
	}
	s.Dropped += o.Dropped
	s.SnapTruncated += o.SnapTruncated
	s.WireShorter += o.WireShorter
	s.Fragments += o.Fragments
	s.OrphanFragments += o.OrphanFragments
	s.WrongFragments += o.WrongFragments
	s.FragEvicted += o.FragEvicted
	s.Decapsulated += o.Decapsulated
	s.DecapFallback += o.DecapFallback
	s.SkippedBlocks += o.SkippedBlocks
	s.UnknownLink += o.UnknownLink
	s.BadTimestamps += o.BadTimestamps
	s.TimeJumps += o.TimeJumps
	if s.FirstTimeJump.Frame == 0 {
		s.FirstTimeJump = o.FirstTimeJump
	}
	if len(o.LinkTypes) == 0 {
		return
	}
	// An index, as a pcapng file can have thousands of link types and a
	// scan per type made summing stats quadratic.
	idx := make(map[uint32]int, len(s.LinkTypes)+len(o.LinkTypes))
	for i, lt := range s.LinkTypes {
		idx[lt.LinkType] = i
	}
	for _, lt := range o.LinkTypes {
		if i, ok := idx[lt.LinkType]; ok {
			s.LinkTypes[i].Frames += lt.Frames
			continue
		}
		idx[lt.LinkType] = len(s.LinkTypes)
		s.LinkTypes = append(s.LinkTypes, lt)
	}
}

// UnknownLinkString formats the link types not decoded (whose frames are
// in UnknownLink) as "147 (12 frames), 148 (3 frames)", the first limit of
// them then "and N more link types", so a file with thousands of
// interfaces does not make a summary line of thousands of entries.
func (s *SourceStats) UnknownLinkString(limit int) string {
	var b strings.Builder
	n := 0
	for _, lt := range s.LinkTypes {
		if KnownLinkType(lt.LinkType) {
			continue
		}
		if n++; n > limit {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d (%d frames)", lt.LinkType, lt.Frames)
	}
	if n > limit {
		if b.Len() > 0 {
			b.WriteString(" and ")
		}
		fmt.Fprintf(&b, "%d more link types", n-limit)
	}
	return b.String()
}

// ReadError is a bad capture file: it names the file and the byte offset
// where the bad record or block starts (in the decompressed stream for
// compressed files). Every packet before it was returned.
type ReadError struct {
	Path   string
	Offset int64
	// Compressed tells that Offset counts bytes of the decompressed stream
	// (a gzip, zstd or lz4 file).
	Compressed bool
	Err        error
}

// Error names the file and the offset, so the bad record can be found.
func (e *ReadError) Error() string {
	where := "offset"
	if e.Compressed {
		where = "decompressed offset"
	}
	return fmt.Sprintf("%s: %s %d: %v", e.Path, where, e.Offset, e.Err)
}

// Unwrap lets errors.Is see the cause (io.ErrUnexpectedEOF, a gzip error).
func (e *ReadError) Unwrap() error { return e.Err }

// Capture file magic numbers as they appear on disk.
var (
	magicPcapLE   = []byte{0xd4, 0xc3, 0xb2, 0xa1}
	magicPcapBE   = []byte{0xa1, 0xb2, 0xc3, 0xd4}
	magicPcapNsLE = []byte{0x4d, 0x3c, 0xb2, 0xa1}
	magicPcapNsBE = []byte{0xa1, 0xb2, 0x3c, 0x4d}
	magicPcapKuLE = []byte{0x34, 0xcd, 0xb2, 0xa1} // modified pcap
	magicPcapKuBE = []byte{0xa1, 0xb2, 0xcd, 0x34}
	magicPcapng   = []byte{0x0a, 0x0d, 0x0d, 0x0a}
	magicGzip     = []byte{0x1f, 0x8b}
	magicZstd     = []byte{0x28, 0xb5, 0x2f, 0xfd}
	magicLZ4      = []byte{0x04, 0x22, 0x4d, 0x18} // the LZ4 frame format
)

// captureKind tells what the first bytes of a file are.
func captureKind(head []byte) string {
	switch {
	case len(head) >= 4 && (bytes.Equal(head[:4], magicPcapLE) || bytes.Equal(head[:4], magicPcapBE) ||
		bytes.Equal(head[:4], magicPcapNsLE) || bytes.Equal(head[:4], magicPcapNsBE) ||
		bytes.Equal(head[:4], magicPcapKuLE) || bytes.Equal(head[:4], magicPcapKuBE)):
		return "pcap"
	case len(head) >= 4 && bytes.Equal(head[:4], magicPcapng):
		return "pcapng"
	case len(head) >= 2 && bytes.Equal(head[:2], magicGzip):
		return "gzip"
	case len(head) >= 4 && bytes.Equal(head[:4], magicZstd):
		return "zstd"
	case len(head) >= 4 && bytes.Equal(head[:4], magicLZ4):
		return "lz4"
	}
	return ""
}

// zstdMaxWindow is the largest zstd window decompressed: the 128 MiB the
// zstd tool itself decompresses without --long or --memory, so a forged
// frame header cannot claim more memory.
const zstdMaxWindow = 1 << 27

// DecompressError is a gzip, zstd or lz4 stream that cannot be
// decompressed, told apart from a bad capture record inside a good
// stream so the user checks the compressed file (gzip -t, zstd -t), not
// the capture. It is the Err of a *ReadError, whose offset is in the
// decompressed stream.
type DecompressError struct {
	Format string // "gzip", "zstd" or "lz4"
	// Offset is how many bytes of the compressed file the decompressor had
	// read when it failed: for gzip the byte it failed at (or just after),
	// for zstd and lz4, which read ahead, at most a block beyond it.
	Offset int64
	Err    error
}

// Error says that decompression failed, and where in the compressed file.
func (e *DecompressError) Error() string {
	msg := strings.TrimPrefix(e.Err.Error(), e.Format+": ")
	if e.Format == "zstd" && errors.Is(e.Err, zstd.ErrWindowSizeExceeded) {
		msg += fmt.Sprintf(" (the frame needs a window over the %d MiB limit, as zstd -d without --long; decompress it with zstd -d --long=31 first)", zstdMaxWindow>>20)
	}
	return fmt.Sprintf("decompress %s at compressed offset %d: %s", e.Format, e.Offset, msg)
}

// Unwrap lets errors.Is see the decompressor's error (gzip.ErrChecksum).
func (e *DecompressError) Unwrap() error { return e.Err }

// unzReader turns the errors of a decompressed stream into
// *DecompressError, with the offset reached in the compressed file.
type unzReader struct {
	r      io.Reader
	format string
	src    *offReader
}

func (u *unzReader) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	if err != nil && err != io.EOF {
		var de *DecompressError
		if !errors.As(err, &de) {
			err = &DecompressError{Format: u.format, Offset: u.src.off, Err: err}
		}
	}
	return n, err
}

// members reads a compressed stream made of members or frames one after
// the other (gzip -c a b > c, cat a.lz4 b.lz4), where the decompressors
// stop at the end of the first or fail on what follows it: r reads the
// current one to its io.EOF, and next moves r to the one after it, or
// reports the end of the stream.
type members struct {
	r    io.Reader
	next func() (done bool, err error)
	done bool
}

func (m *members) Read(p []byte) (int, error) {
	for !m.done {
		n, err := m.r.Read(p)
		if err != io.EOF {
			return n, err
		}
		if m.done, err = m.next(); err != nil {
			return n, err
		}
		if n > 0 {
			return n, nil
		}
	}
	return 0, io.EOF
}

// nextGzipMember moves gz to the member after the one that ended, or
// reports the end of the stream: as gzip does, zero bytes after the last
// member are padding (what dd and tape blocking append), where
// gzip.Reader's own multistream mode fails with "invalid header"; other
// bytes after a member are an error.
func nextGzipMember(gz *gzip.Reader, src *offReader) (bool, error) {
	h, err := src.peek(2)
	if len(h) == 0 && err == io.EOF {
		return true, nil
	}
	if len(h) == 2 && h[0] == magicGzip[0] && h[1] == magicGzip[1] {
		if err := gz.Reset(src); err != nil {
			return false, &DecompressError{Format: "gzip", Offset: src.off, Err: err}
		}
		gz.Multistream(false)
		return false, nil
	}
	if err != nil && err != errShort {
		return false, err
	}
	at := src.off
	for {
		b, err := src.peek(4096)
		for _, c := range b {
			if c != 0 {
				return false, &DecompressError{Format: "gzip", Offset: at, Err: errors.New("data after the last member is neither a gzip member nor zero padding")}
			}
		}
		src.skip(len(b))
		if err == io.EOF || err == errShort {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// nextLZ4Frame moves zr to the frame after the one that ended, or reports
// the end of the stream: lz4.Reader stops at the end of the first frame,
// and the frames after it were lost without a word. Skippable frames are
// passed over (lz4.Reader does that); other bytes after a frame are an
// error, as lz4 -d and Wireshark take them.
func nextLZ4Frame(zr *lz4.Reader, src *offReader) (bool, error) {
	h, err := src.peek(4)
	if len(h) == 0 && err == io.EOF {
		return true, nil
	}
	if len(h) == 4 {
		if m := binary.LittleEndian.Uint32(h); m == lz4FrameMagic || m&^0xf == lz4SkippableMagic {
			zr.Reset(src)
			return false, nil
		}
	}
	if err != nil && err != errShort {
		return false, err
	}
	return false, &DecompressError{Format: "lz4", Offset: src.off, Err: errors.New("data after the last frame is not an lz4 frame")}
}

// lz4 frame magic numbers, as little-endian values: a frame, and the 16
// skippable frame magics 0x184D2A50-0x184D2A5F.
const (
	lz4FrameMagic     = 0x184D2204
	lz4SkippableMagic = 0x184D2A50
)

// decompress returns the decompressed stream of r for a compressed kind
// (captureKind's "gzip", "zstd" or "lz4": the formats Wireshark reads
// captures in), and what releases the decompressor; nil for any other
// kind. Its errors are *DecompressError. Decompression runs on the
// reading goroutine only: a replay's workers are busy with features.
func decompress(kind string, r *offReader) (io.Reader, func() error, error) {
	switch kind {
	case "gzip":
		// r is a flate.Reader (it has ReadByte), so gzip reads no byte past
		// a member's end and gzipMembers sees what follows it.
		gz, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, &DecompressError{Format: kind, Offset: r.off, Err: err}
		}
		gz.Multistream(false)
		m := &members{r: gz, next: func() (bool, error) { return nextGzipMember(gz, r) }}
		return &unzReader{r: m, format: kind, src: r}, gz.Close, nil
	case "zstd":
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return nil, nil, &DecompressError{Format: kind, Offset: r.off, Err: err}
		}
		return &unzReader{r: zr, format: kind, src: r}, func() error { zr.Close(); return nil }, nil
	case "lz4":
		zr := lz4.NewReader(r)
		m := &members{r: zr, next: func() (bool, error) { return nextLZ4Frame(zr, r) }}
		return &unzReader{r: m, format: kind, src: r}, func() error { return nil }, nil
	}
	return nil, nil, nil
}

// isCaptureFile reports whether path starts with a pcap or pcapng magic
// number, or is a gzip, zstd or lz4 stream that does (one level deep). A
// compressed stream that fails before its first 4 bytes come out (cut
// short, corrupt) is not one, with the *DecompressError as the error.
func isCaptureFile(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	switch captureKind(head[:n]) {
	case "pcap", "pcapng":
		return true, nil
	case "gzip", "zstd", "lz4":
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return false, err
		}
		zr, release, err := decompress(captureKind(head[:n]), newOffReader(f))
		if err != nil {
			return false, err
		}
		defer release()
		n, err := io.ReadFull(zr, head)
		var de *DecompressError
		if n < len(head) && errors.As(err, &de) {
			return false, de
		}
		k := captureKind(head[:n])
		return k == "pcap" || k == "pcapng", nil
	}
	return false, nil
}

// captureName reports whether a file's name says it is a capture.
func captureName(p string) bool {
	n := strings.ToLower(filepath.Base(p))
	for _, z := range []string{".gz", ".zst", ".lz4"} {
		n = strings.TrimSuffix(n, z)
	}
	for _, ext := range []string{".pcap", ".pcapng", ".cap", ".dmp"} {
		if strings.HasSuffix(n, ext) {
			return true
		}
	}
	return false
}

// StdinPath is the capture argument that means standard input, so that a
// capture piped from tcpdump -w - (or ssh, or zstdcat) needs no temporary
// file. A file named "-" is still read as ./-.
const StdinPath = "-"

// ExpandPaths turns command-line arguments into capture files: StdinPath
// is kept as it is (once at most: a second "-" is an error, since a pipe
// cannot be read twice), a file is
// kept as given (whatever its name), a directory expands recursively to the
// files in it that start with a pcap, pcapng or compressed capture
// magic number, in natural path order (numbers in names compare as
// numbers, so tcpdump -C's cap, cap1, cap2, ..., cap10 stay in capture
// order, where name order put cap10 before cap2). Symbolic links to files and to
// directories are followed, the root's included, and the paths keep the
// link's name (so --label-dir labels by the name the user sees); each real
// directory is walked once, by a path without links where it has one, so a
// link loop or a second link to a directory already walked is skipped with
// a warning. A capture reached twice, within
// one argument or across arguments (w.pcap ./w.pcap, dir dir/sub, a link or
// a hard link to a file already listed), is read once, where it first
// appears, with a warning: its flows would otherwise be counted twice.
func ExpandPaths(args []string) ([]string, error) {
	var out []string
	stdin := false
	for _, a := range args {
		if a == StdinPath {
			if stdin {
				return nil, errors.New("capture path: - (standard input) given twice")
			}
			stdin = true
			out = append(out, a)
			continue
		}
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("capture path: %w", err)
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		real, err := realDir(a)
		if err != nil {
			return nil, fmt.Errorf("capture directory %s: %w", a, err)
		}
		w := captureWalk{seen: map[string]string{real: a}}
		if err := w.run(a, real); err != nil {
			return nil, fmt.Errorf("capture directory %s: %w", a, err)
		}
		if len(w.found) == 0 && len(args) > 1 {
			// Alone it is the error below; beside captures, a mistyped or
			// still empty directory must not go unnoticed either.
			slog.Warn("no capture files in a directory given; the other arguments are read", "dir", a)
		}
		slices.SortFunc(w.found, naturalCompare)
		out = append(out, w.found...)
	}
	if len(out) == 0 {
		return nil, noCaptures(args)
	}
	return onceEach(out), nil
}

// noCaptures is the error for arguments that hold no capture (only
// directories can: a file argument is always kept), naming what was
// searched.
func noCaptures(args []string) error {
	switch len(args) {
	case 0:
		return errors.New("no capture files: no paths given")
	case 1:
		return fmt.Errorf("no capture files in %s (none starts with a pcap, pcapng, gzip, zstd or lz4 magic number)", args[0])
	}
	return fmt.Errorf("no capture files in %s (none starts with a pcap, pcapng, gzip, zstd or lz4 magic number)", strings.Join(args, ", "))
}

// maxDupWarnings bounds the warnings onceEach logs one by one; the rest
// are summed up in one more, so "replay dir dir" does not print a line
// per file.
const maxDupWarnings = 10

// onceEach drops a capture listed again under another path (the same
// path twice, another spelling of it, a link or a hard link to a file
// already listed), with a warning: its flows would be counted twice, and
// with dataset --label-dir carry two labels. The first path in order is
// kept, where it is. Standard input is never dropped (ExpandPaths refuses
// a second one).
func onceEach(paths []string) []string {
	type seen struct {
		path string
		info os.FileInfo
	}
	byPath := make(map[string]string, len(paths))
	bySize := make(map[int64][]seen, len(paths)) // os.SameFile candidates
	out := make([]string, 0, len(paths))
	dups := 0
	for _, p := range paths {
		if p == StdinPath {
			out = append(out, p)
			continue
		}
		real, err := filepath.EvalSymlinks(p)
		if err == nil {
			real, err = filepath.Abs(real)
		}
		if err != nil {
			real = p
		}
		first, dup := byPath[real]
		var info os.FileInfo
		if !dup {
			if info, err = os.Stat(p); err == nil {
				for _, s := range bySize[info.Size()] {
					if os.SameFile(s.info, info) {
						first, dup = s.path, true
						break
					}
				}
			}
		}
		if dup {
			if dups++; dups <= maxDupWarnings {
				slog.Warn("capture listed more than once, read once", "file", p, "first", first)
			}
			continue
		}
		byPath[real] = p
		if info != nil {
			bySize[info.Size()] = append(bySize[info.Size()], seen{p, info})
		}
		out = append(out, p)
	}
	if dups > maxDupWarnings {
		slog.Warn("more captures listed more than once, each read once", "more", dups-maxDupWarnings)
	}
	return out
}

// realDir returns dir as an absolute path with every link resolved: the
// identity by which a walk visits each directory once, however reached.
func realDir(dir string) (string, error) {
	r, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	return filepath.Abs(r)
}

// captureWalk collects the captures below one directory argument.
type captureWalk struct {
	seen  map[string]string // real directory -> the path it was walked as
	links []string          // links to directories, followed once the tree without them is walked
	found []string
	// fileLinks are the captures reached through a link to a file, and
	// direct the real paths of those reached without one: a link to a
	// capture found directly is dropped, as a link to a directory is.
	fileLinks []string
	direct    map[string]bool
}

// run walks root, whose real path is real, and then the links to
// directories met on the way (and in what they lead to), in the order
// met. A directory reached both through a link and without one is so
// walked by its path without links: with --label-dir D, D/DNS keeps its
// label and the link D/Alias -> DNS is the repeat skipped with a warning,
// where name order walked D/Alias first and labelled D/DNS's flows Alias.
// Of two links to one directory, the first met is walked. A link to a
// capture file found without a link is the repeat too, whatever the name
// order (A/alias.pcap -> ../B/y.pcap labelled y.pcap's flows A).
func (w *captureWalk) run(root, real string) error {
	if err := w.walk(root, real); err != nil {
		return err
	}
	for i := 0; i < len(w.links); i++ { // walk appends to w.links
		p := w.links[i]
		sub, err := realDir(p)
		if err != nil {
			return err
		}
		if first, ok := w.seen[sub]; ok {
			slog.Warn("skipping a directory already walked (a link loop, or a second link to it)", "dir", p, "walked_as", first)
			continue
		}
		w.seen[sub] = p
		if err := w.walk(p, sub); err != nil {
			return err
		}
	}
	for _, p := range w.fileLinks {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			if r, err = filepath.Abs(r); err == nil && w.direct[r] {
				slog.Warn("capture listed more than once, read once: a link to a capture found without it", "file", p, "first", r)
				continue
			}
		}
		w.found = append(w.found, p)
	}
	return nil
}

// walk adds the captures in dir, whose real path is real, and in the
// directories below it that are not links, in name order; links to
// directories are left in w.links for run.
func (w *captureWalk) walk(dir, real string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		typ := e.Type()
		link := typ&fs.ModeSymlink != 0
		if link {
			st, err := os.Stat(p)
			if err != nil {
				if captureName(p) {
					slog.Warn("skipping a link named like a capture whose target cannot be read", "file", p, "err", err)
				}
				continue
			}
			typ = st.Mode().Type()
		}
		switch {
		case typ.IsDir():
			if link {
				w.links = append(w.links, p)
				continue
			}
			sub := filepath.Join(real, e.Name())
			if first, ok := w.seen[sub]; ok {
				slog.Warn("skipping a directory already walked (a link loop, or a second link to it)", "dir", p, "walked_as", first)
				continue
			}
			w.seen[sub] = p
			if err := w.walk(p, sub); err != nil {
				return err
			}
		case typ.IsRegular():
			ok, err := isCaptureFile(p)
			var de *DecompressError
			if errors.As(err, &de) {
				// A compressed capture cut short before its first block ends
				// (lz4 writes 4 MiB ones) was warned about as "not a pcap or
				// pcapng file", or not at all if not named like one.
				slog.Warn("skipping a compressed file that cannot be decompressed as far as its first bytes", "file", p, "err", de)
				continue
			}
			if err != nil {
				return err
			}
			switch {
			case ok && link:
				w.fileLinks = append(w.fileLinks, p)
			case ok:
				if w.direct == nil {
					w.direct = make(map[string]bool)
				}
				w.direct[filepath.Join(real, e.Name())] = true
				w.found = append(w.found, p)
			case captureName(p):
				// Named like a capture (a crashed tcpdump's empty file, a
				// download cut short): say so rather than skip it silently.
				slog.Warn("skipping a file named like a capture that is not a pcap or pcapng file", "file", p)
			}
		}
	}
	return nil
}

// naturalCompare orders paths as strings, except that runs of digits
// compare by their numeric value (then by length, so "01" sorts after "1").
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		if isDigit(a[0]) && isDigit(b[0]) {
			na, nb := digitRun(a), digitRun(b)
			ta, tb := strings.TrimLeft(a[:na], "0"), strings.TrimLeft(b[:nb], "0")
			if c := cmp.Compare(len(ta), len(tb)); c != 0 {
				return c
			}
			if c := strings.Compare(ta, tb); c != 0 {
				return c
			}
			if c := cmp.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[na:], b[nb:]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// digitRun is the length of the run of digits s starts with.
func digitRun(s string) int {
	n := 0
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	return n
}
