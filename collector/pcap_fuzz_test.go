package collector

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// sharedCaptures returns the shared capture files' bytes (none if absent).
func sharedCaptures(tb testing.TB, maxSize int) map[string][]byte {
	dir := filepath.Join("..", "..", "shared", "pcaps")
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Logf("no fuzz seeds from %s: %v", dir, err)
		return nil
	}
	out := map[string][]byte{}
	for _, e := range ents {
		n := e.Name()
		if strings.HasSuffix(n, ".md") || strings.HasSuffix(n, ".tsv") || strings.HasSuffix(n, ".sh") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err == nil && len(data) <= maxSize {
			out[n] = data
		}
	}
	return out
}

// FuzzDecodePacket feeds arbitrary frames of any link type to the decoder;
// it must never panic and its lengths must stay consistent.
func FuzzDecodePacket(f *testing.F) {
	// Seeds: the first frames of every shared capture, with their link type.
	for _, data := range sharedCaptures(f, 1<<20) {
		s, err := NewPcapSource(bytes.NewReader(data), "seed", PcapOptions{})
		if err != nil {
			continue
		}
		for range 20 {
			var fr frame
			if s.rd.next(&fr) != nil {
				break
			}
			f.Add(bytes.Clone(fr.data), fr.linkType)
		}
	}
	f.Add(cat(ether(0x0800, 0x8100, 5, 0x88a8, 6), ipv4Pkt("1.2.3.4", "5.6.7.8", 6, 1, 0, true, 4, tcpHdr(1, 2, FlagSYN, 4))), LinkEthernet)
	f.Add(ipv6Pkt("::1", "::2", 44, []byte{6, 0, 0, 8, 0, 0, 0, 1}, make([]byte, 16)), LinkRaw)
	f.Add(cat(ether(0x0800), ipv4Pkt("1.2.3.4", "5.6.7.8", 47, 1, 0, false, 0, append([]byte{0x20, 0, 0x08, 0, 0, 0, 0, 7},
		ipv4Pkt("10.0.0.1", "10.0.0.2", 6, 1, 0, false, 0, tcpHdr(1, 2, FlagSYN, 0))...))), LinkEthernet)
	// The same frames through a decoder without and one with decapsulation.
	decs := []*Decoder{NewDecoder(DecoderOptions{FragCacheSize: 64}), NewDecoder(DecoderOptions{FragCacheSize: 64, Decap: true})}
	f.Fuzz(func(t *testing.T, data []byte, link uint32) {
		for _, d := range decs {
			var p Packet
			wire := uint32(len(data)) + uint32(len(data)%3)*100
			switch d.Decode(&p, data, link%300, int64(len(data))*1e6, wire) {
			case ResultIP:
				if len(p.Payload) > len(data) {
					t.Fatalf("payload %d > frame %d", len(p.Payload), len(data))
				}
				if uint32(p.IPHeaderLen)+uint32(p.L4HeaderLen) > p.IPLen {
					t.Fatalf("headers %d+%d > ip length %d", p.IPHeaderLen, p.L4HeaderLen, p.IPLen)
				}
				if p.PayloadLen != p.IPLen-uint32(p.IPHeaderLen)-uint32(p.L4HeaderLen) {
					t.Fatalf("payload length %d != %d-%d-%d", p.PayloadLen, p.IPLen, p.IPHeaderLen, p.L4HeaderLen)
				}
				if (p.Key.Proto == 1 || p.Key.Proto == 58) && (p.Key.PortLo != 0 || p.Key.PortHi != 0) {
					t.Fatalf("icmp with ports: %v", p.Key)
				}
			case ResultMalformed:
				if d.LastReason >= NumMalformedReasons {
					t.Fatalf("bad reason %d", d.LastReason)
				}
			}
			if d.depth != 0 {
				t.Fatalf("decoder left at tunnel depth %d", d.depth)
			}
		}
	})
}

// FuzzPcapReader feeds whole files to PcapSource: it must never panic, and
// a failure must be a *ReadError with an offset inside the input.
func FuzzPcapReader(f *testing.F) {
	for name, data := range sharedCaptures(f, 64<<10) {
		f.Add(data)
		f.Add(data[:len(data)*2/3])
		if name == "zeek__wikipedia.pcap" { // one capture in each compression, whole and cut
			for _, z := range [][]byte{gzipBytes(f, data), zstdBytes(f, data), lz4Bytes(f, data)} {
				f.Add(z)
				f.Add(z[:len(z)*2/3])
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := NewPcapSource(bytes.NewReader(data), "fuzz", PcapOptions{FragCacheSize: 64})
		if err != nil {
			var re *ReadError
			if !errors.As(err, &re) || re.Offset != 0 {
				t.Fatalf("open error %v is not a ReadError at 0", err)
			}
			return
		}
		var p Packet
		n := 0
		for {
			err = s.NextPacket(&p)
			if err == io.EOF {
				break
			}
			if err != nil {
				var re *ReadError
				// A compressed file's offsets count decompressed bytes,
				// which may outnumber the input's.
				if !errors.As(err, &re) || re.Offset < 0 || (!re.Compressed && re.Offset > int64(len(data))) {
					t.Fatalf("error %v: not a ReadError inside the input", err)
				}
				break
			}
			n++
		}
		st := s.Stats()
		if st.Frames != st.IPPackets+st.NonIP+st.Dropped || uint64(n) != st.IPPackets {
			t.Fatalf("frames %d != ip %d + non-ip %d + dropped %d (returned %d)", st.Frames, st.IPPackets, st.NonIP, st.Dropped, n)
		}
		// How the input arrives (a pipe, a socket, a decompressor hands
		// out a few bytes a read) must not change what is read from it.
		if whole, bytewise := readTrace(data, false), readTrace(data, true); whole != bytewise {
			t.Fatalf("read whole and a byte at a time differ:\n%s\n%s", whole, bytewise)
		}
	})
}

// readTrace reads a capture from data (a byte per Read if oneByte) and
// describes what it returned: every packet, the error it ended with (as
// a ReadError's offset and text) and the stats.
func readTrace(data []byte, oneByte bool) string {
	var r io.Reader = bytes.NewReader(data)
	if oneByte {
		r = iotest.OneByteReader(r)
	}
	s, err := NewPcapSource(r, "fuzz", PcapOptions{FragCacheSize: 64})
	if err != nil {
		return fmt.Sprintf("open: %v", err)
	}
	var b strings.Builder
	var p Packet
	for {
		err := s.NextPacket(&p)
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintf(&b, "error: %v\n", err)
			break
		}
		pl := p.Payload
		p.Payload = nil
		fmt.Fprintf(&b, "%+v %x\n", p, pl)
	}
	fmt.Fprintf(&b, "%+v", s.Stats())
	return b.String()
}
