package detect

import (
	"github.com/flowhawk/flowhawk/internal/testshared"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// captureExpect is what a shared capture must raise (want) and may raise
// besides (allowed, each with its reason); anything else fails.
type captureExpect struct {
	want    []string
	allowed []string
}

var captureExpects = map[string]captureExpect{
	"chrissanders__synscan.pcapng":                  {want: []string{"portscan.vertical"}},
	"stopddos__pkt.TCP.synflood.spoofed.pcap":       {want: []string{"synflood"}},
	"stopddos__pkt.TCP.DOMINATE.syn.ecn.cwr.pcapng": {want: []string{"synflood"}},
	"ndpi__dns_exfiltration.pcap":                   {want: []string{"dns.tunnel", "dns.dga"}},
	// A fuzzer's output: IP total lengths up to 43 690 bytes are exactly
	// what size.oversize is for.
	"ndpi__fuzz-2006-06-26-2594.pcap": {allowed: []string{"size.oversize"}},
}

// TestRealCaptures replays every capture in shared/pcaps: the attacks
// raise their alerts, and every other capture (browsing, home DNS, TLS,
// retransmissions, fragments, tunnels, VLANs, ...) raises none.
func TestRealCaptures(t *testing.T) {
	dir := testshared.Path(t, "pcaps")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	quiet := 0
	for _, en := range ents {
		name := en.Name()
		switch filepath.Ext(name) {
		case ".pcap", ".pcapng", ".cap":
		default:
			continue
		}
		if strings.HasPrefix(name, "libpcap__") || strings.Contains(name, "fuzz-2021") {
			continue // deliberately broken files: reader tests, not detector input
		}
		exp := captureExpects[name]
		t.Run(name, func(t *testing.T) {
			e, c := replay(t, filepath.Join(dir, name), allOn())
			got := c.rules()
			if len(got) > 0 {
				var sb strings.Builder
				e.Summary(&sb)
				t.Logf("%s: alerts %v\n%s", name, got, sb.String())
			}
			for _, r := range exp.want {
				if got[r] == 0 {
					t.Errorf("want rule %s, got %v", r, got)
				}
			}
			for _, a := range c.alerts {
				ok := false
				for _, w := range append(exp.want, exp.allowed...) {
					ok = ok || w == a.Rule
				}
				if !ok {
					t.Errorf("unexpected alert %s: %s", a.Rule, a.Message)
				}
				// Packet-based alerts name their flows once those
				// finished (the table is flushed before Close).
				if a.Rule == "portscan.vertical" && len(a.FlowIDs) == 0 {
					t.Errorf("%s without flow IDs", a.Rule)
				}
			}
			if len(got) == 0 {
				quiet++
			}
		})
	}
	t.Logf("%d captures raised no alert", quiet)
}
