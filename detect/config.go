package detect

import (
	"fmt"
	"slices"
	"strings"
	"time"

	flag "github.com/spf13/pflag"
)

// Detector names, as accepted by --detect.
const (
	PortScan   = "portscan"
	SynFlood   = "synflood"
	DNS        = "dns"
	Size       = "size"
	SeqRepeat  = "seqrepeat"
	TopTalkers = "toptalkers"
	Intel      = "intel"
)

// AllDetectors lists every detector in report order.
var AllDetectors = []string{PortScan, SynFlood, DNS, Size, SeqRepeat, TopTalkers, Intel}

// Config holds the detectors' switches and thresholds. The zero value is
// not useful; start from DefaultConfig (or RegisterFlags).
type Config struct {
	// Detect is the --detect value: "", "all", or a comma-separated list.
	Detect string
	// Alerts is the JSONL output path ("" or "-" for the default writer).
	Alerts string
	// Observer names this sensor in every alert (ECS observer.name; the
	// CLI's --sensor), so a fleet store of many sensors' alerts keeps one
	// sensor's running counts apart from another's of the same cause.
	Observer string

	// Port scans: per source and window, distinct destination ports
	// (vertical scan) or distinct destination hosts with mostly unanswered
	// SYNs (sweep), and SYNs that are mostly half-open.
	PortScanWindow   time.Duration
	PortScanPorts    int
	PortScanHosts    int
	HalfOpenMinSYN   int
	HalfOpenMinRatio float64

	// SYN floods: per destination host and window, SYNs received and the
	// share left half-open (not answered with SYN+ACK).
	SynFloodWindow   time.Duration
	SynFloodSYNs     int
	SynFloodHalfOpen float64

	// DNS: DGA score threshold in [0,1], minimum label length scored,
	// NXDOMAIN replies and distinct names per client and window, and the
	// subdomain length that marks tunnelling.
	DNSWindow time.Duration
	DGAScore  float64
	DGAMinLen int
	// DGAAllow lists files of registrable domains never scored for DGA
	// (besides the built-in knownDomains).
	DGAAllow       []string
	NXDomain       int
	DistinctNames  int
	TunnelMinLen   int
	SuspiciousTLDs []string

	// Packet sizes in IP bytes: above MTU (jumbo frames: raise it) or
	// below MinIPSize.
	MTU       int
	MinIPSize int

	// Repeated TCP sequence numbers: same seq with different payload, or
	// the same segment repeated more than SeqRepeats times.
	SeqRepeats   int
	SeqMaxAge    time.Duration
	SeqMaxTrack  int
	SeqMinPaylen int

	// Top talkers: hosts whose bytes or packets in a window exceed
	// mean + K·σ of the other hosts, with at least MinHosts hosts and the
	// absolute floors MinBytes / MinPackets.
	TopWindow     time.Duration
	TopK          float64
	TopMinHosts   int
	TopMinBytes   uint64
	TopMinPackets uint64

	// Threat intelligence: blocklist files (IPs, CIDRs, domains; plain or
	// CSV) reloaded when their mtime changes, checked every IntelReload of
	// packet time; GeoIP is an optional MaxMind .mmdb for enrichment.
	Blocklists  []string
	IntelReload time.Duration
	GeoIP       string
	// IntelMaxEntries bounds the distinct indicators of all blocklists
	// together (150-200 bytes each, twice that while a reload builds the
	// new lists beside the old), so a feed far larger than expected stops
	// the start with an error instead of taking the sensor's memory.
	IntelMaxEntries int

	// PartialPackets says the engine sees only some packets of each
	// connection (set by capture, not a flag: --sample-rate above 1, or
	// fewer than 3 --samples a flow, so no third handshake packet). A SYN
	// and the ACK that completes it are then rarely both seen, so
	// half-open counts fall back to SYN+ACK answers, which such sampling
	// thins as it thins SYNs.
	PartialPackets bool

	// AlertInterval rate-limits repeated alerts for the same cause: the
	// first is sent at once, later ones at most once per interval, with
	// their count and first/last seen.
	AlertInterval time.Duration
	// MaxHosts bounds each detector's per-host (or per-key) state; beyond
	// it the least active entry is evicted and counted.
	MaxHosts int
}

