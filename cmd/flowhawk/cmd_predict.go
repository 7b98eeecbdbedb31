package main

import (
	"bufio"
	"io"
	"log/slog"
	"os"

	"github.com/flowhawk/flowhawk/classifier"
)

func init() {
	register(&command{name: "predict", summary: "label flows with a model file (Predicted Label, Confidence)", run: runPredict})
}

func runPredict(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("predict", "--model model.json --data FILE... [-o out.csv]", stderr)
	var d dataFlags
	d.add(fs)
	model := fs.String("model", "model.json", "model file")
	out := fs.StringP("output", "o", "-", "output CSV (- for stdout)")
	minConf := fs.Float64("min-confidence", 0, "below this top-class probability the prediction is 'Unknown'")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	opt, err := d.options(fs)
	if err != nil {
		return err
	}
	m, err := classifier.Load(*model)
	if err != nil {
		return err
	}
	opt = opt.ForModel(m)
	opt.Unlabelled = true
	frame, err := classifier.ReadFiles(d.files, opt)
	if err != nil {
		return err
	}
	w := stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		bw := bufio.NewWriter(f)
		defer bw.Flush()
		w = bw
	}
	if err := classifier.WritePredictions(w, m, frame, *minConf); err != nil {
		return err
	}
	slog.Info("predicted", "rows", frame.Rows, "output", *out)
	return nil
}
