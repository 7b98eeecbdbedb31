package ipfix

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/flowhawk/flowhawk/collector"
)

// synthFlows runs synthetic conversations through a real flow table and
// returns the records it emits: TCP with a handshake and FIN close, UDP,
// ICMP (echo, or unreachable with a code), IPv4 and IPv6, some on VLANs.
// Timestamps start at base.
func synthFlows(n int, base time.Time) []*collector.Flow {
	var out []*collector.Flow
	t := collector.NewTable(collector.DefaultTableConfig(), func(f *collector.Flow) { out = append(out, f) })
	ts := base.UnixNano()
	for i := 0; i < n; i++ {
		var src, dst netip.Addr
		if i%4 == 3 {
			src = netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", i+1))
			dst = netip.MustParseAddr("2001:db8:ffff::1")
		} else {
			src = netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
			dst = netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i%7)})
		}
		proto := []uint8{6, 17, 6, 1, 6}[i%5]
		sport, dport := uint16(30000+i), uint16(443)
		if proto == 17 {
			dport = 53
		}
		if proto == 1 {
			sport, dport = 0, 0
		}
		vlan := uint16(0)
		if i%3 == 0 {
			vlan = uint16(100 + i%5)
		}
		a, b := src.As16(), dst.As16()
		kf, fwdLo := collector.MakeKey(&a, &b, sport, dport, proto, vlan, 0)
		if i%4 == 1 {
			kf.SetTunnelID(uint32(5000 + i)) // a flow unwrapped from a tunnel
		}
		pkts := 2 + i%9
		for j := 0; j < pkts; j++ {
			fwd := j%2 == 0
			p := collector.Packet{Timestamp: ts, Key: kf, SrcIsLo: fwdLo == fwd, IPLen: uint32(60 + 10*j + i%13), IPHeaderLen: 20}
			if src.Is6() {
				p.IPHeaderLen = 40
			}
			switch proto {
			case 6:
				p.L4HeaderLen = 20
				switch {
				case j == 0:
					p.TCPFlags = collector.FlagSYN
				case j == 1:
					p.TCPFlags = collector.FlagSYN | collector.FlagACK
				case j == pkts-1 && pkts > 3:
					p.TCPFlags = collector.FlagFIN | collector.FlagACK
				default:
					p.TCPFlags = collector.FlagACK | collector.FlagPSH
				}
			case 17:
				p.L4HeaderLen = 8
			case 1:
				p.L4HeaderLen = 8
				// Echo request and reply, or an unreachable with a code.
				p.ICMPType, p.ICMPCode = 8, 0
				if !fwd {
					p.ICMPType = 0
				}
				if i%2 == 1 {
					p.ICMPType, p.ICMPCode = 3, uint8(i%16)
				}
			}
			if p.IPLen < uint32(p.IPHeaderLen)+uint32(p.L4HeaderLen) {
				p.IPLen = uint32(p.IPHeaderLen) + uint32(p.L4HeaderLen)
			}
			p.PayloadLen = p.IPLen - uint32(p.IPHeaderLen) - uint32(p.L4HeaderLen)
			t.Add(&p)
			ts += int64(3*time.Millisecond) + int64(i)*1000
		}
	}
	t.Flush()
	return out
}
