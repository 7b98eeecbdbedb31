package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A report with nothing to chart fails, naming the empty flow file (it
// said only "no flows, alerts or evaluations"), without touching an
// existing output file.
func TestReportNothingToChartKeepsOutput(t *testing.T) {
	dir := t.TempDir()
	flows := filepath.Join(dir, "empty.jsonl")
	out := filepath.Join(dir, "out.html")
	os.WriteFile(flows, nil, 0o644)
	os.WriteFile(out, []byte("previous report"), 0o644)
	code, _, stderr := runCLI(t, "report", flows, "-o", out)
	if code == 0 || !strings.Contains(stderr, "nothing to chart: "+flows+" holds no flows") {
		t.Fatalf("exit %d, stderr %q; want a nothing-to-chart failure", code, stderr)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "previous report" {
		t.Errorf("output now %q (%v), want it untouched", b, err)
	}
	// Several: counted, the first and last named ("a, b, c holds", and
	// every name of a store's thousand files).
	more, most := filepath.Join(dir, "empty2.jsonl"), filepath.Join(dir, "empty3.jsonl")
	os.WriteFile(more, nil, 0o644)
	os.WriteFile(most, nil, 0o644)
	code, _, stderr = runCLI(t, "report", flows, more, most, "-o", out)
	if code == 0 || !strings.Contains(stderr, "the 3 flow files ("+flows+" ... "+most+") hold no flows") {
		t.Errorf("three empty files: exit %d, stderr %q; want them counted", code, stderr)
	}
}

// TestReportTopChecked checks that --top below 1 is a usage error naming
// the flag, before any file is read or written; it was drawn as 15.
func TestReportTopChecked(t *testing.T) {
	dir := t.TempDir()
	flows, out := filepath.Join(dir, "flows.csv"), filepath.Join(dir, "out.html")
	if code, _, stderr := runCLI(t, "replay", "-q", demoPcap, "-o", flows); code != 0 {
		t.Fatalf("replay: exit %d: %s", code, stderr)
	}
	for _, top := range []string{"0", "-3"} {
		code, _, stderr := runCLI(t, "report", flows, "--top", top, "-o", out)
		if code != 2 || !strings.Contains(stderr, "--top "+top) {
			t.Errorf("--top %s: exit %d, stderr %q; want exit 2 naming --top %s", top, code, stderr, top)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("%s written (%v)", out, err)
	}
}

// TestReportSeveralFiles checks report takes several flow files and
// several --alerts files (a fleet store, a rotated capture's files) into
// one page: it took one flow file and one alerts file.
func TestReportSeveralFiles(t *testing.T) {
	dir := t.TempDir()
	var flows, alerts []string
	for _, n := range []string{"a", "b"} {
		f, a := filepath.Join(dir, n+".jsonl"), filepath.Join(dir, n+"-alerts.jsonl")
		if code, _, stderr := runCLI(t, "replay", "-q", demoPcap, "-o", f, "--detect", "all", "--alerts", a); code != 0 {
			t.Fatalf("replay: exit %d: %s", code, stderr)
		}
		flows, alerts = append(flows, f), append(alerts, "--alerts", a)
	}
	out := filepath.Join(dir, "report.html")
	code, stdout, stderr := runCLI(t, append(append([]string{"report", "-o", out}, flows...), alerts...)...)
	if code != 0 {
		t.Fatalf("report: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "640 flows") {
		t.Errorf("report of two copies of the demo's 320 flows: %q", stdout)
	}
	if b, _ := os.ReadFile(out); !strings.Contains(string(b), "2 flow files: 640 flows") {
		t.Errorf("the page's header does not name 2 flow files of 640 flows")
	}
}

// TestReportFileListedTwice checks that a flow file or an alerts file
// named twice (the same name, a link, a hard link: overlapping globs do
// this) is read once, with a warning naming both, as replay reads a
// capture; report F F counted 640 flows of the demo's 320.
func TestReportFileListedTwice(t *testing.T) {
	dir := t.TempDir()
	flows, alerts := filepath.Join(dir, "flows.jsonl"), filepath.Join(dir, "alerts.jsonl")
	if code, _, stderr := runCLI(t, "replay", "-q", demoPcap, "-o", flows, "--detect", "all", "--alerts", alerts); code != 0 {
		t.Fatalf("replay: exit %d: %s", code, stderr)
	}
	out := filepath.Join(dir, "report.html")
	code, once, stderr := runCLI(t, "report", flows, "--alerts", alerts, "-o", out)
	if code != 0 || !strings.Contains(once, " 320 flows, ") {
		t.Fatalf("report of one file: exit %d, %q: %s", code, once, stderr)
	}
	link, hard, alink := filepath.Join(dir, "link.jsonl"), filepath.Join(dir, "hard.jsonl"), filepath.Join(dir, "alink.jsonl")
	if err := os.Symlink(flows, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(flows, hard); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(alerts, alink); err != nil {
		t.Fatal(err)
	}
	code, twice, stderr := runCLI(t, "report", flows, flows, link, hard, "--alerts", alerts, "--alerts", alink, "-o", out)
	if code != 0 || twice != once {
		t.Errorf("report of one file named four times: exit %d, %q; want %q", code, twice, once)
	}
	for _, want := range []string{
		`"flow file listed more than once, read once" file=` + hard + " first=" + flows,
		`"--alerts file listed more than once, read once" file=` + alink + " first=" + alerts,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q does not say %q", stderr, want)
		}
	}
	if b, _ := os.ReadFile(out); !strings.Contains(string(b), "flowhawk report: flows.jsonl") {
		t.Errorf("the page's title does not name the one flow file")
	}
	// An evaluation named twice is one model, not two to compare.
	eval := filepath.Join(dir, "eval.json")
	doc := `{"model":"m.json","kind":"rf","metrics":{"rows":10,"accuracy":0.9,"macro_f1":0.89,"labels":["a","b"],"confusion":[[5,0],[1,4]],` +
		`"per_class":[{"label":"a","precision":0.83,"recall":1,"f1":0.91,"support":5},{"label":"b","precision":1,"recall":0.8,"f1":0.89,"support":5}]}}`
	if err := os.WriteFile(eval, []byte(doc+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, evals, stderr := runCLI(t, "report", flows, "--eval", eval, "--eval", eval, "-o", out)
	if code != 0 || !strings.Contains(evals, " 1 evaluation\n") || !strings.Contains(stderr, `"--eval file listed more than once, read once"`) {
		t.Errorf("report with an evaluation named twice: exit %d, %q, %s; want 1 evaluation and a warning", code, evals, stderr)
	}
}

// TestReportAlertsAcrossFiles checks that a cause whose aggregated lines go
// on in the next alerts file (--rotate, collect's alerts-<time>.jsonl)
// adds what its running flowhawk.count grew by there: each file was read
// on its own, so the cause's whole count was added again (90 of 89).
func TestReportAlertsAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	line := func(ts string, count int) string {
		return fmt.Sprintf(`{"@timestamp":%q,"event":{"start":"2020-02-06T08:35:46Z"},"rule":{"name":"dns.dga"},`+
			`"source":{"ip":"192.168.220.56"},"flowhawk":{"detector":"dns","count":%d}}`+"\n", ts, count)
	}
	flows, early, late := filepath.Join(dir, "flows.jsonl"), filepath.Join(dir, "alerts-1.jsonl"), filepath.Join(dir, "alerts-2.jsonl")
	os.WriteFile(flows, nil, 0o644)
	os.WriteFile(early, []byte(line("2020-02-06T08:35:46Z", 1)), 0o644)
	os.WriteFile(late, []byte(line("2020-02-06T08:36:46Z", 89)), 0o644)
	out := filepath.Join(dir, "report.html")
	if code, _, stderr := runCLI(t, "report", flows, "--alerts", early, "--alerts", late, "-o", out); code != 0 {
		t.Fatalf("report: exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(out); !strings.Contains(string(b), "89 alert occurrences in 2 alert lines") {
		t.Errorf("the page's header does not say 89 alert occurrences in 2 alert lines: %s", regexp.MustCompile(`<p>.*</p>`).Find(b))
	}
}
