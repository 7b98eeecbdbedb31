package detect

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowhawk/flowhawk/collector"
)

// sharedDir finds ../shared beside the module root, or skips the test.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("module root not found")
		}
		dir = parent
	}
	s := filepath.Join(dir, "..", "shared")
	if _, err := os.Stat(filepath.Join(s, "pcaps")); err != nil {
		t.Skipf("shared test data not found at %s (CI provides it): %v", s, err)
	}
	return s
}

// collect is a sink that keeps alerts.
type collect struct{ alerts []*Alert }

func (c *collect) sink(a *Alert) { c.alerts = append(c.alerts, a) }

func (c *collect) rules() map[string]int {
	m := map[string]int{}
	for _, a := range c.alerts {
		m[a.Rule]++
	}
	return m
}

// replay runs a capture through collector.OpenPcap, a flow table and an
// engine, the way `flowhawk replay --detect` does.
func replay(t testing.TB, path string, cfg Config) (*Engine, *collect) {
	t.Helper()
	c := &collect{}
	e, err := New(cfg, c.sink)
	if err != nil {
		t.Fatal(err)
	}
	src, err := collector.OpenPcap(path, collector.PcapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	tab := collector.NewTable(collector.DefaultTableConfig(), e.OnFlow)
	var p collector.Packet
	for {
		err := src.NextPacket(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		e.OnPacket(&p)
		tab.Add(&p)
	}
	tab.Flush()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return e, c
}

func allOn() Config {
	c := DefaultConfig()
	c.Detect = "all"
	return c
}
