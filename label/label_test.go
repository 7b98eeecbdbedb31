package label

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/collector"
)

func flow(t *testing.T, src string, sport uint16, dst string, dport uint16, proto uint8, start time.Time) *collector.Flow {
	t.Helper()
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	k, lo := collector.MakeKey(&s, &d, sport, dport, proto, 0, 0)
	return &collector.Flow{Key: k, FwdIsLo: lo, Start: start.UnixNano()}
}

func TestRules(t *testing.T) {
	rules, err := ParseRules(strings.NewReader(`
# CIC-IDS2017 style
default Normal
DoS-Hulk src=172.16.0.1 dst=192.168.10.50 dport=80 proto=tcp start=2017-07-05T09:47:00-03:00 end=2017-07-05T10:10:00-03:00
PortScan host=10.0.0.0/8 dport=1-1024
`))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2017, 7, 5, 9, 50, 0, 0, time.FixedZone("", -3*3600))
	cases := []struct {
		f    *collector.Flow
		want string
	}{
		{flow(t, "172.16.0.1", 5000, "192.168.10.50", 80, 6, at), "DoS-Hulk"},
		{flow(t, "172.16.0.1", 5000, "192.168.10.50", 80, 6, at.Add(time.Hour)), "Normal"},
		{flow(t, "172.16.0.1", 5000, "192.168.10.50", 80, 17, at), "Normal"},
		{flow(t, "192.168.10.50", 80, "172.16.0.1", 5000, 6, at), "Normal"}, // reversed roles
		{flow(t, "192.0.2.1", 4000, "10.1.2.3", 443, 6, at), "PortScan"},
		{flow(t, "10.1.2.3", 4000, "192.0.2.1", 4430, 6, at), "Normal"},
	}
	for i, c := range cases {
		if got := rules.Label(c.f); got != c.want {
			t.Errorf("case %d: label %q, want %q", i, got, c.want)
		}
	}
}

// TestRulePortZero checks that "dport=0" selects portless flows (ICMP)
// and not every port, as it did when [0,0] stood for "any port".
func TestRulePortZero(t *testing.T) {
	rules, err := ParseRules(strings.NewReader("Portless dport=0\nAny proto=tcp\n"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2017, 7, 5, 9, 50, 0, 0, time.UTC)
	checkLabels(t, rules, []labelCase{
		{flow(t, "192.0.2.1", 0, "192.0.2.2", 0, 1, at), "Portless"},
		{flow(t, "192.0.2.1", 4000, "192.0.2.2", 443, 6, at), "Any"},
		{flow(t, "192.0.2.1", 4000, "192.0.2.2", 53, 17, at), "BENIGN"},
	})
}

// labelCase is a flow and the label it should get.
type labelCase struct {
	f    *collector.Flow
	want string
}

// checkLabels checks the label rules give each case's flow.
func checkLabels(t *testing.T, rules *Rules, cases []labelCase) {
	t.Helper()
	for _, c := range cases {
		if got := rules.Label(c.f); got != c.want {
			t.Errorf("%v fwd-is-lo %v: label %q, want %q", c.f.Key, c.f.FwdIsLo, got, c.want)
		}
	}
}

// FuzzParseRules checks that the rules parser never panics, that its
// errors name a line, and that accepted rules label a flow.
func FuzzParseRules(f *testing.F) {
	f.Add("default Normal\nDoS-Hulk src=172.16.0.1 dst=192.168.10.50 dport=80 proto=tcp start=2017-07-05T09:47:00-03:00 end=2017-07-05T10:10:00-03:00\n")
	f.Add("PortScan host=10.0.0.0/8,fd00::/8 sport=1-1024 # comment\nX proto=58\n")
	f.Add("X dport=70000")
	fl := &collector.Flow{Key: collector.Key{Proto: 6}, Start: time.Date(2017, 7, 5, 9, 50, 0, 0, time.UTC).UnixNano()}
	f.Fuzz(func(t *testing.T, text string) {
		rules, err := ParseRules(strings.NewReader(text))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Fatalf("error %q does not name a line", err)
			}
			return
		}
		rules.Label(fl)
	})
}

