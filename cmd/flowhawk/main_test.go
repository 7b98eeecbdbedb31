package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/flowhawk/flowhawk/export"
)

const demoPcap = "../../testdata/demo.pcap"

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestEveryCommandHasHelp(t *testing.T) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		code, out, errOut := runCLI(t, n, "--help")
		if code != 0 || !strings.Contains(out, "Usage: flowhawk "+n) || errOut != "" {
			t.Errorf("%s --help: exit %d, stdout %q, stderr %q (help belongs on stdout)", n, code, out, errOut)
		}
		if code, out, _ := runCLI(t, "help", n); code != 0 || !strings.Contains(out, "Usage: flowhawk "+n) {
			t.Errorf("help %s: exit %d, stdout %q", n, code, out)
		}
	}
	// A wrong command line shows the usage on stderr, not on stdout.
	if code, out, errOut := runCLI(t, "replay"); code != 2 || out != "" || !strings.Contains(errOut, "Usage: flowhawk replay") {
		t.Errorf("replay without a capture: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, out, _ := runCLI(t, "--help"); code != 0 || !strings.Contains(out, "replay") {
		t.Errorf("flowhawk --help: exit %d", code)
	}
	if code, _, _ := runCLI(t, "no-such-command"); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
	if code, _, _ := runCLI(t, "replay", "--no-such-flag"); code != 2 {
		t.Errorf("bad flag: exit %d, want 2", code)
	}
	for _, cmd := range []string{"replay", "dataset"} { // 0 workers ran with none, or hung
		if code, _, errOut := runCLI(t, cmd, "--workers", "0", demoPcap, "-o", "none"); code != 2 || !strings.Contains(errOut, "--workers 0") {
			t.Errorf("%s --workers 0: exit %d: %s", cmd, code, errOut)
		}
	}
}

func TestReplayFormats(t *testing.T) {
	dir := t.TempDir()
	var rows []int
	for _, ext := range []string{"csv", "jsonl", "parquet"} {
		out := filepath.Join(dir, "flows."+ext)
		code, _, errOut := runCLI(t, "replay", demoPcap, "-o", out, "--workers", "2")
		if code != 0 {
			t.Fatalf("replay -o %s: exit %d: %s", out, code, errOut)
		}
		for _, want := range []string{"frames     1487", "tcp", "udp", "flows"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("summary lacks %q:\n%s", want, errOut)
			}
		}
		r, err := export.OpenReader(out)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		var rec export.Record
		for {
			err := r.Next(&rec)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s row %d: %v", out, n, err)
			}
			n++
		}
		r.Close()
		rows = append(rows, n)
	}
	if rows[0] == 0 || rows[0] != rows[1] || rows[1] != rows[2] {
		t.Fatalf("rows per format csv/jsonl/parquet = %v", rows)
	}
}

func TestReplayStdoutCSV(t *testing.T) {
	code, out, _ := runCLI(t, "replay", "-q", demoPcap)
	if code != 0 || !strings.HasPrefix(out, "Flow ID, Source IP, Source Port") {
		t.Fatalf("exit %d, stdout starts %q", code, out[:min(len(out), 60)])
	}
}

