package collector

import (
	"bufio"
	"errors"
	"github.com/flowhawk/flowhawk/internal/testshared"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

type groundTruth struct {
	file                string
	packets, tcp, udp   int
	readError           string
	capFrames, capBytes int64
	haveCapinfos        bool
}

func readGroundTruth(t *testing.T, dir string) []groundTruth {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "groundtruth.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []groundTruth
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) < 7 {
			t.Fatalf("groundtruth.tsv: short line %q", sc.Text())
		}
		g := groundTruth{file: c[0], readError: c[6]}
		g.packets, _ = strconv.Atoi(c[1])
		g.tcp, _ = strconv.Atoi(c[2])
		g.udp, _ = strconv.Atoi(c[3])
		out = append(out, g)
	}
	return out
}

// capinfos returns frames and data size (sum of orig_len) of a file.
func capinfos(path string) (frames, bytes int64, err error) {
	out, err := exec.Command("capinfos", "-c", "-d", "-M", "-T", "-r", path).Output()
	if err != nil {
		return 0, 0, err
	}
	c := strings.Split(strings.TrimSpace(string(out)), "\t")
	if len(c) < 3 {
		return 0, 0, errors.New("capinfos: unexpected output " + string(out))
	}
	frames, _ = strconv.ParseInt(c[1], 10, 64)
	bytes, _ = strconv.ParseInt(c[2], 10, 64)
	return frames, bytes, nil
}

// parityException records where our figure rightly differs from tshark's
// or capinfos's; docs/reader.md explains each one.
type parityException struct {
	tcp, udp      int    // -1: no exception
	tsharkFrames  int    // vs tshark's packets column; -1: no exception
	frames, bytes int64  // -1: no exception
	readErr       string // expected substring of our read error ("" = none)
	reason        string
}

var parityExceptions = map[string]parityException{
	"zeek__vlan-collisions.pcap": {tcp: 3, udp: -1, tsharkFrames: -1, frames: -1, bytes: -1,
		reason: "VLAN-aware keys: the same session untagged, on VLAN 42 and on QinQ 10/20 is three flows; tshark ignores VLAN tags"},
	"zeek__gre-sample.pcap": {tcp: 0, udp: 0, tsharkFrames: -1, frames: -1, bytes: -1,
		reason: "tunnels are not decapsulated: every frame is one GRE (proto 47) flow; tshark counts the inner conversations"},
	"ndpi__vxlan.pcap": {tcp: 0, udp: 9, tsharkFrames: -1, frames: -1, bytes: -1,
		reason: "tunnels are not decapsulated: the 9 outer VXLAN UDP pairs only; tshark adds the inner TLS (2 TCP) and DNS (2 UDP)"},
	"zeek__ipv6-fragmented-dns.pcap": {tcp: -1, udp: 3, tsharkFrames: -1, frames: -1, bytes: -1,
		reason: "frame 4 is a last fragment whose first fragment was not captured: an orphan UDP flow with ports 0; tshark cannot reassemble it and shows no UDP"},
	"ndpi__fuzz-2006-06-26-2594.pcap": {tcp: 24, udp: 227, tsharkFrames: -1, frames: -1, bytes: -1,
		reason: "randomly corrupted fragment fields make 7 frames look like later fragments whose first fragment was never seen: 7 orphan flows with ports 0 (1 TCP, 6 UDP); every other TCP/UDP pair equals tshark's"},
	"ndpi__fuzz-2021-10-13.pcap": {tcp: -1, udp: -1, tsharkFrames: 0, frames: 0, bytes: 0,
		readErr: "ndpi__fuzz-2021-10-13.pcap: offset 24: record caplen 524501 exceeds the 262144-byte limit",
		reason:  "the only record is cut short; capinfos counts it (1 frame, 524501 bytes), we return an error at its offset and no frame"},
	"gopacket__be-test202.pcapng": {tcp: -1, udp: -1, tsharkFrames: 8, frames: -1, bytes: -1,
		reason: "tshark counts the 3 custom blocks (0xBAD, 0x40000BAD) as frames; they carry no packet, we skip and count them in SkippedBlocks (capinfos also reports 8)"},
	"pcapplusplus__pcapng-example.pcapng": {tcp: 1, udp: -1, tsharkFrames: -1, frames: -1, bytes: -1,
		reason: "the 100 frames of interface 1 (LINUX_SLL, 14 of the 15 TCP conversations) are stamped in the year 586524, which int64 nanoseconds cannot hold: skipped and counted in BadTimestamps, where they used to wrap to 1969; tshark shows them at that date"},
	"libpcap__shb-option-too-long.pcapng": {tcp: -1, udp: -1, tsharkFrames: -1, frames: 0, bytes: 0,
		readErr: "libpcap__shb-option-too-long.pcapng: offset 0: ",
		reason:  "corrupt section header block; tshark and capinfos reject the file too"},
}

