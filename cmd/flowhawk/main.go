// Command flowhawk is a network-flow sensor: it turns packets from pcap files
// or from eBPF programs attached to live interfaces into flow records,
// features, classifications, alerts and exports.
package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"

	flag "github.com/spf13/pflag"
)

// command is one subcommand. Each lives in its own cmd_*.go file and
// registers itself in init, so subcommands can be added without touching
// this file.
type command struct {
	name    string
	summary string
	// run parses args (without the subcommand name) and runs. It returns
	// errUsage-wrapped errors for bad flags so main can exit with code 2.
	run func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("flowhawk: duplicate command " + c.name)
	}
	commands[c.name] = c
}

// errUsage marks errors caused by bad command-line usage (exit status 2).
var errUsage = errors.New("usage error")

// newFlagSet returns a GNU-style flag set whose --help prints the command's
// usage line and flags, and which returns errors instead of exiting.
func newFlagSet(name, usage string, stdout, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// --help writes to stdout (flowhawk replay --help | less); usageError
	// points the same text at stderr for a command line that is wrong.
	fs.SetOutput(stdout)
	fs.SortFlags = false
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: flowhawk %s %s\n\n", name, usage)
		if c := commands[name]; c != nil {
			fmt.Fprintf(w, "%s\n\nFlags:\n", c.summary)
		}
		fs.PrintDefaults()
	}
	return fs
}

// usageError prints a command's usage to stderr, before the error that
// says what was wrong with its command line.
func usageError(fs *flag.FlagSet, stderr io.Writer) {
	fs.SetOutput(stderr)
	fs.Usage()
}

// parseFlags parses args, mapping --help to flag.ErrHelp and other flag
// errors to errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "flowhawk: network flows from pcaps and live interfaces\n\nUsage: flowhawk COMMAND [flags] [args]\n\nCommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "  %-12s %s\n", "version", versionSummary) // sorts last
	fmt.Fprintf(w, "\nRun 'flowhawk COMMAND --help' for the flags of a command.\n")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel()})))
	if len(args) == 2 && args[0] == "help" && commands[args[1]] != nil {
		args = []string{args[1], "--help"} // flowhawk help replay
	}
	if len(args) == 0 {
		usage(stderr) // a wrong command line, as an unknown command
		return 2
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return 0
	}
	if args[0] == "version" || args[0] == "--version" {
		switch {
		case len(args) == 1:
			fmt.Fprintln(stdout, "flowhawk", version)
			return 0
		case len(args) == 2 && (args[1] == "-h" || args[1] == "--help"):
			fmt.Fprintf(stdout, "Usage: flowhawk version\n\n%s.\n", versionSummary)
			return 0
		}
		fmt.Fprintf(stderr, "flowhawk version: takes no arguments or flags (--help), not %q\n", args[1])
		return 2
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "flowhawk: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	err := c.run(args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "flowhawk %s: %s\n", c.name, commandError(c.name, err))
		return 2
	default:
		fmt.Fprintf(stderr, "flowhawk %s: %s\n", c.name, commandError(c.name, err))
		return 1
	}
}

// commandError is err's text without a leading "NAME: " of the package
// that shares the command's name, which read "flowhawk report: report:
// ..." after the command's own prefix.
func commandError(name string, err error) string {
	return strings.TrimPrefix(err.Error(), name+": ")
}

// versionSummary is the version command's line in the usage.
const versionSummary = "print the version given at build time (the commit from make build, dev from go build)"

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func logLevel() slog.Level {
	switch strings.ToLower(os.Getenv("FLOWHAWK_LOG")) {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
