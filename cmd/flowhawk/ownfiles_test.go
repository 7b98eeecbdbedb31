package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
