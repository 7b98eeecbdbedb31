package collector

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"
)

// PcapOptions tunes a PcapSource; the zero value is the default.
type PcapOptions struct {
	// FragTimeout is how long (packet time) a first fragment's ports are
	// kept for its later fragments (default 30 s).
	FragTimeout time.Duration
	// FragCacheSize bounds the datagrams whose first fragment is remembered
	// (default DefaultFragCacheSize).
	FragCacheSize int
	// Decap unwraps one level of tunnel: IP-in-IP, GRE, VXLAN, GENEVE
	// (DecoderOptions.Decap).
	Decap bool
	// Decoder, when set, decodes the frames instead of a decoder of the
	// source's own (the fields above are then the decoder's business).
	// The files of one capture share one, so that the fragments of a
	// datagram on both sides of a file boundary stay in one flow.
	Decoder *Decoder
}

// NewDecoder returns the decoder these options describe.
func (o PcapOptions) NewDecoder() *Decoder {
	return NewDecoder(DecoderOptions{FragTimeout: int64(o.FragTimeout), FragCacheSize: o.FragCacheSize, Decap: o.Decap})
}

// PcapSource reads one capture file (pcap or pcapng, optionally gzip,
// zstd or lz4 compressed; the format is detected from the magic number) and decodes
// its frames. It implements PacketSource and does not allocate per packet.
type PcapSource struct {
	path   string
	f      *os.File
	unz    func() error // releases the decompressor of a compressed file
	rd     frameReader
	ng     *pcapngReader
	off    *offReader
	dec    *Decoder
	base   SourceStats // the decoder's counters when the file was opened
	fr     frame
	stats  SourceStats
	err    error // sticky: EOF or a *ReadError
	packed bool  // compressed: offsets count decompressed bytes
	// last link type, to count frames per link type without a lookup each
	// time; linkIdx finds the others (a pcapng file can have thousands).
	lastLink, lastIdx int
	linkIdx           map[uint32]int
	// unknownLinks counts the link types not decoded seen so far, so that
	// only the first maxLinkWarnings are warned about one by one.
	unknownLinks int
	// prevTS is the time of the file's previous record with a valid one
	// (havePrev), to count the jumps of more than MaxTimeJump.
	prevTS   int64
	havePrev bool
}

// MaxTimeJump is the largest step between the times of consecutive
// records of a file that is taken as a clock's: a longer one, forward or
// backward, is counted in SourceStats.TimeJumps and warned about, as a
// corrupt timestamp ends or splits every flow open across it.
const MaxTimeJump = 24 * time.Hour

// timeJump reports whether a and b (Unix ns) are more than MaxTimeJump
// apart; the difference is taken unsigned, as two pcapng times can be
// further apart than int64 holds.
func timeJump(a, b int64) bool {
	if a < b {
		a, b = b, a
	}
	return uint64(a)-uint64(b) > uint64(MaxTimeJump)
}

// maxLinkWarnings bounds the per-link-type warnings of one file; the rest
// are summed up in one at its end.
const maxLinkWarnings = 10

// OpenPcap opens a capture file. Errors name the file (and, for a bad
// header, offset 0).
func OpenPcap(path string, opts PcapOptions) (*PcapSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open capture: %w", err)
	}
	s, err := NewPcapSource(f, path, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	s.f = f
	return s, nil
}

// NewPcapSource reads a capture from r; name is used in errors. The caller
// closes r (Close only releases what NewPcapSource itself opened).
func NewPcapSource(r io.Reader, name string, opts PcapOptions) (*PcapSource, error) {
	s := &PcapSource{path: name, lastLink: -1, dec: opts.Decoder}
	if s.dec == nil {
		s.dec = opts.NewDecoder()
	}
	s.dec.FillStats(&s.base)
	// One buffer between the file and the parser for plain captures; gzip
	// reads through it and gets a second one for the decompressed stream.
	s.off = newOffReader(r)
	head, _ := s.off.peek(4)
	zr, release, err := decompress(captureKind(head), s.off)
	if err != nil {
		return nil, &ReadError{Path: name, Offset: 0, Err: err}
	}
	if zr != nil {
		s.unz, s.packed = release, true
		s.off = newOffReader(zr)
	}
	h, err := s.off.peek(4)
	if err != nil && len(h) < 4 {
		return nil, s.readErr(0, fmt.Errorf("file header: %w (%d bytes)", shortErr(err), len(h)))
	}
	switch captureKind(h) {
	case "pcap":
		pr, err := newPcapReader(s.off)
		if err != nil {
			return nil, s.readErr(0, err)
		}
		if !KnownLinkType(pr.linkType) {
			return nil, s.readErr(0, &UnknownLinkTypeError{pr.linkType})
		}
		s.rd = pr
	case "pcapng":
		ng, _ := newPcapngReader(s.off)
		s.rd, s.ng = ng, ng
	default:
		return nil, s.readErr(0, fmt.Errorf("not a pcap or pcapng file (magic % x)", h))
	}
	s.stats.Files = 1
	return s, nil
}

