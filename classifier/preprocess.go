package classifier

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
)

// ColumnSpec describes how one input column becomes model features. It is
// stored in the model file so prediction applies exactly the training-time
// preprocessing.
type ColumnSpec struct {
	Name string `json:"name"`
	// Kind is "numeric" or "categorical".
	Kind string `json:"kind"`
	// Categories are the training categories; the input code of a
	// categorical value is its index here (-1 when unseen).
	Categories []string `json:"categories,omitempty"`
	// Impute replaces NaN (missing) values: the training median.
	Impute float64 `json:"impute"`
	// Low and High are the finite training extremes; infinities clamp to them.
	Low  float64 `json:"low"`
	High float64 `json:"high"`
}

// Preprocessor turns raw input rows (numeric values and category codes in
// Columns order) into the model's feature vector.
type Preprocessor struct {
	Columns []ColumnSpec `json:"columns"`
	// Encoding of categorical columns: "onehot" or "ordinal".
	Encoding string `json:"encoding"`
	// Mean and Scale standardize each output feature when non-nil.
	Mean  []float64 `json:"mean,omitempty"`
	Scale []float64 `json:"scale,omitempty"`
	// Dropped lists training columns left out of the model: columns of
	// numbers with words that read as identifier-like text
	// (Frame.Dropped), then constant ones.
	Dropped []string `json:"dropped,omitempty"`
	width   int
}

// Width is the number of model features after encoding.
func (p *Preprocessor) Width() int { return p.width }

func (p *Preprocessor) init() error {
	w := 0
	for i, c := range p.Columns {
		switch c.Kind {
		case "numeric":
			w++
		case "categorical":
			if p.Encoding == "onehot" {
				w += len(c.Categories)
			} else {
				w++
			}
		default:
			return fmt.Errorf("column %d (%q): unknown kind %q", i, c.Name, c.Kind)
		}
		if math.IsNaN(c.Impute) || math.IsInf(c.Impute, 0) {
			return fmt.Errorf("column %q: impute value must be finite", c.Name)
		}
	}
	if p.Encoding != "onehot" && p.Encoding != "ordinal" {
		return fmt.Errorf("unknown categorical encoding %q", p.Encoding)
	}
	if p.Mean != nil || p.Scale != nil {
		if len(p.Mean) != w || len(p.Scale) != w {
			return fmt.Errorf("standardization has %d/%d entries, want %d", len(p.Mean), len(p.Scale), w)
		}
		for _, s := range p.Scale {
			if !(s > 0) || math.IsInf(s, 0) {
				return fmt.Errorf("standardization scale %v is not positive", s)
			}
		}
	}
	p.width = w
	return nil
}

// FeatureNames are the output feature names (one per one-hot category).
func (p *Preprocessor) FeatureNames() []string {
	var out []string
	for _, c := range p.Columns {
		if c.Kind == "categorical" && p.Encoding == "onehot" {
			for _, v := range c.Categories {
				out = append(out, c.Name+"="+v)
			}
			continue
		}
		out = append(out, c.Name)
	}
	return out
}

// OutputColumn maps each output feature to its input column index.
func (p *Preprocessor) OutputColumn() []int {
	var out []int
	for i, c := range p.Columns {
		if c.Kind == "categorical" && p.Encoding == "onehot" {
			for range c.Categories {
				out = append(out, i)
			}
			continue
		}
		out = append(out, i)
	}
	return out
}

// Transform encodes one raw row into out (len Width). It does not allocate.
func (p *Preprocessor) Transform(raw, out []float64) {
	j := 0
	for i := range p.Columns {
		c := &p.Columns[i]
		v := raw[i]
		if c.Kind == "categorical" {
			code := -1
			if v >= 0 && v < float64(len(c.Categories)) {
				code = int(v)
			}
			if p.Encoding == "onehot" {
				for k := range c.Categories {
					out[j+k] = 0
				}
				if code >= 0 {
					out[j+code] = 1
				}
				j += len(c.Categories)
			} else {
				out[j] = float64(code)
				j++
			}
			continue
		}
		switch {
		case v != v:
			v = c.Impute
		case v > c.High:
			v = c.High
		case v < c.Low:
			v = c.Low
		}
		out[j] = v
		j++
	}
	if p.Mean != nil {
		for k := range out[:j] {
			d := out[k] - p.Mean[k]
			if math.IsInf(d, 0) { // a value and a mean at opposite float64 extremes
				out[k] = out[k]/p.Scale[k] - p.Mean[k]/p.Scale[k]
				continue
			}
			out[k] = d / p.Scale[k]
		}
	}
}

// Code returns the input code of a categorical value of column i.
func (p *Preprocessor) Code(i int, s string) float64 {
	for k, v := range p.Columns[i].Categories {
		if v == s {
			return float64(k)
		}
	}
	return -1
}

