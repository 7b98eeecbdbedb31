package doccheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// removedTests are names the docs cite as gone ("BenchmarkMapTypes is
// gone"), which no _test.go file defines any more.
var removedTests = map[string]bool{"BenchmarkMapTypes": true}

// TestDocsNameExistingTests: every TestX, BenchmarkX and FuzzX that
// README.md and docs/*.md cite is defined in a _test.go file (a name
// followed by `*`, or used as a -bench pattern, needs only to start one),
// and every `go test ... -bench PATTERN ./pkg` and `go test ./pkg -run
// PATTERN` they show selects at least one function of that package. The
// docs cite about 200 tests as evidence; a renamed or removed one leaves
// the reader nothing to run, as docs/kernel.md's `go test -bench MapTypes
// ./bpf/` ran no benchmark once BenchmarkMapTypes was removed.
func TestDocsNameExistingTests(t *testing.T) {
	root := filepath.Join("..", "..")
	defined := testFuncs(t, root) // package dir (slash, relative to root) -> names
	var all []string
	for _, names := range defined {
		all = append(all, names...)
	}
	sort.Strings(all)

	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	docs = append([]string{filepath.Join(root, "README.md")}, docs...)
	citation := regexp.MustCompile(`\b(?:Test|Benchmark|Fuzz)[A-Z][A-Za-z0-9_]*\*?`)
	span := regexp.MustCompile("`[^`]+`")
	for _, doc := range docs {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		name := filepath.Base(doc)
		for _, loc := range citation.FindAllStringIndex(text, -1) {
			c := text[loc[0]:loc[1]]
			before := strings.TrimRight(text[:loc[0]], "'\" ")
			if strings.HasSuffix(before, "-bench") || strings.HasSuffix(before, "-run") {
				continue // a pattern, checked with its command below
			}
			prefix := strings.HasSuffix(c, "*")
			c = strings.TrimSuffix(c, "*")
			if removedTests[c] || hasName(all, c, prefix) {
				continue
			}
			t.Errorf("%s cites %s, which no _test.go file defines", name, c)
		}
		// Commands are in code spans of the prose and on lines of fenced
		// blocks; the fences are taken out first, as their backticks would
		// pair with the spans'.
		var prose []string
		fenced := false
		for _, line := range strings.Split(text, "\n") {
			switch {
			case strings.HasPrefix(strings.TrimSpace(line), "```"):
				fenced = !fenced
			case fenced:
				if i := strings.Index(line, "go test "); i >= 0 {
					checkGoTest(t, name, line[i:], defined)
				}
			default:
				prose = append(prose, line)
			}
		}
		for _, s := range span.FindAllString(strings.Join(prose, "\n"), -1) {
			s = strings.Join(strings.Fields(strings.Trim(s, "`")), " ")
			if i := strings.Index(s, "go test "); i >= 0 {
				checkGoTest(t, name, s[i:], defined)
			}
		}
	}
}

// hasName reports whether names (sorted) holds n, or with prefix a name
// that starts with n.
func hasName(names []string, n string, prefix bool) bool {
	i := sort.SearchStrings(names, n)
	return i < len(names) && (names[i] == n || prefix && strings.HasPrefix(names[i], n))
}

// checkGoTest checks that the -bench and -run patterns of the command line
// cmd (a go test invocation as the docs show it) select at least one
// function of each package it names. Commands naming no package (the text
// gives it elsewhere) and -run patterns beside -bench (they are there to
// run no test: '^$', XXX) are not checked.
func checkGoTest(t *testing.T, doc, cmd string, defined map[string][]string) {
	fields := shellFields(cmd)
	var pkgs []string
	flags := map[string]string{}
	for i := 2; i < len(fields); i++ {
		f := fields[i]
		switch {
		case strings.HasPrefix(f, "./"):
			pkgs = append(pkgs, strings.TrimSuffix(strings.TrimPrefix(f, "./"), "/"))
		case (f == "-bench" || f == "-run") && i+1 < len(fields):
			flags[f] = fields[i+1]
			i++
		}
	}
	if len(pkgs) == 0 {
		return
	}
	check := func(flag, prefix string) {
		pat, ok := flags[flag]
		if !ok {
			return
		}
		top := pat
		if i := strings.Index(pat, "/"); i >= 0 && !strings.ContainsAny(pat[:i], "(|") {
			top = pat[:i] // BenchmarkXDP/(noop|clock): the sub-benchmark part is not checked
		}
		re, err := regexp.Compile(top)
		if err != nil {
			t.Errorf("%s: `%s`: %s %q is not a regular expression: %v", doc, cmd, flag, pat, err)
			return
		}
		for _, pkg := range pkgs {
			found := false
			for dir, names := range defined {
				if !(dir == pkg || strings.HasSuffix(pkg, "/...") && (dir == strings.TrimSuffix(pkg, "/...") || strings.HasPrefix(dir, strings.TrimSuffix(pkg, "...")))) {
					continue
				}
				for _, n := range names {
					if strings.HasPrefix(n, prefix) && re.MatchString(n) {
						found = true
					}
				}
			}
			if !found {
				t.Errorf("%s: `%s`: %s %s selects nothing in ./%s", doc, cmd, flag, pat, pkg)
			}
		}
	}
	check("-bench", "Benchmark")
	if _, both := flags["-bench"]; !both {
		check("-run", "") // Test, Fuzz and Example functions
	}
}

// shellFields splits a command line on spaces, keeping single-quoted
// words whole and without their quotes.
func shellFields(s string) []string {
	var out []string
	var cur strings.Builder
	quoted, have := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			quoted, have = !quoted, true
		case r == ' ' && !quoted:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

// testFuncs returns the Test, Benchmark, Fuzz and Example functions of the
// module's _test.go files by package directory (slash-separated, relative
// to root).
func testFuncs(t *testing.T, root string) map[string][]string {
	out := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv != nil {
				continue
			}
			name := fn.Name.Name
			for _, p := range []string{"Test", "Benchmark", "Fuzz", "Example"} {
				if strings.HasPrefix(name, p) {
					out[rel] = append(out[rel], name)
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