// DefaultSuspiciousTLDs are TLDs heavily used by abuse (Spamhaus and
// Interisle reports), flagged at low severity.
var DefaultSuspiciousTLDs = []string{
	"tk", "ml", "ga", "cf", "gq", "top", "xyz", "zip", "mov", "su", "pw", "buzz",
	"icu", "work", "rest", "cam", "bid", "loan", "click", "country", "kim", "gdn", "review",
}

// DefaultConfig returns the documented defaults (docs/detect.md) with no
// detector enabled.
func DefaultConfig() Config {
	return Config{
		PortScanWindow:   60 * time.Second,
		PortScanPorts:    100,
		PortScanHosts:    64,
		HalfOpenMinSYN:   200,
		HalfOpenMinRatio: 0.9,
		SynFloodWindow:   10 * time.Second,
		SynFloodSYNs:     1000,
		SynFloodHalfOpen: 0.7,
		DNSWindow:        60 * time.Second,
		DGAScore:         0.6,
		DGAMinLen:        7,
		NXDomain:         20,
		DistinctNames:    200,
		TunnelMinLen:     40,
		SuspiciousTLDs:   slices.Clone(DefaultSuspiciousTLDs),
		MTU:              1500,
		MinIPSize:        28,
		SeqRepeats:       8,
		SeqMaxAge:        30 * time.Second,
		SeqMaxTrack:      1 << 16,
		SeqMinPaylen:     2,
		TopWindow:        60 * time.Second,
		TopK:             3,
		TopMinHosts:      10,
		TopMinBytes:      1 << 20,
		TopMinPackets:    1000,
		IntelReload:      30 * time.Second,
		IntelMaxEntries:  1 << 20,
		AlertInterval:    60 * time.Second,
		MaxHosts:         1 << 16,
	}
}

