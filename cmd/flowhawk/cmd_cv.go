package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/flowhawk/flowhawk/classifier"
)

func init() {
	register(&command{name: "cv", summary: "cross-validate several model kinds and compare them", run: runCV})
}

func runCV(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("cv", "--data FILE [--folds 5] [--models rf,gbdt,lr,nb,knn,dt] [--split random|time]", stdout, stderr)
	var d dataFlags
	d.add(fs, false)
	folds := fs.Int("folds", 5, "number of folds")
	models := fs.StringSlice("models", []string{"rf", "gbdt", "lr", "nb", "knn", "dt"}, "model kinds to compare")
	split := fs.String("split", "random", "random (shuffled folds, stratified by class) or time (train on the past, test on the next block; rows ordered by Timestamp, file order without one, a cell that is no time an error)")
	seed := fs.Uint64("seed", 1, "random seed for folds and models")
	classWeight := fs.String("class-weight", "none", "class weights: none|balanced")
	trees := fs.Int("trees", 0, "trees / boosting rounds (default 100)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkClassWeight(*classWeight); err != nil {
		return err
	}
	// Checked before the data is read, which may take minutes.
	if *folds < 2 {
		return fmt.Errorf("%w: --folds %d: want at least 2", errUsage, *folds)
	}
	if *split != "random" && *split != "time" {
		return fmt.Errorf("%w: --split %q: want random or time", errUsage, *split)
	}
	if len(*models) == 0 {
		return fmt.Errorf("%w: --models: no model kind given; want some of %s", errUsage, strings.Join(classifier.Kinds, ", "))
	}
	opt, err := d.options(fs)
	if err != nil {
		return err
	}
	var cfgs []classifier.Config
	for _, k := range *models {
		if !slices.Contains(classifier.Kinds, k) {
			return fmt.Errorf("%w: --models %q: want some of %s", errUsage, k, strings.Join(classifier.Kinds, ", "))
		}
		cfg := classifier.Config{Kind: k, Seed: *seed, ClassWeight: *classWeight, Trees: *trees}
		if err := cfg.Check(); err != nil {
			return fmt.Errorf("%w: %w", errUsage, err)
		}
		cfgs = append(cfgs, cfg)
	}
	frame, err := classifier.ReadFiles(d.files, opt)
	if err != nil {
		return nameOnce(err, d.files...)
	}
	res, err := classifier.CrossValidate(frame, cfgs, *folds, *split, *seed, func(kind string, fold int) {
		slog.Info("cv", "model", kind, "fold", fold+1, "of", *folds)
	})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprintf(stdout, "%d-fold %s cross-validation on %d rows\n\n", *folds, *split, frame.Rows)
	classifier.WriteCVTable(stdout, res)
	return nil
}
