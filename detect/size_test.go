package detect

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/flowhawk/flowhawk/collector"
)

// ipv4 builds a raw IPv4 packet: fragment offset in bytes, mf the
// more-fragments flag, l4 the IP payload.
func ipv4(src, dst string, proto uint8, id uint16, fragOff int, mf bool, l4 []byte) []byte {
	b := make([]byte, 20, 20+len(l4))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(20+len(l4)))
	binary.BigEndian.PutUint16(b[4:], id)
	ff := uint16(fragOff / 8)
	if mf {
		ff |= 0x2000
	}
	binary.BigEndian.PutUint16(b[6:], ff)
	b[8], b[9] = 64, proto
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	return append(b, l4...)
}

// decodeFlows runs raw IP packets through the pcap path's decoder and
// flow table and returns the finished records.
func decodeFlows(t *testing.T, pkts ...[]byte) []*collector.Flow {
	t.Helper()
	var flows []*collector.Flow
	tab := collector.NewTable(collector.DefaultTableConfig(), func(f *collector.Flow) {
		c := *f
		flows = append(flows, &c)
	})
	d := collector.NewDecoder(collector.DecoderOptions{})
	for i, b := range pkts {
		var p collector.Packet
		if r := d.Decode(&p, b, collector.LinkRaw, t0+int64(i)*sec/1000, uint32(len(b))); r != collector.ResultIP {
			t.Fatalf("packet %d: decoder result %v", i, r)
		}
		tab.Add(&p)
	}
	tab.Flush()
	return flows
}

// A UDP datagram of 1481 payload bytes sent as fragments of 1500 and 21
// bytes is ordinary: the last fragment is small, the datagram is not.
// An ICMP message cut short (22 bytes) still is undersized.
func TestSizeUndersizeIgnoresLaterFragments(t *testing.T) {
	udp := make([]byte, 8+1473)
	binary.BigEndian.PutUint16(udp[0:], 5000)
	binary.BigEndian.PutUint16(udp[2:], 6000)
	binary.BigEndian.PutUint16(udp[4:], uint16(len(udp)))
	flows := decodeFlows(t,
		ipv4("10.0.0.1", "10.0.0.2", 17, 7, 0, true, udp[:1480]),
		ipv4("10.0.0.1", "10.0.0.2", 17, 7, 1480, false, udp[1480:]),
		ipv4("10.0.0.3", "10.0.0.2", 1, 8, 0, false, []byte{8, 0}),
	)
	if len(flows) != 2 {
		t.Fatalf("%d flows, want the UDP one (both fragments) and the ICMP one", len(flows))
	}
	e, c := newTest(t, only("size"))
	for _, f := range flows {
		if f.Key.Proto == 17 && (f.Fwd.Packets != 2 || f.Fwd.IPLen.Min != 21) {
			t.Fatalf("UDP flow: %d packets, smallest %v bytes; want 2 and 21", f.Fwd.Packets, f.Fwd.IPLen.Min)
		}
		e.OnFlow(f)
	}
	e.Close()
	if len(c.alerts) != 1 || c.alerts[0].Rule != "size.undersize" || c.alerts[0].Src.String() != "10.0.0.3" {
		for _, a := range c.alerts {
			t.Log(a.Message)
		}
		t.Fatalf("alerts %v, want size.undersize from the ICMP sender only", c.rules())
	}
}
