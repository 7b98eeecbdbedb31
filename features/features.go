// Package features turns flow records into named feature columns: the
// CICFlowMeter/CIC-IDS2017 set (same names and order as the published CSVs),
// extras (ratios, higher moments, end reason), the first packets of each
// flow (SPLT) and NSL-KDD-style connection and window features.
//
// One registry of column definitions drives the CSV header, the Parquet
// schema, model inputs (by name) and docs/features.md, so they never drift.
//
// The per-flow part (Extractor.Fill) is stateless and safe for concurrent
// use; the order-dependent window part (Windows.Observe) runs in the single
// goroutine that receives flows in emission order.
package features

//go:generate go run ./internal/gendoc -o ../docs/features.md

import (
	"fmt"

	"github.com/flowhawk/flowhawk/collector"
)

// Kind is how a column's value is stored and formatted.
type Kind uint8

const (
	// Float is a real number, stored in Row.Num.
	Float Kind = iota
	// Int is an integral number, stored in Row.Num and written without a
	// fraction.
	Int
	// String is text, stored in Row.Str.
	String
)

// String is the kind as docs/features.md lists it.
func (k Kind) String() string {
	switch k {
	case Float:
		return "float"
	case Int:
		return "int"
	case String:
		return "string"
	}
	return "unknown"
}

// Direction says which packets of the flow a column describes.
type Direction uint8

const (
	// Flow columns describe both directions (or the flow as a whole).
	Flow Direction = iota
	// Fwd columns describe the initiator-to-responder packets.
	Fwd
	// Bwd columns describe the responder-to-initiator packets.
	Bwd
)

// String is the direction as docs/features.md lists it.
func (d Direction) String() string {
	switch d {
	case Fwd:
		return "fwd"
	case Bwd:
		return "bwd"
	}
	return "flow"
}

// Group is the family a column belongs to; Config selects groups.
type Group uint8

const (
	// GroupCIC is the CIC-IDS2017 TrafficLabelling column set (always on).
	GroupCIC Group = iota
	// GroupExtra holds flowhawk's additional flow statistics.
	GroupExtra
	// GroupSPLT holds the first-N packet sizes, directions and gaps.
	GroupSPLT
	// GroupKDD holds the NSL-KDD-style connection and window features.
	GroupKDD
)

// String is the group's name in docs/features.md.
func (g Group) String() string {
	switch g {
	case GroupCIC:
		return "cic"
	case GroupExtra:
		return "extra"
	case GroupSPLT:
		return "splt"
	case GroupKDD:
		return "kdd"
	}
	return "unknown"
}

// Basis is what a column's value is computed from. It says how two sources
// that saw the same packets (the kernel and pcap paths) may differ on it:
// not at all, by their timestamps, or by the flows around it.
type Basis uint8

const (
	// BasisUnknown is a column the registry could not classify (a unit it
	// does not know); tests that compare sources fail on it.
	BasisUnknown Basis = iota
	// Counted columns come from packet counts, lengths, headers, flags and
	// the flow key: the same packets give the same value.
	Counted
	// Timed columns come from packet timestamps: times, durations, gaps,
	// active/idle periods, rates per second and the shape of the gaps.
	// Two sensors stamp a packet microseconds apart, so they differ by as
	// much.
	Timed
	// SpanWindow columns count the flows observed before this one that
	// started in the Span (2 s) up to its start (Windows): they depend on
	// the emission order and on the starts of the other flows.
	SpanWindow
	// ConnWindow columns count the last Conns (100) flows observed: they
	// depend on the emission order only.
	ConnWindow
)

// String is the basis's name.
func (b Basis) String() string {
	switch b {
	case Counted:
		return "counted"
	case Timed:
		return "timed"
	case SpanWindow:
		return "span-window"
	case ConnWindow:
		return "conn-window"
	}
	return "unknown"
}

// basisOfUnit classifies a numeric column by its unit: time units and
// rates per second are Timed, counts and sizes Counted, dimensionless
// values Counted unless the definition says otherwise (the shape of the
// gaps), and a unit not listed here is BasisUnknown, so a new unit has to
// be classified before a column can use it.
func basisOfUnit(unit string) Basis {
	switch unit {
	case "us", "s", "bytes/s", "packets/s":
		return Timed
	case "", "bytes", "packets", "connections", "bytes^2":
		return Counted
	}
	return BasisUnknown
}

// Column describes one feature column. Name is the unique key used by model
// files, JSON keys and Parquet fields; Header is the exact CSV header text.
type Column struct {
	// Index is the column's position in Extractor.Columns and in Row.
	Index int
	// Name is unique: CIC names without the leading space, the second
	// "Fwd Header Length" as "Fwd Header Length.1" (as pandas names it).
	Name string
	// Header is the CSV header text: CIC columns keep CIC's leading space.
	Header string
	Kind   Kind
	// Unit is the physical unit ("us", "bytes", "packets", "1/s", ...),
	// "" for dimensionless values and text.
	Unit    string
	Dir     Direction
	Group   Group
	Doc     string
	Formula string
	// CIC says how the value differs from what CICFlowMeter (the tool that
	// produced CIC-IDS2017) computes; "" when it is the same.
	CIC string
	// Basis is what the value is computed from (packets, timestamps, other
	// flows): how far two sources of the same packets may differ on it.
	Basis Basis
}

// Numeric reports whether the column's value lives in Row.Num.
func (c *Column) Numeric() bool { return c.Kind != String }

