package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
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
		code, _, errOut := runCLI(t, n, "--help")
		if code != 0 || !strings.Contains(errOut, "Usage: flowhawk "+n) {
			t.Errorf("%s --help: exit %d, output %q", n, code, errOut)
		}
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
	if !strings.HasSuffix(lines[0], ",Label") {
		t.Fatalf("header ends %q", lines[0][len(lines[0])-20:])
	}
	count := map[string]int{}
	for _, l := range lines[1:] {
		count[l[strings.LastIndexByte(l, ',')+1:]]++
	}
	if count["web"] == 0 || count["web"] != 2*count["other"] || len(count) != 2 {
		t.Fatalf("labels %v", count)
	}
}

func TestDatasetNeedsOneLabelSource(t *testing.T) {
	if code, _, _ := runCLI(t, "dataset", "-o", "x.csv"); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
}
