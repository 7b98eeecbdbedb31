package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestMakeVersionStamp checks the version `make build` stamps in checkouts
// other than a developer's own clone: a tarball unpacked inside another
// git repository (it was stamped with that repository's commit), a clone
// owned by another user (stamped dev), and a VERSION in the environment
// (it became the version). It runs make -n on a copy of the Makefile.
func TestMakeVersionStamp(t *testing.T) {
	for _, tool := range []string{"make", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	mk, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	stamp := regexp.MustCompile(`-X main\.version=(\S*)"`)
	version := func(t *testing.T, dir string, env ...string) string {
		t.Helper()
		cmd := exec.Command("make", "-n", "build")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make -n build in %s: %v\n%s", dir, err, out)
		}
		m := stamp.FindSubmatch(out)
		if m == nil {
			t.Fatalf("make -n build: no version stamp in %s", out)
		}
		return string(m[1])
	}
	git := func(t *testing.T, dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	// repo makes a git repository in dir holding the Makefile, committed.
	repo := func(t *testing.T, dir string) string {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "Makefile"), mk, 0o644); err != nil {
			t.Fatal(err)
		}
		git(t, dir, "init", "-q")
		git(t, dir, "add", "Makefile")
		git(t, dir, "commit", "-q", "-m", "x")
		return git(t, dir, "rev-parse", "--short", "HEAD")
	}

	t.Run("tarball inside another repository", func(t *testing.T) {
		parent := t.TempDir()
		repo(t, parent)
		src := filepath.Join(parent, "flowhawk-1.0")
		if err := os.Mkdir(src, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, "Makefile"), mk, 0o644); err != nil {
			t.Fatal(err)
		}
		if v := version(t, src); v != "dev" {
			t.Errorf("a tarball unpacked inside another git repository is stamped %q, want dev (not the other repository's commit)", v)
		}
	})
	t.Run("own clone", func(t *testing.T) {
		dir := t.TempDir()
		head := repo(t, dir)
		if v := version(t, dir); v != head {
			t.Errorf("stamped %q, want the commit %s", v, head)
		}
		if v := version(t, dir, "VERSION=from-the-environment"); v != head {
			t.Errorf("with VERSION in the environment: stamped %q, want the commit %s", v, head)
		}
	})
	t.Run("clone owned by another user", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to give the clone to another user")
		}
		dir := t.TempDir()
		head := repo(t, dir)
		// nobody's uid and gid on Debian; the test runs as root, whom git
		// refuses another user's repository.
		err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, 65534, 65534)
		})
		if err != nil {
			t.Fatal(err)
		}
		if v := version(t, dir); v != head {
			t.Errorf("a clone owned by another user is stamped %q, want the commit %s", v, head)
		}
	})
}
