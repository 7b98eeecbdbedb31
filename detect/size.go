package detect

import (
	"fmt"

	"github.com/flowhawk/flowhawk/collector"
)

// sizeDetector checks each flow direction's largest and smallest IP
// datagram against the link MTU and a minimum size: oversized datagrams
// mean jumbo frames where none are expected, a capture taken above
// segmentation offload, or crafted packets; undersized ones are
// truncated or crafted (an ICMP message cut short). It works on flow
// records because both sources fill their size extremes exactly, so flow
// IDs come with it.
type sizeDetector struct{ e *Engine }

// wholeDatagrams reports whether every packet of a flow direction carried
// its transport header, so its smallest IP length is that of a datagram
// (or first fragment) and not of a non-first fragment: a legitimate last
// fragment may be a few bytes. Both decoders give non-first fragments a
// transport header length of 0 and every other TCP, UDP, UDP-Lite, SCTP,
// ICMP and ICMPv6 packet a positive one; protocols whose header they do
// not read have 0 on every packet, so there the record cannot tell.
func wholeDatagrams(proto uint8, ds *collector.DirStats) bool {
	switch proto {
	case 6, 17, 136, 132, 1, 58:
		return ds.MinL4HeaderLen > 0
	}
	return false
}

func (d *sizeDetector) flow(f *collector.Flow) {
	c := &d.e.cfg
	for _, dir := range []collector.Dir{collector.Fwd, collector.Bwd} {
		ds := f.Dir(dir)
		if ds.Packets == 0 || ds.IPLen.N == 0 {
			continue
		}
		src, dst := f.Src(), f.Dst()
		if dir == collector.Bwd {
			src, dst = dst, src
		}
		mk := func(rule string, sev Severity) *Alert {
			return &Alert{
				Time: f.End, First: ds.First, Last: ds.Last, Detector: Size, Rule: rule, Severity: sev,
				Src: src.Addr, Dst: dst.Addr, SrcPort: src.Port, DstPort: dst.Port, Proto: f.Key.Proto,
				FlowIDs: []uint64{f.ID}, cause: src.Addr.String(),
			}
		}
		if maxLen := int(ds.IPLen.Max); maxLen > c.MTU {
			a := mk("size.oversize", SevLow)
			a.Message = fmt.Sprintf("%s sent IP datagrams of up to %d bytes to %s, above the MTU %d", src.Addr, maxLen, dst.Addr, c.MTU)
			a.Evidence = map[string]any{"max_ip_len": maxLen, "mtu": c.MTU, "packets": ds.Packets}
			d.e.raise(a)
		}
		// The minimum is for IPv4; an IPv6 header is 20 bytes longer, so
		// at 28 no IPv6 datagram (40 at least) could fall below it.
		minSize := c.MinIPSize
		if !f.Key.IsIPv4() {
			minSize += 20
		}
		if minLen := int(ds.IPLen.Min); minLen < minSize && wholeDatagrams(f.Key.Proto, ds) {
			a := mk("size.undersize", SevMedium)
			a.Message = fmt.Sprintf("%s sent IP datagrams of only %d bytes to %s, below %d", src.Addr, minLen, dst.Addr, minSize)
			a.Evidence = map[string]any{"min_ip_len": minLen, "min_ip_size": minSize, "packets": ds.Packets}
			d.e.raise(a)
		}
	}
}
