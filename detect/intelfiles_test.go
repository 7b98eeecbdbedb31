package detect

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// retainedPerEntry is the heap a blocklist of n lines keeps per entry.
func retainedPerEntry(t *testing.T, n int, line func(i int) string) int64 {
	pr, pw := io.Pipe()
	go func() {
		for i := range n {
			io.WriteString(pw, line(i))
		}
		pw.Close()
	}()
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	bl := newBlocklist(0)
	if err := bl.load("feed.csv", pr); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	runtime.KeepAlive(bl)
	return (int64(m1.HeapAlloc) - int64(m0.HeapAlloc)) / int64(n)
}

// TestBlocklistEntryDoesNotPinLine: an entry's value, domain key and
// description were substrings of its line, so each kept its whole line
// (8.3 KB an entry from 4 KB lines, where the docs say 150-200 bytes).
func TestBlocklistEntryDoesNotPinLine(t *testing.T) {
	tags := strings.Repeat("CobaltStrike,", 300) // a 3.9 KB tags column
	for name, line := range map[string]func(int) string{
		"ip":     func(i int) string { return fmt.Sprintf("198.51.%d.%d,botnet_cc,%s\n", i/250, i%250, tags) },
		"domain": func(i int) string { return fmt.Sprintf("c2-%d.evil.example,botnet_cc,%s\n", i, tags) },
		"hosts": func(i int) string {
			return fmt.Sprintf("0.0.0.0 ads-%d.evil.example%s\n", i, strings.Repeat(" ", 4000))
		},
	} {
		if per := retainedPerEntry(t, 5000, line); per > 1024 {
			t.Errorf("%s entries from ~4 KB lines: %d bytes kept per entry, want about 200", name, per)
		}
	}
}

// TestIntelDeletedFeedKeepsOthersReloading: a blocklist deleted for good
// failed every reload, so changes to the other files never loaded; its
// last entries go on matching, as documented.
func TestIntelDeletedFeedKeepsOthersReloading(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt")
	os.WriteFile(a, []byte("198.51.100.1\n"), 0o644)
	os.WriteFile(b, []byte("198.51.100.2\n"), 0o644)
	cfg := only("intel")
	cfg.Blocklists = []string{a, b}
	e, c := newTest(t, cfg)
	e.Advance(t0)
	os.Remove(b) // retired for good
	e.Advance(t0 + 31*sec)
	e.Advance(t0 + 62*sec) // warned missing here
	os.WriteFile(a, []byte("198.51.100.1\n203.0.113.7 c2\n"), 0o644)
	for i := 3; i < 10; i++ {
		e.Advance(t0 + int64(i)*31*sec)
	}
	e.OnFlow(testFlow(1, "10.0.0.5", "203.0.113.7", 40000, 443, 6, t0+320*sec))
	e.OnFlow(testFlow(2, "10.0.0.5", "198.51.100.2", 40001, 443, 6, t0+321*sec))
	e.Close()
	if len(c.alerts) != 2 {
		t.Errorf("%d alerts; want 2: 203.0.113.7 added to a.txt, and b.txt's kept 198.51.100.2", len(c.alerts))
	}
}

// TestBlocklistLinesOddButValid: a URL whose path has a stray or bad '%'
// escape lost its host (the whole URL failed to parse); a row whose
// first ';'-separated cell is empty was taken for a ';' comment; a
// malformed IP:port was skipped without the warning naming its line.
func TestBlocklistLinesOddButValid(t *testing.T) {
	bl := newBlocklist(0)
	if err := bl.load("x.csv", strings.NewReader("http://203.0.113.9:8080/bins/x86%\nhttp://evil.example/a%zz\n;198.51.100.7;c2\n; Spamhaus DROP header\n")); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"203.0.113.9", "198.51.100.7"} {
		if _, ok := bl.matchIP(netip.MustParseAddr(a)); !ok {
			t.Errorf("%s lost", a)
		}
	}
	if _, _, ok := bl.matchName("evil.example"); !ok {
		t.Error("http://evil.example/a%zz lost its domain")
	}
	if bl.nEntries != 3 {
		t.Errorf("%d entries, want 3 (the header is a comment)", bl.nEntries)
	}
	var logs strings.Builder
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(old)
	if err := newBlocklist(0).load("tf.txt", strings.NewReader("198.51.100.1\n999.1.1.1:443\n")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "tf.txt:2") {
		t.Errorf("a malformed IP:port line was skipped in silence:\n%s", logs.String())
	}
}
