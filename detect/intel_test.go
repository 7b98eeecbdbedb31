package detect

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/flowhawk/flowhawk/collector"
)

// A byte order mark before the first line must not cost the first entry,
// in a blocklist or a --dga-allow file.
func TestListsStripBOM(t *testing.T) {
	bl := newBlocklist(0)
	if err := bl.load("bom.txt", strings.NewReader("\ufeff192.0.2.1\n198.51.100.9\n")); err != nil {
		t.Fatal(err)
	}
	if _, ok := bl.matchIP(netip.MustParseAddr("192.0.2.1")); !ok || bl.nEntries != 2 || bl.ignored != 0 {
		t.Errorf("BOM blocklist: first entry matched %v, %d entries, %d ignored", ok, bl.nEntries, bl.ignored)
	}
	bl = newBlocklist(0)
	if err := bl.load("bom.txt", strings.NewReader("\ufeffevil.example\n")); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := bl.matchName("evil.example"); !ok {
		t.Errorf("BOM blocklist: first domain not loaded")
	}
	allow := filepath.Join(t.TempDir(), "allow.csv")
	os.WriteFile(allow, []byte("\ufeffqxzvbkwrt.com\nother.example\n"), 0o644)
	m := map[string]bool{}
	if err := loadDomainList(allow, m); err != nil || !m["qxzvbkwrt.com"] || !m["other.example"] {
		t.Errorf("BOM --dga-allow: %v %v", m, err)
	}
}

// The header of a published hosts-format blocklist (StevenBlack's) maps
// local and multicast names to local and multicast addresses: none of
// them is an indicator, and the sink addresses are never loaded, so a
// DHCP discover from 0.0.0.0 or a router advertisement to ff02::1 stays
// quiet. Plain and CSV lists keep their IPs.
func TestBlocklistHostsFormat(t *testing.T) {
	hosts := `# Title: StevenBlack/hosts
127.0.0.1 localhost
127.0.0.1 localhost.localdomain
127.0.0.1 local
255.255.255.255 broadcasthost
::1 localhost
::1 ip6-localhost
::1 ip6-loopback
fe80::1%lo0 localhost
ff00::0 ip6-localnet
ff00::0 ip6-mcastprefix
ff02::1 ip6-allnodes
ff02::2 ip6-allrouters
ff02::3 ip6-allhosts
0.0.0.0 0.0.0.0
# Custom host records are listed here.
0.0.0.0 ads.evil.example
0.0.0.0 a.track.example b.track.example
10.9.9.9 intranet-sink.example
`
	bl := newBlocklist(0)
	if err := bl.load("hosts", strings.NewReader(hosts)); err != nil {
		t.Fatal(err)
	}
	var ips []string
	for a := range bl.ips {
		ips = append(ips, a.String())
	}
	var doms []string
	for d := range bl.domains {
		doms = append(doms, d)
	}
	slices.Sort(doms)
	if len(ips) != 0 || len(bl.nets) != 0 || strings.Join(doms, " ") != "a.track.example ads.evil.example b.track.example intranet-sink.example" {
		t.Errorf("hosts file loaded IPs %v, networks %v, domains %v", ips, bl.nets, doms)
	}
	if bl.nEntries != 4 || bl.ignored != 14 {
		t.Errorf("%d entries, %d ignored lines; want 4 and 14", bl.nEntries, bl.ignored)
	}

	plain := newBlocklist(0)
	if err := plain.load("plain", strings.NewReader("203.0.113.7 c2\n203.0.113.8\n198.51.100.4,evil.example,botnet\n0.0.0.0\n")); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"203.0.113.7", "203.0.113.8", "198.51.100.4", "0.0.0.0"} {
		if _, ok := plain.matchIP(netip.MustParseAddr(a)); !ok {
			t.Errorf("plain/CSV list lost %s", a)
		}
	}
	if ind := plain.ips[netip.MustParseAddr("203.0.113.7")]; ind.desc != "c2" {
		t.Errorf("description %q, want c2", ind.desc)
	}

	// Through the engine: DHCP and an ICMPv6 router advertisement raise
	// nothing; a query for a listed name does.
	path := filepath.Join(t.TempDir(), "hosts")
	os.WriteFile(path, []byte(hosts), 0o644)
	cfg := only("intel")
	cfg.Blocklists = []string{path}
	e, c := newTest(t, cfg)
	e.OnFlow(testFlow(1, "0.0.0.0", "255.255.255.255", 68, 67, 17, t0))
	e.OnFlow(testFlow(2, "fe80::1", "ff02::1", 0, 0, 58, t0))
	e.OnPacket(pkt(t0+sec, "10.0.0.5", "10.0.0.53", 40000, 53, 17, 0, dnsQuery(1, "x.ads.evil.example", false, 0)))
	e.OnPacket(pkt(t0+sec, "10.0.0.5", "10.0.0.53", 40001, 53, 17, 0, dnsQuery(2, "localhost.localdomain", false, 0)))
	e.Close()
	if got := c.rules(); len(got) != 1 || got["intel.domain"] != 1 {
		t.Errorf("alerts %v, want one intel.domain", got)
	}
}