// readErr wraps err for the file at offset off. A decompressor's error
// is reported as itself: the record or block being read when it struck
// is not at fault.
func (s *PcapSource) readErr(off int64, err error) error {
	var de *DecompressError
	if errors.As(err, &de) {
		err = de
	}
	return &ReadError{Path: s.path, Offset: off, Compressed: s.packed, Err: err}
}

// Path is the file name the source was opened with.
func (s *PcapSource) Path() string { return s.path }

// NextPacket returns the next IP packet. Non-IP and malformed frames are
// counted and skipped. At the end it returns io.EOF; on a bad record it
// returns a *ReadError naming the file and the record's offset, and keeps
// returning it. A later IP fragment that comes before its first fragment
// is held and returned right after it (Decoder.Hold); fragments still
// held at the end of the file, or at a bad record, are returned before
// the error, with ports 0.
func (s *PcapSource) NextPacket(p *Packet) error {
	if s.dec.Ready(p) {
		s.stats.IPPackets++
		return nil
	}
	if s.err != nil {
		return s.err
	}
	for {
		fr := &s.fr
		if err := s.rd.next(fr); err != nil {
			if err == io.EOF {
				s.err = io.EOF
			} else {
				s.err = s.readErr(fr.off, err)
			}
			if s.unknownLinks > maxLinkWarnings {
				slog.Warn("skipped the frames of more pcapng interfaces whose link types are not decoded", "file", s.path, "more_link_types", s.unknownLinks-maxLinkWarnings)
				s.unknownLinks = 0
			}
			s.dec.ReleaseHeld()
			if s.dec.Ready(p) {
				s.stats.IPPackets++
				return nil
			}
			return s.err
		}
		st := &s.stats
		st.Frames++
		if fr.wireLen < fr.capLen {
			// A frame is never shorter than its captured bytes: a record
			// that says so (a broken writer) is taken at its captured
			// length, and counted.
			fr.wireLen = fr.capLen
			st.WireShorter++
		}
		st.Bytes += uint64(fr.wireLen)
		st.CapturedBytes += uint64(fr.capLen)
		if fr.capLen < fr.wireLen {
			st.SnapTruncated++
		}
		if int(fr.linkType) != s.lastLink {
			s.lastLink = int(fr.linkType)
			i, ok := s.linkIdx[fr.linkType]
			if !ok {
				if s.linkIdx == nil {
					s.linkIdx = make(map[uint32]int)
				}
				i = len(st.LinkTypes)
				s.linkIdx[fr.linkType] = i
				st.LinkTypes = append(st.LinkTypes, LinkTypeCount{LinkType: fr.linkType})
			}
			s.lastIdx = i
		}
		st.LinkTypes[s.lastIdx].Frames++
		if !fr.tsOK {
			// A time int64 nanoseconds cannot hold (a pcapng clock set to
			// the year 586524, a corrupt if_tsoffset) would wrap to another
			// time and move its flow's timers by centuries: the frame is
			// skipped and counted, and the file read on.
			if st.BadTimestamps == 0 {
				slog.Warn("skipping pcapng frames whose timestamp is outside 1677-2262", "file", s.path, "offset", fr.off, "interface", fr.iface)
			}
			st.BadTimestamps++
			st.Dropped++
			continue
		}
		if s.havePrev && timeJump(fr.ts, s.prevTS) {
			// Kept: the time may be a real clock step, and the packet's
			// contents are good. Warned about once per file, with where
			// to look, and counted, so split flows are not a mystery.
			if st.TimeJumps == 0 {
				st.FirstTimeJump = FrameRef{Path: s.path, Frame: st.Frames, Offset: fr.off, Compressed: s.packed}
				slog.Warn("record time jumps more than a day from the previous record's; flows open across it end and restart",
					"file", s.path, "frame", st.Frames, "offset", fr.off, "time", time.Unix(0, fr.ts).UTC(), "previous", time.Unix(0, s.prevTS).UTC())
			}
			st.TimeJumps++
		}
		s.prevTS, s.havePrev = fr.ts, true
		// A stripped FCS is not "missing" data: decode against the frame as
		// it was without it, report the record's lengths.
		wire := fr.wireLen - (fr.capLen - uint32(len(fr.data)))
		switch s.dec.Decode(p, fr.data, fr.linkType, fr.ts, wire) {
		case ResultIP:
			if s.dec.kept {
				st.Malformed++
				s.firstMalformed(fr.off)
			}
			p.CapLen, p.WireLen = fr.capLen, fr.wireLen
			if s.dec.Orphan() {
				s.dec.Hold(p)
				if s.dec.Ready(p) { // a fragment the bound on held ones let go
					st.IPPackets++
					return nil
				}
				continue
			}
			// Fragments this one released (its held later fragments)
			// follow it on the next calls.
			st.IPPackets++
			return nil
		case ResultNonIP:
		case ResultMalformed:
			st.Malformed++
			st.Dropped++
			s.firstMalformed(fr.off)
		case ResultUnknownLink:
			st.Dropped++
			if s.ng == nil { // a pcap file has one link type, checked at open
				s.err = s.readErr(fr.off, &UnknownLinkTypeError{fr.linkType})
				return s.err
			}
			// One interface of a pcapng file is of a kind we do not
			// decode: skip its frames, read the others.
			if st.LinkTypes[s.lastIdx].Frames == 1 {
				if s.unknownLinks++; s.unknownLinks <= maxLinkWarnings {
					slog.Warn("skipping the frames of a pcapng interface whose link type is not decoded", "file", s.path, "offset", fr.off, "link_type", fr.linkType)
				}
			}
			st.UnknownLink++
		}
	}
}

