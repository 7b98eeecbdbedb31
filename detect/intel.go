package detect

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/flowhawk/flowhawk/collector"
)

// indicator is what a blocklist says about one IP, network or domain.
type indicator struct {
	value string // as written: IP, CIDR or domain
	list  string // file it came from
	desc  string // the line's other fields, e.g. a CSV's category column
}

// blocklist is the merged content of the blocklist files.
type blocklist struct {
	ips      map[netip.Addr]indicator
	nets     map[int]map[netip.Prefix]indicator
	bits     []int // prefix lengths present, longest first
	domains  map[string]indicator
	ignored  int // lines that held no indicator
	nEntries int
	nNets    int // distinct networks in nets
	max      int // distinct indicators allowed in all; 0 is no bound
}

func newBlocklist(max int) *blocklist {
	return &blocklist{ips: map[netip.Addr]indicator{}, nets: map[int]map[netip.Prefix]indicator{}, domains: map[string]indicator{}, max: max}
}

// keepFrom adds old's entries of the file path, for a file gone since
// old was loaded.
func (b *blocklist) keepFrom(old *blocklist, path string) error {
	full := fmt.Errorf("blocklist %s (gone; its last entries kept): more than %d distinct IPs, networks and domains in all blocklists (--blocklist-max-entries)", path, b.max)
	n := 0
	for a, ind := range old.ips {
		if ind.list == path {
			if !b.putIP(a, ind) {
				return full
			}
			n++
		}
	}
	for _, m := range old.nets {
		for p, ind := range m {
			if ind.list == path {
				if !b.putNet(p, ind) {
					return full
				}
				n++
			}
		}
	}
	for d, ind := range old.domains {
		if ind.list == path {
			if !b.putDomain(d, ind) {
				return full
			}
			n++
		}
	}
	b.nEntries += n
	return nil
}

// putIP, putNet and putDomain add an indicator (replacing one of the same
// value), false when it is a new one past the bound.
func (b *blocklist) putIP(a netip.Addr, ind indicator) bool {
	if _, ok := b.ips[a]; !ok && b.full() {
		return false
	}
	b.ips[a] = ind
	return true
}

func (b *blocklist) putNet(p netip.Prefix, ind indicator) bool {
	m := b.nets[p.Bits()]
	if _, ok := m[p]; !ok {
		if b.full() {
			return false
		}
		b.nNets++
	}
	if m == nil {
		m = map[netip.Prefix]indicator{}
		b.nets[p.Bits()] = m
		b.bits = append(b.bits, p.Bits())
		slices.Sort(b.bits)
		slices.Reverse(b.bits)
	}
	m[p] = ind
	return true
}

func (b *blocklist) putDomain(d string, ind indicator) bool {
	if _, ok := b.domains[d]; !ok && b.full() {
		return false
	}
	b.domains[d] = ind
	return true
}

// distinct is the number of indicators held (a value listed twice, in one
// file or in two, is held once).
func (b *blocklist) distinct() int { return len(b.ips) + len(b.domains) + b.nNets }

// full reports whether one more distinct indicator would pass the bound.
func (b *blocklist) full() bool { return b.max > 0 && b.distinct() >= b.max }

// parseDomain returns the normalized domain in s, or "". A name must end
// in a label shaped like a top-level domain (letters, or xn-- punycode)
// and have no underscore in its registrable part, which no registry
// allows: a CSV column such as ThreatFox's malware family
// "win.cobalt_strike" or a file name "report.v2" is no domain. Labels
// below the registrable domain may hold one (_dmarc.example.com).
func parseDomain(s string) string {
	s = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(s, "*."), "."), "."))
	if len(s) < 3 || len(s) > 253 || !strings.Contains(s, ".") {
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return ""
		}
	}
	rd, tld := registrable(s)
	if !tldShape(tld) || strings.Contains(rd, "_") {
		return ""
	}
	return s
}

// tldShape reports whether label can be a top-level domain: two or more
// letters, or an internationalized one in punycode (xn--p1ai).
func tldShape(label string) bool {
	if rest, ok := strings.CutPrefix(label, "xn--"); ok {
		return rest != "" && strings.Trim(rest, "abcdefghijklmnopqrstuvwxyz0123456789-") == ""
	}
	return len(label) >= 2 && strings.Trim(label, "abcdefghijklmnopqrstuvwxyz") == ""
}