// A reload that fails on a later file must not record the new stamps of
// the files it read before: the next check would find them unchanged
// and their new content would never be loaded.
func TestIntelReloadAfterFailure(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt")
	os.WriteFile(a, []byte("198.51.100.1\n"), 0o644)
	os.WriteFile(b, []byte("198.51.100.2\n"), 0o644)
	cfg := only("intel")
	cfg.Blocklists = []string{a, b}
	e, c := newTest(t, cfg)
	listed := func(ts int64, id uint64) {
		e.OnFlow(testFlow(id, "10.0.0.5", "203.0.113.7", 40000+uint16(id), 443, 6, ts))
	}
	listed(t0, 1)
	st, err := os.Stat(b)
	if err != nil {
		t.Fatal(err)
	}
	// a gains an entry while b is being replaced: the reload fails and
	// the previous lists stay.
	os.Remove(b)
	os.WriteFile(a, []byte("198.51.100.1\n203.0.113.7 c2\n"), 0o644)
	listed(t0+31*sec, 2)
	// b is back with its old content and mtime (cp -p): the next check
	// must still load a's change.
	os.WriteFile(b, []byte("198.51.100.2\n"), 0o644)
	os.Chtimes(b, st.ModTime(), st.ModTime())
	listed(t0+62*sec, 3)
	e.Close()
	var ids []uint64
	for _, al := range c.alerts {
		ids = append(ids, al.FlowIDs...)
	}
	if !slices.Contains(ids, 3) || slices.Contains(ids, 2) {
		t.Errorf("alerts name flows %v; want flow 3 (after the good reload), not 2", ids)
	}
}

// reloadRig is an engine matching one blocklist file (198.51.100.1 at
// start) whose reload checks a test steps through, with the log lines
// they wrote.
type reloadRig struct {
	*Engine
	c     *collect
	path  string
	logs  *strings.Builder
	check int
}

