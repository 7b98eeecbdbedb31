package main

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// docsFor lists, per command, the pages besides README.md where its users
// look for its flags.
var docsFor = map[string][]string{
	"replay":     {"reader.md", "features.md", "outputs.md", "detect.md", "classifier.md"},
	"dataset":    {"reader.md", "features.md", "outputs.md", "classifier.md"},
	"capture":    {"kernel.md", "outputs.md", "detect.md", "features.md"},
	"collect":    {"outputs.md"},
	"report":     {"outputs.md"},
	"train":      {"classifier.md"},
	"eval":       {"classifier.md"},
	"cv":         {"classifier.md"},
	"importance": {"classifier.md"},
	"predict":    {"classifier.md"},
}

// helpFlagLine matches a flag line of --help: "  -o, --output FILE ..."
// or "      --append[=true|false] ...".
var helpFlagLine = regexp.MustCompile(`^\s+(?:-([a-zA-Z]), )?--([a-z][a-z0-9-]*)`)

// TestEveryFlagDocumented: every flag a command's --help lists is named in
// README.md or in that command's page under docs/, so a user who reads the
// documentation can learn of it. collect's --fetch was in --help alone.
func TestEveryFlagDocumented(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("..", "..", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	readme := read("README.md")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		pages, ok := docsFor[name]
		if !ok {
			t.Errorf("command %s has no entry in docsFor: name the docs/ pages that document its flags", name)
			continue
		}
		text := readme
		for _, p := range pages {
			text += "\n" + read(filepath.Join("docs", p))
		}
		_, help, _ := runCLI(t, name, "--help")
		n := 0
		for _, line := range strings.Split(help, "\n") {
			m := helpFlagLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			n++
			long := regexp.MustCompile(`(^|[^A-Za-z0-9-])--` + regexp.QuoteMeta(m[2]) + `([^A-Za-z0-9-]|$)`)
			if long.MatchString(text) {
				continue
			}
			if m[1] != "" && regexp.MustCompile("(^|[\\s`(])-"+m[1]+"([\\s`=]|$)").MatchString(text) {
				continue // documented by its shorthand, as -o FILE
			}
			t.Errorf("flowhawk %s --%s is in --help but neither in README.md nor in docs/%s", name, m[2], strings.Join(pages, ", docs/"))
		}
		if n == 0 {
			t.Errorf("flowhawk %s --help: no flag lines found in %q", name, help)
		}
	}
}
