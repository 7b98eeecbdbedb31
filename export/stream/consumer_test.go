package stream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/parquet-go/parquet-go"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/flowhawk/flowhawk/export/report"
	"github.com/flowhawk/flowhawk/internal/natstest"
)

// runConsumer runs f until until() holds (or 30 s pass), then cancels it
// and returns its stats.
func runConsumer(t *testing.T, f func(context.Context) (ConsumeStats, error), until func() bool) ConsumeStats {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan ConsumeStats, 1)
	go func() {
		st, err := f(ctx)
		if err != nil {
			t.Error(err)
		}
		done <- st
	}()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && !until(); time.Sleep(20 * time.Millisecond) {
	}
	cancel()
	return <-done
}

// consumeResult is what ConsumeToParquet returned.
type consumeResult struct {
	st  ConsumeStats
	err error
}

// startConsumer runs ConsumeToParquet(cfg) until cancel (also called when
// the test ends), for tests that act on the broker while it runs and read
// its result, error included, from done.
func startConsumer(t *testing.T, cfg ParquetConfig) (cancel func(), done <-chan consumeResult) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ch := make(chan consumeResult, 1)
	go func() {
		st, err := ConsumeToParquet(ctx, cfg)
		ch <- consumeResult{st, err}
	}()
	return cancel, ch
}

// storedAlerts reads every alert line of the alerts-*.jsonl files in dir.
func storedAlerts(t *testing.T, dir string) []map[string]any {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "alerts-*.jsonl"))
	var out []map[string]any
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			var a map[string]any
			if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
				t.Fatalf("%s: %v: %q", f, err, sc.Text())
			}
			out = append(out, a)
		}
		fh.Close()
	}
	return out
}