func newReloadRig(t *testing.T) *reloadRig {
	logs := &strings.Builder{}
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(logs, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	path := filepath.Join(t.TempDir(), "bl.txt")
	os.WriteFile(path, []byte("198.51.100.1\n"), 0o644)
	cfg := only("intel")
	cfg.Blocklists = []string{path}
	e, c := newTest(t, cfg)
	return &reloadRig{Engine: e, c: c, path: path, logs: logs}
}

// checks runs n reload checks, 31 s of packet time apart.
func (r *reloadRig) checks(n int) {
	for range n {
		r.check++
		r.Advance(r.now())
	}
}

// now is the packet time of the last check.
func (r *reloadRig) now() int64 { return t0 + int64(r.check)*31*sec }

// A blocklist that stays broken is retried at each check but warned about
// once, and again only when it changes and still fails; the reload that
// succeeds after failures says so. In a 20-minute soak with a list broken
// or emptied for a minute at a time, the same warning came at every check
// (every 10 s there): 32 of the agent's 39 log lines.
func TestIntelReloadFailureWarnedOnce(t *testing.T) {
	r := newReloadRig(t)
	e, c, path, logs, checks := r.Engine, r.c, r.path, r.logs, r.checks
	warnings := func() int { return strings.Count(logs.String(), "blocklist reload failed") }

	os.WriteFile(path, []byte("999.1.1.1\ngarbage\n"), 0o644) // every line malformed
	checks(5)
	if n := warnings(); n != 1 {
		t.Fatalf("a list broken for 5 checks: %d warnings, want 1:\n%s", n, logs.String())
	}
	os.WriteFile(path, nil, 0o644) // broken another way: emptied
	checks(4)
	if n := warnings(); n != 2 {
		t.Fatalf("the list emptied, 4 more checks: %d warnings, want 2:\n%s", n, logs.String())
	}
	os.WriteFile(path, []byte("203.0.113.7 c2\n"), 0o644)
	checks(1)
	e.OnFlow(testFlow(1, "10.0.0.5", "203.0.113.7", 40000, 443, 6, r.now()+sec))
	checks(3)
	e.Close()
	if n := warnings(); n != 2 {
		t.Errorf("after the good reload: %d warnings, want still 2:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "blocklists reloaded") || !strings.Contains(logs.String(), "failed_reloads=9") {
		t.Errorf("the good reload after 9 failed ones is not said:\n%s", logs.String())
	}
	if len(c.alerts) != 1 {
		t.Errorf("%d alerts for a flow to the reloaded list's address, want 1", len(c.alerts))
	}
}

// TestIntelMissingFileWarnedOnce deletes a blocklist under a running
// engine: the last loaded entries go on matching, and that is warned about
// once, at the second check that finds the file gone (a remove-and-write
// replacement is gone for one check at most); before, nothing was said
// for as long as the file stayed missing.
func TestIntelMissingFileWarnedOnce(t *testing.T) {
	r := newReloadRig(t)
	e, c, path, logs, checks := r.Engine, r.c, r.path, r.logs, r.checks
	warnings := func() int { return strings.Count(logs.String(), "blocklist file missing") }

	os.Remove(path)
	checks(1)
	if n := warnings(); n != 0 {
		t.Fatalf("missing at one check (a replacement): %d warnings, want 0:\n%s", n, logs.String())
	}
	checks(5)
	if n := warnings(); n != 1 {
		t.Fatalf("missing for 6 checks: %d warnings, want 1:\n%s", n, logs.String())
	}
	e.OnFlow(testFlow(1, "10.0.0.5", "198.51.100.1", 40000, 443, 6, r.now()+sec))
	os.WriteFile(path, []byte("203.0.113.7\n"), 0o644)
	checks(1)
	e.OnFlow(testFlow(2, "10.0.0.5", "203.0.113.7", 40001, 443, 6, r.now()+sec))
	checks(2)
	e.Close()
	if !strings.Contains(logs.String(), "blocklist file is back") {
		t.Errorf("the file's return is not said:\n%s", logs.String())
	}
	if n := warnings(); n != 1 {
		t.Errorf("after the file came back: %d warnings, want still 1:\n%s", n, logs.String())
	}
	if len(c.alerts) != 2 {
		t.Errorf("%d alerts, want 2 (the kept entry while missing, the new one after)", len(c.alerts))
	}
}

// dnsCNAMEResponse is a response to name whose answer is a CNAME to
// target (compressed against the question) and an A record for it.
func dnsCNAMEResponse(id uint16, name, target string) []byte {
	b := dnsQuery(id, name, true, 0)
	b[7] = 2 // ancount
	b = append(b, 0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60)
	var rd []byte
	for _, l := range strings.Split(target, ".") {
		rd = append(rd, byte(len(l)))
		rd = append(rd, l...)
	}
	rd = append(rd, 0)
	b = append(b, byte(len(rd)>>8), byte(len(rd)))
	tOff := len(b)
	b = append(b, rd...)
	return append(b, 0xc0|byte(tOff>>8), byte(tOff), 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, 9)
}

// TestIntelCNAME checks that a blocklisted domain reached through a CNAME
// (CNAME cloaking: a tracker behind a first-party alias) raises the
// client's intel.domain alert, where only questions were matched; an
// unlisted chain, an NXDOMAIN and a malformed answer raise nothing.
func TestIntelCNAME(t *testing.T) {
	path := filepath.Join(t.TempDir(), "list")
	os.WriteFile(path, []byte("tracker.evil.example\n"), 0o644)
	cfg := only("intel")
	cfg.Blocklists = []string{path}
	e, c := newTest(t, cfg)
	resp := dnsCNAMEResponse(1, "metrics.shop.example", "cdn.tracker.evil.example")
	e.OnPacket(pkt(t0+sec, "10.0.0.53", "10.0.0.5", 53, 40000, 17, 0, resp))
	e.OnPacket(pkt(t0+sec, "10.0.0.53", "10.0.0.6", 53, 40000, 17, 0, dnsCNAMEResponse(2, "www.shop.example", "shop.cdn.example")))
	cut := dnsCNAMEResponse(3, "a.shop.example", "cdn.tracker.evil.example")
	e.OnPacket(pkt(t0+sec, "10.0.0.53", "10.0.0.7", 53, 40000, 17, 0, cut[:len(cut)-30]))
	e.Close()
	if len(c.alerts) != 1 {
		t.Fatalf("%d alerts, want one", len(c.alerts))
	}
	a := c.alerts[0]
	if a.Rule != "intel.domain" || a.Src.String() != "10.0.0.5" || a.Dst.String() != "10.0.0.53" || a.DNSName != "cdn.tracker.evil.example" ||
		a.Evidence["query"] != "metrics.shop.example" || a.SrcPort != 40000 || a.DstPort != 53 {
		t.Errorf("alert %+v", a)
	}
}

// TestTopHostsApproximate checks that the summary's list of top hosts says
// it is approximate once hosts left it at --detect-max-hosts, where it
// showed the surviving counts as if complete.
func TestTopHostsApproximate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "list")
	os.WriteFile(path, []byte("203.0.113.7\n"), 0o644)
	cfg := only("intel")
	cfg.Blocklists = []string{path}
	cfg.MaxHosts = 16
	e, _ := newTest(t, cfg)
	for i := range 22 {
		e.OnPacket(pkt(t0+int64(i)*sec, fmt.Sprintf("10.0.0.%d", i+1), "203.0.113.7", 40000, 443, 6, collector.FlagSYN, nil))
	}
	e.Close()
	var sum strings.Builder
	e.Summary(&sum)
	if !strings.Contains(sum.String(), "(approximate: 6 hosts left this list at --detect-max-hosts") {
		t.Errorf("summary does not say the top hosts are approximate:\n%s", sum.String())
	}
}

