package classifier

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/flowhawk/flowhawk/features"
)

// TestSameLabelsInEveryFormat: the same labelled flows written as CSV,
// JSON Lines and Parquet read back with the same labels, so they train
// the same classes. CSV and Parquet labels were trimmed of surrounding
// white space and JSON Lines ones were not: a label directory " spaced "
// was class "spaced" from the CSV and " spaced " from the JSON Lines, and
// a model trained on one scored 0 recall on that class of the other.
func TestSameLabelsInEveryFormat(t *testing.T) {
	x, err := features.New(features.Config{SPLT: 1})
	if err != nil {
		t.Fatal(err)
	}
	labels := []string{" spaced ", "BENIGN ", "\tDoS", "a,b", `q"uote`, "nl\nline"}
	dir := t.TempDir()
	got := map[string][]string{}
	for _, ext := range []string{"csv", "jsonl", "parquet"} {
		path := filepath.Join(dir, "flows."+ext)
		writeRows(t, x, path, len(labels), func(i int, row *features.Row) string {
			row.Num[x.Index("Flow Duration")] = float64(i)
			return labels[i]
		})
		f, err := ReadFiles([]string{path}, ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got[ext] = f.Labels
	}
	for _, ext := range []string{"jsonl", "parquet"} {
		if !slices.Equal(got[ext], got["csv"]) {
			t.Errorf("%s labels %q, CSV's %q", ext, got[ext], got["csv"])
		}
	}
}
