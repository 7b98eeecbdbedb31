// Package label assigns ground-truth labels to flows for datasets: from the
// directory a capture sits in, or from rules on addresses, ports, protocol
// and time ranges (the way CIC-IDS2017 was labeled).
package label

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/flowhawk/flowhawk/collector"
)

// FromDir returns the label of a capture found under root: the name of the
// first directory below root on its path (root/Browser/x/y.pcap ->
// "Browser"), made Valid, or "" for a file directly in root.
func FromDir(root, path string) (string, error) {
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return "", fmt.Errorf("label %s relative to %s: %w", path, root, err)
	}
	parts := strings.Split(filepath.ToSlash(rel), "/")
	if len(parts) < 2 || parts[0] == ".." {
		return "", nil
	}
	return Valid(parts[0]), nil
}

// Valid returns label with each byte that is not UTF-8 replaced by U+FFFD, so that every output carries one valid value.
func Valid(label string) string {
	// A directory named in Latin-1 (caf\xe9), a rules file saved in
	// Windows-1252: CSV wrote the raw byte, JSON Lines U+FFFD, Parquet a
	// UTF-8 column that readers refuse, and the Prometheus class counter
	// panicked. A valid label is returned as it is, without allocating.
	// Each byte, not each run as strings.ToValidUTF8 does, as the JSON
	// Lines writer and encoding/json replace them: a label's JSON Lines
	// value stays what it was.
	if utf8.ValidString(label) {
		return label
	}
	b := make([]byte, 0, len(label)+8)
	for _, r := range label { // an invalid byte ranges as one utf8.RuneError
		b = utf8.AppendRune(b, r)
	}
	return string(b)
}

// Rule is one labeling rule; empty address lists, a zero Proto and zero
// times match anything.
type Rule struct {
	Label string
	// Src and Dst match the flow's initiator and responder; Host matches
	// either side.
	Src, Dst, Host []netip.Prefix
	// SrcPort and DstPort are inclusive ranges, [0, 65535] when the rule
	// names none, so "dport=0" selects port 0 (ICMP and other portless
	// flows) rather than any port.
	SrcPort, DstPort [2]uint16
	Proto            uint8 // 0 = any
	// Start and End bound the flow's first packet time (ns since the epoch;
	// 0 = unbounded). A flow matches when it starts within [Start, End).
	Start, End int64
	// AnyDir ("dir=any") also matches a flow the other way round: src and
	// sport the responder, dst and dport the initiator. An attack's replies
	// and connections the victim opens back (CIC-IDS2017 labelled by the
	// attacker's and the victim's addresses, whoever started the flow).
	AnyDir bool
	line   int
}

// Rules is an ordered rule list: the first matching rule labels a flow.
type Rules struct {
	rules   []Rule
	Default string
}

// Len is the number of rules.
func (r *Rules) Len() int { return len(r.rules) }

// Label returns the label of f: the first matching rule's, or Default.
func (r *Rules) Label(f *collector.Flow) string {
	src, dst := f.Src(), f.Dst()
	for i := range r.rules {
		if r.rules[i].match(f, src, dst) {
			return r.rules[i].Label
		}
	}
	return r.Default
}

func anyPrefix(ps []netip.Prefix, a netip.Addr) bool {
	if len(ps) == 0 {
		return true
	}
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func inRange(r [2]uint16, p uint16) bool {
	return p >= r[0] && p <= r[1]
}

func (r *Rule) match(f *collector.Flow, src, dst collector.Endpoint) bool {
	if r.Proto != 0 && f.Key.Proto != r.Proto {
		return false
	}
	if r.Start != 0 && f.Start < r.Start || r.End != 0 && f.Start >= r.End {
		return false
	}
	return r.matchEnds(src, dst) || r.AnyDir && r.matchEnds(dst, src)
}

// matchEnds reports whether the rule's address and port conditions hold
// with src as the initiator and dst as the responder.
func (r *Rule) matchEnds(src, dst collector.Endpoint) bool {
	if !anyPrefix(r.Src, src.Addr) || !anyPrefix(r.Dst, dst.Addr) {
		return false
	}
	if len(r.Host) > 0 && !anyPrefix(r.Host, src.Addr) && !anyPrefix(r.Host, dst.Addr) {
		return false
	}
	return inRange(r.SrcPort, src.Port) && inRange(r.DstPort, dst.Port)
}

// LoadRules reads a rules file (see ParseRules).
func LoadRules(path string) (*Rules, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("label rules: %w", err)
	}
	defer fh.Close()
	r, err := ParseRules(fh)
	if err != nil {
		return nil, fmt.Errorf("label rules %s: %w", path, err)
	}
	return r, nil
}