// TestRuleAnyDir checks that dir=any labels a flow between the rule's
// endpoints whichever of them started it (the victim's connection back, a
// flow seen from its replies), and dir=initiator (the default) does not.
func TestRuleAnyDir(t *testing.T) {
	rules, err := ParseRules(strings.NewReader("Bot src=172.16.0.1 dst=192.168.10.50 dport=8080 dir=any\nInit src=10.0.0.1 dst=10.0.0.2 dir=initiator\n"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2017, 7, 5, 9, 50, 0, 0, time.UTC)
	checkLabels(t, rules, []labelCase{
		{flow(t, "172.16.0.1", 5000, "192.168.10.50", 8080, 6, at), "Bot"},
		{flow(t, "192.168.10.50", 8080, "172.16.0.1", 5000, 6, at), "Bot"},    // reversed roles
		{flow(t, "192.168.10.50", 5000, "172.16.0.1", 8080, 6, at), "BENIGN"}, // the port is the victim's
		{flow(t, "10.0.0.1", 1, "10.0.0.2", 2, 17, at), "Init"},
		{flow(t, "10.0.0.2", 2, "10.0.0.1", 1, 17, at), "BENIGN"},
	})
}

func TestRuleErrorsNameTheLine(t *testing.T) {
	for _, bad := range []string{"X dir=both", "X dir=any", "X dport=70000", "X src=300.1.1.1", "X when=now", "X proto=bogus", "default", "X start=2020-01-02T00:00:00Z end=2020-01-01T00:00:00Z",
		"X src=10.0.0.0/8 src=192.168.0.0/16", "X sport=-1", "X host=::ffff:10.0.0.0/64"} {
		_, err := ParseRules(strings.NewReader("# ok\n" + bad))
		if err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%q: error %v, want one naming line 2", bad, err)
		}
	}
	// A time without a zone says so, rather than Go's layout error
	// (cannot parse "" as "Z07:00").
	for bad, want := range map[string]string{
		"X start=2017-07-05T09:47:00":       `"2017-07-05T09:47:00" has no time zone: add Z for UTC or an offset such as -03:00`,
		"X end=2017-07-05T09:47:00.5":       `"2017-07-05T09:47:00.5" has no time zone`,
		"X start=7/5/2017T9:47":             `"7/5/2017T9:47" is not an RFC 3339 time such as 2017-07-05T09:47:00-03:00`,
		"X start=2017-07-05 09:47:00-03:00": `"2017-07-05" is not an RFC 3339 time`,
		// 0 means unbounded and UnixNano wraps past 2262: both used to
		// give a rule other bounds than its text.
		"X end=1970-01-01T00:00:00Z":   `"1970-01-01T00:00:00Z" is the Unix epoch`,
		"X end=9999-12-31T00:00:00Z":   `"9999-12-31T00:00:00Z" is outside the times a flow can have (1677 to 2262)`,
		"X start=1600-01-01T00:00:00Z": `"1600-01-01T00:00:00Z" is outside`,
		// A zone used to be dropped: the rule matched fe80::1 on every link.
		"X src=fe80::1%eth0": `fe80::1%eth0: a zone (%eth0) is not part of a flow's address`,
	} {
		_, err := ParseRules(strings.NewReader(bad))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", bad, err, want)
		}
	}
}

func TestFromDir(t *testing.T) {
	for path, want := range map[string]string{
		"/data/Browser/a.pcap":     "Browser",
		"/data/Browser/x/b.pcapng": "Browser",
		"/data/c.pcap":             "",
	} {
		got, err := FromDir("/data", path)
		if err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", path, got, err, want)
		}
	}
}

