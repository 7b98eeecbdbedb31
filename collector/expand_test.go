package collector

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// linkTree builds, under a temporary directory,
//
//	data/Browser/a.pcap, data/Browser/sub/b.pcap, data/Browser/sub/up -> ..
//	ld2/Web -> data/Browser, ld2/x.pcap, ld2/Zweb -> data/Browser
//	ld2/gone.pcap -> missing, link -> data
//
// and returns its root; the .pcap files hold a pcap header, which is all
// ExpandPaths reads.
func linkTree(t *testing.T) string {
	t.Helper()
	tmp := t.TempDir()
	hdr := append(slices.Clone(magicPcapLE), make([]byte, 20)...)
	for _, d := range []string{"data/Browser/sub", "ld2"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"data/Browser/a.pcap", "data/Browser/sub/b.pcap", "ld2/x.pcap"} {
		if err := os.WriteFile(filepath.Join(tmp, f), hdr, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"data/Browser/sub/up": "..",
		"ld2/Web":             filepath.Join(tmp, "data", "Browser"),
		"ld2/Zweb":            "../data/Browser",
		"ld2/gone.pcap":       "missing.pcap",
		"link":                "data",
	} {
		if err := os.Symlink(target, filepath.Join(tmp, link)); err != nil {
			t.Skipf("symlinks unavailable: %v", err)
		}
	}
	return tmp
}

// TestExpandPathsFollowsDirLinks checks that links to directories are
// walked, inside a directory and as the root (with or without a trailing
// slash), under the link's name, and that a loop or a second link to a
// directory already walked ends with a warning instead of repeating files.
// WalkDir skipped every directory link silently, so ld2/Web found nothing
// and a linked root found "no capture files".
func TestExpandPathsFollowsDirLinks(t *testing.T) {
	tmp := linkTree(t)
	logged := captureSlog(t)
	j := func(p ...string) string { return filepath.Join(append([]string{tmp}, p...)...) }

	got, err := ExpandPaths([]string{j("ld2")})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{j("ld2", "Web", "a.pcap"), j("ld2", "Web", "sub", "b.pcap"), j("ld2", "x.pcap")}
	if !slices.Equal(got, want) {
		t.Errorf("ld2: %v, want %v", got, want)
	}
	l := logged.String()
	for _, w := range []string{j("ld2", "Web", "sub", "up"), j("ld2", "Zweb"), j("ld2", "gone.pcap")} {
		if !strings.Contains(l, w) {
			t.Errorf("no warning names %s: %q", w, l)
		}
	}
	if n := strings.Count(l, "\n"); n != 3 {
		t.Errorf("%d warnings, want 3: %q", n, l)
	}

	for _, root := range []string{j("link"), j("link") + string(filepath.Separator)} {
		logged.Reset()
		got, err := ExpandPaths([]string{root})
		if err != nil {
			t.Fatalf("%s: %v", root, err)
		}
		want := []string{j("link", "Browser", "a.pcap"), j("link", "Browser", "sub", "b.pcap")}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", root, got, want)
		}
		if !strings.Contains(logged.String(), j("link", "Browser", "sub", "up")) {
			t.Errorf("%s: the loop was not warned about: %q", root, logged.String())
		}
	}
}

