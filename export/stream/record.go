package stream

import (
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/features"
)

// FlowRecord is the JSON document published for each flow on
// flowhawk.<sensor>.flows. A central consumer decodes it with this type.
// Src is the flow's initiator; Fwd counters go from Src to Dst.
type FlowRecord struct {
	Sensor     string    `json:"sensor"`
	ID         uint64    `json:"flow_id"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	DurationUS float64   `json:"duration_us"`
	SrcIP      string    `json:"src_ip"`
	SrcPort    uint16    `json:"src_port"`
	DstIP      string    `json:"dst_ip"`
	DstPort    uint16    `json:"dst_port"`
	Proto      uint8     `json:"proto"`
	VLAN       uint16    `json:"vlan,omitempty"`
	VLANInner  uint16    `json:"vlan_inner,omitempty"`
	FwdPackets uint64    `json:"fwd_packets"`
	FwdBytes   uint64    `json:"fwd_bytes"`
	BwdPackets uint64    `json:"bwd_packets"`
	BwdBytes   uint64    `json:"bwd_bytes"`
	FwdPayload uint64    `json:"fwd_payload_bytes"`
	BwdPayload uint64    `json:"bwd_payload_bytes"`
	FwdFlags   uint8     `json:"fwd_tcp_flags"`
	BwdFlags   uint8     `json:"bwd_tcp_flags"`
	EndReason  string    `json:"end_reason"`
	Partial    bool      `json:"partial,omitempty"`
	Sampled    uint32    `json:"sampling_rate,omitempty"`
	Class      string    `json:"class,omitempty"`
	// Features maps feature column names (package features) to values:
	// numbers for numeric columns, strings for text columns. Non-finite
	// numbers are left out (JSON has no NaN).
	Features map[string]any `json:"features,omitempty"`

	num []float64
	str []string
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

func newFlowRecord(f *collector.Flow, sensor, class string) *FlowRecord {
	src, dst := f.Src(), f.Dst()
	return &FlowRecord{
		Sensor: sensor, ID: f.ID,
		Start: time.Unix(0, f.Start).UTC(), End: time.Unix(0, f.End).UTC(),
		DurationUS: float64(f.Duration()) / 1e3,
		SrcIP:      src.Addr.String(), SrcPort: src.Port,
		DstIP: dst.Addr.String(), DstPort: dst.Port,
		Proto: f.Key.Proto, VLAN: f.Key.VLANOuter, VLANInner: f.Key.VLANInner,
		FwdPackets: f.Fwd.Packets, FwdBytes: f.Fwd.Bytes,
		BwdPackets: f.Bwd.Packets, BwdBytes: f.Bwd.Bytes,
		FwdPayload: f.Fwd.PayloadBytes, BwdPayload: f.Bwd.PayloadBytes,
		FwdFlags: flagUnion(&f.Fwd), BwdFlags: flagUnion(&f.Bwd),
		EndReason: f.EndReason.String(), Partial: f.Partial, Sampled: f.Sampled,
		Class: class,
	}
}

// marshal encodes the record, naming the copied feature values by cols.
// It writes the JSON by hand: the publisher encodes every flow, and the
// generic encoder on a map of ~150 features costs several times more CPU,
// which a two-core sensor takes from the flow pipeline.
func (r *FlowRecord) marshal(cols []features.Column, b []byte) []byte {
	b = append(b, `{"sensor":`...)
	b = appendString(b, r.Sensor)
	b = append(b, `,"flow_id":`...)
	b = strconv.AppendUint(b, r.ID, 10)
	b = append(b, `,"start":"`...)
	b = r.Start.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","end":"`...)
	b = r.End.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","duration_us":`...)
	b = appendFloat(b, r.DurationUS)
	b = append(b, `,"src_ip":`...)
	b = appendString(b, r.SrcIP)
	b = append(b, `,"src_port":`...)
	b = strconv.AppendUint(b, uint64(r.SrcPort), 10)
	b = append(b, `,"dst_ip":`...)
	b = appendString(b, r.DstIP)
	b = append(b, `,"dst_port":`...)
	b = strconv.AppendUint(b, uint64(r.DstPort), 10)
	b = append(b, `,"proto":`...)
	b = strconv.AppendUint(b, uint64(r.Proto), 10)
	if r.VLAN != 0 {
		b = append(b, `,"vlan":`...)
		b = strconv.AppendUint(b, uint64(r.VLAN), 10)
	}
	if r.VLANInner != 0 {
		b = append(b, `,"vlan_inner":`...)
		b = strconv.AppendUint(b, uint64(r.VLANInner), 10)
	}
	for _, kv := range [...]struct {
		k string
		v uint64
	}{{"fwd_packets", r.FwdPackets}, {"fwd_bytes", r.FwdBytes}, {"bwd_packets", r.BwdPackets}, {"bwd_bytes", r.BwdBytes},
		{"fwd_payload_bytes", r.FwdPayload}, {"bwd_payload_bytes", r.BwdPayload}, {"fwd_tcp_flags", uint64(r.FwdFlags)}, {"bwd_tcp_flags", uint64(r.BwdFlags)}} {
		b = append(b, ',', '"')
		b = append(b, kv.k...)
		b = append(b, '"', ':')
		b = strconv.AppendUint(b, kv.v, 10)
	}
	b = append(b, `,"end_reason":`...)
	b = appendString(b, r.EndReason)
	if r.Partial {
		b = append(b, `,"partial":true`...)
	}
	if r.Sampled != 0 {
		b = append(b, `,"sampling_rate":`...)
		b = strconv.AppendUint(b, uint64(r.Sampled), 10)
	}
	if r.Class != "" {
		b = append(b, `,"class":`...)
		b = appendString(b, r.Class)
	}
	if len(r.num) > 0 || len(r.str) > 0 {
		b = append(b, `,"features":{`...)
		first := true
		for i := range cols {
			c := &cols[i]
			if c.Numeric() {
				if i >= len(r.num) || math.IsNaN(r.num[i]) || math.IsInf(r.num[i], 0) {
					continue
				}
			} else if i >= len(r.str) {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendString(b, c.Name)
			b = append(b, ':')
			if c.Numeric() {
				b = appendFloat(b, r.num[i])
			} else {
				b = appendString(b, r.str[i])
			}
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendFloat writes integral values without a fraction and others in the
// shortest form that reads back the same.
func appendFloat(b []byte, v float64) []byte {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.AppendInt(b, int64(v), 10)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// appendString writes s as a JSON string.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			q, _ := json.Marshal(s) // rare: escapes and UTF-8 checks
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
