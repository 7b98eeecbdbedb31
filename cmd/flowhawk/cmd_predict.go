package main

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/flowhawk/flowhawk/classifier"
)

func init() {
	register(&command{name: "predict", summary: "label flows with a model file (Predicted Label, Confidence)", run: runPredict})
}

func runPredict(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("predict", "--model model.json --data FILE... [-o out.csv]", stdout, stderr)
	var d dataFlags
	d.add(fs, true)
	model := fs.String("model", "model.json", "model file")
	out := fs.StringP("output", "o", "-", "write the predictions as CSV to `FILE` (.csv; - for stdout; a device or FIFO gets CSV too)")
	minConf := fs.Float64("min-confidence", defaultMinConfidence, "below this top-class probability the prediction is 'Unknown'")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !(*minConf >= 0 && *minConf <= 1) { // NaN too
		return fmt.Errorf("%w: --min-confidence %g is not in [0,1]", errUsage, *minConf)
	}
	// predict -o p.parquet wrote CSV text into p.parquet.
	if err := checkOutputExt(*out, "predict writes CSV", ".csv"); err != nil {
		return err
	}
	opt, err := d.options(fs)
	if err != nil {
		return err
	}
	// The predictions replaced a data file of the same name (or the model).
	if err := checkOwnFiles([]namedPath{{"-o", *out}}, append(named("--data", d.files...), namedPath{"--model", *model})); err != nil {
		return err
	}
	if *out != "-" {
		// A missing directory was named by the temporary file's name.
		if err := checkWritable("-o", *out); err != nil {
			return err
		}
	}
	m, err := loadModel(*model)
	if err != nil {
		return err
	}
	opt = opt.ForModel(m)
	opt.Unlabelled = true
	// The files are read and predicted a chunk of rows at a time: memory
	// follows the chunk, not the data (it followed the data, about four
	// times a CSV's size).
	rows := 0
	write := func(w io.Writer) (err error) {
		rows, err = classifier.PredictFiles(w, m, d.files, opt, *minConf, 0)
		return nameOnce(err, d.files...)
	}
	if *out == "-" {
		bw := bufio.NewWriter(stdout)
		if err := write(bw); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
	} else if err := writeReplacing(*out, write); err != nil {
		return err
	}
	slog.Info("predicted", "rows", rows, "output", *out)
	return nil
}

// checkOutputExt refuses, as a usage error, an -o file whose extension
// is none of exts (case aside): the command writes one format, whatever
// the name says. Standard output (-) and an existing device or FIFO
// (/dev/null) take any format. does says what the command writes.
func checkOutputExt(path, does string, exts ...string) error {
	if path == "-" || slices.Contains(exts, strings.ToLower(filepath.Ext(path))) {
		return nil
	}
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() && !st.IsDir() {
		return nil
	}
	return fmt.Errorf("%w: -o %s: %s; give a %s file, or - for standard output", errUsage, path, does, strings.Join(exts, " or "))
}

// writeReplacing writes path through write into a temporary file beside
// it and renames that over path only when everything was written: a
// failed run (a bad value in the data, a full disk) leaves no empty or
// partial file, and an existing file as it was. A path that exists and is
// not a regular file (/dev/stdout, a named pipe) is written in place.
func writeReplacing(path string, write func(io.Writer) error) (err error) {
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		return writeInPlace(path, write)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriter(f)
	if err = write(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.Rename(f.Name(), path)
}

// writeInPlace writes a path that is not a regular file, reporting every
// write, flush and close error.
func writeInPlace(path string, write func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if e := f.Close(); err == nil {
		err = e
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
