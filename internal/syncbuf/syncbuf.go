// Package syncbuf is a bytes.Buffer that a child process's output copier
// and a test may use at once: exec copies a non-*os.File Stdout or Stderr
// from a goroutine of its own, and a test reads it while the process runs.
package syncbuf

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer behind a mutex, so a test can read what a
// running process has written so far without a data race.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p, as exec's copier does with each chunk of output.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns a copy of everything written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
