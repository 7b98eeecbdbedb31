package detect

import (
	"fmt"
	"strings"
	"time"

	"github.com/flowhawk/flowhawk/collector"
)

// dnsDetector inspects DNS questions and answers (port 53, UDP or TCP).
// Per query it raises dns.dga (the registrable domain looks generated),
// dns.tunnel (a long, high-entropy subdomain part, as DNS tunnels and
// exfiltration use) and dns.suspicious_tld. Per client and tumbling
// window it raises dns.nxdomain (many NXDOMAIN answers, typical of DGA
// malware probing for its server) and dns.many_names (many distinct
// names).
//
// An NXDOMAIN answer counts for its client only when the sensor saw the
// query it answers (same client, server, client port and DNS ID, at most
// dnsAnswerTimeout before), so answers forged in a resolver's name
// cannot make a host look infected. When the engine sees only some
// packets of each connection (Config.PartialPackets) every NXDOMAIN
// answer counts, as a query is often not among them.
type dnsDetector struct {
	e       *Engine
	win     window
	hosts   *bounded[addr, dnsHost]
	names   budget                       // the distinct names of all hosts in a window
	pending *bounded[dnsQueryKey, int64] // query time by query, until answered
	tlds    map[string]bool
	allow   map[string]bool // registrable domains never scored for DGA
}

// dnsQueryKey identifies a query so that its answer can be matched.
type dnsQueryKey struct {
	client, server addr
	port, id       uint16
}

// dnsAnswerTimeout bounds how late an answer may follow its query and
// still be matched: stub resolvers give up after 5 s a try, a few tries.
const dnsAnswerTimeout = 30 * int64(time.Second)

type dnsHost struct {
	queries, nx uint64 // nx: NXDOMAIN answers matched to a query
	names       distinct
	nxDistinct  distinct // the names answered NXDOMAIN, outside local TLDs
	unmatched   uint64   // NXDOMAIN answers to queries the sensor did not see
	nxNames     [4]string
	nxN         int
	first, last int64
	keys        sampleKeys
	qBy, nxBy   transports // how the queries and the NXDOMAIN answers came
}

// transports records whether a host's DNS messages came over UDP, TCP or
// both, so window alerts name the transport that was used.
type transports uint8

func (t *transports) add(proto uint8) {
	if proto == 6 {
		*t |= 2
	} else {
		*t |= 1
	}
}

// proto is the IP protocol the messages used: 17 or 6, or 0 when both.
func (t transports) proto() uint8 {
	switch t {
	case 1:
		return 17
	case 2:
		return 6
	}
	return 0
}

// Names under these TLDs are local or infrastructure, never scored.
var localTLDs = map[string]bool{
	"local": true, "arpa": true, "localdomain": true, "lan": true, "home": true,
	"internal": true, "corp": true, "localhost": true, "intranet": true, "private": true,
}

// tunnelEntropy is the entropy (bits/char) above which a long subdomain
// part counts as encoded data: hex runs near 4, base32 near 5; English
// hostnames stay near 3.3 at that length.
const tunnelEntropy = 3.5

