package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/flowhawk/flowhawk/classifier"
	flag "github.com/spf13/pflag"
)

func init() {
	register(&command{name: "train", summary: "train a flow classifier and write a model file", run: runTrain})
}

// dataFlags are the input flags shared by train, eval, cv, importance and predict.
type dataFlags struct {
	files   []string
	format  string
	label   string
	nslkdd  string
	drop    []string
	only    []string
	classes int
}

// add registers the data flags. withModel words --drop and --only for
// eval, predict and importance, where the model file picks the features
// and the two flags only narrow what is read.
func (d *dataFlags) add(fs *flag.FlagSet, withModel bool) {
	fs.StringSliceVar(&d.files, "data", nil, "data file(s): CIC-IDS2017 CSV, flowhawk CSV/JSONL, NSL-KDD txt (repeatable)")
	fs.StringVar(&d.format, "format", "auto", "input format, forcing its reader: auto (by extension and content)|csv|flowhawk|cicids2017|nslkdd|jsonl|parquet")
	if withModel {
		fs.StringVar(&d.label, "label", "", "label column name (default the model's: the --label it was trained with, else Label, case-insensitive)")
	} else {
		fs.StringVar(&d.label, "label", "", "label column name (default Label, case-insensitive); a model records it for eval and importance")
	}
	fs.StringVar(&d.nslkdd, "nslkdd-classes", "5", "NSL-KDD label scheme: 2 (normal/attack), 5 (categories) or all; of .txt files by default, of NSL-KDD rows in any format when given (eval, predict and importance take the model's)")
	if withModel {
		fs.StringSliceVar(&d.drop, "drop", nil, "column(s) of the data not to read, such as a broken column the model does not use (a model column dropped is reported missing); a trailing * matches a prefix, and a name matching no column is an error")
		fs.StringSliceVar(&d.only, "only", nil, "keep only these column(s) of the data; a trailing * matches a prefix (the model picks its own features: a model column left out is reported missing)")
		return
	}
	fs.StringSliceVar(&d.drop, "drop", nil, "column(s) to ignore as features; a trailing * matches a prefix, and a name matching no column is an error")
	fs.StringSliceVar(&d.only, "only", nil, "use only these feature column(s); a trailing * matches a prefix ('splt_*' for early classification)")
}

// dataFormats are the --format values the classifier's reader takes, as
// --help lists them.
var dataFormats = []string{"auto", "flowhawk", "cicids2017", "nslkdd", "jsonl", "csv", "parquet"}

// checkClassWeight refuses a --class-weight the classifier does not know
// as a usage error, before the data is read (it failed after, exit 1).
func checkClassWeight(v string) error {
	if v != "none" && v != "balanced" {
		return fmt.Errorf("%w: --class-weight %q: want none or balanced", errUsage, v)
	}
	return nil
}

func (d *dataFlags) options(fs *flag.FlagSet) (classifier.ReadOptions, error) {
	// A file listed twice would be read twice: cv's test folds would
	// hold their own rows' twins from the training folds.
	d.files = readOnce("data file", append(d.files, fs.Args()...))
	if len(d.files) == 0 {
		return classifier.ReadOptions{}, fmt.Errorf("%w: no --data files", errUsage)
	}
	if !slices.Contains(dataFormats, d.format) {
		return classifier.ReadOptions{}, fmt.Errorf("%w: --format %q: want one of %s", errUsage, d.format, strings.Join(dataFormats, ", "))
	}
	c, err := classifier.ParseNSLKDDClasses(d.nslkdd)
	if err != nil {
		return classifier.ReadOptions{}, fmt.Errorf("%w: %v", errUsage, err)
	}
	// An --nslkdd-classes given maps the labels of NSL-KDD rows in any
	// format; the default applies to NSL-KDD .txt files only.
	return classifier.ReadOptions{Format: d.format, Label: d.label, NSLKDDClasses: c, NSLKDDLabels: fs.Changed("nslkdd-classes"),
		Drop: d.drop, Only: d.only}, nil
}

func runTrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("train", "--data FILE... --model KIND -o model.json", stdout, stderr)
	var d dataFlags
	d.add(fs, false)
	var cfg classifier.Config
	fs.StringVar(&cfg.Kind, "model", "rf", "model kind: "+strings.Join(classifier.Kinds, "|"))
	fs.IntVar(&cfg.Trees, "trees", 0, "trees (rf, iforest; default 100) or boosting rounds (gbdt; default 100)")
	fs.IntVar(&cfg.MaxDepth, "max-depth", 0, "maximum tree depth (rf/dt: unlimited; gbdt: 6)")
	fs.IntVar(&cfg.MinSamplesLeaf, "min-samples-leaf", 0, "minimum rows per leaf (rf/dt: 1; gbdt: 20)")
	fs.IntVar(&cfg.MinSamplesSplit, "min-samples-split", 0, "minimum rows to split a node (rf/dt: 2)")
	fs.IntVar(&cfg.MaxFeatures, "max-features", 0, "features tried per split (rf: sqrt of features; dt: all)")
	fs.Float64Var(&cfg.LearningRate, "learning-rate", 0, "gbdt shrinkage (0.1)")
	fs.Float64Var(&cfg.L2, "l2", 0, "L2 penalty: lr 1/C (1), gbdt leaf lambda (1)")
	fs.IntVar(&cfg.MaxIter, "max-iter", 0, "lr L-BFGS iterations (200)")
	fs.IntVar(&cfg.K, "k", 0, "knn neighbours (5)")
	fs.IntVar(&cfg.Subsample, "subsample", 0, "iforest rows per tree (256)")
	fs.Float64Var(&cfg.Contamination, "contamination", 0, "iforest expected anomaly fraction (0: score threshold 0.5)")
	fs.Float64Var(&cfg.VarSmoothing, "var-smoothing", 0, "nb variance smoothing (1e-9)")
	fs.StringVar(&cfg.ClassWeight, "class-weight", "none", "class weights for imbalance: none|balanced")
	fs.StringSliceVar(&cfg.Gate, "gate", nil, "categorical column(s) that gate predictions: a class is predicted only for values it had in training, else 'Unknown' (e.g. protocol_type)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "random seed (results are identical for a seed at any --workers)")
	fs.IntVar(&cfg.Workers, "workers", 0, "goroutines reading the data and training (0: all cores)")
	out := fs.StringP("output", "o", "model.json", "model file to write")
	var tests []string
	fs.StringSliceVar(&tests, "test", nil, "evaluate on these files after training (checked readable before it); the first one's metrics are stored in the model")
	asJSON := fs.Bool("json", false, "print test metrics as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !slices.Contains(classifier.Kinds, cfg.Kind) {
		return fmt.Errorf("%w: --model %q: want one of %s", errUsage, cfg.Kind, strings.Join(classifier.Kinds, ", "))
	}
	if err := checkClassWeight(cfg.ClassWeight); err != nil {
		return err
	}
	for _, name := range classifier.ZeroMeansDefault[cfg.Kind] {
		if f := fs.Lookup(name); f != nil && f.Changed {
			if v, err := strconv.ParseFloat(f.Value.String(), 64); err == nil && v == 0 {
				return fmt.Errorf("%w: --%s 0: %s takes 0 for its default (%s); leave the flag out, or give a value above 0", errUsage, name, cfg.Kind, f.Usage)
			}
		}
	}
	if err := cfg.Check(); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	opt, err := d.options(fs)
	if err != nil {
		return err
	}
	// The model replaced a data file of the same name once trained.
	if err := checkOwnFiles([]namedPath{{"-o", *out}}, append(named("--data", d.files...), named("--test", tests...)...)); err != nil {
		return err
	}
	// Written at the end, which a bad directory reached only after the
	// whole training.
	if err := checkWritable("-o", *out); err != nil {
		return err
	}
	// Read only after the training, which a missing one then threw away.
	if err := checkReadable("--test", tests...); err != nil {
		return err
	}
	opt.Workers = cfg.Workers // parsing the data's cells, and training
	frame, err := classifier.ReadFiles(d.files, opt)
	if err != nil {
		return nameOnce(err, d.files...)
	}
	// The read grew its columns by doubling: hand the outgrown copies back
	// to the system before training allocates its matrix beside the frame.
	debug.FreeOSMemory()
	slog.Info("training", "model", cfg.Kind, "rows", frame.Rows, "columns", len(frame.Names))
	// Without --test the model is scored on its training rows, which
	// TrainScored does from its own encoded matrix: nothing here holds the
	// frame past this call, so its columns are freed while the model
	// trains (about half the peak memory of a large training set).
	var m *classifier.Model
	var trainMet *classifier.Metrics
	if len(tests) == 0 {
		m, trainMet, err = classifier.TrainScored(frame, cfg)
	} else {
		m, err = classifier.Train(frame, cfg)
	}
	frame = nil
	if err != nil {
		return err
	}
	m.Train.Files = d.files
	slog.Info("trained", "model", cfg.Kind, "seconds", fmt.Sprintf("%.2f", m.Train.Seconds), "features", len(m.Features()), "classes", len(m.Classes))
	results := map[string]*classifier.Metrics{}
	for i, t := range tests {
		// Read and predicted a chunk of rows at a time, as eval does: a
		// test file as large as the training data no longer doubles the
		// memory the training took.
		// Its errors name the file.
		met, _, err := m.EvaluateFiles([]string{t}, opt.ForModel(m), false, 0)
		if err != nil {
			return nameOnce(err, t)
		}
		results[t] = met
		if i == 0 {
			m.Metrics, m.MetricsOn = met, t
		}
		if !*asJSON {
			fmt.Fprintf(stdout, "== %s on %s\n", cfg.Kind, t)
			met.WriteTable(stdout)
			fmt.Fprintln(stdout)
		}
	}
	if len(tests) == 0 {
		m.Metrics, m.MetricsOn = trainMet, "training data"
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"model": cfg.Kind, "train_seconds": m.Train.Seconds, "results": results}); err != nil {
			return err
		}
	}
	if err := m.SaveFile(*out); err != nil {
		return flagFileErr("-o", *out, err)
	}
	slog.Info("wrote model", "path", *out)
	return nil
}
