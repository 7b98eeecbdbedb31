// Package ratelog logs warnings at most once per period, so an exporter
// whose collector or broker is down reports it without flooding the log.
package ratelog

import (
	"log/slog"
	"sync/atomic"
	"time"
)

// Limiter logs a warning at most once per Every, with the number of
// warnings it held back since the last one. The check is one atomic load,
// so a flood of drops costs nothing but the count. The zero value with
// Every set is ready to use.
type Limiter struct {
	Every      time.Duration
	last       atomic.Int64 // unix ns of the last warning logged
	suppressed atomic.Int64
}

// Allow reports whether a warning may be logged now, counting it as held
// back otherwise.
func (l *Limiter) Allow() bool {
	now := time.Now().UnixNano()
	last := l.last.Load()
	if last != 0 && now-last < int64(l.Every) {
		l.suppressed.Add(1)
		return false
	}
	return l.last.CompareAndSwap(last, now)
}

// Warn logs if allowed.
func (l *Limiter) Warn(msg string, args ...any) {
	if l.Allow() {
		l.Log(msg, args...)
	}
}

// Log logs unconditionally, with the count of warnings held back; hot
// paths call it after Allow so they build the arguments only when needed.
func (l *Limiter) Log(msg string, args ...any) {
	slog.Warn(msg, append(args, "suppressed_warnings", l.suppressed.Swap(0))...)
}

// Flush logs msg if warnings were held back since the last one logged, so
// the totals a caller passes at shutdown are not left understated by the
// last warning shown.
func (l *Limiter) Flush(msg string, args ...any) {
	if l.suppressed.Load() > 0 {
		l.Log(msg, args...)
	}
}