// TestIntelScannerOneCause checks the cause of intel.ip alerts: a listed
// address sweeping 1,000 internal hosts is one alert and an aggregate,
// not 1,000 alerts, while three hosts connecting out to a listed address
// each get their own.
func TestIntelScannerOneCause(t *testing.T) {
	list := filepath.Join(t.TempDir(), "bl.txt")
	os.WriteFile(list, []byte("198.51.100.66\n203.0.113.7\n"), 0o644)
	cfg := only("intel")
	cfg.Blocklists = []string{list}
	e, c := newTest(t, cfg)
	ts := t0
	for i := range 1000 {
		dst := fmt.Sprintf("10.0.%d.%d", i/250, 1+i%250)
		e.OnPacket(pkt(ts, "198.51.100.66", dst, 40000, 22, 6, collector.FlagSYN, nil))
		ts += sec / 100
	}
	for i := range 3 {
		e.OnPacket(pkt(ts, fmt.Sprintf("10.1.0.%d", i+1), "203.0.113.7", 50000, 443, 6, collector.FlagSYN, nil))
		ts += sec / 100
	}
	e.Close()
	from, to := 0, map[netip.Addr]int{}
	var count uint64
	for _, a := range c.alerts {
		switch {
		case a.Src == netip.MustParseAddr("198.51.100.66"):
			from++
			count = max(count, a.Count) // an aggregate carries the total
		case a.Dst == netip.MustParseAddr("203.0.113.7"):
			to[a.Src]++
		}
	}
	if from != 2 || count != 1000 || len(to) != 3 {
		t.Errorf("scanner: %d alerts counting %d occurrences, want 2 (the first and one aggregate) counting 1000; hosts reaching out: %v, want 3 with an alert each", from, count, to)
	}
}

