// Package detect holds flowhawk's streaming detectors (port scans, SYN
// floods, suspicious DNS, packet size outliers, repeated TCP sequence
// numbers, top talkers, threat intelligence) and the alerts they raise.
//
// Detectors are state machines fed with decoded packets and finished flow
// records. Their clock is packet time (Packet.Timestamp, Flow.End), never
// wall time, so a replayed capture raises the same alerts as the live
// traffic it recorded, and every piece of state is bounded with counted
// eviction.
package detect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/flowhawk/flowhawk/collector"
)

// Severity orders alerts by urgency.
type Severity uint8

// Severities, from least to most urgent.
const (
	SevLow Severity = 1 + iota
	SevMedium
	SevHigh
	SevCritical
)

// String is the severity as alerts (flowhawk.severity) and the summary write it.
func (s Severity) String() string {
	switch s {
	case SevLow:
		return "low"
	case SevMedium:
		return "medium"
	case SevHigh:
		return "high"
	case SevCritical:
		return "critical"
	}
	return "unknown"
}

// Score is the numeric ECS event.severity: Elastic's detection-rule
// convention (21 low, 47 medium, 73 high, 99 critical).
func (s Severity) Score() int {
	switch s {
	case SevLow:
		return 21
	case SevMedium:
		return 47
	case SevHigh:
		return 73
	case SevCritical:
		return 99
	}
	return 0
}

// Geo is the GeoIP/ASN enrichment of one address, from a MaxMind database.
type Geo struct {
	CountryISO  string
	CountryName string
	CityName    string
	ASN         uint
	ASOrg       string
}

func (g *Geo) empty() bool {
	return g == nil || (g.CountryISO == "" && g.CountryName == "" && g.CityName == "" && g.ASN == 0 && g.ASOrg == "")
}

// Alert is one detection. Repeated alerts for the same cause (same rule,
// hosts and key) are aggregated by the engine: Count says how many times
// the cause was seen between First and Last.
type Alert struct {
	// Time is when the alert was raised, on the packet clock (ns).
	Time int64
	// First and Last bound the occurrences aggregated into this alert (ns).
	First, Last int64
	// Count is the number of occurrences of the cause since First.
	Count uint64
	// Detector is the detector name (portscan, synflood, dns, ...); Rule
	// the specific rule (portscan.vertical, dns.dga, ...).
	Detector string
	Rule     string
	Severity Severity
	// Message is a one-line human description.
	Message string
	// Src and Dst are the hosts involved; either may be invalid (unset),
	// e.g. a SYN flood from spoofed sources has no single source.
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	// Proto is the IP protocol number, 0 if not one protocol.
	Proto uint8
	// DNSName is the DNS question name involved, if any.
	DNSName string
	// Names are sample names (DNS names) aggregated into the alert.
	Names []string
	// Evidence holds the detector's figures (counts, window, thresholds).
	Evidence map[string]any
	// FlowIDs are the flow records involved, when the detector saw them.
	FlowIDs []uint64
	// SrcGeo and DstGeo are the GeoIP/ASN enrichment, when configured.
	SrcGeo, DstGeo *Geo
	// Observer is the sensor that raised the alert (Config.Observer),
	// empty when unnamed.
	Observer string

	// cause is the aggregation key; empty means rule+src+dst.
	cause string
	// keys are sample flow keys of packet-based alerts, resolved to flow
	// IDs by the engine's index of recent flows.
	keys []collector.Key
}

func tsString(ns int64) string {
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}

func geoJSON(g *Geo) (geo, as map[string]any) {
	if g.empty() {
		return nil, nil
	}
	if g.CountryISO != "" || g.CountryName != "" || g.CityName != "" {
		geo = map[string]any{}
		if g.CountryISO != "" {
			geo["country_iso_code"] = g.CountryISO
		}
		if g.CountryName != "" {
			geo["country_name"] = g.CountryName
		}
		if g.CityName != "" {
			geo["city_name"] = g.CityName
		}
	}
	if g.ASN != 0 || g.ASOrg != "" {
		as = map[string]any{}
		if g.ASN != 0 {
			as["number"] = g.ASN
		}
		if g.ASOrg != "" {
			as["organization"] = map[string]any{"name": g.ASOrg}
		}
	}
	return geo, as
}

// endpointJSON is an ECS source or destination: the port alone when
// there is no one host (a sweep's port over many hosts), nil when neither.
func endpointJSON(a netip.Addr, port uint16, g *Geo) map[string]any {
	if !a.IsValid() {
		if port == 0 {
			return nil
		}
		return map[string]any{"port": port}
	}
	m := map[string]any{"ip": a.String()}
	if port != 0 {
		m["port"] = port
	}
	geo, as := geoJSON(g)
	if geo != nil {
		m["geo"] = geo
	}
	if as != nil {
		m["as"] = as
	}
	return m
}

var protoNames = map[uint8]string{1: "icmp", 6: "tcp", 17: "udp", 58: "ipv6-icmp", 132: "sctp"}