type fileResult struct {
	frames, bytes int64
	tcp, udp      int
	err           error
	stats         SourceStats
}

// runFile reads a file through PcapSource and the default flow table and
// counts distinct TCP and UDP keys among the emitted flows.
func runFile(t testing.TB, path string) fileResult {
	t.Helper()
	return runFileOpts(t, path, PcapOptions{})
}

// runFileOpts is runFile with reader options.
func runFileOpts(t testing.TB, path string, opts PcapOptions) fileResult {
	t.Helper()
	var r fileResult
	tcp, udp := map[Key]bool{}, map[Key]bool{}
	table := NewTable(DefaultTableConfig(), func(f *Flow) {
		switch f.Key.Proto {
		case 6:
			tcp[f.Key] = true
		case 17:
			udp[f.Key] = true
		}
	})
	s, err := OpenPcap(path, opts)
	if err != nil {
		r.err = err
		return r
	}
	defer s.Close()
	var p Packet
	for {
		if err := s.NextPacket(&p); err != nil {
			if err != io.EOF {
				r.err = err
			}
			break
		}
		table.Add(&p)
	}
	table.Flush()
	r.stats = s.Stats()
	r.frames, r.bytes = int64(r.stats.Frames), int64(r.stats.Bytes)
	r.tcp, r.udp = len(tcp), len(udp)
	return r
}

func TestTsharkParity(t *testing.T) {
	dir := testshared.Path(t, "pcaps")
	gts := readGroundTruth(t, dir)
	_, capErr := exec.LookPath("capinfos")
	if capErr != nil {
		t.Logf("capinfos not on PATH: frame and byte counts are not compared (install wireshark-common)")
	}
	for _, g := range gts {
		t.Run(g.file, func(t *testing.T) {
			path := filepath.Join(dir, g.file)
			r := runFile(t, path)
			ex, hasEx := parityExceptions[g.file]
			wantTCP, wantUDP := g.tcp, g.udp
			if hasEx && ex.tcp >= 0 {
				wantTCP = ex.tcp
			}
			if hasEx && ex.udp >= 0 {
				wantUDP = ex.udp
			}
			t.Logf("%s: frames=%d bytes=%d tcp=%d udp=%d err=%v malformed=%q nonip=%d frags=%d orphans=%d", g.file, r.frames, r.bytes, r.tcp, r.udp, r.err, r.stats.MalformedString(), r.stats.NonIP, r.stats.Fragments, r.stats.OrphanFragments)
			if st := r.stats; st.Frames != st.IPPackets+st.NonIP+st.Dropped {
				t.Errorf("frames %d != ip %d + non-ip %d + dropped %d", st.Frames, st.IPPackets, st.NonIP, st.Dropped)
			}
			if r.tcp != wantTCP || r.udp != wantUDP {
				t.Errorf("tcp/udp flows = %d/%d, want %d/%d (tshark %d/%d)", r.tcp, r.udp, wantTCP, wantUDP, g.tcp, g.udp)
			}
			wantFrames := int64(g.packets)
			if hasEx && ex.tsharkFrames >= 0 {
				wantFrames = int64(ex.tsharkFrames)
			}
			if r.frames != wantFrames {
				t.Errorf("frames = %d, want %d (tshark %d)", r.frames, wantFrames, g.packets)
			}
			wantErr := ""
			if hasEx {
				wantErr = ex.readErr
			}
			switch {
			case wantErr == "" && r.err != nil:
				t.Errorf("unexpected read error: %v", r.err)
			case wantErr != "" && (r.err == nil || !strings.Contains(r.err.Error(), wantErr)):
				t.Errorf("read error = %v, want one containing %q", r.err, wantErr)
			}
			if capErr != nil {
				return
			}
			frames, bytes, err := capinfos(path)
			if err != nil {
				if wantErr == "" {
					t.Errorf("capinfos failed on a file we read: %v", err)
				}
				return
			}
			if hasEx && ex.frames >= 0 {
				frames = ex.frames
			}
			if hasEx && ex.bytes >= 0 {
				bytes = ex.bytes
			}
			if r.frames != frames || r.bytes != bytes {
				t.Errorf("frames/bytes = %d/%d, want %d/%d (capinfos)", r.frames, r.bytes, frames, bytes)
			}
		})
	}
}

