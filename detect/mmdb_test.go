package detect

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A tiny MaxMind DB writer, enough for tests: IPv4 tree, 24-bit records,
// data values of strings, uint32 and maps. Format: MaxMind DB spec 2.0.

func mmdbCtrl(b *bytes.Buffer, typ byte, size int) {
	var ext byte
	if typ > 7 {
		ext, typ = typ-7, 0
	}
	switch {
	case size < 29:
		b.WriteByte(typ<<5 | byte(size))
	case size < 29+256:
		b.WriteByte(typ<<5 | 29)
		if ext != 0 {
			b.WriteByte(ext)
			ext = 0
		}
		b.WriteByte(byte(size - 29))
	default:
		panic("mmdb test writer: value too long")
	}
	if ext != 0 {
		b.WriteByte(ext)
	}
}

func mmdbValue(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case string:
		mmdbCtrl(b, 2, len(x))
		b.WriteString(x)
	case uint32:
		var tmp [4]byte
		binary.BigEndian.PutUint32(tmp[:], x)
		i := 0
		for i < 4 && tmp[i] == 0 {
			i++
		}
		mmdbCtrl(b, 6, 4-i)
		b.Write(tmp[i:])
	case uint16:
		mmdbCtrl(b, 5, 2)
		b.Write([]byte{byte(x >> 8), byte(x)})
	case uint64:
		mmdbCtrl(b, 9, 8)
		var tmp [8]byte
		binary.BigEndian.PutUint64(tmp[:], x)
		b.Write(tmp[:])
	case []any:
		mmdbCtrl(b, 11, len(x))
		for _, e := range x {
			mmdbValue(b, e)
		}
	case map[string]any:
		mmdbCtrl(b, 7, len(x))
		for _, k := range sortedKeys(x) {
			mmdbValue(b, k)
			mmdbValue(b, x[k])
		}
	default:
		panic("mmdb test writer: unsupported type")
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

type mmdbNode struct {
	child [2]*mmdbNode
	data  int // index+1 into records at a leaf, 0 none
}

// writeMMDB writes an IPv4 database mapping each prefix to its record.
func writeMMDB(t *testing.T, path string, nets map[string]map[string]any) {
	t.Helper()
	root := &mmdbNode{}
	var records []map[string]any
	for cidr, rec := range nets {
		p := netip.MustParsePrefix(cidr)
		records = append(records, rec)
		a := p.Addr().As4()
		n := root
		for i := 0; i < p.Bits(); i++ {
			bit := a[i/8] >> (7 - i%8) & 1
			if n.child[bit] == nil {
				n.child[bit] = &mmdbNode{}
			}
			n = n.child[bit]
		}
		n.data = len(records)
	}
	// Number internal nodes breadth-first; leaves are nodes with data
	// or missing children.
	var order []*mmdbNode
	idx := map[*mmdbNode]int{}
	queue := []*mmdbNode{root}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		idx[n] = len(order)
		order = append(order, n)
		for _, c := range n.child {
			if c != nil && c.data == 0 {
				queue = append(queue, c)
			}
		}
	}
	var data bytes.Buffer
	offsets := make([]int, len(records))
	for i, r := range records {
		offsets[i] = data.Len()
		mmdbValue(&data, r)
	}
	nodeCount := len(order)
	var tree bytes.Buffer
	for _, n := range order {
		for _, c := range n.child {
			v := nodeCount // no data
			switch {
			case c == nil:
			case c.data != 0:
				v = nodeCount + 16 + offsets[c.data-1]
			default:
				v = idx[c]
			}
			tree.Write([]byte{byte(v >> 16), byte(v >> 8), byte(v)})
		}
	}
	var out bytes.Buffer
	out.Write(tree.Bytes())
	out.Write(make([]byte, 16))
	out.Write(data.Bytes())
	out.WriteString("\xab\xcd\xefMaxMind.com")
	mmdbValue(&out, map[string]any{
		"binary_format_major_version": uint16(2),
		"binary_format_minor_version": uint16(0),
		"build_epoch":                 uint64(1700000000),
		"database_type":               "flowhawk-test",
		"description":                 map[string]any{"en": "flowhawk test database"},
		"ip_version":                  uint16(4),
		"languages":                   []any{"en"},
		"node_count":                  uint32(nodeCount),
		"record_size":                 uint16(24),
	})
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestGeoIPEnrichment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.mmdb")
	writeMMDB(t, path, map[string]map[string]any{
		"203.0.113.0/24": {
			"country":                        map[string]any{"iso_code": "NL", "names": map[string]any{"en": "Netherlands"}},
			"city":                           map[string]any{"names": map[string]any{"en": "Amsterdam"}},
			"autonomous_system_number":       uint32(64500),
			"autonomous_system_organization": "Example Transit",
		},
		"198.51.100.0/25": {
			"country": map[string]any{"iso_code": "JP", "names": map[string]any{"en": "Japan"}},
		},
	})
	g, err := openGeoIP(path)
	if err != nil {
		t.Fatal(err)
	}
	defer g.close()
	got := g.lookup(netip.MustParseAddr("203.0.113.77"))
	want := Geo{CountryISO: "NL", CountryName: "Netherlands", CityName: "Amsterdam", ASN: 64500, ASOrg: "Example Transit"}
	if got == nil || *got != want {
		t.Fatalf("203.0.113.77: got %+v, want %+v", got, want)
	}
	if got := g.lookup(netip.MustParseAddr("198.51.100.5")); got == nil || got.CountryISO != "JP" || got.ASN != 0 {
		t.Fatalf("198.51.100.5: got %+v", got)
	}
	for _, a := range []string{"198.51.100.200", "192.0.2.1", "10.1.2.3"} {
		if got := g.lookup(netip.MustParseAddr(a)); got != nil {
			t.Errorf("%s: want no record, got %+v", a, got)
		}
	}

	// Through the engine: an intel alert on a flow to 203.0.113.77 is
	// enriched in its JSON line.
	bl := filepath.Join(t.TempDir(), "bl.txt")
	os.WriteFile(bl, []byte("203.0.113.77 # test c2\n"), 0o644)
	cfg := DefaultConfig()
	cfg.Detect = "intel"
	cfg.Blocklists = []string{bl}
	cfg.GeoIP = path
	var buf bytes.Buffer
	sink := NewJSONLSink(&buf)
	e, err := New(cfg, sink.Write)
	if err != nil {
		t.Fatal(err)
	}
	e.OnFlow(testFlow(1, "10.0.0.5", "203.0.113.77", 40000, 443, 6, 1e18))
	e.Close()
	sink.Flush()
	if !bytes.Contains(buf.Bytes(), []byte(`"destination":{"as":{"number":64500,"organization":{"name":"Example Transit"}},"geo":{"city_name":"Amsterdam","country_iso_code":"NL","country_name":"Netherlands"},"ip":"203.0.113.77","port":443}`)) {
		t.Errorf("alert not enriched: %s", buf.String())
	}
}

