package ipfix

import (
	"encoding/binary"
	"math"
	"unicode/utf8"

	"github.com/flowhawk/flowhawk/collector"
)

const (
	version       = 10
	msgHeaderLen  = 16
	setHeaderLen  = 4
	templateSetID = 2
	maxLabel      = 254 // longest class label in a one-byte varlen prefix
)

// record is what Export copies out of a *collector.Flow, so the caller may
// reuse the flow as soon as Export returns.
type record struct {
	v6                 bool
	src, dst           [16]byte
	sport, dport       uint16
	proto              uint8
	icmp               uint16 // ICMP type<<8 | code, 0 if not ICMP
	vlan, vlanIn       uint16
	startMs, endMs     uint64
	fwdOct, fwdPkt     uint64
	bwdOct, bwdPkt     uint64
	fwdFlags, bwdFlags uint8
	reason             uint8
	fwdPay, bwdPay     uint64
	fwdMean, bwdMean   float64
	fwdStd, bwdStd     float64
	iatMean, iatStd    float64
	activeMean         float64
	idleMean           float64
	subflows, sampling uint32
	tunnel             uint32
	class              string
}

// flowEndReason maps our end reasons to IPFIX flowEndReason values
// (1 idle timeout, 2 active timeout, 3 end of flow detected, 4 forced end,
// 5 lack of resources).
func flowEndReason(r collector.EndReason) uint8 {
	switch r {
	case collector.EndIdle:
		return 1
	case collector.EndActive:
		return 2
	case collector.EndFIN, collector.EndRST:
		return 3
	case collector.EndFlush:
		return 4
	case collector.EndEvicted:
		return 5
	}
	return 4
}

func flagUnion(d *collector.DirStats) uint8 {
	var u uint8
	for b, n := range d.FlagCounts {
		if n != 0 {
			u |= 1 << b
		}
	}
	return u
}

// fill copies what the record needs from f: source is the initiator.
func (r *record) fill(f *collector.Flow, class string) {
	src, dst := f.Src(), f.Dst()
	r.v6 = !f.Key.IsIPv4()
	r.src, r.dst = src.Addr.As16(), dst.Addr.As16()
	r.sport, r.dport = src.Port, dst.Port
	r.proto = f.Key.Proto
	if r.proto == 1 || r.proto == 58 {
		r.icmp = uint16(f.ICMPType)<<8 | uint16(f.ICMPCode)
	}
	r.vlan, r.vlanIn = f.Key.VLANOuter, f.Key.VLANInner
	// flowStartMilliseconds is unsigned: a time before 1970 (a capture
	// with a broken clock) is sent as 0, not wrapped to year 584556019.
	r.startMs, r.endMs = uint64(max(f.Start/1e6, 0)), uint64(max(f.End/1e6, 0))
	r.fwdOct, r.fwdPkt = f.Fwd.Bytes, f.Fwd.Packets
	r.bwdOct, r.bwdPkt = f.Bwd.Bytes, f.Bwd.Packets
	r.fwdFlags, r.bwdFlags = flagUnion(&f.Fwd), flagUnion(&f.Bwd)
	r.reason = flowEndReason(f.EndReason)
	r.fwdPay, r.bwdPay = f.Fwd.PayloadBytes, f.Bwd.PayloadBytes
	r.fwdMean, r.bwdMean = f.Fwd.PayloadLen.Mean(), f.Bwd.PayloadLen.Mean()
	r.fwdStd, r.bwdStd = f.Fwd.PayloadLen.Std(), f.Bwd.PayloadLen.Std()
	r.iatMean, r.iatStd = f.IAT.Mean()/1e3, f.IAT.Std()/1e3
	r.activeMean, r.idleMean = f.Active.Mean()/1e3, f.Idle.Mean()/1e3
	r.subflows = uint32(min(f.SubflowCount, math.MaxUint32))
	r.sampling = max(f.Sampled, 1)
	r.tunnel = f.Key.TunnelID()
	if len(class) > maxLabel {
		// Cut between characters: an IPFIX string is UTF-8 (RFC 7011 6.1.6).
		n := maxLabel
		for n > 0 && !utf8.RuneStart(class[n]) {
			n--
		}
		class = class[:n]
	}
	r.class = class
}

