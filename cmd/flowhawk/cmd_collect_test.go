package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/parquet-go/parquet-go"

	"github.com/flowhawk/flowhawk/export/stream"
	"github.com/flowhawk/flowhawk/internal/natstest"
	"github.com/flowhawk/flowhawk/internal/syncbuf"
)

// TestMain lets a test run the test binary as the flowhawk command
// (FLOWHAWK_TEST_MAIN=1), so it can signal a real collect process.
func TestMain(m *testing.M) {
	if os.Getenv("FLOWHAWK_TEST_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// startCollect runs `flowhawk collect args...` as a process of its own.
func startCollect(t *testing.T, args ...string) (*exec.Cmd, *syncbuf.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"collect"}, args...)...)
	cmd.Env = append(os.Environ(), "FLOWHAWK_TEST_MAIN=1")
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, out
}

// consumerState is natstest.ConsumerState on collect's stream.
func consumerState(t *testing.T, js jetstream.JetStream, durable string) (pending uint64, unacked int) {
	t.Helper()
	return natstest.ConsumerState(t, js, "FLOWHAWK", durable)
}

// jsonLines returns the JSON documents of a JSON Lines file.
func jsonLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var out []map[string]any
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, m)
	}
	return out
}

// TestCollectSIGTERM is a fleet in one test: two sensors (flowhawk
// replay, one publishing JSON, one protobuf) publish flows and alerts to a
// real nats-server, a `flowhawk collect` process stores them, is stopped
// with SIGTERM, and must exit 0 with every flow in the Parquet files and
// every alert in the JSON Lines files exactly once, all acknowledged, so
// that a restarted collect stores nothing again.
func TestCollectSIGTERM(t *testing.T) {
	url := natstest.Start(t).URL()
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	args := []string{"--nats", url, "--dir", store, "--nats-create-stream", "--roll-interval", "1h", "--roll-rows", "100"}
	cmd, out := startCollect(t, args...)

	type sensor struct{ name, format string }
	sensors := []sensor{{"gw-a", "json"}, {"gw-b", "protobuf"}}
	wantPackets := map[string]float64{}
	wantAlerts := 0
	for _, s := range sensors {
		flows, alerts := filepath.Join(dir, s.name+".jsonl"), filepath.Join(dir, s.name+"-alerts.jsonl")
		code, _, errOut := runCLI(t, "replay", demoPcap, "-o", flows, "--detect", "all", "--alerts", alerts,
			"--nats", url, "--nats-create-stream", "--sensor", s.name, "--nats-format", s.format)
		if code != 0 || !strings.Contains(errOut, "dropped 0 records") {
			t.Fatalf("replay --sensor %s: exit %d:\n%s", s.name, code, errOut)
		}
		for _, f := range jsonLines(t, flows) {
			wantPackets[s.name] += f["Total Fwd Packets"].(float64) + f["Total Backward Packets"].(float64)
			wantPackets[s.name+" flows"]++
		}
		wantAlerts += len(jsonLines(t, alerts))
	}
	if wantAlerts == 0 {
		t.Fatal("the sensors raised no alerts: nothing to check alerts with")
	}

	// Once collect has been delivered everything, stop it.
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		pf, _ := consumerState(t, js, "flowhawk-parquet")
		pa, _ := consumerState(t, js, "flowhawk-parquet-alerts")
		if pf == 0 && pa == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("collect was not delivered every message in 30 s:\n%s", out.String())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("collect after SIGTERM: %v:\n%s", err, out.String())
	}
	summary := out.String()
	for _, want := range []string{"stopped by SIGTERM", fmt.Sprintf("flows      %d rows", int(wantPackets["gw-a flows"]+wantPackets["gw-b flows"])),
		fmt.Sprintf("alerts     %d alerts", wantAlerts), "nats       0 messages redelivered; 0 fetch or ack errors"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
	for _, d := range []string{"flowhawk-parquet", "flowhawk-parquet-alerts"} {
		if _, unacked := consumerState(t, js, d); unacked != 0 {
			t.Errorf("consumer %s: %d messages not acknowledged after collect stopped", d, unacked)
		}
	}

	check := func() {
		t.Helper()
		files, _ := filepath.Glob(filepath.Join(store, "flows-*.parquet"))
		if len(files) < 2 {
			t.Errorf("%d Parquet files; --roll-rows 100 should have closed some before SIGTERM", len(files))
		}
		seen := map[string]int{}
		gotPackets := map[string]float64{}
		for _, f := range files {
			rows, err := parquet.ReadFile[stream.FlowRow](f)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			for _, r := range rows {
				seen[fmt.Sprint(r.Sensor, "/", r.ID)]++
				gotPackets[r.Sensor] += float64(r.FwdPackets + r.BwdPackets)
				gotPackets[r.Sensor+" flows"]++
			}
		}
		for k, n := range seen {
			if n != 1 {
				t.Errorf("flow %s stored %d times", k, n)
			}
		}
		for k, v := range wantPackets {
			if gotPackets[k] != v {
				t.Errorf("%s: stored %v, the sensor wrote %v", k, gotPackets[k], v)
			}
		}
		alerts, _ := filepath.Glob(filepath.Join(store, "alerts-*.jsonl"))
		n := 0
		for _, f := range alerts {
			n += len(jsonLines(t, f))
		}
		if n != wantAlerts {
			t.Errorf("stored %d alerts, the sensors wrote %d", n, wantAlerts)
		}
		if tmp, _ := filepath.Glob(filepath.Join(store, "*.tmp")); len(tmp) > 0 {
			t.Errorf("unfinished files left: %v", tmp)
		}
	}
	check()
	// A restart finds nothing new: everything was acknowledged.
	cmd, out = startCollect(t, append(args, "--duration", "1500ms")...)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("second collect: %v:\n%s", err, out.String())
	}
	if s := out.String(); !strings.Contains(s, "flows      0 rows") || !strings.Contains(s, "alerts     0 alerts") || !strings.Contains(s, "stopped by --duration 1.5s") {
		t.Errorf("restarted collect stored again or did not stop by --duration:\n%s", s)
	}
	check()
}