// RegisterFlags adds the detection flags to fs, with DefaultConfig's
// values, and returns the Config they fill: one call gives replay and
// capture identical flags.
func RegisterFlags(fs *flag.FlagSet) *Config {
	c := DefaultConfig()
	// No NoOptDefVal: with one, pflag would read "--detect all" as a bare
	// --detect followed by the argument "all".
	fs.StringVar(&c.Detect, "detect", "", "run `DETECTORS`: all, or a comma-separated list of "+strings.Join(AllDetectors, ","))
	fs.StringVar(&c.Alerts, "alerts", "", "write alerts as ECS JSON lines to `FILE` (- for stdout)")
	fs.DurationVar(&c.PortScanWindow, "portscan-window", c.PortScanWindow, "port scan window")
	fs.IntVar(&c.PortScanPorts, "portscan-ports", c.PortScanPorts, "distinct destination ports per source and window that make a port scan")
	fs.IntVar(&c.PortScanHosts, "portscan-hosts", c.PortScanHosts, "distinct destination hosts (mostly unanswered SYNs) per source and window that make a sweep")
	fs.IntVar(&c.HalfOpenMinSYN, "halfopen-syns", c.HalfOpenMinSYN, "SYNs per source and window before the half-open ratio is judged")
	fs.Float64Var(&c.HalfOpenMinRatio, "halfopen-ratio", c.HalfOpenMinRatio, "share of a source's SYNs left half-open that makes a half-open scan")
	fs.DurationVar(&c.SynFloodWindow, "synflood-window", c.SynFloodWindow, "SYN flood window")
	fs.IntVar(&c.SynFloodSYNs, "synflood-syns", c.SynFloodSYNs, "SYNs to one destination per window that may be a flood")
	fs.Float64Var(&c.SynFloodHalfOpen, "synflood-halfopen", c.SynFloodHalfOpen, "share of those SYNs left half-open (the initiator never completed the handshake) that makes a flood")
	fs.DurationVar(&c.DNSWindow, "dns-window", c.DNSWindow, "DNS window (NXDOMAIN and distinct-name counts)")
	fs.Float64Var(&c.DGAScore, "dga-score", c.DGAScore, "DGA score (0..1) of a registrable domain that raises dns.dga")
	fs.IntVar(&c.DGAMinLen, "dga-min-len", c.DGAMinLen, "shortest domain label scored for DGA")
	fs.StringArrayVar(&c.DGAAllow, "dga-allow", nil, "`FILE` of domains never scored for DGA, one per line or CSV such as the Tranco top-sites list (repeatable)")
	fs.IntVar(&c.NXDomain, "dns-nxdomain", c.NXDomain, "NXDOMAIN replies per client and window that raise dns.nxdomain")
	fs.IntVar(&c.DistinctNames, "dns-names", c.DistinctNames, "distinct names queried per client and window that raise dns.many_names")
	fs.IntVar(&c.TunnelMinLen, "dns-tunnel-len", c.TunnelMinLen, "length of the subdomain part that, with high entropy, raises dns.tunnel")
	fs.StringSliceVar(&c.SuspiciousTLDs, "dns-suspicious-tlds", c.SuspiciousTLDs, "TLDs that raise dns.suspicious_tld")
	fs.IntVar(&c.MTU, "mtu", c.MTU, "largest expected IP datagram in bytes (raise for jumbo frames)")
	fs.IntVar(&c.MinIPSize, "min-ip-size", c.MinIPSize, "smallest expected IPv4 datagram in bytes (IPv6: this + 20)")
	fs.IntVar(&c.SeqRepeats, "seq-repeats", c.SeqRepeats, "repeats of one TCP segment that raise seqrepeat.excessive")
	fs.DurationVar(&c.SeqMaxAge, "seq-max-age", c.SeqMaxAge, "how long a TCP segment's sequence number is remembered")
	fs.DurationVar(&c.TopWindow, "toptalkers-window", c.TopWindow, "top talkers window")
	fs.Float64Var(&c.TopK, "toptalkers-k", c.TopK, "a top talker exceeds mean + k·σ of the other hosts (each host is judged against the rest)")
	fs.IntVar(&c.TopMinHosts, "toptalkers-min-hosts", c.TopMinHosts, "hosts in a window before top talkers are judged")
	fs.Uint64Var(&c.TopMinBytes, "toptalkers-min-bytes", c.TopMinBytes, "bytes per window below which a host is never a top talker")
	fs.Uint64Var(&c.TopMinPackets, "toptalkers-min-packets", c.TopMinPackets, "packets per window below which a host is never a top talker")
	fs.StringArrayVar(&c.Blocklists, "blocklist", nil, "blocklist `FILE` of IPs (IP:port too, port ignored), CIDRs and domains, plain or CSV (repeatable)")
	fs.DurationVar(&c.IntelReload, "blocklist-reload", c.IntelReload, "packet time between blocklist mtime checks")
	fs.IntVar(&c.IntelMaxEntries, "blocklist-max-entries", c.IntelMaxEntries, "distinct IPs, networks and domains the blocklists may hold in all (150-200 bytes each); more is an error at start and a failed reload later")
	fs.StringVar(&c.GeoIP, "geoip", "", "MaxMind `FILE.mmdb` (country/city/ASN) to enrich alerts")
	fs.DurationVar(&c.AlertInterval, "alert-interval", c.AlertInterval, "send a repeated alert for the same cause at most once per interval (0: send every occurrence)")
	fs.IntVar(&c.MaxHosts, "detect-max-hosts", c.MaxHosts, "per-detector bound on tracked hosts (least active evicted)")
	return &c
}