// ParseRules reads rules, one per line: a label (in double quotes if it has
// spaces, "DoS Hulk") followed by key=value conditions, all of which must hold. Keys: src, dst, host (IP or CIDR,
// comma-separated lists allowed), sport, dport (port or LOW-HIGH), proto
// (tcp, udp, icmp, icmpv6 or a number), start, end (RFC 3339 times, flow
// start in [start, end)), dir (initiator, the default: src and dst are the
// flow's initiator and responder; any: either way round). A line "default LABEL" sets the label of flows
// no rule matches (default "BENIGN"); a rule needs at least one condition,
// so a stray word is an error rather than a label for every flow. '#'
// starts a comment. A leading UTF-8 byte order mark (as Windows editors
// save) is skipped.
//
//	"DoS Hulk"  src=172.16.0.1 dst=192.168.10.50 dport=80 start=2017-07-05T10:43:00-03:00 end=2017-07-05T11:00:00-03:00
func ParseRules(r io.Reader) (*Rules, error) {
	rs := &Rules{Default: "BENIGN"}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		fields, quoted, err := splitRule(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if len(fields) == 0 {
			continue
		}
		if fields[0] == "default" && !quoted[0] {
			if len(fields) != 2 {
				return nil, fmt.Errorf("line %d: want \"default LABEL\"", n)
			}
			rs.Default = Valid(fields[1])
			continue
		}
		for i := 1; i < len(fields); i++ {
			if quoted[i] {
				return nil, fmt.Errorf("line %d: only the label may be quoted, not %q", n, fields[i])
			}
		}
		if len(fields) == 1 {
			// A bare label would match every flow and hide every later rule.
			return nil, fmt.Errorf("line %d: rule %q has no conditions (the label of flows no rule matches is set with \"default %s\")", n, fields[0], fields[0])
		}
		rule := Rule{Label: Valid(fields[0]), SrcPort: anyPort, DstPort: anyPort, line: n}
		seen := map[string]bool{}
		for _, kv := range fields[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok && kv == fields[1] {
				// "DoS Hulk src=...": CIC-IDS2017's labels have spaces.
				return nil, fmt.Errorf("line %d: %q is not key=value (write a label with spaces in double quotes: \"%s %s\")", n, kv, fields[0], kv)
			}
			if !ok || v == "" {
				return nil, fmt.Errorf("line %d: %q is not key=value", n, kv)
			}
			if seen[k] {
				// Only one value would count; a list is written a,b.
				return nil, fmt.Errorf("line %d: %s given twice (list several values as %s=a,b)", n, k, k)
			}
			seen[k] = true
			var err error
			switch k {
			case "src":
				rule.Src, err = parsePrefixes(v)
			case "dst":
				rule.Dst, err = parsePrefixes(v)
			case "host":
				rule.Host, err = parsePrefixes(v)
			case "sport":
				rule.SrcPort, err = parsePorts(v)
			case "dport":
				rule.DstPort, err = parsePorts(v)
			case "proto":
				rule.Proto, err = parseProto(v)
			case "start":
				rule.Start, err = parseTime(v)
			case "end":
				rule.End, err = parseTime(v)
			case "dir":
				switch v {
				case "any":
					rule.AnyDir = true
				case "initiator":
				default:
					err = fmt.Errorf("%q is not initiator or any", v)
				}
			default:
				err = fmt.Errorf("unknown key %q (want src, dst, host, sport, dport, proto, start, end, dir)", k)
			}
			if err != nil {
				return nil, fmt.Errorf("line %d: %s: %w", n, k, err)
			}
		}
		if len(seen) == 1 && seen["dir"] {
			return nil, fmt.Errorf("line %d: rule %q has no conditions but dir", n, rule.Label)
		}
		if rule.Start != 0 && rule.End != 0 && rule.End <= rule.Start {
			return nil, fmt.Errorf("line %d: end is not after start", n)
		}
		rs.rules = append(rs.rules, rule)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", n+1, err)
	}
	return rs, nil
}

