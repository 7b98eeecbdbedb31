package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/export"
	"github.com/flowhawk/flowhawk/pipeline"
)

// TestOutputNotAnInput: an output naming one of the run's input files is
// a usage error naming both flags, and the input is left as it was. Each
// of these replaced its input and exited 0.
func TestOutputNotAnInput(t *testing.T) {
	dir := t.TempDir()
	// Named as each output may be named (report's -o: .html), so that the
	// input check is the one that refuses.
	in, page := filepath.Join(dir, "in.csv"), filepath.Join(dir, "in.html")
	const was = "10.0.0.1\n"
	for _, c := range []struct {
		args       []string
		out, input string // the flags the error names
	}{
		{[]string{"replay", "-q", demoPcap, "-o", "none", "--alerts", in, "--blocklist", in}, "--alerts", "--blocklist"},
		{[]string{"replay", "-q", demoPcap, "-o", in, "--detect", "dns", "--dga-allow", in}, "-o", "--dga-allow"},
		{[]string{"replay", "-q", demoPcap, "-o", "none", "--detect", "all", "--alerts", in, "--geoip", in}, "--alerts", "--geoip"},
		{[]string{"replay", "-q", demoPcap, "-o", in, "--model", in}, "-o", "--model"},
		{[]string{"replay", "-q", demoPcap, "-o", "none", "--model", in, "--cpuprofile", in}, "--cpuprofile", "--model"},
		{[]string{"replay", "-q", demoPcap, "-o", "none", "--blocklist", in, "--memprofile", in}, "--memprofile", "--blocklist"},
		{[]string{"replay", "-q", demoPcap, "-o", in, "--nats", "nats://127.0.0.1:1", "--nats-creds", in}, "-o", "--nats-creds"},
		{[]string{"dataset", "-q", "--label-rules", in, demoPcap, "-o", in}, "-o", "--label-rules"},
		{[]string{"train", "--data", in, "-o", in}, "-o", "--data"},
		{[]string{"train", "--data", demoPcap, "--test", in, "-o", in}, "-o", "--test"},
		{[]string{"train", in, "-o", in}, "-o", "--data"},
		{[]string{"predict", "--model", filepath.Join(dir, "m.json"), "--data", in, "-o", in}, "-o", "--data"},
		{[]string{"predict", "--model", in, "--data", demoPcap, "-o", in}, "-o", "--model"},
		{[]string{"report", page, "-o", page}, "-o", "flow file"},
		{[]string{"report", demoPcap, "--alerts", page, "-o", page}, "-o", "--alerts"},
		{[]string{"report", demoPcap, "--eval", page, "-o", page}, "-o", "--eval"},
	} {
		file := in
		if c.args[0] == "report" {
			file = page
		}
		if err := os.WriteFile(file, []byte(was), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := runCLI(t, c.args...)
		want := c.out + " " + file + " is the " + c.input
		if code != 2 || !strings.Contains(errOut, want) {
			t.Errorf("%v: exit %d, stderr %q; want a usage error saying %q", c.args, code, errOut, want)
		}
		if b, _ := os.ReadFile(file); string(b) != was {
			t.Errorf("%v: the input now holds %q", c.args, b)
		}
	}
	// A link to the input is the input too.
	link := filepath.Join(dir, "link")
	if err := os.Symlink(in, link); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "train", "--data", in, "-o", link); code != 2 || !strings.Contains(errOut, "is the --data file") {
		t.Errorf("train -o LINK: exit %d, stderr %q", code, errOut)
	}
}

