package collector

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowhawk/flowhawk/internal/testshared"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// TestDecodeMatchesGopacket decodes every frame of every shared capture
// with our decoder and with gopacket's layers, and compares addresses,
// ports, protocol, TCP fields and the IP length wherever both decode a
// complete unfragmented packet.
func TestDecodeMatchesGopacket(t *testing.T) {
	dir := testshared.Path(t, "pcaps")
	files, _ := filepath.Glob(filepath.Join(dir, "*.*ap*"))
	compared := 0
	for _, path := range files {
		name := filepath.Base(path)
		if strings.Contains(name, "fuzz") || strings.HasSuffix(name, ".md") {
			continue // randomly corrupted: the two decoders may legitimately disagree
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		frames, _, _ := ourFrames(data)
		d := NewDecoder(DecoderOptions{})
		for i, f := range frames {
			var p Packet
			if d.Decode(&p, f.data, f.link, f.ts, uint32(f.wireLen)) != ResultIP || p.Fragment != NotFragment || d.Kept() {
				continue
			}
			gp := gopacket.NewPacket(f.data, layers.LinkType(f.link), gopacket.DecodeOptions{Lazy: false, NoCopy: true})
			var src, dst netip.Addr
			var ipLen uint32
			var proto uint8
			// The outermost IP layer is the flow's (tunnels are not decapsulated).
			for _, l := range gp.Layers() {
				if ip, ok := l.(*layers.IPv4); ok {
					src, _ = netip.AddrFromSlice(ip.SrcIP.To4())
					dst, _ = netip.AddrFromSlice(ip.DstIP.To4())
					ipLen, proto = uint32(ip.Length), uint8(ip.Protocol)
					break
				}
				if ip, ok := l.(*layers.IPv6); ok {
					src, _ = netip.AddrFromSlice(ip.SrcIP)
					dst, _ = netip.AddrFromSlice(ip.DstIP)
					ipLen = 40 + uint32(ip.Length)
					proto = uint8(ip.NextHeader)
					if ip.NextHeader == layers.IPProtocolIPv6HopByHop {
						proto = 0 // resolved below from the transport layer
					}
					break
				}
			}
			if !src.IsValid() || gp.ErrorLayer() != nil {
				continue // gopacket could not decode it (e.g. the 0f000800 NULL header)
			}
			var sport, dport uint16
			var tl gopacket.TransportLayer
			if proto == 0 || proto == 6 || proto == 17 {
				tl = gp.TransportLayer() // not the inner one of a tunnel
			}
			switch tl := tl.(type) {
			case *layers.TCP:
				sport, dport = uint16(tl.SrcPort), uint16(tl.DstPort)
				if p.TCPSeq != tl.Seq || p.TCPAck != tl.Ack || p.TCPWindow != tl.Window || p.L4HeaderLen != uint16(tl.DataOffset)*4 {
					t.Errorf("%s frame %d: tcp seq/ack/win/hdr %d/%d/%d/%d, gopacket %d/%d/%d/%d", name, i, p.TCPSeq, p.TCPAck, p.TCPWindow, p.L4HeaderLen, tl.Seq, tl.Ack, tl.Window, tl.DataOffset*4)
				}
				if proto == 0 {
					proto = 6
				}
			case *layers.UDP:
				sport, dport = uint16(tl.SrcPort), uint16(tl.DstPort)
				if proto == 0 {
					proto = 17
				}
			}
			if proto == 0 {
				continue
			}
			s16, d16 := src.As16(), dst.As16()
			k, lo := MakeKey(&s16, &d16, sport, dport, proto, p.Key.VLANOuter, p.Key.VLANInner)
			if k != p.Key || lo != p.SrcIsLo || ipLen != p.IPLen {
				t.Errorf("%s frame %d: key %v iplen %d, gopacket %v iplen %d", name, i, p.Key, p.IPLen, k, ipLen)
			}
			compared++
		}
	}
	if compared < 40000 {
		t.Errorf("only %d packets compared", compared)
	}
	t.Logf("%d packets compared with gopacket", compared)
}