// TestRuleMappedPrefix checks that a v4-mapped IPv6 prefix matches the
// IPv4 flows it names (flow addresses are unmapped; it used to match none).
func TestRuleMappedPrefix(t *testing.T) {
	rules, err := ParseRules(strings.NewReader("Lan host=::ffff:10.0.0.0/104\n"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2017, 7, 5, 9, 50, 0, 0, time.UTC)
	if got := rules.Label(flow(t, "10.1.2.3", 4000, "192.0.2.1", 443, 6, at)); got != "Lan" {
		t.Errorf("10.1.2.3: label %q, want Lan", got)
	}
	if got := rules.Label(flow(t, "11.1.2.3", 4000, "192.0.2.1", 443, 6, at)); got != "BENIGN" {
		t.Errorf("11.1.2.3: label %q, want BENIGN", got)
	}
}

// TestRulesBOMAndBareLabel checks that a rules file saved with a byte order
// mark and CRLF line ends parses as written (the BOM used to become a
// match-everything rule labelled "\ufeff"), and that a rule without
// conditions is refused with its line rather than labelling every flow.
func TestRulesBOMAndBareLabel(t *testing.T) {
	text := "\ufeff# rules exported from Excel\r\ndefault BENIGN\r\nDoS-Hulk src=172.16.0.1 dst=192.168.10.50 dport=80\r\n"
	rules, err := ParseRules(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2017, 7, 5, 9, 50, 0, 0, time.UTC)
	if rules.Len() != 1 {
		t.Errorf("%d rules, want 1", rules.Len())
	}
	if got := rules.Label(flow(t, "172.16.0.1", 5000, "192.168.10.50", 80, 6, at)); got != "DoS-Hulk" {
		t.Errorf("attack flow: label %q, want DoS-Hulk", got)
	}
	if got := rules.Label(flow(t, "192.0.2.1", 5000, "192.0.2.2", 443, 6, at)); got != "BENIGN" {
		t.Errorf("other flow: label %q, want BENIGN", got)
	}
	for _, bad := range []string{"\ufeffX\n", "default BENIGN\nX # all flows?\n"} {
		_, err := ParseRules(strings.NewReader(bad))
		if err == nil || !strings.Contains(err.Error(), "no conditions") {
			t.Errorf("%q: error %v, want a rule without conditions refused", bad, err)
		}
	}
	path := filepath.Join(t.TempDir(), "bom.rules")
	if err := os.WriteFile(path, []byte("default BENIGN\r\nWeb\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadRules(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("LoadRules: error %v, want one naming %s and line 2", err, path)
	}
}

// TestFromDirThroughLinks checks that a capture found through a directory
// link is labelled with the link's name, the class the user gave it
// (ld2/Web -> ld/Browser labels Web), for a linked --label-dir too.
func TestFromDirThroughLinks(t *testing.T) {
	tmp := t.TempDir()
	if err := os.MkdirAll(filepath.Join(tmp, "ld", "Browser"), 0o755); err != nil {
		t.Fatal(err)
	}
	pcapHeader := append([]byte{0xd4, 0xc3, 0xb2, 0xa1}, make([]byte, 20)...)
	if err := os.WriteFile(filepath.Join(tmp, "ld", "Browser", "a.pcap"), pcapHeader, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(tmp, "ld2"), 0o755)
	if err := os.Symlink(filepath.Join(tmp, "ld", "Browser"), filepath.Join(tmp, "ld2", "Web")); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
	os.Symlink("ld", filepath.Join(tmp, "ldlink"))
	for root, want := range map[string]string{"ld2": "Web", "ldlink": "Browser"} {
		root = filepath.Join(tmp, root)
		paths, err := collector.ExpandPaths([]string{root})
		if err != nil {
			t.Fatalf("%s: %v", root, err)
		}
		if len(paths) != 1 {
			t.Fatalf("%s: %v, want one capture", root, paths)
		}
		if got, err := FromDir(root, paths[0]); err != nil || got != want {
			t.Errorf("%s: label %q %v, want %q", paths[0], got, err, want)
		}
	}
}

// TestLabelsValidUTF8 checks that a label that is not UTF-8 (a directory
// named in Latin-1, a rules file saved in Windows-1252) has each bad byte
// replaced by U+FFFD wherever labels are made: CSV wrote the raw byte,
// JSON Lines U+FFFD and Parquet invalid UTF-8, three values for one class.
func TestLabelsValidUTF8(t *testing.T) {
	const want = "caf\uFFFD"
	if got, err := FromDir("/data", "/data/caf\xe9/x.pcap"); err != nil || got != want {
		t.Errorf("FromDir: %q %v, want %q", got, err, want)
	}
	if got, err := FromDir("/data", "/data/Café/x.pcap"); err != nil || got != "Café" {
		t.Errorf("FromDir of valid UTF-8: %q %v, want it as it is", got, err)
	}
	rs, err := ParseRules(strings.NewReader("default caf\xe9\nDoS-\xe9t\xe9 dport=80\nx\xe9\xe8\uFFFD dport=81\n"))
	if err != nil {
		t.Fatal(err)
	}
	// Each bad byte, as the JSON Lines writer replaces them (not each run,
	// as strings.ToValidUTF8 does); a U+FFFD already there stays one.
	if rs.Default != want || rs.rules[0].Label != "DoS-\uFFFDt\uFFFD" || rs.rules[1].Label != "x\uFFFD\uFFFD\uFFFD" {
		t.Errorf("rules: default %q, rules %q, %q", rs.Default, rs.rules[0].Label, rs.rules[1].Label)
	}
}

// TestRuleQuotedLabel checks that a label in double quotes may hold spaces
// and '#', as CIC-IDS2017's "DoS Hulk" does, so that a model trained on
// CIC's files is scored on the same class names, and that the unquoted
// form says how to write it.
func TestRuleQuotedLabel(t *testing.T) {
	rules, err := ParseRules(strings.NewReader(`default "No attack"  # flows no rule matches
"DoS Hulk" src=172.16.0.1 dst=192.168.10.50 dport=80 start=2017-07-05T10:43:00-03:00 end=2017-07-05T11:00:00-03:00
	"Web Attack #1"	dst=192.168.10.50 # a tab before and after
"default" dport=9
`))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2017, 7, 5, 10, 50, 0, 0, time.FixedZone("ADT", -3*3600))
	checkLabels(t, rules, []labelCase{
		{flow(t, "172.16.0.1", 5000, "192.168.10.50", 80, 6, at), "DoS Hulk"},
		{flow(t, "172.16.0.1", 5000, "192.168.10.50", 80, 6, at.Add(-time.Hour)), "Web Attack #1"},
		{flow(t, "192.0.2.1", 5000, "192.0.2.2", 9, 6, at), "default"},
		{flow(t, "192.0.2.1", 5000, "192.0.2.2", 80, 6, at), "No attack"},
	})
	for bad, want := range map[string]string{
		"DoS Hulk src=172.16.0.1":  `line 1: "Hulk" is not key=value (write a label with spaces in double quotes: "DoS Hulk")`,
		`"DoS Hulk src=172.16.0.1`: "line 1: quote not closed",
		`"DoS Hulk"src=172.16.0.1`: `line 1: no space after the closing quote of "DoS Hulk"`,
		`X "src=172.16.0.1"`:       `line 1: only the label may be quoted`,
		`"" src=172.16.0.1`:        `line 1: empty label`,
	} {
		_, err := ParseRules(strings.NewReader(bad))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", bad, err, want)
		}
	}
}