// TestBadFirstCaptureKeepsOutput: a first input that is no capture (text,
// an empty file) fails before any output is created, so an existing -o
// file is left as it was; the run had truncated it to a header and
// reported the error.
func TestBadFirstCaptureKeepsOutput(t *testing.T) {
	dir := t.TempDir()
	text, empty := filepath.Join(dir, "t.pcap"), filepath.Join(dir, "e.pcap")
	os.WriteFile(text, []byte("notapcap\n"), 0o644)
	os.WriteFile(empty, nil, 0o644)
	rules := filepath.Join(dir, "rules.txt")
	os.WriteFile(rules, []byte("Attack proto=tcp\n"), 0o644)
	for _, ext := range []string{"csv", "jsonl", "parquet"} {
		out := filepath.Join(dir, "keep."+ext)
		for _, args := range [][]string{
			{"replay", text},
			{"replay", empty},
			{"replay", text, empty},
			{"replay", "--detect", "all", "--alerts", filepath.Join(dir, "alerts.jsonl"), empty},
			{"dataset", "--label-rules", rules, text},
		} {
			if err := os.WriteFile(out, []byte("earlier\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			code, _, errOut := runCLI(t, append(args, "-o", out)...)
			bad := text
			if slices.Contains(args, empty) {
				bad = empty
			}
			if code != 1 || !strings.Contains(errOut, bad+": offset 0") {
				t.Errorf("%v -o %s: exit %d, stderr %q; want exit 1 naming the file", args, out, code, errOut)
			}
			if b, _ := os.ReadFile(out); string(b) != "earlier\n" {
				t.Errorf("%v -o %s: the output now holds %d bytes", args, out, len(b))
			}
		}
	}
	// A bad file before or after a good one ends only itself: the good
	// one's flows are written, and the bad one named (a directory of good
	// and bad captures is read whatever order they sort in).
	for _, order := range [][]string{{demoPcap, text}, {text, demoPcap}} {
		out := filepath.Join(dir, "later.csv")
		os.Remove(out)
		code, _, errOut := runCLI(t, append(append([]string{"replay", "-q"}, order...), "-o", out)...)
		if b, _ := os.ReadFile(out); code != 1 || !strings.Contains(errOut, text) || strings.Count(string(b), "\n") < 2 {
			t.Errorf("replay %v: exit %d, %d bytes written, stderr %q", order, code, len(b), errOut)
		}
	}
}

// TestQuietNamesEveryBadFile: with -q, every file that ended in an error
// is named on stderr with its offset, one line each; only the first was,
// the others only in the summary -q leaves out.
func TestQuietNamesEveryBadFile(t *testing.T) {
	data, err := os.ReadFile(demoPcap)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	os.Mkdir(in, 0o755)
	var bad []string
	for i := range 5 {
		p := filepath.Join(in, fmt.Sprintf("cut%d.pcap", i))
		if err := os.WriteFile(p, data[:len(data)/2+7+i], 0o644); err != nil {
			t.Fatal(err)
		}
		bad = append(bad, p)
	}
	for _, q := range []string{"-q", "--quiet=false"} {
		code, _, errOut := runCLI(t, "replay", q, in, "-o", filepath.Join(dir, "x.csv"))
		if code != 1 {
			t.Errorf("%s: exit %d, want 1", q, code)
		}
		for _, p := range bad {
			if n := strings.Count(errOut, p+": offset "); n != 1 && q == "-q" || n == 0 {
				t.Errorf("%s: %s named with its offset %d times in stderr:\n%s", q, p, n, errOut)
			}
		}
	}
}

// TestOutputExtensionChecked: predict writes CSV and report HTML, whatever
// -o is called; a name saying another format is a usage error, and the
// file is left alone (predict -o p.parquet wrote CSV text into it).
func TestOutputExtensionChecked(t *testing.T) {
	dir := t.TempDir()
	flows := filepath.Join(dir, "flows.csv")
	if code, _, errOut := runCLI(t, "replay", "-q", demoPcap, "-o", flows); code != 0 {
		t.Fatalf("replay: exit %d: %s", code, errOut)
	}
	for _, c := range []struct {
		cmd, out, want string
	}{
		{"predict", "p.parquet", "predict writes CSV; give a .csv file"},
		{"predict", "p.jsonl", "predict writes CSV; give a .csv file"},
		{"report", "r.csv", "report writes HTML; give a .html or .htm file"},
		{"report", "r", "report writes HTML; give a .html or .htm file"},
	} {
		out := filepath.Join(dir, c.out)
		os.WriteFile(out, []byte("earlier"), 0o644)
		args := []string{"report", flows, "-o", out}
		if c.cmd == "predict" {
			args = []string{"predict", "--model", "../../testdata/model.json", "--data", flows, "-o", out}
		}
		code, _, errOut := runCLI(t, args...)
		if want := "-o " + out + ": " + c.want; code != 2 || !strings.Contains(errOut, want) {
			t.Errorf("%s -o %s: exit %d, stderr %q; want a usage error saying %q", c.cmd, c.out, code, errOut, want)
		}
		if b, _ := os.ReadFile(out); string(b) != "earlier" {
			t.Errorf("%s -o %s: the file now holds %d bytes", c.cmd, c.out, len(b))
		}
	}
	// What they write passes: .csv, .HTM, standard output, a device.
	for _, args := range [][]string{
		{"predict", "--model", "../../testdata/model.json", "--data", flows, "-o", filepath.Join(dir, "P.CSV")},
		{"predict", "--model", "../../testdata/model.json", "--data", flows, "-o", os.DevNull},
		{"report", flows, "-o", filepath.Join(dir, "r.HTM")},
		{"report", flows, "-o", os.DevNull},
	} {
		if code, _, errOut := runCLI(t, args...); code != 0 {
			t.Errorf("%v: exit %d: %s", args, code, errOut)
		}
	}
	code, out, errOut := runCLI(t, "report", flows, "-o", "-")
	if code != 0 || !strings.HasPrefix(out, "<!DOCTYPE html>") || !strings.Contains(errOut, "wrote -") {
		t.Errorf("report -o -: exit %d, stdout starts %q, stderr %q", code, out[:min(len(out), 40)], errOut)
	}
}

// TestOutputDirCheckedFirst: train and report write their file at the
// end; an -o they cannot write fails first, naming the flag. train -o
// /nonexistent/m.json trained fully, then said only "open ...".
func TestOutputDirCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data.csv")
	os.WriteFile(data, []byte("a,b,Label\n1,2,x\n3,4,y\n"), 0o644)
	missing := filepath.Join(dir, "nonexistent", "m.json")
	code, _, errOut := runCLI(t, "train", "--data", data, "-o", missing)
	if want := "-o " + missing + ": cannot create a file in " + filepath.Dir(missing) + ": no such file or directory"; code != 1 || !strings.Contains(errOut, want) || strings.Contains(errOut, "training") {
		t.Errorf("train -o %s: exit %d, stderr %q; want %q before training", missing, code, errOut, want)
	}
	code, _, errOut = runCLI(t, "train", "--data", data, "-o", dir)
	if want := "-o " + dir + ": is a directory"; code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("train -o DIR: exit %d, stderr %q; want %q", code, errOut, want)
	}
	page := filepath.Join(dir, "nonexistent", "r.html")
	code, _, errOut = runCLI(t, "report", demoPcap, "-o", page)
	if want := "-o " + page + ": cannot create a file in"; code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("report -o %s: exit %d, stderr %q; want %q", page, code, errOut, want)
	}
	// Writable: trained and written, and no probe file left beside it.
	m := filepath.Join(dir, "m.json")
	if code, _, errOut := runCLI(t, "train", "--data", data, "--model", "dt", "-o", m); code != 0 {
		t.Fatalf("train: exit %d: %s", code, errOut)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".m.json*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestReportFileMode: a report page lists the top addresses, so it is
// created as private as the flow files (export.FileMode less the umask);
// it was 0666 less the umask, world-readable under the usual 022.
func TestReportFileMode(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	flows, page := filepath.Join(dir, "flows.csv"), filepath.Join(dir, "r.html")
	if code, _, errOut := runCLI(t, "replay", "-q", demoPcap, "-o", flows); code != 0 {
		t.Fatalf("replay: exit %d: %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "report", flows, "-o", page); code != 0 {
		t.Fatalf("report: exit %d: %s", code, errOut)
	}
	st, err := os.Stat(page)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.Mode().Perm(), os.FileMode(export.FileMode)&^0o022; got != want {
		t.Errorf("report page mode %o, want %o", got, want)
	}
}

// TestDataErrorNamesFileOnce: a broken Parquet data file is named once in
// the error of every command reading data; it was named twice
// ("cut.parquet: cut.parquet: export: parquet: invalid magic footer").
func TestDataErrorNamesFileOnce(t *testing.T) {
	dir := t.TempDir()
	whole := filepath.Join(dir, "f.parquet")
	if code, _, errOut := runCLI(t, "replay", "-q", demoPcap, "-o", whole); code != 0 {
		t.Fatalf("replay: exit %d: %s", code, errOut)
	}
	b, err := os.ReadFile(whole)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.parquet")
	os.WriteFile(cut, b[:3000], 0o644)
	model := "../../testdata/model.json"
	for _, args := range [][]string{
		{"predict", "--model", model, "--data", cut, "-o", filepath.Join(dir, "p.csv")},
		{"eval", "--model", model, "--data", cut},
		{"importance", "--model", model, "--data", cut},
		{"train", "--data", cut, "-o", filepath.Join(dir, "m.json")},
		{"cv", "--data", cut},
	} {
		code, _, errOut := runCLI(t, args...)
		if code != 1 || strings.Count(errOut, cut) != 1 || !strings.Contains(errOut, "flowhawk "+args[0]+": "+cut+": ") {
			t.Errorf("%v: exit %d, stderr %q; want the file named once", args, code, errOut)
		}
	}
}

// TestReplaySummarySkippedBlocks: the pcapng blocks skipped (here a name
// resolution block) are counted in the summary; the count was kept but
// never printed.
func TestReplaySummarySkippedBlocks(t *testing.T) {
	le := binary.LittleEndian
	var b []byte
	block := func(typ uint32, body []byte) {
		n := uint32(12 + len(body))
		b = le.AppendUint32(b, typ)
		b = le.AppendUint32(b, n)
		b = append(b, body...)
		b = le.AppendUint32(b, n)
	}
	shb := le.AppendUint32(nil, 0x1a2b3c4d)
	shb = le.AppendUint16(shb, 1)
	shb = le.AppendUint16(shb, 0)
	shb = le.AppendUint64(shb, ^uint64(0)) // section length unknown
	block(0x0a0d0d0a, shb)
	block(1, []byte{1, 0, 0, 0, 0, 0, 0, 0})    // Ethernet, no snap length
	block(4, []byte{0, 0, 0, 0})                // name resolution: end of records
	block(0x40000bad, []byte{0xad, 0xde, 0, 0}) // custom (copiable)
	p := filepath.Join(t.TempDir(), "blocks.pcapng")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, "replay", p, "-o", "none")
	if code != 0 || !strings.Contains(errOut, "skipped    2 pcapng blocks that carry no packet") {
		t.Errorf("exit %d, summary:\n%s", code, errOut)
	}
	if _, _, errOut := runCLI(t, "replay", demoPcap, "-o", "none"); strings.Contains(errOut, "pcapng blocks") {
		t.Errorf("a pcap file's summary counts pcapng blocks:\n%s", errOut)
	}
}

// TestModelAndTrainFlagErrors: a model file that cannot be read is named
// with its flag (replay said "open nosuch.json: ..."), and a --format or
// --class-weight no reader or model knows is a usage error before any
// data is read (exit 1, after reading, before).
func TestModelAndTrainFlagErrors(t *testing.T) {
	dir := t.TempDir()
	nosuch := filepath.Join(dir, "nosuch.json")
	notModel := filepath.Join(dir, "notmodel.json")
	os.WriteFile(notModel, []byte(`{"format":"other"}`), 0o644)
	for _, args := range [][]string{
		{"replay", "-q", "--model", nosuch, demoPcap, "-o", "none"},
		{"predict", "--model", nosuch, "--data", demoPcap},
		{"eval", "--model", nosuch, "--data", demoPcap},
		{"importance", "--model", nosuch},
	} {
		code, _, errOut := runCLI(t, args...)
		if want := "--model " + nosuch + ": no such file or directory"; code != 1 || !strings.Contains(errOut, want) || strings.Count(errOut, nosuch) != 1 {
			t.Errorf("%v: exit %d, stderr %q; want %q", args, code, errOut, want)
		}
	}
	code, _, errOut := runCLI(t, "replay", "-q", "--model", notModel, demoPcap, "-o", "none")
	if want := "--model " + notModel + ": not a flowhawk model file"; code != 1 || !strings.Contains(errOut, want) || strings.Count(errOut, notModel) != 1 {
		t.Errorf("replay --model NOTMODEL: exit %d, stderr %q; want %q", code, errOut, want)
	}
	data := filepath.Join(dir, "data.csv")
	os.WriteFile(data, []byte("a,b,Label\n1,2,x\n3,4,y\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--format", "foo", "--data", data, "-o", filepath.Join(dir, "m.json")}, `--format "foo": want one of auto, flowhawk`},
		{[]string{"eval", "--format", "foo", "--data", data}, `--format "foo"`},
		{[]string{"train", "--class-weight", "foo", "--data", data, "-o", filepath.Join(dir, "m.json")}, `--class-weight "foo": want none or balanced`},
		{[]string{"cv", "--class-weight", "foo", "--data", data}, `--class-weight "foo": want none or balanced`},
		// Refused before the data is read (a missing file here), not after.
		{[]string{"train", "--model", "rf", "--trees", "-1", "--data", filepath.Join(dir, "nosuch.csv"), "-o", filepath.Join(dir, "m.json")}, "--trees -1: must be at least 1"},
		{[]string{"cv", "--trees", "-1", "--data", filepath.Join(dir, "nosuch.csv")}, "--trees -1: must be at least 1"},
		{[]string{"cv", "--models", "rf,foo", "--data", filepath.Join(dir, "nosuch.csv")}, `--models "foo"`},
	} {
		code, _, errOut := runCLI(t, c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want a usage error saying %q", c.args, code, errOut, c.want)
		}
	}
	// The formats the reader takes still pass.
	if code, _, errOut := runCLI(t, "train", "--format", "csv", "--model", "dt", "--data", data, "-o", filepath.Join(dir, "m.json")); code != 0 {
		t.Errorf("train --format csv: exit %d: %s", code, errOut)
	}
}

