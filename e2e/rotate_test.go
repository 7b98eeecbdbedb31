//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCLICaptureRotate runs `capture --rotate 2s` with flows and alerts,
// pings through it across several periods and stops it with SIGTERM: at
// least two finished flow files named by their period's UTC start, each
// a whole CSV with its header, the pings' packets counted once across
// them, the alerts rotated alike, the summary saying how many files it
// wrote, and no temporary file left.
func TestCLICaptureRotate(t *testing.T) {
	n := newNet(t)
	bin := flowhawkBin(t)
	dir := t.TempDir()
	out, alerts := filepath.Join(dir, "flows.csv"), filepath.Join(dir, "alerts.jsonl")
	cmd, stderr := startCLI(t, n.ClientNS, bin, "capture", "-i", n.ClientIf, "-o", out, "--append",
		"--detect", "all", "--alerts", alerts, "--rotate", "2s", "--idle-timeout", "1s", "--no-windows")
	waitCapturing(t, stderr)
	finished := regexp.MustCompile(`^flows-\d{8}T\d{6}Z(_\d+)?\.csv$`)
	count := func() int {
		k := 0
		for _, name := range dirList(t, dir) {
			if finished.MatchString(name) {
				k++
			}
		}
		return k
	}
	// Pings until two periods have been finished (a file per period
	// renamed into place), each ping a flow of its own.
	pings := 0
	for deadline := time.Now().Add(30 * time.Second); count() < 2; pings += 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no two finished files in 30 s: %v\n%s", dirList(t, dir), stderr.String())
		}
		clientRun(t, n, "ping", "-c", "2", "-i", "0.2", n.ServerIP)
		time.Sleep(500 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("capture exit: %v\n%s", err, stderr.String())
	}
	assertDetached(t, n)

	var flowFiles, alertFiles []string
	for _, name := range dirList(t, dir) {
		switch {
		case strings.HasPrefix(name, "."):
			t.Errorf("temporary file %s left after SIGTERM", name)
		case finished.MatchString(name):
			flowFiles = append(flowFiles, name)
		case regexp.MustCompile(`^alerts-\d{8}T\d{6}Z(_\d+)?\.jsonl$`).MatchString(name):
			alertFiles = append(alertFiles, name)
		default:
			t.Errorf("unexpected file %s", name)
		}
	}
	if len(flowFiles) < 2 || len(alertFiles) < 2 {
		t.Errorf("%d flow files and %d alert files, want two or more of each: %v %v", len(flowFiles), len(alertFiles), flowFiles, alertFiles)
	}
	var header []byte
	echoes := 0
	for _, name := range flowFiles {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		line, _, _ := bytes.Cut(raw, []byte("\n"))
		if header == nil {
			header = line
		}
		if !bytes.HasPrefix(line, []byte("Flow ID,")) || !bytes.Equal(line, header) {
			t.Errorf("%s: first line %.60q..., want the header", name, line)
		}
		recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		col := map[string]int{}
		for i, h := range recs[0] {
			col[strings.TrimSpace(h)] = i
		}
		for _, r := range recs[1:] {
			if r[col["Protocol"]] == "1" && r[col["Source IP"]] == n.ClientIP {
				k, _ := strconv.Atoi(r[col["Total Fwd Packets"]])
				echoes += k
			}
		}
	}
	if echoes != pings {
		t.Errorf("%d echo requests across the files, want the %d sent, each once", echoes, pings)
	}
	for _, name := range alertFiles {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if !bytes.HasPrefix(sc.Bytes(), []byte("{")) || !bytes.HasSuffix(sc.Bytes(), []byte("}")) {
				t.Errorf("%s: line %q is no whole alert", name, sc.Text())
			}
		}
		f.Close()
	}
	for _, want := range []string{"flow files " + strconv.Itoa(len(flowFiles)) + " written (--rotate 2s)", "alert files " + strconv.Itoa(len(alertFiles)) + " written (--rotate 2s)"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("summary does not say %q:\n%s", want, stderr.String())
		}
	}
}

func dirList(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}