// listSep separates the fields of a list line, plain or CSV: comma, tab,
// semicolon or space (blocklists, --dga-allow).
func listSep(r rune) bool { return r == ',' || r == '\t' || r == ';' || r == ' ' }

// stripBOM removes the UTF-8 byte order mark some editors and feed
// exporters put before a file's first line, which would otherwise turn
// the first entry into a field that parses as nothing.
func stripBOM(line int, s string) string {
	if line == 1 {
		return strings.TrimPrefix(s, "\ufeff")
	}
	return s
}

// hostsHeaderNames are the local names of the standard hosts-file header
// (StevenBlack's and the distributions' /etc/hosts): never indicators.
var hostsHeaderNames = map[string]bool{
	"localhost": true, "localhost.localdomain": true, "local": true, "broadcasthost": true,
	"localhost4": true, "localhost4.localdomain4": true, "localhost6": true, "localhost6.localdomain6": true,
}

// hostsLine reports whether fields (quotes stripped) are a hosts-file
// line: an address followed by host names, where the address is only
// the sink the names resolve to. A sink address (0.0.0.0, loopback)
// makes any line a hosts line; another address does when the line is
// whitespace separated, as hosts(5) is, and every other field is a name,
// so "203.0.113.7 c2" and CSV "IP,domain" lines keep their IP.
func hostsLine(s string, fields []string) bool {
	if len(fields) < 2 {
		return false
	}
	a, err := netip.ParseAddr(fields[0])
	if err != nil {
		return false
	}
	if a = a.Unmap(); a.IsUnspecified() || a.IsLoopback() {
		return true
	}
	if strings.ContainsAny(s, ",;") {
		return false
	}
	for _, f := range fields[1:] {
		// An address is not a name: "203.0.113.7 198.51.100.1" keeps
		// its first IP as the indicator.
		if hostsName(f) == "" && !localHostName(f) {
			return false
		}
	}
	return true
}

// localHostName reports whether a hosts-file name is one of the local
// names of the standard header (localhost, broadcasthost, ip6-allnodes,
// ...), which name the machine or a multicast group, never a site.
func localHostName(f string) bool {
	f = strings.ToLower(f)
	return hostsHeaderNames[f] || (strings.HasPrefix(f, "ip6-") && !strings.Contains(f, "."))
}

// hostsName returns the domain a hosts-file name gives, or "" for local
// header names and names that are themselves addresses.
func hostsName(f string) string {
	if localHostName(f) {
		return ""
	}
	if _, err := netip.ParseAddr(f); err == nil {
		return ""
	}
	d := parseDomain(f)
	if hostsHeaderNames[d] {
		return ""
	}
	return d
}

