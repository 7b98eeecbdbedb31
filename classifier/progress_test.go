package classifier

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestFitProgressLogs checks that a training long enough says how many
// trees are done, and that nothing is logged after it ends.
func TestFitProgressLogs(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), nil)))
	defer slog.SetDefault(old)
	defer func(d time.Duration) { progressEvery = d }(progressEvery)
	progressEvery = 20 * time.Millisecond

	p := startFitProgress(4, "trees")
	p.add()
	// A busy machine may run the logging goroutine late: wait for its
	// first line rather than a fixed few periods.
	logged := func() string {
		mu.Lock()
		defer mu.Unlock()
		return buf.String()
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logged(), "left=") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	p.end()
	mu.Lock()
	out := buf.String()
	buf.Reset()
	mu.Unlock()
	if !strings.Contains(out, "msg=training trees=1 of=4") || !strings.Contains(out, "left=") {
		t.Errorf("progress log %q", out)
	}
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if buf.Len() > 0 {
		t.Errorf("logged after end: %q", buf.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