// TestGeoIPDamagedFile checks a database whose search tree points past its
// data section is refused at open, naming the file. Before, it opened, and
// each lookup through the damaged record failed silently: alerts lost
// their enrichment with no word said.
func TestGeoIPDamagedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "damaged.mmdb")
	writeMMDB(t, path, map[string]map[string]any{
		"203.0.113.0/24": {"country": map[string]any{"iso_code": "NL"}},
	})
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	copy(b, []byte{0xff, 0xff, 0xf0}) // the root's left record: far past the data
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := openGeoIP(path)
	if err == nil {
		g.close()
		t.Fatal("a damaged database opened without error")
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not a valid MaxMind database") {
		t.Errorf("error %q does not name the file and the fault", err)
	}
}

// TestGeoIPOtherFieldTypes checks a database whose ASN field is a string
// (a home-made one) says so once, instead of enriching nothing in silence.
func TestGeoIPOtherFieldTypes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "home.mmdb")
	writeMMDB(t, path, map[string]map[string]any{
		"203.0.113.0/24": {"autonomous_system_number": "AS64500"},
	})
	g, err := openGeoIP(path)
	if err != nil {
		t.Fatal(err)
	}
	defer g.close()
	var logs bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(old)
	for range 3 {
		if got := g.lookup(netip.MustParseAddr("203.0.113.9")); got != nil {
			t.Fatalf("lookup: %+v, want nothing", got)
		}
	}
	if n := strings.Count(logs.String(), "does not decode"); n != 1 || !strings.Contains(logs.String(), path) {
		t.Errorf("%d warnings naming the file, want 1:\n%s", n, logs.String())
	}
}