// ECS returns the alert as a nested map with Elastic Common Schema field
// names, the form written to JSONL.
func (a *Alert) ECS() map[string]any {
	ev := map[string]any{
		"kind":     "alert",
		"module":   "flowhawk",
		"dataset":  "flowhawk." + a.Detector,
		"category": []string{"network", "intrusion_detection"},
		"severity": a.Severity.Score(),
		"start":    tsString(a.First),
		"end":      tsString(a.Last),
	}
	m := map[string]any{
		"@timestamp": tsString(a.Time),
		"event":      ev,
		"rule":       map[string]any{"name": a.Rule, "category": a.Detector},
		"message":    a.Message,
	}
	if s := endpointJSON(a.Src, a.SrcPort, a.SrcGeo); s != nil {
		m["source"] = s
	}
	if d := endpointJSON(a.Dst, a.DstPort, a.DstGeo); d != nil {
		m["destination"] = d
	}
	if a.Proto != 0 {
		n := protoNames[a.Proto]
		if n == "" {
			n = "ip-" + itoa(int(a.Proto))
		}
		m["network"] = map[string]any{"transport": n, "iana_number": itoa(int(a.Proto))}
	}
	if a.DNSName != "" {
		q := map[string]any{"name": a.DNSName}
		// A name without a top-level domain (a dnscat name) has neither.
		_, _, tld := splitName(a.DNSName)
		if rd, _ := registrable(a.DNSName); rd != "" && tld != "" {
			q["registered_domain"] = rd
			// ECS's is the effective TLD, the public suffix after the
			// registrable label (co.uk for example.co.uk), not the last
			// label.
			q["top_level_domain"] = rd[strings.IndexByte(rd, '.')+1:]
		}
		m["dns"] = map[string]any{"question": q}
	}
	fh := map[string]any{
		"detector": a.Detector,
		"severity": a.Severity.String(),
		"count":    a.Count,
		// The lines of one cause share it, also when the host that is
		// not part of the cause changes: a reader of the running count
		// (flowhawk report) tells causes apart by it.
		"cause": causeKey(a),
	}
	if len(a.Evidence) > 0 {
		fh["evidence"] = a.Evidence
	}
	if len(a.FlowIDs) > 0 {
		fh["flow_ids"] = a.FlowIDs
	}
	if len(a.Names) > 0 {
		fh["names"] = a.Names
	}
	m["flowhawk"] = fh
	if a.Observer != "" {
		m["observer"] = map[string]any{"name": a.Observer, "product": "flowhawk"}
	}
	return m
}

// MarshalJSON writes the ECS form.
func (a *Alert) MarshalJSON() ([]byte, error) { return json.Marshal(a.ECS()) }

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	neg := i < 0
	if neg {
		i = -i
	}
	for {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			break
		}
	}
	if neg {
		n--
		b[n] = '-'
	}
	return string(b[n:])
}

// JSONLSink writes one alert per line in ECS JSON. It is safe for
// concurrent use; after the first write error it takes no more alerts,
// and Stats counts every alert that did not reach the writer as lost.
type JSONLSink struct {
	mu   sync.Mutex
	w    *bufio.Writer
	out  *lineCounter
	err  error
	sent uint64 // alerts given to Write
}

// lineCounter counts the alert lines whose newline the writer took: an
// alert buffered when a write fails, or cut by a short write, is lost,
// and counting only what was given to the buffer called it written.
type lineCounter struct {
	w     io.Writer
	lines uint64
}

func (c *lineCounter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.lines += uint64(bytes.Count(p[:n], []byte{'\n'}))
	return n, err
}

// NewJSONLSink returns a sink writing to w; call Flush at the end.
func NewJSONLSink(w io.Writer) *JSONLSink {
	out := &lineCounter{w: w}
	return &JSONLSink{w: bufio.NewWriterSize(out, 64<<10), out: out}
}

// Write encodes one alert; use s.Write as the Engine's sink function.
func (s *JSONLSink) Write(a *Alert) {
	b, err := json.Marshal(a)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent++
	if s.err == nil && err == nil {
		_, err = s.w.Write(append(b, '\n'))
	}
	if s.err == nil && err != nil {
		s.err = err
	}
}

// Flush writes buffered alerts and returns the first error seen.
func (s *JSONLSink) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = s.w.Flush()
	}
	return s.err
}

// Stats returns the alerts given to Write, those of them that did not
// reach the writer (after Flush: lost), and the first error, so a run
// whose alert file failed says how many alerts it lost.
func (s *JSONLSink) Stats() (sent, lost uint64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent, s.sent - min(s.out.lines, s.sent), s.err
}

// OpenSink opens the --alerts destination: def for "" or "-", else the
// file (created or truncated). close flushes and closes it.
func (c *Config) OpenSink(def io.Writer) (sink *JSONLSink, close func() error, err error) {
	if c.Alerts == "" || c.Alerts == "-" {
		s := NewJSONLSink(def)
		return s, s.Flush, nil
	}
	// Alerts name hosts, as flow files do: other users may not read them.
	f, err := os.OpenFile(c.Alerts, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return nil, nil, fmt.Errorf("--alerts: %w", err)
	}
	s := NewJSONLSink(f)
	return s, func() error {
		err := s.Flush()
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("--alerts %s: %w", c.Alerts, cerr)
		}
		return err
	}, nil
}
