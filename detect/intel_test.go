package detect

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A byte order mark before the first line must not cost the first entry,
// in a blocklist or a --dga-allow file.
func TestListsStripBOM(t *testing.T) {
	bl := newBlocklist()
	if err := bl.load("bom.txt", strings.NewReader("\ufeff192.0.2.1\n198.51.100.9\n")); err != nil {
		t.Fatal(err)
	}
	if _, ok := bl.matchIP(netip.MustParseAddr("192.0.2.1")); !ok || bl.nEntries != 2 || bl.ignored != 0 {
		t.Errorf("BOM blocklist: first entry matched %v, %d entries, %d ignored", ok, bl.nEntries, bl.ignored)
	}
	bl = newBlocklist()
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
