// Command flowhawk-gen writes a deterministic synthetic pcap of realistic
// TCP and UDP flows (see package pcapgen), for benchmarks that need
// millions of packets. It streams, so memory stays constant.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/flowhawk/flowhawk/collector/pcapgen"
	flag "github.com/spf13/pflag"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if err == flag.ErrHelp {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "flowhawk-gen:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("flowhawk-gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.StringP("output", "o", "", "pcap file to write (- for stdout)")
	packets := fs.Int("packets", 1_000_000, "exact number of packets")
	flows := fs.Int("flows", 100_000, "number of flows the packets are spread over (approximate)")
	seed := fs.Uint64("seed", 1, "random seed; the same flags give the same bytes")
	conc := fs.Int("concurrency", 0, "flows open at once (default flows/20, at most 4096)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: flowhawk-gen -o FILE [--packets N] [--flows N] [--seed S]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		fs.Usage()
		return fmt.Errorf("-o FILE is required")
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