// TestBlocklistMaxEntries checks the bound on the blocklists' indicators:
// past it the start fails naming the file and line, a value listed twice
// (in one file or two) counts once, and a reload past it keeps the
// previous lists. Before, a feed of any size was loaded whole, at
// 150-200 bytes an entry, twice over while a reload ran.
func TestBlocklistMaxEntries(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt")
	os.WriteFile(a, []byte("198.51.100.1\n203.0.113.0/24\nevil.example\n198.51.100.1\n"), 0o644)
	os.WriteFile(b, []byte("0.0.0.0 evil.example\n198.51.100.1 c2\n"), 0o644)
	cfg := only("intel")
	cfg.Blocklists = []string{a, b}
	cfg.IntelMaxEntries = 3
	e, c := newTest(t, cfg) // three distinct values: within the bound
	cfg.IntelMaxEntries = 2
	if _, err := New(cfg, c.sink); err == nil || !strings.Contains(err.Error(), a+": line 3: more than 2") {
		t.Errorf("a third value past a bound of 2: %v, want an error naming %s line 3", err, a)
	}
	// b grows past the bound: the reload fails and the lists stay.
	os.WriteFile(b, []byte("0.0.0.0 evil.example\n192.0.2.99\n"), 0o644)
	e.OnFlow(testFlow(1, "10.0.0.5", "192.0.2.99", 40001, 443, 6, t0+31*sec))
	e.OnFlow(testFlow(2, "10.0.0.5", "203.0.113.7", 40002, 443, 6, t0+32*sec))
	e.Close()
	var ids []uint64
	for _, al := range c.alerts {
		ids = append(ids, al.FlowIDs...)
	}
	if !slices.Equal(ids, []uint64{2}) {
		t.Errorf("alerts name flows %v; want only flow 2 (listed before the failed reload)", ids)
	}
}

// TestBlocklistDescriptionCutWhole checks a long description is cut at a
// character's start: cut at byte 120 inside "é", alerts showed U+FFFD.
func TestBlocklistDescriptionCutWhole(t *testing.T) {
	b := newBlocklist(0)
	line := "198.51.100.9," + strings.Repeat("a", 119) + "é botnet\n"
	if err := b.load("x.csv", strings.NewReader(line)); err != nil {
		t.Fatal(err)
	}
	ind, ok := b.matchIP(netip.MustParseAddr("198.51.100.9"))
	if !ok || !utf8.ValidString(ind.desc) || len(ind.desc) > 120 {
		t.Errorf("description %q (%d bytes), want valid UTF-8 of at most 120 bytes", ind.desc, len(ind.desc))
	}
}

// IP:port entries load their IP (the port is not part of the match), and
// in a ThreatFox CSV row the malware family column ("win.cobalt_strike")
// is no domain: the last label of a domain is shaped like a TLD, and its
// registrable label has no underscore.
func TestBlocklistIPPortAndThreatFox(t *testing.T) {
	feed := `# "first_seen_utc","ioc_id","ioc_value","ioc_type","threat_type","fk_malware","malware_alias","malware_printable","last_seen_utc","confidence_level","reference","tags","anonymous","reporter"
"2024-06-01 10:00:00", "1284061", "198.51.100.77:443", "ip:port", "botnet_cc", "win.cobalt_strike", "Agentemis,BEACON,CobaltStrike,cobeacon", "Cobalt Strike", "", "100", "None", "CobaltStrike,c2", "0", "abuse_ch"
"2024-06-01 10:05:00", "1284062", "evil-c2.example", "domain", "botnet_cc", "elf.mirai", "", "Mirai", "", "75", "None", "", "0", "abuse_ch"
[2001:db8::1]:8443
203.0.113.9:80 c2
`
	bl := newBlocklist(0)
	if err := bl.load("threatfox.csv", strings.NewReader(feed)); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"198.51.100.77", "2001:db8::1", "203.0.113.9"} {
		if _, ok := bl.matchIP(netip.MustParseAddr(a)); !ok {
			t.Errorf("%s not loaded", a)
		}
	}
	if ind := bl.ips[netip.MustParseAddr("198.51.100.77")]; !strings.Contains(ind.desc, "win.cobalt_strike") {
		t.Errorf("198.51.100.77: description %q, want the row's other fields", ind.desc)
	}
	var doms []string
	for d := range bl.domains {
		doms = append(doms, d)
	}
	if len(doms) != 1 || doms[0] != "evil-c2.example" || bl.nEntries != 4 {
		t.Errorf("domains %v (want evil-c2.example only), %d entries (want 4)", doms, bl.nEntries)
	}
	for name, want := range map[string]string{
		"win.cobalt_strike": "", "foo_bar.com": "", "report.v2": "", "example.123": "", "10.0.0.1": "", "a.b": "",
		"_dmarc.Example.com": "_dmarc.example.com", "x_y.foo.co.uk": "x_y.foo.co.uk", "*.evil.example": "evil.example",
		"test.xn--p1ai": "test.xn--p1ai", "co.uk": "co.uk",
	} {
		if got := parseDomain(name); got != want {
			t.Errorf("parseDomain(%q) = %q, want %q", name, got, want)
		}
	}
}

