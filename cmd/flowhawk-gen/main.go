// Command flowhawk-gen writes a deterministic synthetic pcap of realistic
// TCP and UDP flows (see package pcapgen), for benchmarks that need
// millions of packets. It streams, so memory stays constant.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/flowhawk/flowhawk/collector/pcapgen"
	flag "github.com/spf13/pflag"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks a wrong command line: exit status 2, as flowhawk's
// commands give, with nothing written.
var errUsage = errors.New("usage error")

// run runs the command and returns its exit status: 0, 1 for a failed
// write, 2 for a wrong command line.
func run(args []string, stdout, stderr io.Writer) int {
	err := generate(args, stdout, stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, "flowhawk-gen:", err)
		return 2
	}
	fmt.Fprintln(stderr, "flowhawk-gen:", err)
	return 1
}

func generate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("flowhawk-gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.StringP("output", "o", "", "pcap file to write (- for stdout)")
	packets := fs.Int("packets", 1_000_000, "exact number of packets (0 or more)")
	flows := fs.Int("flows", 100_000, "number of flows the packets are spread over (approximate; 1 or more)")
	seed := fs.Uint64("seed", 1, "random seed; the same flags give the same bytes")
	conc := fs.Int("concurrency", 0, "flows open at once (default flows/20, at most 4096)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: flowhawk-gen -o FILE [--packets N] [--flows N] [--seed S]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	// Checked before -o is created: a bad flag left an empty file behind.
	switch {
	case *out == "":
		fs.Usage()
		return fmt.Errorf("%w: -o FILE is required", errUsage)
	case fs.NArg() > 0:
		return fmt.Errorf("%w: unexpected argument %q (the output is -o FILE)", errUsage, fs.Arg(0))
	case *packets < 0:
		return fmt.Errorf("%w: --packets %d: want 0 or more", errUsage, *packets)
	case *flows < 1:
		return fmt.Errorf("%w: --flows %d: want 1 or more", errUsage, *flows)
	case *conc < 0:
		return fmt.Errorf("%w: --concurrency %d: want 0 (flows/20) or more", errUsage, *conc)
	}
	var w io.Writer = stdout
	var f *os.File
	if *out != "-" {
		var err error
		if f, err = os.Create(*out); err != nil {
			return err
		}
		w = f
	}
	st, err := pcapgen.Write(w, pcapgen.Config{Seed: *seed, Packets: *packets, Flows: *flows, Concurrency: *conc})
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	fmt.Fprintf(stderr, "wrote %s: %d packets, %d bytes, %d flows (%d tcp, %d udp), %.1f s of traffic\n",
		*out, st.Packets, st.Bytes, st.Flows, st.TCPFlows, st.UDPFlows, float64(st.LastNano-st.FirstNano)/1e9)
	return nil
}