// Row holds one flow's feature values, indexed by column index. Numeric
// columns use Num (Str[i] is empty), string columns use Str (Num[i] is 0).
// Str values are byte slices reused across Fill calls: copy them to keep
// them.
type Row struct {
	Num []float64
	Str [][]byte
	c   calc
}

// Text returns column i of a string column as a string (allocates).
func (r *Row) Text(i int) string { return string(r.Str[i]) }

// Config selects the column groups.
type Config struct {
	// SPLT is the number of first packets described by splt_* columns
	// (0: none). The flow table must keep at least this many samples
	// (collector.TableConfig.Samples); missing packets read as 0.
	SPLT int
	// Extras adds flowhawk's additional statistics (ratios, skewness,
	// kurtosis, end reason, partial flag).
	Extras bool
	// Windows adds the NSL-KDD-style columns; callers then pass the
	// WindowValues from Windows.Observe to Fill.
	Windows bool
}

// DefaultConfig is every group on, with 10 SPLT packets.
func DefaultConfig() Config { return Config{SPLT: 10, Extras: true, Windows: true} }

// MaxSPLT bounds Config.SPLT.
const MaxSPLT = 1024

// Extractor computes feature rows from flow records. It holds no mutable
// state: one Extractor serves any number of goroutines, each with its own
// Row.
type Extractor struct {
	cfg  Config
	cols []Column
	ops  []colOp // the defs' code, packed: Fill reads no Column
}

// colOp is the code of column at, or of the n columns from at: num for a
// numeric column, str for text, block for a run of numeric columns.
type colOp struct {
	at, n int
	num   func(c *calc) float64
	str   func(c *calc, b []byte) []byte
	block func(c *calc, num []float64)
}

// opsOf packs defs into the operations Fill runs; with blocks false every
// column is an operation of its own (for tests of the blocks).
func opsOf(defs []def, blocks bool) []colOp {
	var ops []colOp
	for i := 0; i < len(defs); i++ {
		d := &defs[i]
		if blocks && d.block != nil {
			ops = append(ops, colOp{at: i, n: d.blockLen, block: d.block})
			i += d.blockLen - 1
			continue
		}
		ops = append(ops, colOp{at: i, n: 1, num: d.num, str: d.str})
	}
	return ops
}

// New builds an extractor for cfg.
func New(cfg Config) (*Extractor, error) {
	if cfg.SPLT < 0 || cfg.SPLT > MaxSPLT {
		return nil, fmt.Errorf("features: splt %d out of range 0..%d", cfg.SPLT, MaxSPLT)
	}
	defs := registry(cfg)
	x := &Extractor{cfg: cfg, cols: make([]Column, len(defs)), ops: opsOf(defs, true)}
	seen := make(map[string]bool, len(defs))
	for i := range defs {
		defs[i].Column.Index = i
		x.cols[i] = defs[i].Column
		if seen[defs[i].Name] {
			return nil, fmt.Errorf("features: duplicate column name %q", defs[i].Name)
		}
		if n := defs[i].blockLen; n > 0 {
			if i+n > len(defs) {
				return nil, fmt.Errorf("features: block of %d columns from %q runs past the last column", n, defs[i].Name)
			}
			for _, d := range defs[i : i+n] {
				if d.str != nil {
					return nil, fmt.Errorf("features: block from %q holds text column %q", defs[i].Name, d.Name)
				}
			}
		}
		seen[defs[i].Name] = true
	}
	return x, nil
}

// Config returns the configuration the extractor was built with.
func (x *Extractor) Config() Config { return x.cfg }

// Columns returns the column definitions in output order. The slice is
// shared: do not modify it.
func (x *Extractor) Columns() []Column { return x.cols }

// Index returns the index of the column with the given name, -1 if none.
func (x *Extractor) Index(name string) int {
	for i := range x.cols {
		if x.cols[i].Name == name {
			return i
		}
	}
	return -1
}

// NewRow allocates a row for this extractor's columns; reuse it across
// Fill calls (one per goroutine).
func (x *Extractor) NewRow() *Row {
	r := &Row{Num: make([]float64, len(x.cols)), Str: make([][]byte, len(x.cols))}
	for i := range x.cols {
		if x.cols[i].Kind == String {
			r.Str[i] = make([]byte, 0, 48)
		}
	}
	return r
}

// Fill computes every column of f into row. wv carries the window features
// from Windows.Observe; it may be nil when Config.Windows is off (and then
// reads as all zeros when it is on). Fill never allocates once row's
// string buffers have grown, and never writes NaN or Inf: an undefined
// value is 0 (each column's doc says when).
func (x *Extractor) Fill(f *collector.Flow, wv *WindowValues, row *Row) {
	c := &row.c
	c.init(f, wv)
	num, str := row.Num[:len(x.cols)], row.Str[:len(x.cols)]
	for k := range x.ops {
		d := &x.ops[k]
		i := d.at
		switch {
		case d.str != nil:
			str[i] = d.str(c, str[i][:0])
			num[i] = 0
		case d.block != nil:
			v := num[i : i+d.n]
			d.block(c, v)
			for j, y := range v {
				if y-y != 0 {
					v[j] = 0
				}
			}
		default:
			v := d.num(c)
			if v-v != 0 { // NaN or ±Inf: one test where IsNaN and IsInf take two
				v = 0
			}
			num[i] = v
		}
	}
	c.f, c.wv = nil, nil // do not keep the (possibly recycled) flow reachable
}