// load reads one list: one indicator per line, plain or CSV (comma, tab,
// semicolon or space separated, quotes stripped), with # comments and
// blank lines. The first field that is an IP, a CIDR, an IP:port (its
// port ignored), a domain or a URL is the indicator and the rest of the
// line its description. Hosts-file
// lines ("0.0.0.0 evil.example other.example") give their names only:
// their address is where the names are sent, not an indicator.
func (b *blocklist) load(path string, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line, entries := 0, b.nEntries
	bad, firstBad, badText := 0, 0, "" // lines with a malformed IP or CIDR and no indicator
	for sc.Scan() {
		line++
		s := stripBOM(line, sc.Text())
		if i := strings.IndexByte(s, '#'); i >= 0 {
			s = s[:i]
		}
		s = strings.TrimSpace(s)
		// A ';' comment (Spamhaus DROP's header) is ';' and a space or
		// nothing: ";203.0.113.7;c2" is a row whose first cell is empty.
		if s == "" || s == ";" || strings.HasPrefix(s, "; ") || strings.HasPrefix(s, ";;") || strings.HasPrefix(s, "//") {
			continue
		}
		fields := strings.FieldsFunc(s, listSep)
		for i := range fields {
			fields[i] = strings.Trim(fields[i], `"'`)
		}
		if hostsLine(s, fields) {
			n := 0
			for _, f := range fields[1:] {
				if d := hostsName(f); d != "" {
					// Copies: a field's string would keep its whole
					// line in memory with every entry.
					if !b.putDomain(strings.Clone(d), indicator{value: strings.Clone(f), list: path}) {
						return b.tooMany(path, line)
					}
					n++
				}
			}
			if n == 0 {
				b.ignored++ // the header's localhost and broadcast lines
			}
			b.nEntries += n
			continue
		}
		found := -1
		var ind indicator
		var kind int // 1 ip, 2 net, 3 domain
		var ip netip.Addr
		var pfx netip.Prefix
		var dom string
		malformed := false
		for i, f := range fields {
			if i := strings.Index(f, "://"); i >= 0 {
				// The scheme and authority only: a path's stray '%'
				// (".../x86%") failed the whole URL's parse, and its
				// host was lost without a word.
				au := f
				if j := strings.IndexAny(f[i+3:], "/?#"); j >= 0 {
					au = f[:i+3+j]
				}
				if u, err := url.Parse(au); err == nil && u.Hostname() != "" {
					f = u.Hostname()
				}
			}
			if a, err := netip.ParseAddr(f); err == nil {
				// A zone (fe80::1%eth0) never appears on a packet's address.
				ip, kind, found = a.Unmap().WithZone(""), 1, i
			} else if p, err := netip.ParsePrefix(f); err == nil {
				a, bits := p.Addr(), p.Bits()
				if a.Is4In6() {
					a, bits = a.Unmap(), bits-96
				}
				if bits < 0 {
					malformed = true // ::ffff:10.0.0.0/50
					continue
				}
				pfx, kind, found = netip.PrefixFrom(a, bits).Masked(), 2, i
			} else if ap, err := netip.ParseAddrPort(f); err == nil {
				// IP:port ("198.51.100.77:443", "[2001:db8::1]:443",
				// ThreatFox's ip:port IOCs): the address is the
				// indicator, whatever port the flow uses.
				ip, kind, found = ap.Addr().Unmap().WithZone(""), 1, i
			} else if d := parseDomain(f); d != "" {
				dom, kind, found = d, 3, i
			} else {
				malformed = malformed || addrLike(f)
				continue
			}
			ind.value = strings.Clone(f)
			break
		}
		if found < 0 {
			b.ignored++
			if malformed {
				if bad++; bad == 1 {
					firstBad, badText = line, s
				}
			}
			continue
		}
		rest := slices.Delete(slices.Clone(fields), found, found+1)
		ind.desc = strings.Join(rest, " ")
		if len(ind.desc) > 120 {
			// At a character's start: a cut inside one showed as U+FFFD.
			n := 120
			for n > 0 && !utf8.RuneStart(ind.desc[n]) {
				n--
			}
			ind.desc = ind.desc[:n]
		}
		ind.desc = strings.Clone(ind.desc) // not the joined columns past the cut
		ind.list = path
		switch kind {
		case 1:
			if !b.putIP(ip, ind) {
				return b.tooMany(path, line)
			}
		case 2:
			if !b.putNet(pfx, ind) {
				return b.tooMany(path, line)
			}
		case 3:
			if !b.putDomain(strings.Clone(dom), ind) {
				return b.tooMany(path, line)
			}
		}
		b.nEntries++
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("blocklist %s: line %d: %w", path, line+1, err)
	}
	if b.nEntries == entries {
		// An empty feed, or one of another format: matching nothing in
		// silence would look like a clean network.
		if bad > 0 {
			return fmt.Errorf("blocklist %s: no IP, network or domain in %d lines (%d malformed IPs or networks, the first at %s:%d: %q)", path, line, bad, path, firstBad, badText)
		}
		return fmt.Errorf("blocklist %s: no IP, network or domain in %d lines", path, line)
	}
	if bad > 0 {
		slog.Warn("blocklist lines with a malformed IP or network and no other indicator were skipped", "file", path, "lines", bad, "first", fmt.Sprintf("%s:%d", path, firstBad), "text", badText)
	}
	return nil
}