// A blocklist with no indicator (empty, or every line malformed) is an
// error naming the file, at start and on reload (which keeps the previous
// lists); malformed IPs and networks beside good lines are one warning
// per file naming the first, while a CSV's other columns (times, hashes,
// MAC addresses) are not malformed indicators.
func TestBlocklistNothingLoaded(t *testing.T) {
	var logs strings.Builder
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(old)

	for name, content := range map[string]string{
		"empty.txt":  "",
		"allbad.txt": "10.0.0.0/33\n999.1.1.1\n64.13.134.52/\nfoo\n",
		"hosts.txt":  "127.0.0.1 localhost\n# nothing else\n",
	} {
		err := newBlocklist(0).load(name, strings.NewReader(content))
		if err == nil || !strings.Contains(err.Error(), "blocklist "+name+": no IP, network or domain") {
			t.Errorf("%s: error %v, want one naming the file", name, err)
		}
		if name == "allbad.txt" && (err == nil || !strings.Contains(err.Error(), "3 malformed IPs or networks, the first at allbad.txt:1")) {
			t.Errorf("%s: error %v, want the 3 malformed lines and the first", name, err)
		}
	}
	if logs.Len() != 0 {
		t.Errorf("logged %s; the errors say it all", logs.String())
	}

	feed := `# "first_seen_utc","ioc_id","ioc_value","ioc_type","fk_malware"
"2024-06-01 10:00:00", "1", "198.51.100.77:443", "ip:port", "win.cobalt_strike"
"2024-06-01 10:00:00", "2", "d41d8cd98f00b204e9800998ecf8427e", "md5_hash", "win.cobalt_strike"
"2024-06-01 10:00:00", "3", "00:1b:44:11:3a:b7", "mac", "x"
`
	if err := newBlocklist(0).load("threatfox.csv", strings.NewReader(feed)); err != nil || logs.Len() != 0 {
		t.Errorf("CSV columns: error %v, logged %q", err, logs.String())
	}
	bl := newBlocklist(0)
	err := bl.load("mixed.txt", strings.NewReader("192.0.2.1\nfoo bar\n10.0.0.0/33\n2001:db8::/129 v6\n198.51.100.2\n"))
	if err != nil || bl.nEntries != 2 {
		t.Fatalf("mixed: %v, %d entries", err, bl.nEntries)
	}
	if got := logs.String(); strings.Count(got, "level=WARN") != 1 || !strings.Contains(got, "lines=2") || !strings.Contains(got, "first=mixed.txt:3") {
		t.Errorf("mixed: logged %q, want one warning of 2 lines, the first mixed.txt:3", got)
	}

	// A reload that finds the file emptied keeps the previous list.
	logs.Reset()
	path := filepath.Join(t.TempDir(), "bl.txt")
	os.WriteFile(path, []byte("203.0.113.7\n"), 0o644)
	cfg := only("intel")
	cfg.Blocklists = []string{path}
	e, c := newTest(t, cfg)
	os.WriteFile(path, nil, 0o644)
	e.OnFlow(testFlow(1, "10.0.0.5", "203.0.113.7", 40000, 443, 6, t0+31*sec))
	e.Close()
	if len(c.alerts) != 1 || !strings.Contains(logs.String(), "blocklist reload failed") || !strings.Contains(logs.String(), "no IP, network or domain") {
		t.Errorf("emptied list: %d alerts, logged %q", len(c.alerts), logs.String())
	}
	if _, err := New(cfg, nil); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("New with an empty blocklist: %v", err)
	}
}
