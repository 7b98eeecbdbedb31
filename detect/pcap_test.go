package detect

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestRealCaptures(t *testing.T) {
	dir := filepath.Join(sharedDir(t), "pcaps")
	cases := []struct {
		file string
		want []string // rules that must be raised
		// allowed rules besides want; anything else fails the test
		allowed []string
	}{
		{"chrissanders__synscan.pcapng", []string{"portscan.vertical"}, nil},
		{"stopddos__pkt.TCP.synflood.spoofed.pcap", []string{"synflood"}, nil},
		{"stopddos__pkt.TCP.DOMINATE.syn.ecn.cwr.pcapng", []string{"synflood"}, nil},
		{"ndpi__dns_exfiltration.pcap", []string{"dns.tunnel", "dns.dga"}, nil},
		{"zeek__wikipedia.pcap", nil, nil},
		{"pcapplusplus__DnsPackets.pcap", nil, nil},
		{"zeek__hrr.pcap", nil, nil},
		{"chrissanders__tcp_retransmissions.pcapng", nil, nil},
		{"pcapplusplus__ip4_fragments.pcap", nil, nil},
		{"zeek__ipv6-fragmented-dns.pcap", nil, nil},
		{"chrissanders__icmp_traceroute.pcapng", nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			e, c := replay(t, filepath.Join(dir, tc.file), allOn())
			got := c.rules()
			var sb strings.Builder
			e.Summary(&sb)
			t.Logf("%s: alerts %v\n%s", tc.file, got, sb.String())
			for _, r := range tc.want {
				if got[r] == 0 {
					t.Errorf("%s: want rule %s, got %v", tc.file, r, got)
				}
			}
			// Packet-based alerts name their flows once those finished
			// (here: the table is flushed before the engine closes).
			for _, a := range c.alerts {
				if a.Rule == "portscan.vertical" && len(a.FlowIDs) == 0 {
					t.Errorf("%s: %s without flow IDs", tc.file, a.Rule)
				}
			}
			for r := range got {
				ok := false
				for _, w := range append(tc.want, tc.allowed...) {
					ok = ok || w == r
				}
				if !ok {
					for _, a := range c.alerts {
						if a.Rule == r {
							t.Errorf("%s: unexpected alert %s: %s", tc.file, r, a.Message)
						}
					}
				}
			}
		})
	}
}