// TestCollectErrors checks collect's usage errors (exit 2, naming the
// flag) and the errors it cannot start with (exit 1): a directory it
// cannot create, an unreachable broker named without its password, and a
// missing stream with the way to create it.
func TestCollectErrors(t *testing.T) {
	dir := t.TempDir()
	base := []string{"collect", "--nats", "nats://127.0.0.1:1", "--dir", dir}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"collect", "--dir", dir}, "no broker given (--nats URL)"},
		{[]string{"collect", "--nats", "nats://127.0.0.1:1"}, "no directory given (--dir DIR)"},
		{append(base, "extra"), `unexpected argument "extra"`},
		{append(base, "--roll-interval", "0"), "--roll-interval 0s"},
		{append(base, "--roll-rows", "0"), "--roll-rows 0"},
		{append(base, "--fetch", "-1"), "--fetch -1"},
		{append(base, "--ack-wait", "-1s"), "--ack-wait -1s"},
		{append(base, "--ack-wait", "1m"), "--ack-wait 1m0s: want 0 (the default) or more than --roll-interval 1m0s"},
		{append(base, "--duration", "-1s"), "--duration -1s"},
		{append(base, "--durable", "a.b"), `--durable "a.b"`},
		{append(base, "--nats-stream", "FLOW HAWK"), `--nats-stream "FLOW HAWK"`},
		{append(base, "--subject", "flowhawk..flows"), `--subject "flowhawk..flows"`},
		{append(base, "--subject", "flowhawk.>.flows"), `--subject "flowhawk.>.flows"`},
		{append(base, "--alerts-subject", "a*"), `--alerts-subject "a*"`},
		{append(base, "--alerts-subject", "flowhawk.*.flows"), "--subject and --alerts-subject"},
		{append(base, "--no-such-flag"), "unknown flag: --no-such-flag"},
	} {
		code, _, errOut := runCLI(t, c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 naming %q", strings.Join(c.args[1:], " "), code, errOut, c.want)
		}
	}
	// --no-alerts lets an alert subject through that would be refused.
	if code, _, errOut := runCLI(t, append(base, "--no-alerts", "--alerts-subject", "")...); code != 1 {
		t.Errorf("--no-alerts: exit %d, want 1 (the broker is unreachable): %s", code, errOut)
	}

	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, "collect", "--nats", "nats://127.0.0.1:1", "--dir", filepath.Join(notDir, "sub"))
	if code != 1 || strings.Count(errOut, "stream: directory "+filepath.Join(notDir, "sub")) != 1 {
		t.Errorf("directory under a file: exit %d, stderr %q; want exit 1 naming it once", code, errOut)
	}
	code, _, errOut = runCLI(t, "collect", "--nats", "nats://collector:s3cret@127.0.0.1:1", "--dir", dir)
	if code != 1 || strings.Contains(errOut, "s3cret") || strings.Count(errOut, "cannot connect to nats nats://collector:xxxxx@127.0.0.1:1") != 1 {
		t.Errorf("unreachable broker: exit %d, stderr %q; want exit 1 naming the URL once, without its password", code, errOut)
	}

	url := natstest.Start(t).URL()
	code, _, errOut = runCLI(t, "collect", "--nats", url, "--dir", dir)
	if code != 1 || !strings.Contains(errOut, "nats stream add FLOWHAWK") || !strings.Contains(errOut, "--nats-create-stream") {
		t.Errorf("missing stream: exit %d, stderr %q; want exit 1 saying how to create it", code, errOut)
	}
}

