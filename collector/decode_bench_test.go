package collector

import (
	"bytes"
	"testing"

	"github.com/flowhawk/flowhawk/collector/pcapgen"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// packetMix is a realistic in-memory mix of Ethernet frames: mostly IPv4
// TCP (handshakes, ACKs, full segments), DNS over UDP, some IPv6, VLAN
// tagged frames, ICMP and ARP.
func packetMix() [][]byte {
	var mix [][]byte
	add := func(n int, f []byte) {
		for range n {
			mix = append(mix, f)
		}
	}
	add(30, cat(ether(0x0800), ipv4Pkt("10.0.0.1", "93.184.216.34", 6, 1, 0, false, 0, cat(tcpHdr(40000, 443, FlagACK, 12), make([]byte, 1448)))))
	add(25, cat(ether(0x0800), ipv4Pkt("93.184.216.34", "10.0.0.1", 6, 1, 0, false, 0, tcpHdr(443, 40000, FlagACK, 12))))
	add(5, cat(ether(0x0800), ipv4Pkt("10.0.0.1", "93.184.216.34", 6, 1, 0, false, 0, tcpHdr(40001, 443, FlagSYN, 20))))
	add(15, cat(ether(0x0800), ipv4Pkt("10.0.0.1", "10.0.0.53", 17, 1, 0, false, 0, cat(udpHdr(53000, 53, 40), make([]byte, 40)))))
	add(10, cat(ether(0x86dd), ipv6Pkt("2001:db8::1", "2001:db8::2", 6, nil, cat(tcpHdr(50000, 443, FlagACK|FlagPSH, 12), make([]byte, 600)))))
	add(8, cat(ether(0x0800, 0x8100, 100), ipv4Pkt("10.1.0.1", "10.2.0.1", 6, 1, 0, false, 0, cat(tcpHdr(33000, 22, FlagACK, 12), make([]byte, 96)))))
	add(4, cat(ether(0x0800), ipv4Pkt("10.0.0.1", "8.8.8.8", 1, 1, 0, false, 0, []byte{8, 0, 0, 0, 0, 1, 0, 1})))
	add(3, cat(ether(0x0806), make([]byte, 28)))
	return mix
}

// BenchmarkDecode measures the decoder on packetMix (ns/op is per packet)
// against gopacket's DecodingLayerParser on the same frames in the same run.
func BenchmarkDecode(b *testing.B) {
	mix := packetMix()
	b.Run("flowhawk", func(b *testing.B) {
		d := NewDecoder(DecoderOptions{})
		var p Packet
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			d.Decode(&p, mix[i%len(mix)], LinkEthernet, int64(i), 1514)
		}
	})
	b.Run("baseline-gopacket-DecodingLayerParser", func(b *testing.B) {
		var (
			eth  layers.Ethernet
			dot  layers.Dot1Q
			ip4  layers.IPv4
			ip6  layers.IPv6
			tcp  layers.TCP
			udp  layers.UDP
			icmp layers.ICMPv4
			pl   gopacket.Payload
		)
		parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &dot, &ip4, &ip6, &tcp, &udp, &icmp, &pl)
		parser.IgnoreUnsupported = true
		decoded := make([]gopacket.LayerType, 0, 8)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			parser.DecodeLayers(mix[i%len(mix)], &decoded)
		}
	})
}

// genPcap returns an in-memory generated capture.
func genPcap(tb testing.TB, packets, flows int) []byte {
	var buf bytes.Buffer
	if _, err := pcapgen.Write(&buf, pcapgen.Config{Seed: 1, Packets: packets, Flows: flows}); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// loopReader serves a pcap's file header once and then its records over
// and over, so a benchmark reads one endless file without re-opening it.
type loopReader struct {
	data []byte
	pos  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	if l.pos == len(l.data) {
		l.pos = 24
	}
	n := copy(p, l.data[l.pos:])
	l.pos += n
	return n, nil
}

// BenchmarkPcapSource reads and decodes a generated in-memory pcap (ns/op
// is per packet) against pcapgo.ZeroCopyReadPacketData alone (reading
// without decoding) in the same run.
func BenchmarkPcapSource(b *testing.B) {
	const packets = 100_000
	data := genPcap(b, packets, 10_000)
	b.Run("flowhawk-PcapSource", func(b *testing.B) {
		var p Packet
		s, err := NewPcapSource(&loopReader{data: data}, "bench", PcapOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(data) / packets))
		for b.Loop() {
			if err := s.NextPacket(&p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("flowhawk-reader-only", func(b *testing.B) {
		s, err := NewPcapSource(&loopReader{data: data}, "bench", PcapOptions{})
		if err != nil {
			b.Fatal(err)
		}
		var fr frame
		b.ReportAllocs()
		b.SetBytes(int64(len(data) / packets))
		for b.Loop() {
			if err := s.rd.next(&fr); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline-pcapgo-ZeroCopyReadPacketData", func(b *testing.B) {
		r, err := pcapgo.NewReader(&loopReader{data: data})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(data) / packets))
		for b.Loop() {
			if _, _, err := r.ZeroCopyReadPacketData(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestNoAllocPerPacket proves the steady state allocates nothing: reading
// and decoding a packet, and decoding alone.
func TestNoAllocPerPacket(t *testing.T) {
	data := genPcap(t, 20_000, 2_000)
	s, err := NewPcapSource(bytes.NewReader(data), "gen", PcapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var p Packet
	for range 100 { // warm up: buffers and link type table
		s.NextPacket(&p)
	}
	if a := testing.AllocsPerRun(10_000, func() {
		if err := s.NextPacket(&p); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("PcapSource.NextPacket: %.2f allocs per packet, want 0", a)
	}
	mix := packetMix()
	d := NewDecoder(DecoderOptions{})
	i := 0
	if a := testing.AllocsPerRun(10_000, func() {
		d.Decode(&p, mix[i%len(mix)], LinkEthernet, int64(i), 1514)
		i++
	}); a != 0 {
		t.Errorf("Decoder.Decode: %.2f allocs per packet, want 0", a)
	}
}