// firstMalformed records the frame just decoded, which starts at off, as
// the first of each reason it is the first malformed frame of: a frame
// can count under two (an IP length beyond the frame, then a transport
// header cut short).
func (s *PcapSource) firstMalformed(off int64) {
	st := &s.stats
	for r := range st.FirstMalformed {
		if st.FirstMalformed[r].Frame == 0 && s.dec.malformed[r] > s.base.MalformedBy[r] {
			st.FirstMalformed[r] = FrameRef{Path: s.path, Frame: st.Frames, Offset: off, Compressed: s.packed}
		}
	}
}

// Stats returns the counters so far.
func (s *PcapSource) Stats() SourceStats {
	st := s.stats
	var d SourceStats
	s.dec.FillStats(&d)
	st.NonIP = d.NonIP - s.base.NonIP
	for i := range st.MalformedBy {
		st.MalformedBy[i] = d.MalformedBy[i] - s.base.MalformedBy[i]
	}
	st.Fragments = d.Fragments - s.base.Fragments
	st.OrphanFragments = d.OrphanFragments - s.base.OrphanFragments
	st.WrongFragments = d.WrongFragments - s.base.WrongFragments
	st.FragEvicted = d.FragEvicted - s.base.FragEvicted
	st.Decapsulated = d.Decapsulated - s.base.Decapsulated
	st.DecapFallback = d.DecapFallback - s.base.DecapFallback
	if s.ng != nil {
		st.SkippedBlocks = s.ng.skipped
	}
	st.LinkTypes = append([]LinkTypeCount(nil), s.stats.LinkTypes...)
	return st
}

// Close releases the file.
func (s *PcapSource) Close() error {
	var err error
	if s.unz != nil {
		err = s.unz()
	}
	if s.f != nil {
		if e := s.f.Close(); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// MultiSource reads several capture files one after the other as one
// packet stream (summed stats; one decoder, so one fragment cache). A
// bad file ends that file: NextPacket returns its *ReadError once and the
// next call goes on with the next file, so the caller decides whether to
// stop.
type MultiSource struct {
	paths []string
	opts  PcapOptions
	cur   *PcapSource
	done  SourceStats
	next  int
}

// NewMultiSource returns a source over paths (see ExpandPaths); files are
// opened lazily. They share one decoder, and so one fragment cache.
func NewMultiSource(paths []string, opts PcapOptions) *MultiSource {
	if opts.Decoder == nil {
		opts.Decoder = opts.NewDecoder()
	}
	return &MultiSource{paths: paths, opts: opts}
}

// NextPacket returns the next packet of the current file, moving on to the
// next file at the end of each; io.EOF after the last.
func (m *MultiSource) NextPacket(p *Packet) error {
	for {
		if m.cur == nil {
			if m.next >= len(m.paths) {
				return io.EOF
			}
			path := m.paths[m.next]
			m.next++
			s, err := OpenPcap(path, m.opts)
			if err != nil {
				var re *ReadError
				if !errors.As(err, &re) {
					err = &ReadError{Path: path, Err: err}
				}
				return err
			}
			m.cur = s
		}
		err := m.cur.NextPacket(p)
		if err == nil {
			return nil
		}
		st := m.cur.Stats()
		m.done.add(&st)
		m.cur.Close()
		m.cur = nil
		if err != io.EOF {
			return err
		}
	}
}

// Stats returns the counters summed over the files read so far.
func (m *MultiSource) Stats() SourceStats {
	var st SourceStats
	st.add(&m.done)
	if m.cur != nil {
		c := m.cur.Stats()
		st.add(&c)
	}
	return st
}

// Close releases the current file.
func (m *MultiSource) Close() error {
	if m.cur != nil {
		err := m.cur.Close()
		m.cur = nil
		return err
	}
	return nil
}
