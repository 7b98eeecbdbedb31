// Command gendoc writes docs/features.md from the feature registry, so the
// documentation can never drift from the columns ("go generate ./features").
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/flowhawk/flowhawk/features"
)

func main() {
	out := flag.String("o", "docs/features.md", "output file")
	flag.Parse()
	if err := os.WriteFile(*out, features.Doc(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gendoc:", err)
		os.Exit(1)
	}
}
