package stream

import (
	"fmt"
	"math"
	"net/netip"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/flowhawk/flowhawk/features"
	"github.com/flowhawk/flowhawk/label"
)

// Message formats of the flows subject (header FormatHeader).
const (
	FormatJSON     = "json"     // JSON lines
	FormatProtobuf = "protobuf" // varint-delimited flowhawk.v1.Flow (flow.proto)
)

// FormatHeader names the message header that says how a flows message is
// encoded.
const FormatHeader = "Flowhawk-Format"

// Field numbers of flowhawk.v1.Flow (flow.proto).
const (
	pbSensor protowire.Number = iota + 1
	pbFlowID
	pbStart
	pbEnd
	pbSrcIP
	pbSrcPort
	pbDstIP
	pbDstPort
	pbProto
	pbVLAN
	pbVLANInner
	pbFwdPackets
	pbFwdBytes
	pbBwdPackets
	pbBwdBytes
	pbFwdPayload
	pbBwdPayload
	pbFwdFlags
	pbBwdFlags
	pbEndReason
	pbPartial
	pbSampling
	pbClass
	pbFeatures
	pbTunnel
)

func appendVarintField(b []byte, n protowire.Number, v uint64) []byte {
	if v == 0 { // proto3: default values are not written
		return b
	}
	b = protowire.AppendTag(b, n, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendBytesField(b []byte, n protowire.Number, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	b = protowire.AppendTag(b, n, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendAddr(b []byte, n protowire.Number, a netip.Addr) []byte {
	var buf [16]byte
	if a.Is4() {
		v := a.As4()
		return appendBytesField(b, n, v[:])
	}
	buf = a.As16()
	return appendBytesField(b, n, buf[:])
}

// marshalProto appends the record as one varint-delimited Flow message.
func (r *snapshot) marshalProto(sensor string, cols []features.Column, b []byte) []byte {
	var m []byte
	m = appendBytesField(m, pbSensor, []byte(sensor))
	m = appendVarintField(m, pbFlowID, r.id)
	m = appendVarintField(m, pbStart, uint64(r.start))
	m = appendVarintField(m, pbEnd, uint64(r.end))
	m = appendAddr(m, pbSrcIP, r.src)
	m = appendVarintField(m, pbSrcPort, uint64(r.sport))
	m = appendAddr(m, pbDstIP, r.dst)
	m = appendVarintField(m, pbDstPort, uint64(r.dport))
	m = appendVarintField(m, pbProto, uint64(r.proto))
	m = appendVarintField(m, pbVLAN, uint64(r.vlan))
	m = appendVarintField(m, pbVLANInner, uint64(r.vlanIn))
	m = appendVarintField(m, pbTunnel, uint64(r.tunnel))
	m = appendVarintField(m, pbFwdPackets, r.fwdPkts)
	m = appendVarintField(m, pbFwdBytes, r.fwdBytes)
	m = appendVarintField(m, pbBwdPackets, r.bwdPkts)
	m = appendVarintField(m, pbBwdBytes, r.bwdBytes)
	m = appendVarintField(m, pbFwdPayload, r.fwdPay)
	m = appendVarintField(m, pbBwdPayload, r.bwdPay)
	m = appendVarintField(m, pbFwdFlags, uint64(r.fwdFlags))
	m = appendVarintField(m, pbBwdFlags, uint64(r.bwdFlags))
	m = appendBytesField(m, pbEndReason, []byte(r.reason.String()))
	if r.partial {
		m = appendVarintField(m, pbPartial, 1)
	}
	m = appendVarintField(m, pbSampling, uint64(r.sampled))
	m = appendBytesField(m, pbClass, []byte(r.class))
	if r.hasFeatures {
		var f []byte
		for i := range cols {
			c := &cols[i]
			f = f[:0]
			f = appendBytesField(f, 1, []byte(c.Name))
			if c.Numeric() {
				if i >= len(r.num) || math.IsNaN(r.num[i]) || math.IsInf(r.num[i], 0) {
					continue
				}
				f = protowire.AppendTag(f, 2, protowire.Fixed64Type)
				f = protowire.AppendFixed64(f, math.Float64bits(r.num[i]))
			} else {
				if i >= len(r.str) {
					continue
				}
				// Written even when empty: a feature with neither value
				// nor text reads as the number 0, where JSON gives "".
				f = protowire.AppendTag(f, 3, protowire.BytesType)
				f = protowire.AppendBytes(f, r.str[i])
			}
			m = protowire.AppendTag(m, pbFeatures, protowire.BytesType)
			m = protowire.AppendBytes(m, f)
		}
	}
	b = protowire.AppendVarint(b, uint64(len(m)))
	return append(b, m...)
}

// DecodeFlowProto decodes one varint-delimited Flow message from the start
// of b and returns it with the number of bytes used; loop over a message's
// data to read all its records. Features come back as float64 or string
// values, as from the JSON form. A record that cannot be decoded still
// returns its delimited length with the error, so that a caller skips it
// and reads the next one; the length is 0 only when the delimiter itself
// is bad and the rest cannot be split into records.
func DecodeFlowProto(b []byte) (FlowRecord, int, error) {
	var r FlowRecord
	size, n := protowire.ConsumeVarint(b)
	if n < 0 {
		return r, 0, fmt.Errorf("stream: record length: %w", protowire.ParseError(n))
	}
	if size > uint64(len(b)-n) {
		return r, 0, fmt.Errorf("stream: record of %d bytes, %d left", size, len(b)-n)
	}
	m := b[n : n+int(size)]
	used := n + int(size)
	var start, end int64
	for len(m) > 0 {
		num, typ, k := protowire.ConsumeTag(m)
		if k < 0 {
			return r, used, fmt.Errorf("stream: tag: %w", protowire.ParseError(k))
		}
		m = m[k:]
		var v uint64
		var bs []byte
		switch typ {
		case protowire.VarintType:
			v, k = protowire.ConsumeVarint(m)
		case protowire.BytesType:
			bs, k = protowire.ConsumeBytes(m)
		default:
			k = protowire.ConsumeFieldValue(num, typ, m)
		}
		if k < 0 {
			return r, used, fmt.Errorf("stream: field %d: %w", num, protowire.ParseError(k))
		}
		m = m[k:]
		switch num {
		case pbSensor:
			r.Sensor = label.Valid(string(bs))
		case pbFlowID:
			r.ID = v
		case pbStart:
			start = int64(v)
		case pbEnd:
			end = int64(v)
		case pbSrcIP:
			a, ok := netip.AddrFromSlice(bs)
			if !ok {
				return r, used, fmt.Errorf("stream: protobuf flow: src_ip has %d bytes, want 4 or 16", len(bs))
			}
			r.SrcIP = a.String()
		case pbSrcPort:
			r.SrcPort = uint16(v)
		case pbDstIP:
			a, ok := netip.AddrFromSlice(bs)
			if !ok {
				return r, used, fmt.Errorf("stream: protobuf flow: dst_ip has %d bytes, want 4 or 16", len(bs))
			}
			r.DstIP = a.String()
		case pbDstPort:
			r.DstPort = uint16(v)
		case pbProto:
			r.Proto = uint8(v)
		case pbVLAN:
			r.VLAN = uint16(v)
		case pbVLANInner:
			r.VLANInner = uint16(v)
		case pbTunnel:
			r.Tunnel = uint32(v)
		case pbFwdPackets:
			r.FwdPackets = v
		case pbFwdBytes:
			r.FwdBytes = v
		case pbBwdPackets:
			r.BwdPackets = v
		case pbBwdBytes:
			r.BwdBytes = v
		case pbFwdPayload:
			r.FwdPayload = v
		case pbBwdPayload:
			r.BwdPayload = v
		case pbFwdFlags:
			r.FwdFlags = uint8(v)
		case pbBwdFlags:
			r.BwdFlags = uint8(v)
		case pbEndReason:
			r.EndReason = label.Valid(string(bs))
		case pbPartial:
			r.Partial = v != 0
		case pbSampling:
			r.Sampled = uint32(v)
		case pbClass:
			r.Class = label.Valid(string(bs))
		case pbFeatures:
			name, val, err := decodeFeature(bs)
			if err != nil {
				return r, used, err
			}
			if v, ok := val.(float64); ok && (math.IsNaN(v) || math.IsInf(v, 0)) {
				// Sensors leave such values out, as JSON must: read as
				// missing, not stored as a NaN no other record has.
				continue
			}
			if r.Features == nil {
				r.Features = map[string]any{}
			}
			r.Features[name] = val
		}
	}
	r.Start, r.End = time.Unix(0, start).UTC(), time.Unix(0, end).UTC()
	r.DurationUS = float64(end-start) / 1e3
	return r, used, nil
}

func decodeFeature(b []byte) (string, any, error) {
	var name string
	var val any = 0.0
	for len(b) > 0 {
		num, typ, k := protowire.ConsumeTag(b)
		if k < 0 {
			return "", nil, fmt.Errorf("stream: feature tag: %w", protowire.ParseError(k))
		}
		b = b[k:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			s, k2 := protowire.ConsumeBytes(b)
			if k2 < 0 {
				return "", nil, fmt.Errorf("stream: feature name: %w", protowire.ParseError(k2))
			}
			name, k = string(s), k2
		case num == 2 && typ == protowire.Fixed64Type:
			v, k2 := protowire.ConsumeFixed64(b)
			if k2 < 0 {
				return "", nil, fmt.Errorf("stream: feature value: %w", protowire.ParseError(k2))
			}
			val, k = math.Float64frombits(v), k2
		case num == 3 && typ == protowire.BytesType:
			s, k2 := protowire.ConsumeBytes(b)
			if k2 < 0 {
				return "", nil, fmt.Errorf("stream: feature text: %w", protowire.ParseError(k2))
			}
			val, k = string(s), k2
		default:
			k = protowire.ConsumeFieldValue(num, typ, b)
			if k < 0 {
				return "", nil, fmt.Errorf("stream: feature field %d: %w", num, protowire.ParseError(k))
			}
		}
		b = b[k:]
	}
	return name, val, nil
}
