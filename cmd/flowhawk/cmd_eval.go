package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/flowhawk/flowhawk/classifier"
)

func init() {
	register(&command{name: "eval", summary: "evaluate a model file on labelled data", run: runEval})
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval", "--model model.json --data FILE... [--json]", stdout, stderr)
	var d dataFlags
	d.add(fs, true)
	model := fs.String("model", "model.json", "model file")
	asJSON := fs.Bool("json", false, "print metrics as JSON")
	early := fs.Bool("by-packets", false, "also report accuracy by packets seen (models on splt_*_k features; on by default for them, --by-packets=false turns it off)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	opt, err := d.options(fs)
	if err != nil {
		return err
	}
	m, err := loadModel(*model)
	if err != nil {
		return err
	}
	// The files are read and predicted a chunk of rows at a time, as in
	// predict: memory follows the chunk and the labels, not the rows.
	// On by default for a model on first-packet features; the flag given
	// decides either way (--by-packets=false was ignored for such models).
	byPk := m.EarlyPackets > 0
	if fs.Changed("by-packets") {
		byPk = *early
	}
	met, byPackets, err := m.EvaluateFiles(d.files, opt.ForModel(m), byPk, 0)
	if err != nil {
		return nameOnce(err, d.files...)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Model     string                     `json:"model"`
			Kind      string                     `json:"kind"`
			Data      []string                   `json:"data"`
			Metrics   *classifier.Metrics        `json:"metrics"`
			ByPackets []classifier.EarlyAccuracy `json:"by_packets,omitempty"`
		}{*model, m.Kind, d.files, met, byPackets})
	}
	fmt.Fprintf(stdout, "model %s (%s) on %v\n", *model, m.Kind, d.files)
	met.WriteTable(stdout)
	if len(byPackets) > 0 {
		fmt.Fprintln(stdout, "\naccuracy by packets seen")
		for _, e := range byPackets {
			fmt.Fprintf(stdout, "  %3d  accuracy %.4f  macro-F1 %.4f\n", e.Packets, e.Accuracy, e.MacroF1)
		}
	}
	return nil
}