// TestOutputCheckFIFO: checking that -o can be written does not open a
// FIFO, whose open would wait for a reader before the run even started.
func TestOutputCheckFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "m.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip(err)
	}
	done := make(chan error, 1)
	go func() { done <- checkWritable("-o", fifo) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("checkWritable(FIFO) = %v", err)
		}
	case <-time.After(5 * time.Second):
		// Unblock the open, so the test ends.
		if f, err := os.OpenFile(fifo, os.O_RDONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("checkWritable waited on the FIFO")
	}
}

// TestFailedStartKeepsExistingOutput: a start that fails on either of -o
// and --alerts leaves the other file as it was. The flow file was
// created (emptied) before the alert file was opened, so an --alerts in a
// missing directory emptied the last run's flows; an alert file made for
// a failed start is not left behind either.
func TestFailedStartKeepsExistingOutput(t *testing.T) {
	dir := t.TempDir()
	before := []byte("old,rows\n1,2\n3,4\n")
	open := func(args ...string) error {
		var ff flowFlags
		fs := newFlagSet("replay", "", io.Discard, io.Discard)
		addFlowFlags(fs, &ff, true)
		if err := parseFlags(fs, args); err != nil {
			t.Fatal(err)
		}
		cfg := pipeline.Config{Features: ff.featureConfig()}
		o, err := ff.openOutputs(&cfg, nil, io.Discard, io.Discard)
		if err == nil {
			o.abort()
		}
		return err
	}
	out := filepath.Join(dir, "flows.csv")
	os.WriteFile(out, before, 0o640)
	if err := open("-o", out, "--detect", "all", "--alerts", filepath.Join(dir, "missing", "alerts.jsonl")); err == nil {
		t.Fatal("an alert file in a missing directory opened")
	}
	if after, _ := os.ReadFile(out); string(after) != string(before) {
		t.Errorf("a start that failed on --alerts replaced the -o file: %.80q", after)
	}
	alerts := filepath.Join(dir, "alerts.jsonl")
	os.WriteFile(alerts, before, 0o640)
	if err := open("-o", filepath.Join(dir, "missing", "flows.csv"), "--detect", "all", "--alerts", alerts); err == nil {
		t.Fatal("a flow file in a missing directory opened")
	}
	if after, _ := os.ReadFile(alerts); string(after) != string(before) {
		t.Errorf("a start that failed on -o replaced the --alerts file: %.80q", after)
	}
	fresh := filepath.Join(dir, "fresh.jsonl")
	if err := open("-o", filepath.Join(dir, "missing", "flows.csv"), "--detect", "all", "--alerts", fresh); err == nil {
		t.Fatal("a flow file in a missing directory opened")
	}
	if _, err := os.Stat(fresh); err == nil {
		t.Errorf("a start that failed on -o left the alert file it created")
	}
	// A start that succeeds empties the alert file as before.
	if err := open("-o", out, "--detect", "all", "--alerts", alerts); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(alerts); len(after) != 0 {
		t.Errorf("--alerts file kept %q", after)
	}
}

// TestOwnFilesThroughSymlinkedDir: -o and --alerts naming one file not
// there yet through a linked directory are refused: both outputs opened
// the same file, and alerts overwrote flow rows at their offsets.
func TestOwnFilesThroughSymlinkedDir(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	os.Mkdir(real, 0o755)
	alias := filepath.Join(dir, "alias")
	if err := os.Symlink(real, alias); err != nil {
		t.Fatal(err)
	}
	if err := checkOwnFiles([]namedPath{{"-o", filepath.Join(real, "out.jsonl")}, {"--alerts", filepath.Join(alias, "out.jsonl")}}, nil); err == nil {
		t.Errorf("-o real/out.jsonl and --alerts alias/out.jsonl (alias a link to real) accepted")
	}
	if err := checkOwnFiles([]namedPath{{"-o", filepath.Join(real, "out.jsonl")}, {"--alerts", filepath.Join(alias, "alerts.jsonl")}}, nil); err != nil {
		t.Errorf("two names in one directory refused: %v", err)
	}
}