// TestCollectCrash kills a collect process (SIGKILL) while the flows it
// was delivered are in its open file: a restarted collect warns about the
// unfinished file, is delivered those messages again once --ack-wait has
// passed, and stores every flow exactly once in finished files.
func TestCollectCrash(t *testing.T) {
	url := natstest.Start(t).URL()
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	args := []string{"--nats", url, "--dir", store, "--nats-create-stream", "--no-alerts", "--roll-interval", "2s", "--ack-wait", "3s"}
	flows := filepath.Join(dir, "gw.jsonl")
	if code, _, errOut := runCLI(t, "replay", demoPcap, "-o", flows, "--nats", url, "--nats-create-stream", "--sensor", "gw"); code != 0 {
		t.Fatalf("replay: exit %d:\n%s", code, errOut)
	}
	want := len(jsonLines(t, flows))
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// waitFor waits until the durable has no message left to deliver and
	// the given number unacknowledged.
	waitFor := func(unacked func(int) bool, out *syncbuf.Buffer) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if p, u := consumerState(t, js, "flowhawk-parquet"); p == 0 && unacked(u) {
				return
			}
			if time.Now().After(deadline) {
				p, u := consumerState(t, js, "flowhawk-parquet")
				t.Fatalf("collect did not get there in 30 s (pending %d, unacked %d):\n%s", p, u, out.String())
			}
		}
	}
	cmd, out := startCollect(t, args...)
	waitFor(func(u int) bool { // all delivered, and the file open
		tmp, _ := filepath.Glob(filepath.Join(store, "flows-*.parquet.tmp"))
		return u > 0 && len(tmp) > 0
	}, out)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if tmp, _ := filepath.Glob(filepath.Join(store, "flows-*.parquet.tmp")); len(tmp) != 1 {
		t.Fatalf("after SIGKILL: unfinished files %v, want 1", tmp)
	}
	cmd, out = startCollect(t, args...)
	waitFor(func(u int) bool { return u == 0 }, out) // delivered again, stored, acknowledged
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("collect after SIGTERM: %v:\n%s", err, out.String())
	}
	s := out.String()
	if !strings.Contains(s, "unfinished files of an earlier run") || !strings.Contains(s, fmt.Sprintf("flows      %d rows", want)) {
		t.Errorf("restarted collect did not warn about the unfinished file or store %d flows:\n%s", want, s)
	}
	if strings.Contains(s, "nats       0 messages redelivered") {
		t.Errorf("the messages of the killed collect were not counted as redelivered:\n%s", s)
	}
	files, _ := filepath.Glob(filepath.Join(store, "flows-*.parquet"))
	seen := map[uint64]int{}
	for _, f := range files {
		rows, err := parquet.ReadFile[stream.FlowRow](f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, r := range rows {
			seen[r.ID]++
		}
	}
	if len(seen) != want {
		t.Errorf("stored %d distinct flows, the sensor wrote %d", len(seen), want)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("flow %d stored %d times", id, n)
		}
	}
}