// A truncated capture gives an error naming the file and offset, and the
// flows before the cut are still written.
func TestReplayTruncatedKeepsFlows(t *testing.T) {
	data, err := os.ReadFile(demoPcap)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cut := filepath.Join(dir, "cut.pcap")
	if err := os.WriteFile(cut, data[:len(data)/2+7], 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "flows.csv")
	code, _, errOut := runCLI(t, "replay", cut, "-o", out)
	if code != 1 || !strings.Contains(errOut, "cut.pcap") || !strings.Contains(errOut, "offset") {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	b, _ := os.ReadFile(out)
	if lines := strings.Count(string(b), "\n"); lines < 10 {
		t.Fatalf("only %d lines written before the cut", lines)
	}
}

func TestDatasetLabelDir(t *testing.T) {
	root := t.TempDir()
	data, err := os.ReadFile(demoPcap)
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(demoPcap)
	for _, class := range []string{"web", "other"} {
		os.MkdirAll(filepath.Join(root, class), 0o755)
		if err := os.WriteFile(filepath.Join(root, class, "a.pcap"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A link to a capture counts too.
	if err := os.Symlink(abs, filepath.Join(root, "web", "b.pcap")); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, "ds.csv")
	code, _, errOut := runCLI(t, "dataset", "--label-dir", root, "-o", out, "-q")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	b, _ := os.ReadFile(out)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if !strings.HasSuffix(lines[0], ", Label") { // CIC-IDS2017's text, space included
		t.Fatalf("header ends %q", lines[0][len(lines[0])-20:])
	}
	count := map[string]int{}
	for _, l := range lines[1:] {
		count[l[strings.LastIndexByte(l, ',')+1:]]++
	}
	if count["web"] == 0 || count["web"] != 2*count["other"] || len(count) != 2 {
		t.Fatalf("labels %v", count)
	}
	// A capture directly in DIR gets --default-label (else "unlabeled"),
	// and a file as DIR is an error.
	if err := os.WriteFile(filepath.Join(root, "loose.pcap"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "dataset", "--label-dir", root, "--default-label", "background", "-o", out, "-q"); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if b, _ := os.ReadFile(out); strings.Count(string(b), ",background\n") != count["other"] {
		t.Errorf("loose capture: %d rows labelled background, want %d", strings.Count(string(b), ",background\n"), count["other"])
	}
	if code, _, _ := runCLI(t, "dataset", "--label-dir", filepath.Join(root, "loose.pcap"), "-o", out, "-q"); code != 2 {
		t.Errorf("--label-dir FILE: exit %d, want 2", code)
	}
}

// TestDatasetEmptyClassWarns checks that a class sub-directory without a
// capture (a misnamed file, a copy not finished) is named in a warning:
// its class was missing from the dataset without a word.
func TestDatasetEmptyClassWarns(t *testing.T) {
	root := t.TempDir()
	abs, _ := filepath.Abs(demoPcap)
	for _, d := range []string{"web", "scan", ".git"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(abs, filepath.Join(root, "web", "a.pcap")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "scan", "notes.txt"), []byte("nmap -sS\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A link to a class already walked is skipped with a warning of its
	// own: it holds captures, and is no empty class.
	if err := os.Symlink("web", filepath.Join(root, "alias")); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, "dataset", "--label-dir", root, "-o", filepath.Join(t.TempDir(), "ds.csv"), "-q")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "holds no capture") || !strings.Contains(errOut, "class=scan") {
		t.Errorf("no warning naming the empty class scan:\n%s", errOut)
	}
	if strings.Contains(errOut, "class=web") || strings.Contains(errOut, "class=.git") || strings.Contains(errOut, "class=alias") {
		t.Errorf("warning about a class with captures, or a hidden directory:\n%s", errOut)
	}
}

func TestDatasetNeedsOneLabelSource(t *testing.T) {
	if code, _, _ := runCLI(t, "dataset", "-o", "x.csv"); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
}

// TestBadDetectorFlagsKeepFiles checks that a flag the detectors refuse
// fails before the flow and alert files are created: a wrong --detect
// used to leave the existing -o file truncated to a header.
func TestBadDetectorFlagsKeepFiles(t *testing.T) {
	dir := t.TempDir()
	out, alerts := filepath.Join(dir, "keep.csv"), filepath.Join(dir, "keep.jsonl")
	for _, args := range [][]string{
		{"--detect", "foo"},
		{"--detect", "all", "--portscan-window", "-1s"},
		{"--detect", "all", "--mtu", "-1"},
		{"--detect", "all", "--blocklist", filepath.Join(dir, "missing.txt")},
		{"--geoip", filepath.Join(dir, "missing.mmdb")},
		{"--detect", "all", "--dga-allow", filepath.Join(dir, "missing.csv")},
		{"--detect", "portscan", "--dga-allow", out},
		{"--dga-allow", out},
	} {
		for _, f := range []string{out, alerts} {
			if err := os.WriteFile(f, []byte("precious\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		code, _, errOut := runCLI(t, append([]string{"replay", "-q", demoPcap, "-o", out, "--alerts", alerts}, args...)...)
		if code == 0 {
			t.Errorf("%v: exit 0", args)
		}
		for _, f := range []string{out, alerts} {
			if b, _ := os.ReadFile(f); string(b) != "precious\n" {
				t.Errorf("%v (%s): %s now holds %q", args, strings.TrimSpace(errOut), filepath.Base(f), b)
			}
		}
	}
}

// TestBlocklistAloneRaisesAlerts checks that --blocklist turns intel
// matching on without --detect, as docs/detect.md says (it was ignored).
func TestBlocklistAloneRaisesAlerts(t *testing.T) {
	dir := t.TempDir()
	code, csv, errOut := runCLI(t, "replay", "-q", demoPcap, "-o", "-")
	if code != 0 {
		t.Fatalf("replay: exit %d: %s", code, errOut)
	}
	lines := strings.Split(csv, "\n")
	dst := strings.TrimSpace(strings.Split(lines[1], ",")[3]) // Destination IP of the first flow
	bl, alerts := filepath.Join(dir, "bl.txt"), filepath.Join(dir, "alerts.jsonl")
	if err := os.WriteFile(bl, []byte(dst+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "replay", "-q", demoPcap, "-o", "none", "--blocklist", bl, "--alerts", alerts); code != 0 {
		t.Fatalf("replay --blocklist: exit %d: %s", code, errOut)
	}
	if b, err := os.ReadFile(alerts); err != nil || !bytes.Contains(b, []byte(dst)) {
		t.Fatalf("alerts for blocklisted %s: %q, %v", dst, b, err)
	}
}

// TestPredictBadCellKeepsOutput checks that a cell predict cannot read is
// an error naming the column, row and value, and that the -o file is left
// as it was (it used to be left empty).
func TestPredictBadCellKeepsOutput(t *testing.T) {
	dir := t.TempDir()
	flows := filepath.Join(dir, "flows.csv")
	if code, _, errOut := runCLI(t, "replay", "-q", demoPcap, "-o", flows); code != 0 {
		t.Fatalf("replay: exit %d: %s", code, errOut)
	}
	b, err := os.ReadFile(flows)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	header := strings.Split(lines[0], ",")
	col := slices.IndexFunc(header, func(h string) bool { return strings.TrimSpace(h) == "Flow Duration" })
	cells := strings.Split(lines[3], ",")
	cells[col] = "abc"
	lines[3] = strings.Join(cells, ",")
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "pred.csv")
	if err := os.WriteFile(out, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, "predict", "--model", "../../testdata/model.json", "--data", bad, "-o", out)
	if code == 0 || !strings.Contains(errOut, `"Flow Duration"`) || !strings.Contains(errOut, `data row 3 has "abc"`) {
		t.Errorf("exit %d, error %q: want the column, row and value", code, errOut)
	}
	if b, _ := os.ReadFile(out); string(b) != "precious\n" {
		t.Errorf("output now holds %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 3 {
		t.Errorf("files left in %s: %v", dir, ents)
	}
	if code, _, errOut := runCLI(t, "predict", "--model", "../../testdata/model.json", "--data", flows, "-o", out); code != 0 {
		t.Fatalf("predict: exit %d: %s", code, errOut)
	}
	if b, _ := os.ReadFile(out); !strings.HasPrefix(string(b), "Row,Predicted Label,Confidence\n") {
		t.Errorf("output starts %q", b[:min(len(b), 60)])
	}
}

// TestFlagValuesChecked checks flag values that used to be accepted
// silently: each must fail before any work, naming the flag.
func TestFlagValuesChecked(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"replay", demoPcap, "-o", "none", "--progress", "sometimes"}, "--progress"},
		{[]string{"dataset", "--label-dir", dir, "-o", filepath.Join(dir, "x.csv"), "--progress", "often"}, "--progress"},
		{[]string{"replay", demoPcap, "-o", "none", "--memprofile", filepath.Join(dir, "no", "m.prof")}, "heap profile"},
		{[]string{"capture", "-i", "lo", "--duration", "-1s"}, "--duration"},
		{[]string{"capture", "-i", "lo,lo"}, "lo twice"},
		{[]string{"replay", demoPcap, "-o", "none", "--detect", "all", "--alert-interval", "-1s"}, "--alert-interval"},
		{[]string{"importance", "--model", "../../testdata/model.json", "--repeats", "0"}, "--repeats"},
		{[]string{"replay", demoPcap, "-o", "-", "--detect", "all", "--alerts", "-"}, "--alerts - and -o -"},
		{[]string{"replay", demoPcap, "-o", "none", "--min-confidence", "0.9"}, "no --model given"},
	} {
		code, _, errOut := runCLI(t, c.args...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q; want an error naming %s", c.args, code, errOut, c.want)
		}
	}
}

// TestHelpNamesOnlyItsOwnFlags: a command's help mentions only flags that
// command has. The flags shared by replay, dataset and capture told dataset's
// users that --append also appends "to the --alerts file" and that -o none
// leaves "alerts", though dataset has no detectors and no --alerts flag.
func TestHelpNamesOnlyItsOwnFlags(t *testing.T) {
	for name := range commands {
		_, out, _ := runCLI(t, name, "--help")
		have := map[string]bool{"--help": true}
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(strings.TrimSpace(line))
			for _, w := range f[:min(2, len(f))] { // "-o, --output FILE" or "--append[=true|false]"
				if strings.HasPrefix(w, "--") {
					have[strings.TrimSuffix(strings.SplitN(w, "[", 2)[0], ",")] = true
				}
			}
		}
		own := regexp.MustCompile(`flowhawk [a-z]+ --[a-z-]+`).ReplaceAllString(out, "") // another command's flag, named with it
		for _, m := range regexp.MustCompile(`--[a-z][a-z0-9-]*`).FindAllString(own, -1) {
			if !have[m] {
				t.Errorf("flowhawk %s --help mentions %s, which it does not have", name, m)
			}
		}
	}
}

// TestAlertsAndFlowsNotOneFile: -o FILE and --alerts FILE naming one file
// (directly or through a link) is a usage error that leaves the file as it
// was. Both were opened and truncated, and the alerts overwrote the first
// flow rows, leaving a file neither a flow reader nor an alert reader takes.
func TestAlertsAndFlowsNotOneFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "flows.jsonl")
	if err := os.WriteFile(out, []byte("earlier\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "alerts.jsonl")
	if err := os.Symlink(out, link); err != nil {
		t.Fatal(err)
	}
	for _, alerts := range []string{out, link, filepath.Join(dir, ".", "flows.jsonl")} {
		code, _, errOut := runCLI(t, "replay", "-q", demoPcap, "-o", out, "--detect", "all", "--alerts", alerts)
		if code != 2 || !strings.Contains(errOut, "same file") {
			t.Errorf("-o %s --alerts %s: exit %d, stderr %q; want a usage error", out, alerts, code, errOut)
		}
		if b, _ := os.ReadFile(out); string(b) != "earlier\n" {
			t.Errorf("--alerts %s: the file changed to %d bytes", alerts, len(b))
		}
	}
	// Both to /dev/null stays allowed.
	if code, _, errOut := runCLI(t, "replay", "-q", demoPcap, "-o", os.DevNull, "--detect", "all", "--alerts", os.DevNull); code != 0 {
		t.Errorf("-o /dev/null --alerts /dev/null: exit %d: %s", code, errOut)
	}
}

// TestProfileNotAnotherFile checks that --cpuprofile or --memprofile naming
// the input capture, -o, --alerts or each other, and --alerts naming the
// capture, are usage errors that leave the file as it was: those files are
// created first, so --cpuprofile or --alerts naming the capture truncated it.
func TestProfileNotAnotherFile(t *testing.T) {
	dir := t.TempDir()
	capture := filepath.Join(dir, "in.pcap")
	data, err := os.ReadFile(demoPcap)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(capture, data, 0o644)
	out, alerts := filepath.Join(dir, "flows.csv"), filepath.Join(dir, "alerts.jsonl")
	for _, c := range [][]string{
		{"--cpuprofile", capture},
		{"--memprofile", capture},
		{"--cpuprofile", out},
		{"--memprofile", alerts},
		{"--cpuprofile", filepath.Join(dir, "p"), "--memprofile", filepath.Join(dir, ".", "p")},
		{"--alerts", capture},
	} {
		args := append([]string{"replay", "-q", capture, "-o", out, "--detect", "all", "--alerts", alerts}, c...)
		code, _, errOut := runCLI(t, args...)
		if code != 2 || !strings.Contains(errOut, c[0]) {
			t.Errorf("%v: exit %d, stderr %q; want a usage error naming %s", c, code, errOut, c[0])
		}
		if b, _ := os.ReadFile(capture); len(b) != len(data) {
			t.Fatalf("%v: the capture is now %d bytes, was %d", c, len(b), len(data))
		}
	}
}

// TestDatasetLabelNotUTF8 checks that a --label-dir class directory whose
// name is not UTF-8 (caf\xe9) gives one label, caf\uFFFD, in CSV, JSON
// Lines and Parquet (three values before: the raw byte, U+FFFD and a
// Parquet string readers refuse), and that the Prometheus class counter
// takes it (it panicked).
func TestDatasetLabelNotUTF8(t *testing.T) {
	root := t.TempDir()
	data, err := os.ReadFile(demoPcap)
	if err != nil {
		t.Fatal(err)
	}
	class := filepath.Join(root, "corpus", "caf\xe9")
	if err := os.MkdirAll(class, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(class, "a.pcap"), data, 0o644); err != nil {
		t.Skipf("file names that are not UTF-8 unavailable: %v", err)
	}
	for _, ext := range []string{"csv", "jsonl", "parquet"} {
		out := filepath.Join(root, "ds."+ext)
		code, _, errOut := runCLI(t, "dataset", "-q", "--label-dir", filepath.Join(root, "corpus"), "-o", out, "--metrics-addr", "127.0.0.1:0")
		if code != 0 {
			t.Fatalf("dataset -o %s: exit %d: %s", out, code, errOut)
		}
		r, err := export.OpenReader(out)
		if err != nil {
			t.Fatal(err)
		}
		col := slices.Index(r.Columns(), "Label")
		labels := map[string]int{}
		var rec export.Record
		for {
			err := r.Next(&rec)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", out, err)
			}
			labels[rec.Str[col]]++
		}
		r.Close()
		if len(labels) != 1 || labels["caf\uFFFD"] == 0 {
			t.Errorf("%s: labels %v, want caf\\uFFFD only", ext, labels)
		}
	}
}

// TestAlertsLostShown checks that a run whose alerts file fails says in
// its summary how many alerts never reached it: the count was kept but
// never shown, so a full disk lost alerts with only the error to say so.
func TestAlertsLostShown(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	code, _, errOut := runCLI(t, "replay", demoPcap, "-o", "none", "--detect", "all", "--alerts", "/dev/full")
	if code != 1 || !strings.Contains(errOut, "not written: write /dev/full") {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
}

// TestErrorNamesCommandOnce checks that an error of the package that
// shares the command's name is not prefixed twice ("flowhawk report:
// report: open ...").
func TestErrorNamesCommandOnce(t *testing.T) {
	code, _, errOut := runCLI(t, "report", "-o", filepath.Join(t.TempDir(), "r.html"), filepath.Join(t.TempDir(), "missing.csv"))
	if code != 1 || !strings.HasPrefix(errOut, "flowhawk report: ") || strings.Contains(errOut, "report: report:") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

// TestOutputLostShown checks that a run whose flow output fails says how
// many flows the file lacks, the buffered rows the failing write lost
// included: the summary counted every flow, and only the error said the
// file was short.
func TestOutputLostShown(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	code, _, errOut := runCLI(t, "replay", demoPcap, "-o", "/dev/full")
	if code != 1 || !regexp.MustCompile(`output +(\d+) of (\d+) flows not written`).MatchString(errOut) {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	m := regexp.MustCompile(`output +(\d+) of (\d+) flows not written`).FindStringSubmatch(errOut)
	if m[1] != m[2] || m[1] == "0" {
		t.Errorf("%s of %s flows not written to /dev/full, want all", m[1], m[2])
	}
}
