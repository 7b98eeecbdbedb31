package main

import (
	"io"

	"github.com/flowhawk/flowhawk/detect"

	flag "github.com/spf13/pflag"

	"github.com/flowhawk/flowhawk/pipeline"
)

// exporterFlags select the operator outputs (Prometheus, IPFIX, NATS).
type exporterFlags struct{}

type exporterSet struct{}

func addExporterFlags(fs *flag.FlagSet, ef *exporterFlags) {}

func (ef *exporterFlags) open(cfg *pipeline.Config, stderr io.Writer) (*exporterSet, error) {
	return &exporterSet{}, nil
}

func (s *exporterSet) close() error { return nil }

func (s *exporterSet) alert(a *detect.Alert) {}