// addrLike reports whether a field that parses as nothing was meant as an
// IP or a network: four dotted numbers (999.1.1.1, 10.0.0.0/33), or hex
// groups with "::" or seven colons (2001:db8::/129), each optionally
// followed by a slash. Other fields of a CSV line (a time such as
// 10:00:00, a MAC address, a hash, a word) are not.
func addrLike(f string) bool {
	// IP:port ("999.1.1.1:443", "[2001:db8::g]:443"): the address.
	if strings.HasPrefix(f, "[") {
		if i := strings.Index(f, "]:"); i > 0 {
			f = f[1:i]
		}
	} else if i := strings.LastIndexByte(f, ':'); i > 0 && strings.Count(f, ":") == 1 && strings.Count(f[:i], ".") == 3 {
		f = f[:i]
	}
	addr, _, _ := strings.Cut(f, "/")
	if addr == "" {
		return false
	}
	if strings.Contains(addr, ":") {
		return (strings.Contains(addr, "::") || strings.Count(addr, ":") == 7) &&
			strings.Trim(addr, "0123456789abcdefABCDEF:.%") == "" // .: an IPv4 tail; %: a zone
	}
	parts := strings.Split(addr, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// tooMany is the error of the line that would pass the bound.
func (b *blocklist) tooMany(path string, line int) error {
	return fmt.Errorf("blocklist %s: line %d: more than %d distinct IPs, networks and domains in all blocklists (--blocklist-max-entries; each takes 150-200 bytes)", path, line, b.max)
}

func (b *blocklist) matchIP(a netip.Addr) (indicator, bool) {
	if !a.IsValid() {
		return indicator{}, false
	}
	if ind, ok := b.ips[a]; ok {
		return ind, true
	}
	for _, bits := range b.bits {
		if bits > a.BitLen() {
			continue
		}
		p, err := a.Prefix(bits)
		if err != nil {
			continue
		}
		if ind, ok := b.nets[bits][p]; ok {
			return ind, true
		}
	}
	return indicator{}, false
}

// matchName matches name or any parent domain of it.
func (b *blocklist) matchName(name string) (indicator, string, bool) {
	for s := name; s != ""; {
		if ind, ok := b.domains[s]; ok {
			return ind, s, true
		}
		i := strings.IndexByte(s, '.')
		if i < 0 {
			break
		}
		s = s[i+1:]
	}
	return indicator{}, "", false
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// intel matches flow endpoints and queried DNS names against the
// blocklists, reloading them when a file's mtime or size changes (checked
// every IntelReload of packet time). No network look-ups are made.
type intel struct {
	e         *Engine
	paths     []string
	stamps    []fileStamp
	bl        *blocklist
	lastCheck int64
	checked   bool // lastCheck is set
	Reloads   uint64
	syns      map[collector.Key]string // flows whose SYN alerted -> cause
	// The last failed reload: its error and the files' stamps when it
	// was tried. A reload that fails again the same way on the same
	// files is not warned about again; only a new failure (a file
	// changed, another error) is, and the reload after failures that
	// succeeds says so.
	failErr    string
	failStamps []fileStamp
	failures   int // failed reloads since the last good one
	// missing counts the checks in a row that found each file missing:
	// a file replaced by remove-and-write is gone for one check, one
	// deleted for good is warned about at the second (once), or the old
	// list went on matching in silence for as long as it stayed gone.
	missing []int
}

func newIntel(paths []string, e *Engine) (*intel, error) {
	in := &intel{e: e, paths: paths, stamps: make([]fileStamp, len(paths)), syns: map[collector.Key]string{}, missing: make([]int, len(paths))}
	if err := in.reload(); err != nil {
		return nil, err
	}
	return in, nil
}

// reload reads every list afresh; the new lists and the files' stamps
// are kept only if all files load, so a file changed alongside one that
// fails is still seen as changed at the next check.
func (in *intel) reload() error {
	bl := newBlocklist(in.e.cfg.IntelMaxEntries)
	stamps := make([]fileStamp, len(in.paths))
	for i, p := range in.paths {
		f, err := os.Open(p)
		if err != nil && errors.Is(err, fs.ErrNotExist) && in.missing[i] >= 2 && in.bl != nil {
			// Gone for good (tick warned): its last entries go on
			// matching, and the other files still reload (a deleted
			// feed stopped every other file's updates).
			if err := bl.keepFrom(in.bl, p); err != nil {
				return err
			}
			stamps[i] = in.stamps[i]
			continue
		}
		if err != nil {
			return fmt.Errorf("blocklist: %w", err)
		}
		st, err := f.Stat()
		if err == nil {
			err = bl.load(p, f)
		}
		f.Close()
		if err != nil {
			return err
		}
		stamps[i] = fileStamp{st.ModTime(), st.Size()}
	}
	in.bl, in.stamps = bl, stamps
	in.Reloads++
	slog.Debug("blocklists loaded", "files", len(in.paths), "entries", bl.nEntries, "ignored_lines", bl.ignored)
	return nil
}

func (in *intel) tick(now int64) {
	if in.checked && now-in.lastCheck < in.e.cfg.IntelReload.Nanoseconds() {
		return
	}
	in.lastCheck, in.checked = now, true
	changed := false
	cur := make([]fileStamp, len(in.paths)) // a missing file: the zero stamp
	for i, p := range in.paths {
		st, err := os.Stat(p)
		if err != nil {
			// Keep the last good list while a file is replaced; say so
			// once when it stays gone.
			if in.missing[i]++; in.missing[i] == 2 {
				slog.Warn("blocklist file missing; keeping its last loaded entries until it is back", "file", p, "err", err)
			}
			continue
		}
		if in.missing[i] >= 2 {
			slog.Info("blocklist file is back", "file", p)
		}
		in.missing[i] = 0
		cur[i] = fileStamp{st.ModTime(), st.Size()}
		if !cur[i].same(in.stamps[i]) {
			changed = true
		}
	}
	if !changed {
		return
	}
	err := in.reload()
	if err == nil {
		if in.failures > 0 {
			slog.Info("blocklists reloaded; the previous lists were kept until now", "failed_reloads", in.failures)
		}
		in.failErr, in.failStamps, in.failures = "", nil, 0
		return
	}
	// Retried at each check (a file replaced or made readable again
	// loads at the next one), but warned about once per failure: a feed
	// left empty for a day warned every check, 2,880 times at 30 s, and
	// in a 20-minute soak 32 of the agent's 39 log lines were this.
	in.failures++
	if msg := err.Error(); msg != in.failErr || !sameStamps(cur, in.failStamps) {
		in.failErr, in.failStamps = msg, cur
		slog.Warn("blocklist reload failed; keeping the previous lists (retried at each check, warned again only if the files or the error change)", "err", err)
	}
}

func (a fileStamp) same(b fileStamp) bool { return a.mod.Equal(b.mod) && a.size == b.size }

func sameStamps(a, b []fileStamp) bool {
	return slices.EqualFunc(a, b, fileStamp.same)
}

// packet matches the endpoints of a TCP SYN (a connection attempt), so a
// connection to a listed address alerts at once instead of when its flow
// record ends, which for a long C2 session may be the active timeout.
func (in *intel) packet(p *collector.Packet) {
	src, dst, sport, dport := ends(p)
	s, d := toNetip(src), toNetip(dst)
	for i, a := range []netip.Addr{s, d} {
		ind, ok := in.bl.matchIP(a)
		if !ok {
			continue
		}
		side := "source"
		if i == 1 {
			side = "destination"
		}
		al := &Alert{
			Time: p.Timestamp, Detector: Intel, Rule: "intel.ip", Severity: SevHigh,
			Src: s, Dst: d, SrcPort: sport, DstPort: dport, Proto: 6,
		}
		al.Message = fmt.Sprintf("connection %s -> %s: %s %s is on blocklist %s", s, netip.AddrPortFrom(d, dport), side, a, in.bl.label(ind))
		al.Evidence = map[string]any{"indicator": ind.value, "matched": side, "list": ind.list, "description": ind.desc}
		ipCause(al, i == 0)
		if len(in.syns) >= 4096 {
			clear(in.syns) // bounded; a flow whose SYN is forgotten alerts again at its end
		}
		in.syns[p.Key] = causeKey(al)
		in.e.raise(al)
		return
	}
}

// flow matches a flow record's endpoints; a flow whose SYN already
// alerted only adds its flow ID to that alert's next aggregate.
func (in *intel) flow(f *collector.Flow) {
	if cause, ok := in.syns[f.Key]; ok {
		delete(in.syns, f.Key)
		in.e.agg.addFlowID(cause, f.ID)
		return
	}
	src, dst := f.Src(), f.Dst()
	for i, ep := range []collector.Endpoint{src, dst} {
		ind, ok := in.bl.matchIP(ep.Addr)
		if !ok {
			continue
		}
		side := "source"
		if i == 1 {
			side = "destination"
		}
		a := &Alert{
			Time: f.End, First: f.Start, Last: f.End, Detector: Intel, Rule: "intel.ip", Severity: SevHigh,
			Src: src.Addr, Dst: dst.Addr, SrcPort: src.Port, DstPort: dst.Port, Proto: f.Key.Proto, FlowIDs: []uint64{f.ID},
		}
		a.Message = fmt.Sprintf("flow %s -> %s: %s %s is on blocklist %s", src.Addr, dst.Addr, side, ep.Addr, in.bl.label(ind))
		a.Evidence = map[string]any{"indicator": ind.value, "matched": side, "list": ind.list, "description": ind.desc,
			"packets": f.Packets(), "bytes": f.Bytes()}
		ipCause(a, i == 0)
		in.e.raise(a)
		return
	}
}

// ipCause sets an intel.ip alert's aggregation cause. A listed initiator
// (a scanner, an attacker reaching in) is one cause whatever it reaches,
// so one source sweeping 10,000 hosts is one alert and its aggregates,
// not 10,000 alerts; a host reaching out to a listed address keeps the
// default cause (source and destination), so every host that talks to a
// C2 is named in an alert of its own.
func ipCause(a *Alert, listedInitiator bool) {
	if listedInitiator {
		a.cause = "from|" + a.Src.String()
	}
}

func (b *blocklist) label(ind indicator) string {
	if ind.desc != "" {
		return fmt.Sprintf("%s (%s)", ind.list, ind.desc)
	}
	return ind.list
}

// cname matches target, a CNAME in the answer to client's question m
// that server sent in p, against the blocklists' domains: the alert is the
// client's, as for a question of that name.
func (in *intel) cname(target []byte, m *dnsMsg, p *collector.Packet, client, server addr) {
	ind, matched, ok := in.bl.matchName(string(target))
	if !ok {
		return
	}
	_, _, sport, dport := ends(p)
	a := &Alert{
		Time: p.Timestamp, Detector: Intel, Rule: "intel.domain", Severity: SevHigh,
		Src: toNetip(client), Dst: toNetip(server), SrcPort: dport, DstPort: sport, Proto: p.Key.Proto, DNSName: string(target),
		keys: []collector.Key{p.Key},
	}
	a.Message = fmt.Sprintf("%s queried %s, an alias of %s, on blocklist %s", a.Src, m.name, a.DNSName, in.bl.label(ind))
	a.Evidence = map[string]any{"indicator": matched, "list": ind.list, "description": ind.desc, "query": string(m.name)}
	a.cause = a.Src.String() + "|" + matched
	in.e.raise(a)
}

func (in *intel) name(m *dnsMsg, p *collector.Packet, src, dst addr) {
	ind, matched, ok := in.bl.matchName(string(m.name))
	if !ok {
		return
	}
	_, _, sport, dport := ends(p)
	a := &Alert{
		Time: p.Timestamp, Detector: Intel, Rule: "intel.domain", Severity: SevHigh,
		Src: toNetip(src), Dst: toNetip(dst), SrcPort: sport, DstPort: dport, Proto: p.Key.Proto, DNSName: string(m.name),
		keys: []collector.Key{p.Key},
	}
	a.Message = fmt.Sprintf("%s queried %s, on blocklist %s", a.Src, a.DNSName, in.bl.label(ind))
	a.Evidence = map[string]any{"indicator": matched, "list": ind.list, "description": ind.desc}
	a.cause = a.Src.String() + "|" + matched
	in.e.raise(a)
}
