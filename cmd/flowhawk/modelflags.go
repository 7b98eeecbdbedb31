package main

import (
	flag "github.com/spf13/pflag"

	"github.com/flowhawk/flowhawk/pipeline"
)

// modelFlags load a classifier to label flows as they finish.
type modelFlags struct {
	path          string
	minConfidence float64
}

func addModelFlags(fs *flag.FlagSet, mf *modelFlags) {
	fs.StringVar(&mf.path, "model", "", "label each flow with the classifier in `FILE` (adds 'Predicted Label' and 'Confidence')")
	fs.Float64Var(&mf.minConfidence, "min-confidence", 0.5, "below this top-class probability the prediction is 'Unknown'")
}

func (mf *modelFlags) load(cfg *pipeline.Config) error {
	if mf.path == "" {
		return nil
	}
	return errModelUnavailable
}

var errModelUnavailable = errorString("--model: classifier not wired yet")

type errorString string

func (e errorString) Error() string { return string(e) }
