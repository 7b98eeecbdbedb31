package stream

import (
	"encoding/json"
	"math"
	"net/netip"
	"strconv"
	"sync"
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
	// Tunnel is the tenant of a flow unwrapped from a tunnel (--decap):
	// VXLAN/GENEVE VNI or NVGRE VSID; omitted when 0.
	Tunnel     uint32 `json:"tunnel_id,omitempty"`
	FwdPackets uint64 `json:"fwd_packets"`
	FwdBytes   uint64 `json:"fwd_bytes"`
	BwdPackets uint64 `json:"bwd_packets"`
	BwdBytes   uint64 `json:"bwd_bytes"`
	FwdPayload uint64 `json:"fwd_payload_bytes"`
	BwdPayload uint64 `json:"bwd_payload_bytes"`
	FwdFlags   uint8  `json:"fwd_tcp_flags"`
	BwdFlags   uint8  `json:"bwd_tcp_flags"`
	EndReason  string `json:"end_reason"`
	Partial    bool   `json:"partial,omitempty"`
	Sampled    uint32 `json:"sampling_rate,omitempty"`
	Class      string `json:"class,omitempty"`
	// Features maps feature column names (package features) to values:
	// numbers for numeric columns, strings for text columns. Non-finite
	// numbers are left out (JSON has no NaN).
	Features map[string]any `json:"features,omitempty"`
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

// snapshot is what Export copies out of a flow: plain values, no strings
// built, taken from a pool and returned after encoding, so exporting a
// flow allocates nothing in steady state.
type snapshot struct {
	id                     uint64
	start, end             int64
	src, dst               netip.Addr
	sport, dport           uint16
	proto                  uint8
	vlan, vlanIn           uint16
	tunnel                 uint32
	fwdPkts, fwdBytes      uint64
	bwdPkts, bwdBytes      uint64
	fwdPay, bwdPay         uint64
	fwdFlags, bwdFlags     uint8
	reason                 collector.EndReason
	partial                bool
	sampled                uint32
	class                  string
	num                    []float64
	str                    [][]byte
	hasFeatures, hasString bool
}

var snapPool = sync.Pool{New: func() any { return new(snapshot) }}

// take fills a pooled snapshot from f.
func take(f *collector.Flow, row *features.Row, class string, withFeatures bool) *snapshot {
	s := snapPool.Get().(*snapshot)
	src, dst := f.Src(), f.Dst()
	num, str := s.num[:0], s.str[:0]
	*s = snapshot{
		id: f.ID, start: f.Start, end: f.End, src: src.Addr, dst: dst.Addr, sport: src.Port, dport: dst.Port,
		proto: f.Key.Proto, vlan: f.Key.VLANOuter, vlanIn: f.Key.VLANInner, tunnel: f.Key.TunnelID(),
		fwdPkts: f.Fwd.Packets, fwdBytes: f.Fwd.Bytes, bwdPkts: f.Bwd.Packets, bwdBytes: f.Bwd.Bytes,
		fwdPay: f.Fwd.PayloadBytes, bwdPay: f.Bwd.PayloadBytes,
		fwdFlags: flagUnion(&f.Fwd), bwdFlags: flagUnion(&f.Bwd),
		reason: f.EndReason, partial: f.Partial, sampled: f.Sampled, class: class,
		num: num, str: str,
	}
	if withFeatures && row != nil {
		s.hasFeatures = true
		s.num = append(s.num, row.Num...)
		for i, b := range row.Str {
			if i < cap(s.str) {
				s.str = s.str[:i+1]
				s.str[i] = append(s.str[i][:0], b...)
			} else {
				s.str = append(s.str, append([]byte(nil), b...))
			}
		}
	}
	return s
}

func (s *snapshot) release() { snapPool.Put(s) }

// marshal appends the JSON of the flow (a FlowRecord document), naming
// the feature values by cols. It writes the JSON by hand: the publisher
// encodes every flow, and the generic encoder on a map of ~150 features
// costs several times more CPU, which a two-core sensor takes from the
// flow pipeline.
func (r *snapshot) marshal(sensor string, cols []features.Column, b []byte) []byte {
	b = append(b, `{"sensor":`...)
	b = appendString(b, sensor)
	b = append(b, `,"flow_id":`...)
	b = strconv.AppendUint(b, r.id, 10)
	b = append(b, `,"start":"`...)
	b = time.Unix(0, r.start).UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","end":"`...)
	b = time.Unix(0, r.end).UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","duration_us":`...)
	b = appendFloat(b, float64(r.end-r.start)/1e3)
	b = append(b, `,"src_ip":"`...)
	b = r.src.AppendTo(b)
	b = append(b, `","src_port":`...)
	b = strconv.AppendUint(b, uint64(r.sport), 10)
	b = append(b, `,"dst_ip":"`...)
	b = r.dst.AppendTo(b)
	b = append(b, `","dst_port":`...)
	b = strconv.AppendUint(b, uint64(r.dport), 10)
	b = append(b, `,"proto":`...)
	b = strconv.AppendUint(b, uint64(r.proto), 10)
	if r.vlan != 0 {
		b = append(b, `,"vlan":`...)
		b = strconv.AppendUint(b, uint64(r.vlan), 10)
	}
	if r.vlanIn != 0 {
		b = append(b, `,"vlan_inner":`...)
		b = strconv.AppendUint(b, uint64(r.vlanIn), 10)
	}
	if r.tunnel != 0 {
		b = append(b, `,"tunnel_id":`...)
		b = strconv.AppendUint(b, uint64(r.tunnel), 10)
	}
	for _, kv := range [...]struct {
		k string
		v uint64
	}{{"fwd_packets", r.fwdPkts}, {"fwd_bytes", r.fwdBytes}, {"bwd_packets", r.bwdPkts}, {"bwd_bytes", r.bwdBytes},
		{"fwd_payload_bytes", r.fwdPay}, {"bwd_payload_bytes", r.bwdPay}, {"fwd_tcp_flags", uint64(r.fwdFlags)}, {"bwd_tcp_flags", uint64(r.bwdFlags)}} {
		b = append(b, ',', '"')
		b = append(b, kv.k...)
		b = append(b, '"', ':')
		b = strconv.AppendUint(b, kv.v, 10)
	}
	b = append(b, `,"end_reason":"`...)
	b = append(b, r.reason.String()...)
	b = append(b, '"')
	if r.partial {
		b = append(b, `,"partial":true`...)
	}
	if r.sampled != 0 {
		b = append(b, `,"sampling_rate":`...)
		b = strconv.AppendUint(b, uint64(r.sampled), 10)
	}
	if r.class != "" {
		b = append(b, `,"class":`...)
		b = appendString(b, r.class)
	}
	if r.hasFeatures {
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
func appendString[T string | []byte](b []byte, s T) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			q, _ := json.Marshal(string(s)) // rare: escapes and UTF-8 checks
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