// TestExpandPathsNaturalOrder checks that a directory of rotated captures
// (tcpdump -C: cap, cap1, ..., cap10) is read in capture order, where
// name order read cap10 and cap11 before cap2 and ran the flows'
// timestamps backwards.
func TestExpandPathsNaturalOrder(t *testing.T) {
	dir := t.TempDir()
	hdr := append(slices.Clone(magicPcapLE), make([]byte, 20)...)
	var want []string
	for _, n := range []string{"cap", "cap1", "cap2", "cap9", "cap10", "cap11", "cap100"} {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, hdr, 0o644); err != nil {
			t.Fatal(err)
		}
		want = append(want, p)
	}
	got, err := ExpandPaths([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("order %q, want %q", got, want)
	}
	for _, c := range []struct {
		a, b string
		want int
	}{{"a2", "a10", -1}, {"a10", "a2", 1}, {"a1", "a01", -1}, {"x/2024-01-02.pcap", "x/2024-01-10.pcap", -1},
		{"b", "a1", 1}, {"a", "a1", -1}, {"a1b", "a1c", -1}, {"same9", "same9", 0}} {
		if got := naturalCompare(c.a, c.b); got != c.want {
			t.Errorf("naturalCompare(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// TestExpandPathsFileOnce checks that a capture reached through a second
// path (a link to a file already found) is read once, with a warning:
// dataset --label-dir gave its flows twice, under two labels.
func TestExpandPathsFileOnce(t *testing.T) {
	tmp := t.TempDir()
	hdr := append(slices.Clone(magicPcapLE), make([]byte, 20)...)
	for _, d := range []string{"a", "b"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, "a", "x.pcap"), hdr, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../a/x.pcap", filepath.Join(tmp, "b", "dup.pcap")); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
	logged := captureSlog(t)
	got, err := ExpandPaths([]string{tmp})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(tmp, "a", "x.pcap")}; !slices.Equal(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
	if !strings.Contains(logged.String(), filepath.Join(tmp, "b", "dup.pcap")) {
		t.Errorf("no warning names the second path: %q", logged.String())
	}

	// The link sorting first (A/alias.pcap -> ../B/y.pcap) is the repeat
	// all the same: the real file kept its place only when it came first
	// in name order, so --label-dir labelled B's capture A.
	tmp = t.TempDir()
	for _, d := range []string{"A", "B"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, "B", "y.pcap"), hdr, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../B/y.pcap", filepath.Join(tmp, "A", "alias.pcap")); err != nil {
		t.Fatal(err)
	}
	// A link to a capture outside the tree is a capture of its own.
	outside := filepath.Join(t.TempDir(), "z.pcap")
	if err := os.WriteFile(outside, hdr, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(tmp, "A", "z.pcap")); err != nil {
		t.Fatal(err)
	}
	if got, err = ExpandPaths([]string{tmp}); err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(tmp, "A", "z.pcap"), filepath.Join(tmp, "B", "y.pcap")}; !slices.Equal(got, want) {
		t.Errorf("link sorting first: %v, want %v", got, want)
	}
}

// TestExpandPathsStdin keeps "-" (standard input) as given, once.
func TestExpandPathsStdin(t *testing.T) {
	got, err := ExpandPaths([]string{StdinPath})
	if err != nil || len(got) != 1 || got[0] != StdinPath {
		t.Errorf("ExpandPaths(-) = %v, %v; want [-]", got, err)
	}
	if _, err := ExpandPaths([]string{StdinPath, StdinPath}); err == nil {
		t.Error("ExpandPaths(-, -): no error")
	}
}

// TestExpandPathsOnceAcrossArgs checks that a capture named more than once
// on the command line (w.pcap w.pcap ./w.pcap, dir dir/sub, a hard link)
// is read once, at its first position, with one warning per repeat naming
// both spellings: replay counted every packet of it as often as named.
func TestExpandPathsOnceAcrossArgs(t *testing.T) {
	tmp := t.TempDir()
	t.Chdir(tmp)
	hdr := append(slices.Clone(magicPcapLE), make([]byte, 20)...)
	if err := os.MkdirAll(filepath.Join("dir4", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"w.pcap", "v.pcap", "dir4/b.pcap", "dir4/sub/a.pcap"} {
		if err := os.WriteFile(f, hdr, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hard := true
	if err := os.Link("v.pcap", "hard.pcap"); err != nil {
		hard = false
	}
	logged := captureSlog(t)

	for _, c := range []struct {
		args, want []string
		warns      int
	}{
		{[]string{"w.pcap", "w.pcap", "./w.pcap"}, []string{"w.pcap"}, 2},
		{[]string{"dir4", "dir4/sub"}, []string{"dir4/b.pcap", "dir4/sub/a.pcap"}, 1},
		{[]string{"dir4/sub", "v.pcap", "dir4"}, []string{"dir4/sub/a.pcap", "v.pcap", "dir4/b.pcap"}, 1},
		{[]string{filepath.Join(tmp, "w.pcap"), "-", "w.pcap"}, []string{filepath.Join(tmp, "w.pcap"), "-"}, 1},
	} {
		logged.Reset()
		got, err := ExpandPaths(c.args)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%v: %v, want %v", c.args, got, c.want)
		}
		l := logged.String()
		if n := strings.Count(l, "capture listed more than once, read once"); n != c.warns {
			t.Errorf("%v: %d warnings, want %d: %q", c.args, n, c.warns, l)
		}
	}
	if hard {
		logged.Reset()
		got, err := ExpandPaths([]string{"v.pcap", "hard.pcap"})
		if err != nil || !slices.Equal(got, []string{"v.pcap"}) {
			t.Errorf("hard link: %v, %v; want [v.pcap]", got, err)
		}
		if l := logged.String(); !strings.Contains(l, "file=hard.pcap") || !strings.Contains(l, "first=v.pcap") {
			t.Errorf("hard link warning does not name both spellings: %q", l)
		}
	}
	if _, err := ExpandPaths([]string{"-", "w.pcap", "-"}); err == nil {
		t.Error("- twice: no error")
	}

	// Many repeats: the first maxDupWarnings are logged one by one, the
	// rest in one line.
	logged.Reset()
	many := []string{"w.pcap"}
	for range maxDupWarnings + 5 {
		many = append(many, "./w.pcap")
	}
	if got, err := ExpandPaths(many); err != nil || len(got) != 1 {
		t.Errorf("many repeats: %v, %v", got, err)
	}
	if l := logged.String(); strings.Count(l, "\n") != maxDupWarnings+1 || !strings.Contains(l, "more=5") {
		t.Errorf("many repeats logged %q", l)
	}
}

// TestExpandPathsNoneFound checks that "no capture files" names what was
// searched.
func TestExpandPathsNoneFound(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	_, err := ExpandPaths([]string{a})
	if err == nil || !strings.Contains(err.Error(), "no capture files in "+a) {
		t.Errorf("one directory: %v", err)
	}
	_, err = ExpandPaths([]string{a, b})
	if err == nil || !strings.Contains(err.Error(), a) || !strings.Contains(err.Error(), b) {
		t.Errorf("two directories: %v", err)
	}
}

// TestExpandPathsPrefersRealDir checks that a directory reached both
// through a link and without one is walked by its path without links,
// whatever the names' order: with D/Alias -> DNS, name order walked
// D/Alias first, so dataset --label-dir labelled D/DNS's flows Alias and
// warned about D/DNS as the repeat. A link met before the real directory
// deeper down (D/A/x -> ../B) loses too; a root given as a link, and a
// class directory reached only through a link, still work.
func TestExpandPathsPrefersRealDir(t *testing.T) {
	tmp := t.TempDir()
	hdr := append(slices.Clone(magicPcapLE), make([]byte, 20)...)
	j := func(p ...string) string { return filepath.Join(append([]string{tmp}, p...)...) }
	for _, d := range []string{"D/DNS", "D/A", "D/B", "elsewhere/Browser"} {
		if err := os.MkdirAll(j(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"D/DNS/x.pcap", "D/B/y.pcap", "elsewhere/Browser/z.pcap"} {
		if err := os.WriteFile(j(f), hdr, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"D/Alias": "DNS",
		"D/A/x":   "../B",
		"D/Web":   j("elsewhere", "Browser"),
		"Dlink":   "D",
	} {
		if err := os.Symlink(target, j(link)); err != nil {
			t.Skipf("symlinks unavailable: %v", err)
		}
	}
	logged := captureSlog(t)
	for _, root := range []string{"D", "Dlink"} {
		logged.Reset()
		got, err := ExpandPaths([]string{j(root)})
		if err != nil {
			t.Fatalf("%s: %v", root, err)
		}
		want := []string{j(root, "B", "y.pcap"), j(root, "DNS", "x.pcap"), j(root, "Web", "z.pcap")}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", root, got, want)
		}
		l := logged.String()
		for _, w := range []string{"dir=" + j(root, "Alias") + " walked_as=" + j(root, "DNS"), "dir=" + j(root, "A", "x") + " walked_as=" + j(root, "B")} {
			if !strings.Contains(l, w) {
				t.Errorf("%s: no warning says %s: %q", root, w, l)
			}
		}
		if n := strings.Count(l, "\n"); n != 2 {
			t.Errorf("%s: %d warnings, want 2: %q", root, n, l)
		}
	}
}

// captureSlog sends slog's output to a buffer until the test ends, for
// tests of what the reader warns about.
func captureSlog(t *testing.T) *bytes.Buffer {
	var logged bytes.Buffer
	prev := slog.Default()
	t.Cleanup(func() { slog.SetDefault(prev) })
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	return &logged
}

// TestExpandPathsEmptyDirBesideCapture: a directory argument holding no
// capture beside a file that is one was passed over without a word (a
// mistyped or still empty directory); it is now named in a warning, and
// alone it stays the no-capture error.
func TestExpandPathsEmptyDirBesideCapture(t *testing.T) {
	tmp := t.TempDir()
	w := filepath.Join(tmp, "w.pcap")
	if err := os.WriteFile(w, append(slices.Clone(magicPcapLE), make([]byte, 20)...), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(tmp, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	logged := captureSlog(t)
	got, err := ExpandPaths([]string{w, empty})
	if err != nil || len(got) != 1 || !strings.Contains(logged.String(), empty) {
		t.Errorf("ExpandPaths(%s, %s) = %v, %v, and logged %q: want the capture, and the directory named", w, empty, got, err, logged.String())
	}
	if _, err := ExpandPaths([]string{empty}); err == nil {
		t.Errorf("ExpandPaths(%s) alone: no error", empty)
	}
}
