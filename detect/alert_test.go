package detect

import (
	"errors"
	"strings"
	"testing"
)

// shortDisk takes n bytes, then fails as a full disk does.
type shortDisk struct {
	strings.Builder
	room int
}

func (d *shortDisk) Write(p []byte) (int, error) {
	k := min(len(p), d.room)
	d.room -= k
	d.Builder.Write(p[:k])
	if k < len(p) {
		return k, errors.New("no space left on device")
	}
	return k, nil
}

// TestJSONLSinkCountsLost checks that the alerts a failed write lost are
// counted, those still in the buffer and the one cut short included: the
// sink counted an alert as written when it reached its buffer, so a full
// disk lost the buffered ones without a count, and the count it kept was
// never shown.
func TestJSONLSinkCountsLost(t *testing.T) {
	d := &shortDisk{room: 100 << 10}
	s := NewJSONLSink(d)
	a := &Alert{Rule: "portscan.vertical", Detector: "portscan", Message: strings.Repeat("x", 500)}
	const n = 1000
	for range n {
		s.Write(a)
	}
	if err := s.Flush(); err == nil {
		t.Fatal("Flush: no error from a full disk")
	}
	sent, lost, err := s.Stats()
	whole := uint64(strings.Count(d.String(), "\n"))
	if sent != n || err == nil || lost != n-whole || whole == 0 || lost == 0 {
		t.Errorf("sent %d lost %d err %v; %d whole lines reached the disk", sent, lost, err, whole)
	}
	ok := NewJSONLSink(&strings.Builder{})
	ok.Write(a)
	if err := ok.Flush(); err != nil {
		t.Fatal(err)
	}
	if sent, lost, err := ok.Stats(); sent != 1 || lost != 0 || err != nil {
		t.Errorf("healthy sink: sent %d lost %d err %v", sent, lost, err)
	}
}