// Enabled parses Detect into the set of enabled detectors; an empty
// Detect enables none.
func (c *Config) Enabled() (map[string]bool, error) {
	on := map[string]bool{}
	for _, f := range strings.Split(c.Detect, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		switch {
		case f == "":
		case f == "all":
			for _, d := range AllDetectors {
				on[d] = true
			}
		case slices.Contains(AllDetectors, f):
			on[f] = true
		default:
			return nil, fmt.Errorf("--detect: unknown detector %q (want all or %s)", f, strings.Join(AllDetectors, ","))
		}
	}
	return on, nil
}

// namesAll reports whether Detect enables every detector ("all", in any
// case, as Enabled reads it) rather than naming them.
func (c *Config) namesAll() bool {
	for _, f := range strings.Split(c.Detect, ",") {
		if strings.EqualFold(strings.TrimSpace(f), "all") {
			return true
		}
	}
	return false
}

// On reports whether detection runs: a detector is enabled (or --detect
// is wrong, for New to report), or a blocklist is given, which enables
// intel matching by itself.
func (c *Config) On() bool {
	on, err := c.Enabled()
	return err != nil || len(on) > 0 || len(c.Blocklists) > 0
}

// validate names the flag of a refused value, so a command line with
// several thresholds says which one is wrong.
func (c *Config) validate() error {
	for _, w := range []struct {
		flag string
		v    time.Duration
	}{
		{"portscan-window", c.PortScanWindow}, {"synflood-window", c.SynFloodWindow},
		{"dns-window", c.DNSWindow}, {"toptalkers-window", c.TopWindow}, {"seq-max-age", c.SeqMaxAge},
	} {
		if w.v <= 0 {
			return fmt.Errorf("detect: --%s %v: want more than 0", w.flag, w.v)
		}
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{
		{"alert-interval", c.AlertInterval}, // 0: every occurrence is sent
		{"blocklist-reload", c.IntelReload}, // 0: check at every tick (each second of packet time)
	} {
		if d.v < 0 {
			return fmt.Errorf("detect: --%s %v: want 0 or more", d.flag, d.v)
		}
	}
	for _, n := range []struct {
		flag string
		v    int
		lo   int
	}{
		{"portscan-ports", c.PortScanPorts, 1}, {"portscan-hosts", c.PortScanHosts, 1},
		{"halfopen-syns", c.HalfOpenMinSYN, 1}, {"synflood-syns", c.SynFloodSYNs, 1},
		{"dns-nxdomain", c.NXDomain, 1}, {"dns-names", c.DistinctNames, 1}, {"seq-repeats", c.SeqRepeats, 1},
		{"dga-min-len", c.DGAMinLen, 0}, {"dns-tunnel-len", c.TunnelMinLen, 0},
		{"min-ip-size", c.MinIPSize, 0}, {"toptalkers-min-hosts", c.TopMinHosts, 0},
		{"mtu", c.MTU, 68}, // the IPv4 minimum
		{"detect-max-hosts", c.MaxHosts, 16},
		{"blocklist-max-entries", c.IntelMaxEntries, 1},
	} {
		if n.v < n.lo {
			return fmt.Errorf("detect: --%s %d: want %d or more", n.flag, n.v, n.lo)
		}
	}
	for _, r := range []struct {
		flag string
		v    float64
	}{{"halfopen-ratio", c.HalfOpenMinRatio}, {"synflood-halfopen", c.SynFloodHalfOpen}} {
		if !(r.v >= 0 && r.v <= 1) {
			return fmt.Errorf("detect: --%s %v: want a share from 0 to 1", r.flag, r.v)
		}
	}
	switch {
	case !(c.DGAScore > 0 && c.DGAScore <= 1):
		return fmt.Errorf("detect: --dga-score %v: want more than 0, at most 1", c.DGAScore)
	case !(c.TopK >= 0):
		return fmt.Errorf("detect: --toptalkers-k %v: want 0 or more", c.TopK)
	}
	return nil
}
