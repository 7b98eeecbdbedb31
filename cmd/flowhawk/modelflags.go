package main

import (
	"fmt"
	"os"

	flag "github.com/spf13/pflag"

	"github.com/flowhawk/flowhawk/classifier"
	"github.com/flowhawk/flowhawk/features"
	"github.com/flowhawk/flowhawk/pipeline"
)

// modelFlags load a classifier to label flows as they finish.
type modelFlags struct {
	path          string
	minConfidence float64
	fs            *flag.FlagSet
}

// defaultMinConfidence is --min-confidence of predict, replay and capture
// alike, so one model labels the same flows the same way in each.
const defaultMinConfidence = 0.5

func addModelFlags(fs *flag.FlagSet, mf *modelFlags) {
	mf.fs = fs
	fs.StringVar(&mf.path, "model", "", "label each flow with the classifier in `FILE` (adds 'Predicted Label' and 'Confidence')")
	fs.Float64Var(&mf.minConfidence, "min-confidence", defaultMinConfidence, "below this top-class probability the prediction is 'Unknown'")
}

// load binds the model file to the pipeline's feature columns; a model
// that needs columns the pipeline does not produce is an error naming them.
func (mf *modelFlags) load(cfg *pipeline.Config) error {
	if mf.path == "" {
		if mf.fs != nil && mf.fs.Changed("min-confidence") {
			// Without a model there is nothing to threshold; the run
			// would write no Predicted Label, and say nothing.
			return fmt.Errorf("%w: --min-confidence applies to --model predictions; no --model given", errUsage)
		}
		return nil
	}
	if !(mf.minConfidence >= 0 && mf.minConfidence <= 1) { // NaN too
		return fmt.Errorf("%w: --min-confidence %g is not in [0,1]", errUsage, mf.minConfidence)
	}
	m, err := loadModel(mf.path)
	if err != nil {
		return err
	}
	x, err := features.New(cfg.Features)
	if err != nil {
		return err
	}
	p, err := classifier.NewRowPredictor(m, x.Columns(), mf.minConfidence)
	if err != nil {
		return fmt.Errorf("--model %s: %w", mf.path, err)
	}
	cfg.Predictor = p
	return nil
}

// loadModel reads the model file --model names, naming the flag and the
// file once in its errors ("open nosuch.json: ..." named neither flag nor
// command line).
func loadModel(path string) (*classifier.Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, flagFileErr("--model", path, err)
	}
	m, err := classifier.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("--model %s: %w", path, err)
	}
	return m, nil
}