// fitPreprocessor learns the preprocessing of the frame's columns.
func fitPreprocessor(f *Frame, encoding string, standardize bool, workers int) (*Preprocessor, error) {
	p := &Preprocessor{Encoding: encoding}
	// Each column is fitted on its own (numeric ones sort their finite
	// values for the median, in a scratch column of the worker's: a new
	// slice per column was the frame's size again in garbage, all of it
	// alive in the heap beside the training matrix built next), then the
	// columns are kept or dropped in frame order.
	// Columns the reader left out (Frame.Dropped) are listed first.
	p.Dropped = slices.Clone(f.Dropped)
	specs := make([]*ColumnSpec, len(f.Names))
	eachColumn(len(f.Names), f.Rows, workers, func(c int, finite, _ []float64) {
		specs[c] = fitColumn(f, c, finite[:0])
	})
	for c, name := range f.Names {
		if specs[c] == nil {
			p.Dropped = append(p.Dropped, name)
			continue
		}
		p.Columns = append(p.Columns, *specs[c])
	}
	if len(p.Columns) == 0 {
		return nil, fmt.Errorf("no usable feature columns (all %d constant or empty)", len(f.Names))
	}
	if err := p.init(); err != nil {
		return nil, err
	}
	if standardize {
		if err := p.fitStandardization(f); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// fitColumn fits frame column c, nil when it is dropped (a single
// category, no finite value, or constant without missing values); finite
// is scratch with room for every row.
func fitColumn(f *Frame, c int, finite []float64) *ColumnSpec {
	name := f.Names[c]
	if f.Cat[c] != nil {
		counts := map[string]int{}
		for _, s := range f.Cat[c] {
			counts[s]++
		}
		if len(counts) < 2 {
			return nil
		}
		cats := make([]string, 0, len(counts))
		for s := range counts {
			cats = append(cats, s)
		}
		sort.Strings(cats)
		return &ColumnSpec{Name: name, Kind: "categorical", Categories: cats}
	}
	col := f.Num[c]
	for _, v := range col {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			finite = append(finite, v)
		}
	}
	if len(finite) == 0 {
		return nil
	}
	sort.Float64s(finite)
	lo, hi := finite[0], finite[len(finite)-1]
	// Constant after clamping: infinities clamp to the same value.
	if lo == hi && !slices.ContainsFunc(col, func(v float64) bool { return v != v }) {
		return nil
	}
	med := finite[len(finite)/2]
	if len(finite)%2 == 0 {
		// Halves first: the sum of two values near the float64 limit
		// overflows (and halving is exact, so nothing else changes).
		med = finite[len(finite)/2-1]/2 + finite[len(finite)/2]/2
	}
	return &ColumnSpec{Name: name, Kind: "numeric", Impute: med, Low: lo, High: hi}
}

// fitStandardization learns each output feature's mean and standard
// deviation in units of a power of two near its largest magnitude, so
// values near the float64 limit (1e300) neither overflow the sums nor lose
// their scale, and the scaling itself rounds nothing.
func (p *Preprocessor) fitStandardization(f *Frame) error {
	src, err := p.source(f)
	if err != nil {
		return err
	}
	w := p.width
	buf := make([]float64, len(p.Columns))
	row := make([]float64, w)
	each := func(fn func(k int, v float64)) {
		for i := 0; i < f.Rows; i++ {
			src.fill(i, buf)
			p.Transform(buf, row)
			for k, v := range row {
				fn(k, v)
			}
		}
	}
	lo, hi := make([]float64, w), make([]float64, w)
	for k := range lo {
		lo[k], hi[k] = math.Inf(1), math.Inf(-1)
	}
	each(func(k int, v float64) { lo[k], hi[k] = math.Min(lo[k], v), math.Max(hi[k], v) })
	unit := make([]float64, w)
	for k := range unit {
		unit[k] = 1
		if m := math.Max(math.Abs(lo[k]), math.Abs(hi[k])); m > 0 {
			_, e := math.Frexp(m)
			unit[k] = math.Ldexp(1, e-1) // in (m/2, m]: 2^e overflows for m near the limit
		}
	}
	n := float64(f.Rows)
	mean := make([]float64, w)
	each(func(k int, v float64) { mean[k] += v / unit[k] })
	for k := range mean {
		mean[k] /= n
	}
	// Corrected two-pass variance: sum(d)^2/n takes out the rounding
	// error of the mean.
	ss, sd := make([]float64, w), make([]float64, w)
	each(func(k int, v float64) {
		d := v/unit[k] - mean[k]
		ss[k] += d * d
		sd[k] += d
	})
	// No absolute floor on the deviation: a feature of values near 1e-12
	// is scaled like any other. Only a constant feature is left unscaled,
	// centred on its exact value; since inputs clamp to the training range,
	// any input gives it 0, and no input gives any feature more than its
	// training range over its deviation.
	scale := make([]float64, w)
	for k := range mean {
		if lo[k] == hi[k] {
			mean[k], scale[k] = lo[k], 1
			continue
		}
		v := (ss[k] - sd[k]*sd[k]/n) / n
		scale[k] = math.Sqrt(math.Max(v, 0)) * unit[k]
		mean[k] *= unit[k]
		if !(scale[k] > 0) || math.IsInf(scale[k], 0) {
			scale[k] = unit[k] // values a few ulps apart whose deviation rounded away
		}
	}
	p.Mean, p.Scale = mean, scale
	return nil
}

// rowSource reads a frame's rows in the preprocessor's column order, with
// category codes, one row at a time (no n-by-columns copy of the frame).
type rowSource struct {
	num [][]float64 // numeric column, nil for categorical
	cat [][]float64 // category codes of a categorical column
}

func (s *rowSource) fill(r int, buf []float64) {
	for i, col := range s.num {
		if col != nil {
			buf[i] = col[r]
		} else {
			buf[i] = s.cat[i][r]
		}
	}
}

// columnIndex maps the model's columns onto the frame by name, -1 for a
// missing one, and names every missing column in its error.
func (p *Preprocessor) columnIndex(f *Frame) ([]int, error) {
	idx := make([]int, len(p.Columns))
	var missing []string
	for i, c := range p.Columns {
		idx[i] = f.Column(c.Name)
		if r, ok := repeatOf[c.Name]; ok && idx[i] < 0 {
			// A model trained before the readers left the repeat
			// out reads the column it repeats.
			idx[i] = f.Column(r)
		}
		if idx[i] < 0 {
			missing = append(missing, c.Name)
		}
	}
	if len(missing) > 0 {
		return idx, &MissingColumnsError{Columns: missing}
	}
	return idx, nil
}

// missingColumns is the error of a frame that lacks model columns, nil
// for one that has them all.
func (p *Preprocessor) missingColumns(f *Frame) error {
	_, err := p.columnIndex(f)
	return err
}

// source maps the model's columns onto the frame by name. The error names
// every missing column.
func (p *Preprocessor) source(f *Frame) (*rowSource, error) {
	idx, err := p.columnIndex(f)
	if err != nil {
		return nil, err
	}
	nc := len(p.Columns)
	src := &rowSource{num: make([][]float64, nc), cat: make([][]float64, nc)}
	for i, c := range p.Columns {
		j := idx[i]
		if c.Kind == "categorical" {
			lookup := make(map[string]float64, len(c.Categories))
			for k, s := range c.Categories {
				lookup[s] = float64(k)
			}
			codes := make([]float64, f.Rows)
			for r := range codes {
				var s string
				if f.Cat[j] != nil {
					s = f.Cat[j][r]
				} else {
					s = fmtNum(f.Num[j][r])
				}
				code, ok := lookup[s]
				if !ok {
					code = -1
				}
				codes[r] = code
			}
			src.cat[i] = codes
			continue
		}
		if f.Num[j] == nil {
			for r, v := range f.Cat[j] {
				if _, err := parseNum(v); err != nil {
					return nil, fmt.Errorf("column %q is numeric in the model but text in the data: data row %d has %q", c.Name, f.base+r+1, v)
				}
			}
			return nil, fmt.Errorf("column %q is numeric in the model but text in the data", c.Name)
		}
		src.num[i] = f.Num[j]
	}
	return src, nil
}

// codes returns the frame's raw rows (row-major, len(Columns) per row) in
// the preprocessor's column order, with category codes.
func (p *Preprocessor) codes(f *Frame) ([]float64, error) {
	src, err := p.source(f)
	if err != nil {
		return nil, err
	}
	nc := len(p.Columns)
	raw := make([]float64, f.Rows*nc)
	for r := 0; r < f.Rows; r++ {
		src.fill(r, raw[r*nc:(r+1)*nc])
	}
	return raw, nil
}

// matrix returns the encoded feature matrix (row-major, Width per row),
// its rows encoded on up to workers goroutines in blocks of 4,096 (each row
// gathers a value from every column: seconds on one core for a few hundred
// thousand rows of flow features).
func (p *Preprocessor) matrix(f *Frame, workers int) ([]float64, error) {
	src, err := p.source(f)
	if err != nil {
		return nil, err
	}
	const block = 4096
	w := p.width
	x := make([]float64, f.Rows*w)
	blocks := (f.Rows + block - 1) / block
	var next atomic.Int32
	var wg sync.WaitGroup
	for range max(1, min(workers, blocks)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]float64, len(p.Columns))
			for b := int(next.Add(1) - 1); b < blocks; b = int(next.Add(1) - 1) {
				for i := b * block; i < min(f.Rows, (b+1)*block); i++ {
					src.fill(i, buf)
					p.Transform(buf, x[i*w:(i+1)*w])
				}
			}
		}()
	}
	wg.Wait()
	return x, nil
}

// MissingColumnsError reports data that lacks columns a model needs.
type MissingColumnsError struct{ Columns []string }

// Error lists the missing columns, so the user sees what the data must add.
func (e *MissingColumnsError) Error() string {
	return fmt.Sprintf("data lacks %d model feature column(s): %q", len(e.Columns), e.Columns)
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