// TestTsharkParityDecap replays every shared capture with tunnel
// decapsulation: the GRE capture then has tshark's conversations exactly,
// the VXLAN one its inner conversations (tshark adds the 9 outer UDP pairs
// to its 11), and every capture without such a tunnel (PPTP's GRE version
// 1 included) gives what it gives without decapsulation.
func TestTsharkParityDecap(t *testing.T) {
	dir := testshared.Path(t, "pcaps")
	tunnels := map[string]struct{ tcp, udp int }{
		"zeek__gre-sample.pcap": {1, 4},
		"ndpi__vxlan.pcap":      {2, 11 - 9},
	}
	for _, g := range readGroundTruth(t, dir) {
		t.Run(g.file, func(t *testing.T) {
			path := filepath.Join(dir, g.file)
			d, plain := runFileOpts(t, path, PcapOptions{Decap: true}), runFile(t, path)
			if d.frames != plain.frames || d.bytes != plain.bytes || (d.err == nil) != (plain.err == nil) {
				t.Errorf("frames/bytes/err %d/%d/%v with decap, %d/%d/%v without", d.frames, d.bytes, d.err, plain.frames, plain.bytes, plain.err)
			}
			want, tunnel := tunnels[g.file]
			if !tunnel {
				if d.tcp != plain.tcp || d.udp != plain.udp || d.stats.Decapsulated != 0 {
					t.Errorf("tcp/udp %d/%d and %d decapsulated with decap, %d/%d without", d.tcp, d.udp, d.stats.Decapsulated, plain.tcp, plain.udp)
				}
				return
			}
			t.Logf("%s: %d packets decapsulated, tcp/udp %d/%d (tshark %d/%d)", g.file, d.stats.Decapsulated, d.tcp, d.udp, g.tcp, g.udp)
			if d.tcp != want.tcp || d.udp != want.udp || d.stats.Decapsulated == 0 {
				t.Errorf("tcp/udp %d/%d (%d decapsulated), want %d/%d (tshark %d/%d)", d.tcp, d.udp, d.stats.Decapsulated, want.tcp, want.udp, g.tcp, g.udp)
			}
		})
	}
}

// TestSourceStatsShared pins the source counters on captures with
// something notable (numbers from the shared README and tshark).
func TestSourceStatsShared(t *testing.T) {
	dir := testshared.Path(t, "pcaps")
	cases := []struct {
		file  string
		check func(st *SourceStats) bool
	}{
		{"zeek__timestamp.pcap", func(st *SourceStats) bool { return st.SnapTruncated == 691 && st.Malformed == 0 && st.IPPackets == 878 }},
		{"pcapplusplus__ip4_fragments.pcap", func(st *SourceStats) bool {
			return st.Fragments == 50 && st.OrphanFragments == 0 && st.WrongFragments == 0
		}},
		{"zeek__ipv6-fragmented-dns.pcap", func(st *SourceStats) bool { return st.Fragments == 4 && st.OrphanFragments == 1 }},
		{"pcapplusplus__VlanPackets.pcap", func(st *SourceStats) bool { return st.NonIP == 6 && st.IPPackets == 20 }},
		{"gopacket__be-test202.pcapng", func(st *SourceStats) bool {
			return st.SkippedBlocks >= 3 && len(st.LinkTypes) == 2 && st.Frames == 8
		}},
		{"pcapplusplus__pcapng-example.pcapng", func(st *SourceStats) bool {
			return len(st.LinkTypes) == 2 && st.LinkTypes[0].LinkType == LinkEthernet && st.LinkTypes[1].LinkType == LinkSLL && st.SnapTruncated > 0 &&
				st.BadTimestamps == 100 && st.Frames == 159 && st.IPPackets == 59
		}},
		{"zeek__linux_dlt_sll2.pcap", func(st *SourceStats) bool { return st.IPPackets == 4 && st.NonIP == 2 }},
		{"pcapplusplus__null_loopback.pcap", func(st *SourceStats) bool { return st.IPPackets == 3 && st.Malformed == 0 }},
	}
	for _, c := range cases {
		r := runFile(t, filepath.Join(dir, c.file))
		if r.err != nil || !c.check(&r.stats) {
			t.Errorf("%s: err %v, stats %+v", c.file, r.err, r.stats)
		}
	}
}
