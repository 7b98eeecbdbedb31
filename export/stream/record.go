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
func (r *FlowRecord) marshal(cols []features.Column) ([]byte, error) {
	if len(r.num) > 0 || len(r.str) > 0 {
		r.Features = make(map[string]any, len(cols))
		for i, c := range cols {
			if c.Numeric() {
				if i < len(r.num) {
					v := r.num[i]
					if math.IsNaN(v) || math.IsInf(v, 0) {
						continue
					}
					r.Features[c.Name] = json.Number(strconv.FormatFloat(v, 'g', -1, 64))
				}
			} else if i < len(r.str) {
				r.Features[c.Name] = r.str[i]
			}
		}
	}
	return json.Marshal(r)
}