func newDNSDetector(e *Engine) (*dnsDetector, error) {
	d := &dnsDetector{
		e:     e,
		win:   window{size: e.cfg.DNSWindow.Nanoseconds()},
		hosts: newBounded[addr](e.cfg.MaxHosts, func(s *dnsHost) uint64 { return s.queries + s.nx }),
		// The oldest of three sampled queries goes first when full.
		pending: newBounded[dnsQueryKey](e.cfg.MaxHosts, func(ts *int64) uint64 { return uint64(*ts) }),
		tlds:    map[string]bool{},
		allow:   map[string]bool{},
		// 1,310 hosts' full sets at the defaults, 25-30 MB.
		names: budget{max: 1 << 20},
	}
	d.hosts.evicted = func(v *dnsHost) { d.names.giveBack(&v.names, &v.nxDistinct) }
	for _, t := range e.cfg.SuspiciousTLDs {
		d.tlds[strings.TrimPrefix(strings.ToLower(t), ".")] = true
	}
	for _, n := range knownDomains {
		d.allow[n] = true
	}
	for _, p := range e.cfg.DGAAllow {
		if err := loadDomainList(p, d.allow); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func fnv64(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

func (d *dnsDetector) message(m *dnsMsg, p *collector.Packet, src, dst addr, sport, dport uint16) {
	ts := p.Timestamp
	if m.response {
		if m.rcode != rcodeNXDomain {
			// Answered: its query leaves the pending table, which held
			// every query answered otherwise until evicted and counted
			// as forgotten unanswered (dns_queries_evicted).
			if !d.e.cfg.PartialPackets {
				d.pending.remove(dnsQueryKey{dst, src, dport, m.id})
			}
			return
		}
		h := d.hosts.upsert(dst) // the client
		d.touch(h, ts)
		if !d.e.cfg.PartialPackets && !d.answers(dnsQueryKey{dst, src, dport, m.id}, ts) {
			h.unmatched++
			return
		}
		h.nx++
		// The rule counts distinct names outside local TLDs: a resolver's
		// search list tries each name under every local suffix, for A
		// and AAAA, and gets NXDOMAIN for each before the name resolves
		// (a pod with ndots:5 got 24 for 4 names that all resolved).
		if _, _, tld := splitName(string(m.name)); localTLDs[tld] {
			return
		}
		d.names.add(&h.nxDistinct, fnv64(m.name), 4*d.e.cfg.NXDomain)
		h.nxBy.add(p.Key.Proto)
		h.keys.add(&p.Key)
		if h.nxN < len(h.nxNames) {
			n := string(m.name)
			dup := false
			for _, x := range h.nxNames[:h.nxN] {
				dup = dup || x == n
			}
			if !dup {
				h.nxNames[h.nxN] = n
				h.nxN++
			}
		}
		return
	}
	h := d.hosts.upsert(src)
	d.touch(h, ts)
	h.queries++
	if !d.e.cfg.PartialPackets {
		*d.pending.upsert(dnsQueryKey{src, dst, sport, m.id}) = ts
	}
	h.qBy.add(p.Key.Proto)
	d.names.add(&h.names, fnv64(m.name), 4*d.e.cfg.DistinctNames)

	name := string(m.name)
	label, sub, tld := splitName(name)
	if label == "" || localTLDs[tld] || serviceName(name) {
		return
	}
	c := &d.e.cfg
	base := func(rule string, sev Severity) *Alert {
		return &Alert{
			Time: ts, Detector: DNS, Rule: rule, Severity: sev, Src: toNetip(src), Dst: toNetip(dst),
			SrcPort: sport, DstPort: dport, Proto: p.Key.Proto, DNSName: name, keys: []collector.Key{p.Key},
		}
	}
	var rd string // none without a top-level domain
	if tld != "" {
		rd, _ = registrable(name)
	}
	if len(sub) >= c.TunnelMinLen {
		if h := entropyOf(sub); h >= tunnelEntropy {
			a := base("dns.tunnel", SevHigh)
			under := "under " + rd
			if rd == "" {
				under = "in a name without a top-level domain"
			}
			a.Message = fmt.Sprintf("%s queried %d bytes of high-entropy (%.2f bits/char) subdomain %s", a.Src, len(sub), h, under)
			a.Evidence = map[string]any{"subdomain_len": len(sub), "entropy": round3(h), "registered_domain": rd, "qtype": m.qtype}
			// Per client: tunnel names often have no real registrable
			// domain (dnscat without a TLD), so the domain is evidence.
			a.cause = a.Src.String()
			d.e.raise(a)
		}
	}
	if !strings.HasPrefix(label, "xn--") && !d.allow[rd] {
		f := Measure(dgaLabel(label))
		if s := f.Score(c.DGAMinLen); s >= c.DGAScore {
			sev := SevMedium
			if s >= 0.8 {
				sev = SevHigh
			}
			a := base("dns.dga", sev)
			a.Message = fmt.Sprintf("%s queried %s, whose domain %q scores %.2f as generated", a.Src, name, label, s)
			a.Evidence = map[string]any{
				"score": round3(s), "threshold": c.DGAScore, "label": label, "registered_domain": rd,
				"entropy": round3(f.Entropy), "rare_bigram_ratio": round3(f.RareBigram), "vowel_ratio": round3(f.VowelRatio),
				"consonant_run": f.ConsRun, "digit_ratio": round3(f.DigitRatio), "qtype": m.qtype,
			}
			a.cause = a.Src.String()
			d.e.raise(a)
		}
	}
	if d.tlds[tld] {
		a := base("dns.suspicious_tld", SevLow)
		a.Message = fmt.Sprintf("%s queried %s under the often-abused TLD .%s", a.Src, name, tld)
		a.Evidence = map[string]any{"tld": tld}
		a.cause = a.Src.String() + "|" + tld
		d.e.raise(a)
	}
}

// serviceName reports whether a name has a label starting with "_":
// SRV and other service names (_ldap._tcp.dc.example.com,
// _dmarc.example.com) whose labels are protocol words, not hostnames. A
// "_" inside a label is left to scoring: base64url-encoded tunnel
// payloads contain it.
func serviceName(name string) bool {
	return strings.HasPrefix(name, "_") || strings.Contains(name, "._")
}

// answers reports whether an answer at ts matches a pending query, and
// forgets the query: a repeated answer counts once.
func (d *dnsDetector) answers(k dnsQueryKey, ts int64) bool {
	qts := d.pending.get(k)
	if qts == nil {
		return false
	}
	ok := ts >= *qts && ts-*qts <= dnsAnswerTimeout
	d.pending.remove(k)
	return ok
}

func (d *dnsDetector) touch(h *dnsHost, ts int64) {
	if h.first == 0 || ts < h.first {
		h.first = ts
	}
	h.last = max(h.last, ts)
}

func (d *dnsDetector) tick(now int64, final bool) {
	if !d.win.roll(now) && !final {
		return
	}
	c := &d.e.cfg
	var out []*Alert
	for host, h := range d.hosts.m {
		if n := h.nxDistinct.count(); n >= c.NXDomain {
			a := &Alert{
				Time: h.last, First: h.first, Last: h.last, Detector: DNS, Rule: "dns.nxdomain", Severity: SevMedium,
				Src: toNetip(host), Proto: h.nxBy.proto(), Names: append([]string(nil), h.nxNames[:h.nxN]...),
				// The window's first name answered NXDOMAIN: every alert,
				// aggregated ones too, names one of its own window.
				DNSName: h.nxNames[0],
			}
			a.Message = fmt.Sprintf("%s got NXDOMAIN for %d distinct names (%d answers) in %v", a.Src, n, h.nx, c.DNSWindow)
			a.Evidence = map[string]any{"window_s": c.DNSWindow.Seconds(), "nxdomain": h.nx, "nxdomain_names": n, "queries": h.queries}
			if h.unmatched > 0 {
				a.Evidence["nxdomain_unmatched"] = h.unmatched
			}
			a.keys = h.keys.slice()
			out = append(out, a)
		}
		if n := h.names.count(); n >= c.DistinctNames {
			a := &Alert{
				Time: h.last, First: h.first, Last: h.last, Detector: DNS, Rule: "dns.many_names", Severity: SevLow,
				Src: toNetip(host), Proto: h.qBy.proto(),
			}
			a.Message = fmt.Sprintf("%s queried %d distinct names in %v", a.Src, n, c.DNSWindow)
			a.Evidence = map[string]any{"window_s": c.DNSWindow.Seconds(), "distinct_names": n, "queries": h.queries, "saturated": h.names.sat}
			out = append(out, a)
		}
	}
	d.hosts.reset()
	d.names.used = 0
	d.e.raiseAll(out)
}
