// Package testshared finds the test data that sits beside the project in
// ../shared (public captures and datasets too large to commit), for the
// tests of every package.
package testshared

import (
	"os"
	"path/filepath"
	"testing"
)

// Path returns the path of rel (slash-separated, e.g. "pcaps" or
// "datasets/nsl-kdd/KDDTest+.txt") under ../shared beside the module root.
// When it is absent the test is skipped on a developer's machine, and
// fails when CI=true: CI always has ../shared, so a broken checkout must
// not pass by skipping every test that reads it.
func Path(t testing.TB, rel string) string {
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
			t.Fatal("testshared: no go.mod above the test's directory")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared test data %s is missing, and CI must have it: %v", p, err)
		}
		t.Skipf("shared test data %s is absent (CI has it): %v", p, err)
	}
	return p
}