// TestConsumeAlerts publishes alerts and flows from two sensors and stores
// the alerts with ConsumeAlerts: every alert lands once in alerts-*.jsonl,
// no flow does, and a restarted consumer stores only what came after.
// Stored files are not readable by other users (0640 less the umask, as
// flowhawk's flow files); the Parquet consumer made them 0644.
func TestConsumeAlerts(t *testing.T) {
	srv := natstest.Start(t)
	publish := func(sensor string, from, n int) {
		p, err := New(Config{URL: srv.URL(), Sensor: sensor, CreateStream: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range synthFlows(n, from) {
			p.Export(f, nil, "")
		}
		for i := from; i < from+n; i++ {
			p.Alert([]byte(fmt.Sprintf(`{"@timestamp":"2026-11-23T10:00:00Z","rule":{"name":"portscan"},"flowhawk":{"seq":%d}}`+"\n", i)))
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(t.TempDir(), "store") // created by the consumer
	cfg := AlertsConfig{URL: srv.URL(), Dir: dir, MaxRows: 7, Rotate: time.Hour}
	run := func(want int) ConsumeStats {
		return runConsumer(t, func(ctx context.Context) (ConsumeStats, error) { return ConsumeAlerts(ctx, cfg) },
			func() bool { return len(storedAlerts(t, dir)) >= want })
	}
	publish("gw-a", 1, 50)
	first := run(50)
	publish("gw-b", 51, 30)
	second := run(80)
	if first.Rows != 50 || second.Rows != 30 || first.Bad+second.Bad != 0 {
		t.Errorf("runs stored %d then %d alerts (%d bad), want 50 then 30", first.Rows, second.Rows, first.Bad+second.Bad)
	}
	seen := map[int]int{}
	for _, a := range storedAlerts(t, dir) {
		fh, _ := a["flowhawk"].(map[string]any)
		seq, ok := fh["seq"].(float64)
		if !ok {
			t.Fatalf("stored line is not one of the alerts: %v", a)
		}
		seen[int(seq)]++
	}
	for i := 1; i <= 80; i++ {
		if seen[i] != 1 {
			t.Errorf("alert %d stored %d times", i, seen[i])
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(filepath.Base(f), "alerts-") || !strings.HasSuffix(f, ".jsonl") {
			t.Errorf("unexpected file %s", f)
		}
		if fi.Mode().Perm()&0o007 != 0 {
			t.Errorf("%s has mode %v: alerts are not for other users", f, fi.Mode().Perm())
		}
	}
}

// TestConsumerErrors checks what a consumer says when it cannot start: a
// directory it cannot write, an unreachable broker (named without its
// password), a missing stream (with how to create it), and that it uses
// credentials given outside the URL: ConsumeToParquet had no fields for
// them, and its errors showed the URL's password.
func TestConsumerErrors(t *testing.T) {
	ctx := context.Background()
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ConsumeToParquet(ctx, ParquetConfig{URL: "nats://127.0.0.1:1", Dir: filepath.Join(notDir, "sub")}); err == nil || !strings.Contains(err.Error(), notDir) {
		t.Errorf("directory under a file: %v, want an error naming it", err)
	}
	_, err := ConsumeToParquet(ctx, ParquetConfig{URL: "nats://collector:s3cret@127.0.0.1:1", Dir: t.TempDir()})
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "127.0.0.1:1") || !strings.Contains(err.Error(), "cannot connect") {
		t.Errorf("unreachable broker: %v, want an error naming the URL without its password", err)
	}

	srv := natstest.Start(t, "--user", "collector", "--pass", "s3cret")
	cfg := ParquetConfig{URL: srv.URL(), User: "collector", Password: "s3cret", Dir: t.TempDir(), MaxRows: 1}
	_, err = ConsumeToParquet(ctx, cfg)
	if err == nil || !strings.Contains(err.Error(), "nats stream add FLOWHAWK") || !strings.Contains(err.Error(), "--nats-create-stream") {
		t.Errorf("missing stream: %v, want how to create it", err)
	}
	_, err = ConsumeToParquet(ctx, ParquetConfig{URL: srv.URL(), Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "refused the credentials") || !strings.Contains(err.Error(), "FLOWHAWK_NATS_USER") {
		t.Errorf("no credentials: %v, want a hint about them", err)
	}
	missing := filepath.Join(t.TempDir(), "nats.creds")
	_, err = ConsumeToParquet(ctx, ParquetConfig{URL: srv.URL(), CredsFile: missing, Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), missing) || strings.Contains(err.Error(), "broker up") {
		t.Errorf("missing .creds file: %v, want an error naming it, not blaming the broker", err)
	}
	// CreateStream sets the stream up; the sensor, retrying until it is
	// there, then delivers its flows.
	cfg.CreateStream = true
	p, err := New(Config{URL: srv.URL(), User: "collector", Password: "s3cret", Sensor: "gw1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range synthFlows(5, 1) {
		p.Export(f, nil, "")
	}
	defer p.Close()
	st := runConsumer(t, func(ctx context.Context) (ConsumeStats, error) {
		return ConsumeToParquet(ctx, cfg)
	}, func() bool {
		files, _ := filepath.Glob(filepath.Join(cfg.Dir, "flows-*.parquet"))
		n := 0
		for _, f := range files {
			rows, err := parquet.ReadFile[FlowRow](f)
			if err == nil {
				n += len(rows)
			}
		}
		return n >= 5
	})
	if st.Rows != 5 || st.Files == 0 {
		t.Errorf("with credentials and CreateStream: %+v, want 5 rows in a file", st)
	}
	// Named by the UTC time they were opened, to the nanosecond, with
	// capture --rotate's Z.
	files, _ := filepath.Glob(filepath.Join(cfg.Dir, "*"))
	for _, f := range files {
		if !regexp.MustCompile(`^flows-\d{8}T\d{6}\.\d{9}Z\.parquet$`).MatchString(filepath.Base(f)) {
			t.Errorf("file %s: want flows-YYYYMMDDTHHMMSS.nnnnnnnnnZ.parquet", filepath.Base(f))
		}
	}
}

// TestConsumerSurvivesBrokerRestart restarts the broker under a running
// consumer, once cleanly (SIGTERM, as an upgrade does) and once killed
// (SIGKILL, as a crash), each time with flows in the consumer's open file
// and more published after: the consumer reconnects and stores every flow.
// Exactly once is not the broker's promise here: nats-server (2.9.10)
// writes a consumer's state lazily, and in one run of six, even stopped
// cleanly, it came back with the consumer (then under a second old) as
// created, nothing delivered or acknowledged, and delivered every message
// again as new, so flows were stored twice. None may be lost.
func TestConsumerSurvivesBrokerRestart(t *testing.T) {
	for _, crash := range []bool{false, true} {
		t.Run(map[bool]string{false: "sigterm", true: "sigkill"}[crash], func(t *testing.T) {
			srv := natstest.Start(t)
			publish := func(from, n int) {
				publishSynth(t, Config{URL: srv.URL(), Sensor: "gw1", CreateStream: true, CloseTimeout: 30 * time.Second}, from, n)
			}
			dir := t.TempDir()
			cfg := ParquetConfig{URL: srv.URL(), Dir: dir, Rotate: 300 * time.Millisecond, Fetch: 4}
			stored := func() map[uint64]int { return storedIDs(t, dir) }
			publish(1, 1000)
			restarted := false
			st := runConsumer(t, func(ctx context.Context) (ConsumeStats, error) { return ConsumeToParquet(ctx, cfg) }, func() bool {
				n := len(stored())
				if !restarted && n > 0 {
					// Flows the consumer holds in an open file,
					// unacknowledged, when the broker goes; more after it
					// is back.
					publish(1001, 500)
					time.Sleep(100 * time.Millisecond)
					if crash {
						srv.Kill()
					} else {
						srv.Stop()
					}
					time.Sleep(500 * time.Millisecond)
					srv.Start()
					publish(1501, 500)
					restarted = true
				}
				return restarted && n >= 2000
			})
			seen := stored()
			dups := 0
			for id := uint64(1); id <= 2000; id++ {
				switch {
				case seen[id] == 0:
					t.Fatalf("flow %d lost (%d of 2000 stored; %+v)", id, len(seen), st)
				case seen[id] > 1:
					dups += seen[id] - 1
				}
			}
			t.Logf("stats %+v; %d flows stored twice", st, dups)
		})
	}
}

// TestDecodeFlowJSON checks an alert line (as a --subject of flowhawk.>
// delivers) is refused as a flow record instead of stored as a row of
// zeros, and a flow record is read.
func TestDecodeFlowJSON(t *testing.T) {
	alert := `{"@timestamp":"2026-12-05T08:00:00Z","rule":{"name":"portscan.horizontal"},"source":{"ip":"10.0.0.5"}}`
	if _, err := decodeFlowJSON([]byte(alert)); err == nil {
		t.Error("an alert line was taken for a flow record")
	}
	flow := `{"sensor":"gw1","flow_id":1,"start":"2026-12-05T08:00:00Z","src_ip":"10.0.0.5","dst_ip":"10.0.0.9","proto":6}`
	if r, err := decodeFlowJSON([]byte(flow)); err != nil || r.SrcIP != "10.0.0.5" {
		t.Errorf("flow record: %+v, %v", r, err)
	}
}

// TestConsumerSubjectChanged stores one sensor's flows under a durable,
// then starts the same durable on every sensor's subject: the start fails,
// naming both subjects and --durable. JetStream took the new filter and
// nats-server (2.9.10) then delivered none of the other sensors' flows,
// those published before or after, so nothing more was stored.
func TestConsumerSubjectChanged(t *testing.T) {
	srv := natstest.Start(t)
	p, err := New(Config{URL: srv.URL(), Sensor: "gw1", CreateStream: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range synthFlows(3, 1) {
		p.Export(f, nil, "")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := ParquetConfig{URL: srv.URL(), Dir: t.TempDir(), Durable: "store", Subject: FlowSubject("gw1"), Rotate: 50 * time.Millisecond}
	st := runConsumer(t, func(ctx context.Context) (ConsumeStats, error) { return ConsumeToParquet(ctx, cfg) },
		func() bool {
			files, _ := filepath.Glob(filepath.Join(cfg.Dir, "flows-*.parquet"))
			return len(files) > 0
		})
	if st.Rows != 3 {
		t.Fatalf("first run stored %d rows, want 3", st.Rows)
	}
	cfg.Subject = "flowhawk.*.flows"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = ConsumeToParquet(ctx, cfg)
	if err == nil || !strings.Contains(err.Error(), FlowSubject("gw1")) || !strings.Contains(err.Error(), "flowhawk.*.flows") || !strings.Contains(err.Error(), "--durable") {
		t.Errorf("same durable on another subject: %v, want an error naming both subjects and --durable", err)
	}
	// A durable made without a filter (nats consumer add) is one of every
	// subject, and said so.
	js := jsConnect(t, srv.URL())
	if _, err := js.CreateOrUpdateConsumer(ctx, "FLOWHAWK", jetstream.ConsumerConfig{Durable: "bare", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	cfg.Durable = "bare"
	if _, err = ConsumeToParquet(ctx, cfg); err == nil || !strings.Contains(err.Error(), "stores every subject of the stream, not flowhawk.*.flows") {
		t.Errorf("durable without a filter: %v, want it named as storing every subject", err)
	}
}

// TestConsumerCountsStoredRowsOnly removes the store directory under a
// consumer with flows in its open file: the file cannot be renamed into
// place, the run fails, and its stats count no row, message or file. They
// counted every row fetched, so collect's summary said "5 rows in 0
// files" of flows it had not stored (nor acknowledged).
func TestConsumerCountsStoredRowsOnly(t *testing.T) {
	srv := natstest.Start(t)
	p, err := New(Config{URL: srv.URL(), Sensor: "gw1", CreateStream: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range synthFlows(5, 1) {
		p.Export(f, nil, "")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "store")
	cfg := ParquetConfig{URL: srv.URL(), Dir: dir, Rotate: time.Hour}
	cancel, done := startConsumer(t, cfg)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if tmp, _ := filepath.Glob(filepath.Join(dir, "flows-*.parquet.tmp")); len(tmp) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no open file after 30 s")
		}
	}
	time.Sleep(200 * time.Millisecond) // the fetched batch is written
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	cancel()
	r := <-done
	if r.err == nil {
		t.Fatal("the file could not be renamed into place, yet no error")
	}
	if r.st.Rows != 0 || r.st.Messages != 0 || r.st.Files != 0 {
		t.Errorf("stats %+v after storing nothing, want no rows, messages or files", r.st)
	}
}

// TestConsumerStoresDeliveredAtStop stops a consumer as soon as the server
// counts every message as delivered to it, before any file is full: what
// the client holds must still be stored and acknowledged, or it would come
// back only after AckWait (hours with collect's defaults).
func TestConsumerStoresDeliveredAtStop(t *testing.T) {
	srv := natstest.Start(t)
	p, err := New(Config{URL: srv.URL(), Sensor: "gw-a", CreateStream: true, MaxRecords: 1})
	if err != nil {
		t.Fatal(err)
	}
	const n = 300 // more than one pull of 256
	for i := range n {
		p.Alert([]byte(fmt.Sprintf(`{"@timestamp":"2026-11-23T10:00:00Z","rule":{"name":"portscan"},"flowhawk":{"seq":%d}}`+"\n", i)))
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	js := jsConnect(t, srv.URL())
	state := func() (pending uint64, unacked int) {
		return natstest.ConsumerState(t, js, "FLOWHAWK", "flowhawk-parquet-alerts")
	}
	dir := t.TempDir()
	cfg := AlertsConfig{URL: srv.URL(), Dir: dir, MaxRows: 10 * n, Rotate: time.Hour}
	st := runConsumer(t, func(ctx context.Context) (ConsumeStats, error) { return ConsumeAlerts(ctx, cfg) },
		func() bool { pending, _ := state(); return pending == 0 })
	if got := len(storedAlerts(t, dir)); got != n || st.Rows != n || st.Messages != n {
		t.Errorf("stored %d alerts (stats: %d rows from %d messages), want %d", got, st.Rows, st.Messages, n)
	}
	if _, unacked := state(); unacked != 0 {
		t.Errorf("%d messages not acknowledged after the consumer stopped", unacked)
	}
}

// TestConsumerDurableDeleted deletes the durable under a running
// consumer, and then its stream (created again, or not): the consumer
// creates the durable again and stores what is published after, and fails
// naming the stream once it stays missing. It stored nothing more, said
// nothing (after the stream's deletion) and never exited, so a service
// manager never restarted it.
func TestConsumerDurableDeleted(t *testing.T) {
	defer func(c, g time.Duration) { checkEvery, streamGoneWait = c, g }(checkEvery, streamGoneWait)
	checkEvery, streamGoneWait = 200*time.Millisecond, 2*time.Second
	for _, what := range []string{"consumer", "stream", "stream gone"} {
		t.Run(what, func(t *testing.T) {
			srv := natstest.Start(t)
			publish := func(from, n int) { publishSynth(t, Config{URL: srv.URL(), Sensor: "gw1", CreateStream: true}, from, n) }
			dir := t.TempDir()
			stored := func() map[uint64]int { return storedIDs(t, dir) }
			publish(1, 5)
			cfg := ParquetConfig{URL: srv.URL(), Dir: dir, Rotate: 200 * time.Millisecond}
			cancel, done := startConsumer(t, cfg)
			waitFor := func(what string, ok func() bool) {
				t.Helper()
				for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("%s not stored after 20 s", what)
					}
				}
			}
			waitFor("flows 1-5", func() bool { return len(stored()) >= 5 })
			js := jsConnect(t, srv.URL())
			dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer dcancel()
			if what == "consumer" {
				if err := js.DeleteConsumer(dctx, "FLOWHAWK", "flowhawk-parquet"); err != nil {
					t.Fatal(err)
				}
			} else if err := js.DeleteStream(dctx, "FLOWHAWK"); err != nil {
				t.Fatal(err)
			}
			if what == "stream gone" {
				select {
				case r := <-done:
					if r.err == nil || !strings.Contains(r.err.Error(), "stream FLOWHAWK") || !strings.Contains(r.err.Error(), "gone") {
						t.Errorf("stream deleted for good: %v, want an error naming the stream gone", r.err)
					}
				case <-time.After(20 * time.Second):
					t.Fatal("consumer still running 20 s after its stream was deleted for good")
				}
				return
			}
			publish(6, 5) // creates the stream again
			waitFor("flows 6-10 published after the deletion", func() bool {
				seen := stored()
				for id := uint64(6); id <= 10; id++ {
					if seen[id] == 0 {
						return false
					}
				}
				return true
			})
			cancel()
			r := <-done
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.st.Errors == 0 {
				t.Errorf("stats %+v: the lost durable is not counted among the errors", r.st)
			}
		})
	}
}

// settledAt says when flows 1 to want are all stored in dir and the
// durable has nothing left to deliver or to have acknowledged, so that
// whatever it would deliver twice is stored by then.
func settledAt(t *testing.T, js jetstream.JetStream, dir string, want int) func() bool {
	return func() bool {
		seen := storedIDs(t, dir)
		for id := uint64(1); id <= uint64(want); id++ {
			if seen[id] == 0 {
				return false
			}
		}
		pending, unacked := natstest.ConsumerState(t, js, "FLOWHAWK", "flowhawk-parquet")
		return pending == 0 && unacked == 0
	}
}

// TestConsumerResumesAfterDurableDeleted deletes the durable under a
// consumer that had stored n flows, and again as soon as it is back, then
// publishes m more: the durable created again resumes after the stored
// ones, so each of the n+m is stored once. It started from the stream's
// beginning and stored the n again (nats consumer rm duplicated the whole
// stream). A collect started afterwards takes the resumed durable as it is
// (nats-server refuses to change where a durable starts) and stores only
// what is new.
func TestConsumerResumesAfterDurableDeleted(t *testing.T) {
	defer func(c time.Duration) { checkEvery = c }(checkEvery)
	checkEvery = 200 * time.Millisecond
	srv := natstest.Start(t)
	pub := Config{URL: srv.URL(), Sensor: "gw1", CreateStream: true, MaxRecords: 1} // a message per flow
	const n, m, k = 20, 7, 5
	publishSynth(t, pub, 1, n)
	js := jsConnect(t, srv.URL())
	dir := t.TempDir()
	cfg := ParquetConfig{URL: srv.URL(), Dir: dir, Rotate: 200 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	deleted := 0
	st := runConsumer(t, func(ctx context.Context) (ConsumeStats, error) { return ConsumeToParquet(ctx, cfg) }, func() bool {
		switch deleted {
		case 0:
			if !settledAt(t, js, dir, n)() {
				return false
			}
		case 1:
			if _, err := js.Consumer(ctx, "FLOWHAWK", "flowhawk-parquet"); err != nil {
				return false // not back yet
			}
		default:
			return settledAt(t, js, dir, n+m)()
		}
		if err := js.DeleteConsumer(ctx, "FLOWHAWK", "flowhawk-parquet"); err != nil {
			t.Fatal(err)
		}
		if deleted++; deleted == 2 {
			publishSynth(t, pub, n+1, m)
		}
		return false
	})
	if deleted != 2 || st.Errors < 2 {
		t.Fatalf("durable deleted %d times; stats %+v: want 2, counted among the errors", deleted, st)
	}
	publishSynth(t, pub, n+m+1, k)
	runConsumer(t, func(ctx context.Context) (ConsumeStats, error) { return ConsumeToParquet(ctx, cfg) }, settledAt(t, js, dir, n+m+k))
	seen := storedIDs(t, dir)
	for id := uint64(1); id <= n+m+k; id++ {
		if seen[id] != 1 {
			t.Errorf("flow %d stored %d times, want once", id, seen[id])
		}
	}
	if len(seen) != n+m+k || st.Rows != n+m {
		t.Errorf("%d distinct flows stored (%d rows by the first run), want %d (%d)", len(seen), st.Rows, n+m+k, n+m)
	}
}

// TestConsumerResumeKeepsUnacknowledged gives a consumer a durable holding
// messages that an earlier run took and never acknowledged (it crashed),
// and deletes the durable before they come back: the durable created again
// must resume at or before them, since no finished file holds them, and
// after the flows an earlier run did acknowledge.
func TestConsumerResumeKeepsUnacknowledged(t *testing.T) {
	defer func(c time.Duration) { checkEvery = c }(checkEvery)
	checkEvery = 200 * time.Millisecond
	srv := natstest.Start(t)
	pub := Config{URL: srv.URL(), Sensor: "gw1", CreateStream: true, MaxRecords: 1}
	js := jsConnect(t, srv.URL())
	dir := t.TempDir()
	// An hour's AckWait: the crashed run's messages do not come back
	// during the test.
	cfg := ParquetConfig{URL: srv.URL(), Dir: dir, Rotate: 200 * time.Millisecond, AckWait: time.Hour}
	publishSynth(t, pub, 1, 5)
	runConsumer(t, func(ctx context.Context) (ConsumeStats, error) { return ConsumeToParquet(ctx, cfg) }, settledAt(t, js, dir, 5))
	publishSynth(t, pub, 6, 7)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := js.Consumer(ctx, "FLOWHAWK", "flowhawk-parquet")
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(3, jetstream.FetchMaxWait(5*time.Second)) // flows 6-8, never acknowledged
	if err != nil {
		t.Fatal(err)
	}
	taken := 0
	for range batch.Messages() {
		taken++
	}
	if taken != 3 {
		t.Fatalf("the crashed run took %d messages, want 3", taken)
	}
	deleted := false
	runConsumer(t, func(ctx context.Context) (ConsumeStats, error) { return ConsumeToParquet(ctx, cfg) }, func() bool {
		seen := storedIDs(t, dir)
		if !deleted {
			for id := uint64(9); id <= 12; id++ {
				if seen[id] == 0 {
					return false
				}
			}
			if err := js.DeleteConsumer(ctx, "FLOWHAWK", "flowhawk-parquet"); err != nil {
				t.Fatal(err)
			}
			deleted = true
		}
		return settledAt(t, js, dir, 12)()
	})
	seen := storedIDs(t, dir)
	for id := uint64(1); id <= 12; id++ {
		if seen[id] == 0 || id <= 5 && seen[id] != 1 {
			t.Errorf("flow %d stored %d times, want once (1-5), at least once (6-12)", id, seen[id])
		}
	}
}

// protoRecord is a delimited flowhawk.v1.Flow of flow id with source
// address src (4 or 16 bytes in a good record).
func protoRecord(id uint64, src []byte) []byte {
	var m []byte
	m = protowire.AppendTag(m, pbSensor, protowire.BytesType)
	m = protowire.AppendBytes(m, []byte("gw1"))
	m = protowire.AppendTag(m, pbFlowID, protowire.VarintType)
	m = protowire.AppendVarint(m, id)
	m = protowire.AppendTag(m, pbStart, protowire.VarintType)
	m = protowire.AppendVarint(m, uint64(1.7e18))
	m = protowire.AppendTag(m, pbSrcIP, protowire.BytesType)
	m = protowire.AppendBytes(m, src)
	m = protowire.AppendTag(m, pbDstIP, protowire.BytesType)
	m = protowire.AppendBytes(m, []byte{10, 0, 1, 1})
	return append(protowire.AppendVarint(nil, uint64(len(m))), m...)
}

// TestConsumerSkipsBadProtoRecord stores protobuf messages of three
// records: one with a record whose src_ip has 5 bytes, skipped alone, and
// one with a record whose length runs past the message, after which the
// rest cannot be split and is counted as bad by the Flowhawk-Records
// header. The first lost its third record uncounted, the second its
// third.
func TestConsumerSkipsBadProtoRecord(t *testing.T) {
	srv := natstest.Start(t)
	js := jsConnect(t, srv.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, StreamConfig("FLOWHAWK")); err != nil {
		t.Fatal(err)
	}
	ip := []byte{10, 0, 0, 1}
	badLength := protowire.AppendVarint(nil, 1000) // 1000 bytes announced, a few follow
	badLength = append(badLength, protoRecord(9, ip)...)
	for _, data := range [][]byte{
		slices.Concat(protoRecord(1, ip), protoRecord(2, []byte{10, 0, 0, 2, 9}), protoRecord(3, ip)),
		slices.Concat(protoRecord(4, ip), badLength),
		slices.Concat([]byte{0}, protoRecord(5, ip), []byte{0}), // empty records: no flow
	} {
		m := &nats.Msg{Subject: FlowSubject("gw1"), Data: data, Header: nats.Header{}}
		m.Header.Set(FormatHeader, FormatProtobuf)
		m.Header.Set(RecordsHeader, "3")
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	cfg := ParquetConfig{URL: srv.URL(), Dir: dir, Rotate: 100 * time.Millisecond}
	st := runConsumer(t, func(ctx context.Context) (ConsumeStats, error) { return ConsumeToParquet(ctx, cfg) }, func() bool {
		pending, unacked := natstest.ConsumerState(t, js, "FLOWHAWK", "flowhawk-parquet")
		return pending == 0 && unacked == 0
	})
	var ids []uint64
	for id, n := range storedIDs(t, dir) {
		for range n {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []uint64{1, 3, 4, 5}) || st.Rows != 4 || st.Bad != 5 {
		t.Errorf("stored flows %v (stats %+v), want 1, 3, 4 and 5 with 5 bad records", ids, st)
	}
}

// TestConsumerAckWaitJustOverRotate stores flows published steadily with
// an AckWait barely over Rotate: no message may come back while its file
// is open. Acknowledged only at the close, which comes Rotate after the
// first message and a wait for the next one later, the first messages of
// each file were delivered again and stored twice.
func TestConsumerAckWaitJustOverRotate(t *testing.T) {
	srv := natstest.Start(t)
	p, err := New(Config{URL: srv.URL(), Sensor: "gw1", CreateStream: true, Linger: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const n = 14
	flows := synthFlows(n, 1)
	dir := t.TempDir()
	cfg := ParquetConfig{URL: srv.URL(), Dir: dir, CreateStream: true, Rotate: time.Second, AckWait: 1100 * time.Millisecond}
	js := jsConnect(t, srv.URL())
	next := 0
	st := runConsumer(t, func(ctx context.Context) (ConsumeStats, error) { return ConsumeToParquet(ctx, cfg) }, func() bool {
		if next < n { // a message every 300 ms
			p.Export(flows[next], nil, "")
			next++
			time.Sleep(280 * time.Millisecond)
			return false
		}
		pending, unacked := natstest.ConsumerState(t, js, "FLOWHAWK", "flowhawk-parquet")
		return pending == 0 && unacked == 0
	})
	seen := storedIDs(t, dir)
	for id := uint64(1); id <= n; id++ {
		if seen[id] != 1 {
			t.Errorf("flow %d stored %d times", id, seen[id])
		}
	}
	if st.Redelivered != 0 {
		t.Errorf("stats %+v: messages delivered again while their file was open", st)
	}
}

// TestConsumeAlertsRefusesNonAlerts stores a message of alert lines among
// which only one is an alert report --alerts reads: the others (JSON, but
// no object, no @timestamp, a bad one, a flow record, a count that is no
// count) are skipped as bad, and report reads the file. Any JSON was
// stored, and report then refused the whole file.
func TestConsumeAlertsRefusesNonAlerts(t *testing.T) {
	srv := natstest.Start(t)
	js := jsConnect(t, srv.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, StreamConfig("FLOWHAWK")); err != nil {
		t.Fatal(err)
	}
	lines := []string{
		`123`, `"str"`, `[1,2]`, `null`, `{"ok":1}`, `{"@timestamp":"yesterday","rule":{"name":"x"}}`,
		`{"sensor":"gw1","flow_id":1,"start":"2026-12-05T08:00:00Z","src_ip":"10.0.0.5","dst_ip":"10.0.0.9","proto":6}`,
		`{"@timestamp":"2026-12-05T08:00:00Z","rule":{"name":"portscan"},"flowhawk":{"count":0.5}}`,
		`{"@timestamp":"2026-12-05T08:00:00Z","rule":{"name":"portscan"},"source":{"ip":"10.0.0.5"}}`,
	}
	if _, err := js.Publish(ctx, AlertSubject("gw1"), []byte(strings.Join(lines, "\n")+"\n")); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := AlertsConfig{URL: srv.URL(), Dir: dir, Rotate: 100 * time.Millisecond}
	st := runConsumer(t, func(ctx context.Context) (ConsumeStats, error) { return ConsumeAlerts(ctx, cfg) }, func() bool {
		pending, unacked := natstest.ConsumerState(t, js, "FLOWHAWK", "flowhawk-parquet-alerts")
		return pending == 0 && unacked == 0
	})
	if st.Rows != 1 || st.Bad != uint64(len(lines)-1) {
		t.Errorf("stats %+v, want 1 alert stored and %d bad lines", st, len(lines)-1)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "alerts-*.jsonl"))
	for _, f := range files {
		if _, err := report.ReadAlerts(f); err != nil {
			t.Errorf("report refuses the stored file: %v", err)
		}
	}
}

// TestCheckAlertAgreesWithReport checks that collect keeps out exactly
// the alert lines report --alerts refuses, line by line.
func TestCheckAlertAgreesWithReport(t *testing.T) {
	const ts = `"@timestamp":"2026-12-05T08:00:00.5Z"`
	for _, line := range []string{
		`123`, `"str"`, `[1,2]`, `null`, `{}`, `{"ok":1}`, `{"@timestamp":5}`, `{"@timestamp":"yesterday"}`,
		`{"sensor":"gw1","start":"2026-12-05T08:00:00Z","src_ip":"10.0.0.5"}`,
		`{` + ts + `}`, `{` + ts + `,"rule":{"name":"portscan"}}`,
		`{` + ts + `,"flowhawk":{"count":3}}`, `{` + ts + `,"flowhawk":{"count":0}}`, `{` + ts + `,"flowhawk":{"count":2.5}}`,
		`{` + ts + `,"flowhawk":{"count":"3"}}`, `{` + ts + `,"flowhawk.count":-1}`, `{` + ts + `,"flowhawk.count":2,"flowhawk":{"count":0}}`,
		`{` + ts + `,"flowhawk":7}`, `{` + ts + `,"flowhawk.count":null}`, `{` + ts + `,"x":1e400}`,
		`{"@timestamp":"2026-12-05T08:00:00Z","@timestamp":5}`,
	} {
		f := filepath.Join(t.TempDir(), "alerts.jsonl")
		if err := os.WriteFile(f, []byte(line+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, rerr := report.ReadAlerts(f)
		if _, cerr := checkAlert([]byte(line)); (cerr == nil) != (rerr == nil) {
			t.Errorf("%s: collect says %v, report %v", line, cerr, rerr)
		}
	}
}

// TestConsumerWithoutJetStream starts a consumer against a nats-server
// without JetStream (no -js): the error says so and how to enable it. It
// said only "nats: no responders available for request".
func TestConsumerWithoutJetStream(t *testing.T) {
	port := natstest.FreePort(t)
	cmd := exec.Command(natstest.Binary(t), "-a", "127.0.0.1", "-p", fmt.Sprint(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("nats-server did not listen")
		}
	}
	for _, create := range []bool{false, true} {
		_, err := ConsumeToParquet(context.Background(), ParquetConfig{URL: fmt.Sprintf("nats://127.0.0.1:%d", port), Dir: t.TempDir(), CreateStream: create})
		if err == nil || !strings.Contains(err.Error(), "-js") {
			t.Errorf("CreateStream %v: %v, want how to enable JetStream", create, err)
		}
	}
}

// storedIDs counts the flow IDs in the finished Parquet files of dir, so
// a test sees what was stored twice and what not at all.
func storedIDs(t testing.TB, dir string) map[uint64]int {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "flows-*.parquet"))
	seen := map[uint64]int{}
	for _, f := range files {
		rows, err := parquet.ReadFile[FlowRow](f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, r := range rows {
			seen[r.ID]++
		}
	}
	return seen
}

// publishSynth publishes synthFlows(n, from) with a publisher of cfg and
// closes it, so they are all acknowledged.
func publishSynth(t testing.TB, cfg Config, from, n int) {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range synthFlows(n, from) {
		p.Export(f, nil, "")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}

// fakeMsg is the part of a jetstream.Msg the record writers read.
type fakeMsg struct {
	jetstream.Msg
	data []byte
	h    nats.Header
	subj string
}

func (m fakeMsg) Data() []byte         { return m.data }
func (m fakeMsg) Headers() nats.Header { return m.h }
func (m fakeMsg) Subject() string      { return m.subj }

// A publisher on flowhawk.<sensor>.flows chooses the bytes of a protobuf
// record's sensor, end_reason and class. The JSON path stores them as
// valid UTF-8 (encoding/json turns bad bytes into U+FFFD), as every
// other flowhawk output does; the protobuf path stored them raw in
// Parquet STRING columns.
func TestConsumerProtoStringsValidUTF8(t *testing.T) {
	var m []byte
	m = protowire.AppendTag(m, pbSensor, protowire.BytesType)
	m = protowire.AppendBytes(m, []byte("gw\xff1"))
	m = protowire.AppendTag(m, pbFlowID, protowire.VarintType)
	m = protowire.AppendVarint(m, 7)
	m = protowire.AppendTag(m, pbStart, protowire.VarintType)
	m = protowire.AppendVarint(m, uint64(1.7e18))
	m = protowire.AppendTag(m, pbSrcIP, protowire.BytesType)
	m = protowire.AppendBytes(m, []byte{10, 0, 0, 1})
	m = protowire.AppendTag(m, pbEndReason, protowire.BytesType)
	m = protowire.AppendBytes(m, []byte("idle\xc3"))
	m = protowire.AppendTag(m, pbClass, protowire.BytesType)
	m = protowire.AppendBytes(m, []byte("\xfeBENIGN"))
	rec := append(protowire.AppendVarint(nil, uint64(len(m))), m...)

	h := nats.Header{}
	h.Set(FormatHeader, FormatProtobuf)
	var buf bytes.Buffer
	w := parquetKind.create(&buf)
	if n, bad, badErr, err := w.write(fakeMsg{data: rec, h: h}); err != nil || n != 1 {
		t.Fatalf("write: n %d bad %d (%v) err %v", n, bad, badErr, err)
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	rows, err := parquet.Read[FlowRow](bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil || len(rows) != 1 {
		t.Fatalf("read back: %d rows, %v", len(rows), err)
	}
	r := rows[0]
	for name, v := range map[string]string{"sensor": r.Sensor, "end_reason": r.EndReason, "class": r.Class} {
		if !utf8.ValidString(v) {
			t.Errorf("stored %s %q is not UTF-8 (a Parquet STRING column)", name, v)
		}
	}
}

// An alert line is stored as it came once encoding/json accepts it, and
// encoding/json accepts bytes that are not UTF-8 inside strings: the
// stored alerts-*.jsonl file is then not UTF-8 (strict JSON
// readers may refuse it).
func TestConsumerAlertLineValidUTF8(t *testing.T) {
	line := []byte("{\"@timestamp\":\"2026-01-02T03:04:05Z\",\"message\":\"bad \xff name\",\"flowhawk\":{\"count\":1}}")
	var buf bytes.Buffer
	w := alertsKind.create(&buf)
	if n, bad, badErr, err := w.write(fakeMsg{data: line, h: nats.Header{}}); err != nil || n != 1 {
		t.Fatalf("write: n %d bad %d (%v) err %v", n, bad, badErr, err)
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	if !utf8.Valid(buf.Bytes()) {
		t.Errorf("stored alert line is not UTF-8: %q", buf.Bytes())
	}
}

// TestConsumerRefusesOtherSensorsRecords publishes, on gw1's subjects,
// flows (JSON and protobuf) and alerts that name gw2: the subject is what
// NATS permissions restrict per sensor, so a sensor allowed to publish on
// its own subjects only could still have stored records as another's.
// Records that name no sensor are stored.
func TestConsumerRefusesOtherSensorsRecords(t *testing.T) {
	protoRec := func(sensor string) []byte {
		var m []byte
		m = protowire.AppendTag(m, pbSensor, protowire.BytesType)
		m = protowire.AppendBytes(m, []byte(sensor))
		m = protowire.AppendTag(m, pbStart, protowire.VarintType)
		m = protowire.AppendVarint(m, uint64(1.7e18))
		m = protowire.AppendTag(m, pbSrcIP, protowire.BytesType)
		m = protowire.AppendBytes(m, []byte{10, 0, 0, 1})
		return append(protowire.AppendVarint(nil, uint64(len(m))), m...)
	}
	jsonRec := func(sensor string) []byte {
		return []byte(`{"sensor":"` + sensor + `","start":"2026-01-02T03:04:05Z","src_ip":"10.0.0.1"}`)
	}
	proto := nats.Header{}
	proto.Set(FormatHeader, FormatProtobuf)
	for _, c := range []struct {
		name  string
		kind  fileKind
		subj  string
		h     nats.Header
		data  []byte
		store bool
	}{
		{"json flow of gw1", parquetKind, "flowhawk.gw1.flows", nats.Header{}, jsonRec("gw1"), true},
		{"json flow of gw2", parquetKind, "flowhawk.gw1.flows", nats.Header{}, jsonRec("gw2"), false},
		{"proto flow of gw1", parquetKind, "flowhawk.gw1.flows", proto, protoRec("gw1"), true},
		{"proto flow of gw2", parquetKind, "flowhawk.gw1.flows", proto, protoRec("gw2"), false},
		{"alert of gw1", alertsKind, "flowhawk.gw1.alerts", nats.Header{}, []byte(`{"@timestamp":"2026-01-02T03:04:05Z","observer":{"name":"gw1"}}`), true},
		{"alert of gw2", alertsKind, "flowhawk.gw1.alerts", nats.Header{}, []byte(`{"@timestamp":"2026-01-02T03:04:05Z","observer":{"name":"gw2"}}`), false},
		{"dotted alert of gw2", alertsKind, "flowhawk.gw1.alerts", nats.Header{}, []byte(`{"@timestamp":"2026-01-02T03:04:05Z","observer.name":"gw2"}`), false},
		{"alert without observer", alertsKind, "flowhawk.gw1.alerts", nats.Header{}, []byte(`{"@timestamp":"2026-01-02T03:04:05Z"}`), true},
		{"json flow of no sensor", parquetKind, "flowhawk.gw1.flows", nats.Header{}, []byte(`{"start":"2026-01-02T03:04:05Z","src_ip":"10.0.0.1"}`), true},
	} {
		var buf bytes.Buffer
		w := c.kind.create(&buf)
		n, bad, badErr, err := w.write(fakeMsg{data: c.data, h: c.h, subj: c.subj})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if c.store && (n != 1 || bad != 0) {
			t.Errorf("%s: stored %d, refused %d (%v): want it stored", c.name, n, bad, badErr)
		}
		if !c.store && (n != 0 || bad != 1 || !strings.Contains(fmt.Sprint(badErr), "gw1")) {
			t.Errorf("%s: stored %d, refused %d (%v): want it refused, naming the subject", c.name, n, bad, badErr)
		}
		w.close()
	}
}
