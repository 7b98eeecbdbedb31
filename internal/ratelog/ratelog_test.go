package ratelog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	defer slog.SetDefault(old)

	l := Limiter{Every: time.Hour}
	for i := 0; i < 5; i++ {
		l.Warn("collector down", "i", i)
	}
	if n := strings.Count(buf.String(), "collector down"); n != 1 {
		t.Fatalf("logged %d warnings in one period, want 1:\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), "suppressed_warnings=0") {
		t.Errorf("first warning should report 0 held back:\n%s", buf.String())
	}
	l.last.Store(time.Now().Add(-2 * time.Hour).UnixNano()) // the period has passed
	buf.Reset()
	l.Warn("collector down")
	if !strings.Contains(buf.String(), "suppressed_warnings=4") {
		t.Errorf("second warning should count the 4 held back:\n%s", buf.String())
	}
}

func TestFlushOnlyWhenHeldBack(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	defer slog.SetDefault(old)
	l := Limiter{Every: time.Hour}
	l.Warn("down")
	l.Flush("totals")
	if strings.Contains(buf.String(), "totals") {
		t.Errorf("Flush logged with nothing held back:\n%s", buf.String())
	}
	l.Warn("down")
	l.Flush("totals", "n", 2)
	if !strings.Contains(buf.String(), "totals n=2 suppressed_warnings=1") {
		t.Errorf("Flush did not log the totals held back:\n%s", buf.String())
	}
}
