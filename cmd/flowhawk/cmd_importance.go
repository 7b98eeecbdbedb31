package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/flowhawk/flowhawk/classifier"
)

func init() {
	register(&command{name: "importance", summary: "impurity and permutation feature importance of a model", run: runImportance})
}

func runImportance(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("importance", "--model model.json [--data FILE...]", stdout, stderr)
	var d dataFlags
	d.add(fs, true)
	model := fs.String("model", "model.json", "model file")
	repeats := fs.Int("repeats", 3, "shuffles per column for permutation importance")
	seed := fs.Uint64("seed", 1, "random seed for the shuffles")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *repeats < 1 || *repeats > classifier.MaxRepeats {
		return fmt.Errorf("%w: --repeats %d: want 1 to %d", errUsage, *repeats, classifier.MaxRepeats)
	}
	m, err := loadModel(*model)
	if err != nil {
		return err
	}
	var frame *classifier.Frame
	if len(d.files) > 0 || fs.NArg() > 0 {
		opt, err := d.options(fs) // adds the positional files to --data
		if err != nil {
			return err
		}
		if frame, err = classifier.ReadFiles(d.files, opt.ForModel(m)); err != nil {
			return nameOnce(err, d.files...)
		}
	}
	imp, err := classifier.Importances(m, frame, *repeats, *seed)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(imp)
	}
	classifier.WriteImportanceTable(stdout, imp)
	return nil
}