// splitRule splits a rules line into its fields, dropping a '#' comment;
// a field in double quotes may hold spaces and '#', so that CIC-IDS2017's
// labels ("DoS Hulk") can be written. quoted[i] tells which were quoted.
func splitRule(line string) (fields []string, quoted []bool, err error) {
	for {
		line = strings.TrimLeftFunc(line, unicode.IsSpace)
		if line == "" || line[0] == '#' {
			return fields, quoted, nil
		}
		if line[0] == '"' {
			end := strings.IndexByte(line[1:], '"')
			if end < 0 {
				return nil, nil, fmt.Errorf("quote not closed in %s", line)
			}
			f := line[1 : 1+end]
			if f == "" {
				return nil, nil, errors.New(`empty label ""`)
			}
			line = line[2+end:]
			if line != "" && endsField(line) != 0 {
				return nil, nil, fmt.Errorf("no space after the closing quote of %q", f)
			}
			fields, quoted = append(fields, f), append(quoted, true)
			continue
		}
		end := endsField(line)
		fields, quoted = append(fields, line[:end]), append(quoted, false)
		line = line[end:]
	}
}

// endsField is the index in s of the first space or '#', or len(s).
func endsField(s string) int {
	if i := strings.IndexFunc(s, func(r rune) bool { return r == '#' || unicode.IsSpace(r) }); i >= 0 {
		return i
	}
	return len(s)
}

func parsePrefixes(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(v, ",") {
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, err
			}
			if a := p.Addr(); a.Is4In6() {
				// Flow addresses are unmapped, so ::ffff:a.b.c.d/n is
				// the IPv4 prefix a.b.c.d/(n-96).
				if p.Bits() < 96 {
					return nil, fmt.Errorf("%s: a v4-mapped prefix needs at least 96 bits", s)
				}
				p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, err
		}
		if a.Zone() != "" {
			// Flow records carry no zone: the rule would match the
			// address on every link, silently.
			return nil, fmt.Errorf("%s: a zone (%%%s) is not part of a flow's address; write the address without it", s, a.Zone())
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// anyPort is the port range of a rule that names none.
var anyPort = [2]uint16{0, 65535}

func parsePorts(v string) ([2]uint16, error) {
	lo, hi, isRange := strings.Cut(v, "-")
	a, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return [2]uint16{}, fmt.Errorf("bad port %q (want 0-65535 or LO-HI)", v)
	}
	b := a
	if isRange {
		if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
			return [2]uint16{}, fmt.Errorf("bad port range %q", v)
		}
	}
	return [2]uint16{uint16(a), uint16(b)}, nil
}

func parseProto(v string) (uint8, error) {
	switch strings.ToLower(v) {
	case "tcp":
		return 6, nil
	case "udp":
		return 17, nil
	case "icmp":
		return 1, nil
	case "icmpv6":
		return 58, nil
	}
	n, err := strconv.ParseUint(v, 10, 8)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("bad protocol %q", v)
	}
	return uint8(n), nil
}

// minTime and maxTime bound the times that int64 nanoseconds hold.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

func parseTime(v string) (int64, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		if _, e := time.Parse("2006-01-02T15:04:05.999999999", v); e == nil {
			// Which zone was meant is a guess: the capture's clock, the
			// labeller's, UTC. CIC-IDS2017's times are -03:00.
			return 0, fmt.Errorf("%q has no time zone: add Z for UTC or an offset such as -03:00", v)
		}
		return 0, fmt.Errorf("%q is not an RFC 3339 time such as 2017-07-05T09:47:00-03:00", v)
	}
	// Flow times are int64 nanoseconds; UnixNano wraps outside them, and
	// 0 means unbounded here, so neither can be asked for.
	if t.Before(minTime) || t.After(maxTime) {
		return 0, fmt.Errorf("%q is outside the times a flow can have (%d to %d); leave the key out for no bound", v, minTime.Year(), maxTime.Year())
	}
	if t.UnixNano() == 0 {
		return 0, fmt.Errorf("%q is the Unix epoch, which this field cannot hold; leave the key out for no bound", v)
	}
	return t.UnixNano(), nil
}