// fixedLen is the encoded size of a record without its class label.
func fixedLen(v6 bool) int {
	addr := 8
	if v6 {
		addr = 32
	}
	// ports 4, proto 1, ICMP type/code 2, vlans 4, times 16, counters 32,
	// flags 2, reason 1, direction 1, enterprise: 2*8 + 8*8 + 3*4, label
	// prefix 1.
	return addr + 4 + 1 + 2 + 4 + 16 + 32 + 2 + 1 + 1 + 16 + 64 + 12 + 1
}

func (r *record) size() int { return fixedLen(r.v6) + len(r.class) }

func (r *record) templateID() uint16 {
	if r.v6 {
		return TemplateIPv6
	}
	return TemplateIPv4
}

// appendRecord encodes r in template order.
func appendRecord(b []byte, r *record) []byte {
	be := binary.BigEndian
	if r.v6 {
		b = append(b, r.src[:]...)
		b = append(b, r.dst[:]...)
	} else {
		b = append(b, r.src[12:]...)
		b = append(b, r.dst[12:]...)
	}
	b = be.AppendUint16(b, r.sport)
	b = be.AppendUint16(b, r.dport)
	b = append(b, r.proto)
	b = be.AppendUint16(b, r.icmp)
	b = be.AppendUint16(b, r.vlan)
	b = be.AppendUint16(b, r.vlanIn)
	b = be.AppendUint64(b, r.startMs)
	b = be.AppendUint64(b, r.endMs)
	b = be.AppendUint64(b, r.fwdOct)
	b = be.AppendUint64(b, r.fwdPkt)
	b = be.AppendUint64(b, r.bwdOct)
	b = be.AppendUint64(b, r.bwdPkt)
	// reverseTcpControlBits, tcpControlBits, flowEndReason, and
	// biflowDirection 1: source is the initiator.
	b = append(b, r.bwdFlags, r.fwdFlags, r.reason, 1)
	b = be.AppendUint64(b, r.fwdPay)
	b = be.AppendUint64(b, r.bwdPay)
	for _, v := range [...]float64{r.fwdMean, r.bwdMean, r.fwdStd, r.bwdStd, r.iatMean, r.iatStd, r.activeMean, r.idleMean} {
		b = be.AppendUint64(b, math.Float64bits(v))
	}
	b = be.AppendUint32(b, r.subflows)
	b = be.AppendUint32(b, r.sampling)
	b = be.AppendUint32(b, r.tunnel)
	b = append(b, byte(len(r.class)))
	b = append(b, r.class...)
	return b
}

// appendTemplateSet encodes one template set holding both templates.
func appendTemplateSet(b []byte, pen uint32) []byte {
	be := binary.BigEndian
	start := len(b)
	b = be.AppendUint16(b, templateSetID)
	b = be.AppendUint16(b, 0) // length, patched below
	for _, t := range [...]struct {
		id uint16
		v6 bool
	}{{TemplateIPv4, false}, {TemplateIPv6, true}} {
		fs := fields(t.v6, pen)
		b = be.AppendUint16(b, t.id)
		b = be.AppendUint16(b, uint16(len(fs)))
		for _, f := range fs {
			if f.PEN != 0 {
				b = be.AppendUint16(b, f.ID|0x8000)
				b = be.AppendUint16(b, f.Length)
				b = be.AppendUint32(b, f.PEN)
			} else {
				b = be.AppendUint16(b, f.ID)
				b = be.AppendUint16(b, f.Length)
			}
		}
	}
	be.PutUint16(b[start+2:], uint16(len(b)-start))
	return b
}

// appendHeader appends a message header; its length is patched by
// finishMessage.
func appendHeader(b []byte, exportTime, seq, domain uint32) []byte {
	be := binary.BigEndian
	b = be.AppendUint16(b, version)
	b = be.AppendUint16(b, 0)
	b = be.AppendUint32(b, exportTime)
	b = be.AppendUint32(b, seq)
	b = be.AppendUint32(b, domain)
	return b
}

func finishMessage(b []byte) {
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
}
