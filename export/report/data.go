package report

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/flowhawk/flowhawk/internal/cictime"
	"github.com/flowhawk/flowhawk/internal/cp1252"
	"github.com/flowhawk/flowhawk/internal/flatjson"
)

// Flow is what the report needs from one flow row.
type Flow struct {
	Time     time.Time // flow start
	Src, Dst string
	DstPort  int
	Proto    int
	Bytes    float64 // both directions; IP bytes when the file has them, else payload bytes
	Packets  float64
	Label    string // "Predicted Label" if present, else "Label"
}

// Alert is what the report needs from one alert line.
type Alert struct {
	Time     time.Time
	Detector string
	Src, Dst string
	// Occurrences are the occurrences this line adds: an aggregated
	// line's flowhawk.count is its cause's total since event.start, so a
	// line adds its count less the count its cause's previous line gave.
	// 1 for lines without flowhawk.count; 0 counts as 1.
	Occurrences float64
}

func (a *Alert) occurrences() float64 {
	if a.Occurrences == 0 {
		return 1
	}
	return a.Occurrences
}

// Column names looked up in flow files (CIC-IDS2017 names, compared
// without surrounding spaces, and flowhawk's extras).
const (
	colSrc      = "Source IP"
	colDst      = "Destination IP"
	colDstPort  = "Destination Port"
	colProto    = "Protocol"
	colTime     = "Timestamp"
	colFwdLen   = "Total Length of Fwd Packets"
	colBwdLen   = "Total Length of Bwd Packets"
	colFwdPkts  = "Total Fwd Packets"
	colBwdPkts  = "Total Backward Packets"
	colFwdBytes = "fwd_bytes"
	colBwdBytes = "bwd_bytes"
	colLabel    = "Label"
	colPred     = "Predicted Label"
)

// fleetColumns are the names a fleet's flow records give the wanted
// columns: the Parquet files flowhawk collect stores and the NATS JSON
// records (stream.FlowRecord). A file without a wanted column is read
// through these, so report charts a fleet's store too.
var fleetColumns = map[string]string{
	colSrc: "src_ip", colDst: "dst_ip", colDstPort: "dst_port", colProto: "proto", colTime: "start",
	colFwdPkts: "fwd_packets", colBwdPkts: "bwd_packets", colPred: "class",
}

// addFleetNames points each wanted column that idx lacks at its fleet
// name's index, where idx has that.
func addFleetNames(idx map[string]int) {
	for want, fleet := range fleetColumns {
		if _, ok := idx[want]; ok {
			continue
		}
		if i, ok := idx[fleet]; ok {
			idx[want] = i
		}
	}
}

var wanted = []string{colSrc, colDst, colDstPort, colProto, colTime, colFwdLen, colBwdLen, colFwdPkts, colBwdPkts, colFwdBytes, colBwdBytes, colLabel, colPred}

// Timestamp layouts accepted: flowhawk's (features.TimestampLayout) and
// RFC 3339; CICFlowMeter's are read by cictime.Parse.
var timeLayouts = []string{"2006-01-02 15:04:05.000000", "2006-01-02 15:04:05", time.RFC3339Nano}

func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return cictime.Parse(s)
}

// rowGetter returns the raw text or number of a wanted column of the
// current row: ok=false if the file has no such column.
type rowGetter func(name string) (s string, f float64, isNum, ok bool)

func (g rowGetter) str(name string) string {
	s, f, isNum, ok := g(name)
	if !ok {
		return ""
	}
	if isNum {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strings.TrimSpace(cp1252.ToUTF8(s))
}

// maxCount bounds a byte or packet count: 2^53, the largest integer a
// float64 holds exactly, far above any real flow's, and small enough that
// no number of rows adds up to an infinity.
const maxCount = 1 << 53

// num returns the number in column name: ok=false when the file has no
// such column or the cell is empty, an error when the cell holds something
// that is not a finite number.
func (g rowGetter) num(name string) (v float64, ok bool, err error) {
	s, f, isNum, ok := g(name)
	if !ok {
		return 0, false, nil
	}
	if isNum {
		v = f
	} else {
		s = strings.TrimSpace(s)
		if s == "" {
			return 0, false, nil
		}
		if v, err = strconv.ParseFloat(s, 64); err != nil {
			return 0, false, fmt.Errorf("column %q: %q is not a number", name, s)
		}
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false, fmt.Errorf("column %q: %v is not a finite number", name, v)
	}
	return v, true, nil
}

// count is num for a byte or packet count, which must lie in [0, 2^53].
func (g rowGetter) count(name string) (float64, bool, error) {
	v, ok, err := g.num(name)
	if err == nil && (v < 0 || v > maxCount) {
		err = fmt.Errorf("column %q: %v is not a count (0 to 2^53)", name, v)
	}
	return v, ok, err
}

// flowFrom reads one row; an error names the column and the value, and the
// caller adds the file and line.
func flowFrom(g rowGetter) (Flow, error) {
	f := Flow{Src: g.str(colSrc), Dst: g.str(colDst)}
	var errs []error
	keep := func(v float64, ok bool, err error) (float64, bool) {
		if err != nil {
			errs = append(errs, err)
		}
		return v, ok
	}
	if v, ok := keep(g.num(colDstPort)); ok {
		f.DstPort = int(v)
	}
	if v, ok := keep(g.num(colProto)); ok {
		f.Proto = int(v)
	}
	if ts := g.str(colTime); ts != "" {
		var ok bool
		if f.Time, ok = parseTime(ts); !ok {
			errs = append(errs, fmt.Errorf("column %q: %q is not a time (want like 2017-07-07 15:30:00.000000, RFC 3339 or 7/7/2017 15:30)", colTime, ts))
		}
	}
	fb, ok1 := keep(g.count(colFwdBytes))
	bb, ok2 := keep(g.count(colBwdBytes))
	if ok1 || ok2 {
		f.Bytes = fb + bb
	} else {
		a, _ := keep(g.count(colFwdLen))
		b, _ := keep(g.count(colBwdLen))
		f.Bytes = a + b
	}
	a, _ := keep(g.count(colFwdPkts))
	b, _ := keep(g.count(colBwdPkts))
	f.Packets = a + b
	if l := g.str(colPred); l != "" {
		f.Label = l
	} else {
		f.Label = g.str(colLabel)
	}
	if len(errs) > 0 {
		return Flow{}, errs[0]
	}
	return f, nil
}

// ReadFlows reads a flow file written by flowhawk (or a CIC-IDS2017 CSV):
// CSV, JSON Lines or Parquet, chosen by extension. Columns are found by
// name, so any column order and any extra columns work. It holds every
// flow; ReadFlowStats holds what the charts need only.
func ReadFlows(path string) ([]Flow, error) {
	var out []Flow
	err := readFlows(path, func(f *Flow) {
		f.Src, f.Dst, f.Label = strings.Clone(f.Src), strings.Clone(f.Dst), strings.Clone(f.Label)
		out = append(out, *f)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ReadFlowStats reads a flow file as ReadFlows does, gathering the flows
// as it goes: its memory grows with the file's distinct addresses,
// services and classes, not with its rows.
func ReadFlowStats(path string) (*FlowStats, error) {
	st := NewFlowStats()
	if err := st.Read(path); err != nil {
		return nil, err
	}
	return st, nil
}

// Read adds the flows of the flow file at path, so one report can chart
// several files (a fleet store's flows-*.parquet).
func (s *FlowStats) Read(path string) error { return readFlows(path, s.Add) }

// readFlows calls add with each row of the flow file at path; the Flow and
// its strings are valid during the call only.
func readFlows(path string, add func(*Flow)) error {
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer fh.Close()
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return readCSV(fh, path, add)
	case ".jsonl", ".ndjson":
		return readJSONL(fh, path, add)
	case ".parquet":
		st, err := fh.Stat()
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		return readParquet(fh, st.Size(), path, add)
	}
	return fmt.Errorf("report: %s: unknown extension (want .csv, .jsonl or .parquet)", path)
}

func readCSV(r io.Reader, path string, add func(*Flow)) error {
	cr := csv.NewReader(bufio.NewReaderSize(r, 1<<20))
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		// An empty file (a run killed before its header was written)
		// holds no flows, as an empty JSON Lines file does; it failed
		// a report of every file of a directory.
		return nil
	}
	if err != nil {
		return fmt.Errorf("report: %s: header: %w", path, err)
	}
	idx := map[string]int{}
	for i, h := range head {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if _, dup := idx[h]; !dup {
			idx[h] = i
		}
	}
	addFleetNames(idx)
	if _, ok := idx[colSrc]; !ok {
		if _, ok := idx["Destination Port"]; ok {
			return fmt.Errorf("report: %s: no %q column: a CIC-IDS2017 MachineLearningCVE file has no addresses or times to chart; use the TrafficLabelling file of the same day", path, colSrc)
		}
		return fmt.Errorf("report: %s: no %q column (is it a flow file?)", path, colSrc)
	}
	nf := len(head)
	var rec []string
	get := rowGetter(func(name string) (string, float64, bool, bool) {
		i, ok := idx[name]
		if !ok || i >= len(rec) {
			return "", 0, false, false
		}
		return rec[i], 0, false, true
	})
	for {
		rec, err = cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("report: %s: %w", path, err)
		}
		// A row of another length is one cut short (a writer killed
		// mid-row) or a broken file: its missing cells read as absent
		// columns, so it counted as a flow with payload bytes for IP
		// bytes and no label. A row of empty cells, which the
		// CIC-IDS2017 files end in, carries nothing: it is skipped
		// whatever its length, as the classifier's reader skips it (it
		// counted as a flow of no bytes).
		if blankRow(rec) {
			continue
		}
		if len(rec) != nf {
			line, _ := cr.FieldPos(0)
			return fmt.Errorf("report: %s:%d: %d fields, header has %d (a row cut short?)", path, line, len(rec), nf)
		}
		f, err := flowFrom(get)
		if err != nil {
			line, _ := cr.FieldPos(0)
			return fmt.Errorf("report: %s:%d: %w", path, line, err)
		}
		add(&f)
	}
}

// blankRow reports whether every cell of rec is empty or blank.
func blankRow(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

func readJSONL(r io.Reader, path string, add func(*Flow)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var m map[string]any
	// A record with the first record's keys in its order, flat (as
	// flowhawk writes them), is read from flatjson's split instead of a
	// map: the getter below gives what the map's would.
	var (
		plan   []string
		pos    map[string]int
		fields flatjson.Fields
		flat   bool
	)
	get := rowGetter(func(name string) (string, float64, bool, bool) {
		if flat {
			i, ok := pos[name]
			if !ok {
				if i, ok = pos[fleetColumns[name]]; !ok {
					return "", 0, false, false
				}
			}
			switch v := fields.Values[i]; fields.Kinds[i] {
			case flatjson.Number:
				x, _ := strconv.ParseFloat(v, 64) // checked by flatNumbersFit
				return "", x, true, true
			case flatjson.String:
				return v, 0, false, true
			case flatjson.Null:
				return "", 0, false, false // as an empty CSV cell or a Parquet null
			default:
				return v, 0, false, true // true, false: as fmt.Sprint prints a bool
			}
		}
		v, ok := m[name]
		if !ok {
			if v, ok = m[fleetColumns[name]]; !ok {
				return "", 0, false, false
			}
		}
		switch x := v.(type) {
		case nil:
			return "", 0, false, false
		case float64:
			return "", x, true, true
		case string:
			return x, 0, false, true
		}
		return fmt.Sprint(v), 0, false, true
	})
	line := 1
	for ; sc.Scan(); line++ {
		b := sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		text := string(b)
		flat = plan != nil && flatjson.Split(text, &fields) && slices.Equal(fields.Keys, plan) && flatNumbersFit(&fields)
		if !flat {
			m = nil
			if err := json.Unmarshal(b, &m); err != nil {
				return fmt.Errorf("report: %s:%d: %w", path, line, err)
			}
			if err := isFlowRecord(m); err != nil {
				return fmt.Errorf("report: %s:%d: %w", path, line, err)
			}
			if plan == nil && flatJSON {
				plan, pos = flatPlan(text)
			}
		}
		f, err := flowFrom(get)
		if err != nil {
			return fmt.Errorf("report: %s:%d: %w", path, line, err)
		}
		add(&f)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("report: %s:%d: %w", path, line, err)
	}
	return nil
}

// flatJSON enables readJSONL's flatjson path; tests turn it off to compare
// with encoding/json's.
var flatJSON = true

// flatPlan returns the keys of flow record b and their positions, for the
// records after it: nil when b is not flat, has a key twice (the map
// keeps the last value) or is not a flow record.
func flatPlan(b string) ([]string, map[string]int) {
	var fs flatjson.Fields
	if !flatjson.Split(b, &fs) {
		return nil, nil
	}
	pos := make(map[string]int, len(fs.Keys))
	for i, k := range fs.Keys {
		if _, dup := pos[k]; dup {
			return nil, nil
		}
		pos[k] = i
	}
	_, src := pos[colSrc]
	_, fleetSrc := pos[fleetColumns[colSrc]]
	if !src && !fleetSrc {
		return nil, nil
	}
	return slices.Clone(fs.Keys), pos
}

// flatNumbersFit reports whether every number of fs is a float64, as
// encoding/json needs to decode the record at all: only one with an
// exponent or of 300 digits or more can fall outside.
func flatNumbersFit(fs *flatjson.Fields) bool {
	for i, v := range fs.Values {
		if fs.Kinds[i] == flatjson.Number && (len(v) >= 300 || strings.ContainsAny(v, "eE")) {
			if _, err := strconv.ParseFloat(v, 64); err != nil {
				return false
			}
		}
	}
	return true
}

// isFlowRecord refuses a JSON line without a source address, which every
// flow record has: an alerts file among the flow files (report F
// --alerts alerts-*.jsonl, where the shell gives --alerts the first file
// only) was charted as flows of nothing, one per alert.
func isFlowRecord(m map[string]any) error {
	if _, ok := m[colSrc]; ok {
		return nil
	}
	if _, ok := m[fleetColumns[colSrc]]; ok {
		return nil
	}
	_, rule := m["rule"]
	_, ruleName := m["rule.name"] // ECS's dotted keys, which --alerts reads too
	_, ts := m["@timestamp"]
	if rule || ruleName || ts {
		return errors.New("an alert, not a flow record: give alerts files with --alerts, once for each file")
	}
	return fmt.Errorf("no %q or %q field (is it a flow file?)", colSrc, fleetColumns[colSrc])
}

func readParquet(r io.ReaderAt, size int64, path string, add func(*Flow)) error {
	pf, err := parquet.OpenFile(r, size)
	if err != nil {
		return fmt.Errorf("report: %s: %w", path, err)
	}
	idx := map[string]int{}
	// A column of the Timestamp logical type (collect's start) holds
	// integers of its unit since the epoch: read as a time, not a count.
	tsUnit := map[int]time.Duration{}
	for i, p := range pf.Schema().Columns() {
		idx[strings.TrimSpace(strings.Join(p, "."))] = i
		if leaf, ok := pf.Schema().Lookup(p...); ok && leaf.Node != nil {
			if lt := leaf.Node.Type().LogicalType(); lt != nil {
				if ts, ok := lt.Value.(*format.TimestampType); ok && ts.Unit.Value != nil {
					tsUnit[i] = ts.Unit.Value.Duration()
				}
			}
		}
	}
	addFleetNames(idx)
	if _, ok := idx[colSrc]; !ok {
		return fmt.Errorf("report: %s: no %q column (is it a flow file?)", path, colSrc)
	}
	var row parquet.Row
	get := rowGetter(func(name string) (string, float64, bool, bool) {
		i, ok := idx[name]
		if !ok {
			return "", 0, false, false
		}
		for _, v := range row {
			if v.Column() != i {
				continue
			}
			switch v.Kind() {
			case parquet.Double:
				return "", v.Double(), true, true
			case parquet.Float:
				return "", float64(v.Float()), true, true
			case parquet.Int64:
				if u, ok := tsUnit[i]; ok {
					return unixIn(v.Int64(), u).Format(time.RFC3339Nano), 0, false, true
				}
				return "", float64(v.Int64()), true, true
			case parquet.Int32:
				return "", float64(v.Int32()), true, true
			case parquet.ByteArray, parquet.FixedLenByteArray:
				return string(v.ByteArray()), 0, false, true
			}
			return "", 0, false, false
		}
		return "", 0, false, false
	})
	buf := make([]parquet.Row, 256)
	n := 0 // rows read
	for _, rg := range pf.RowGroups() {
		rows := rg.Rows()
		for {
			k, err := rows.ReadRows(buf)
			for _, rr := range buf[:k] {
				row = rr
				n++
				f, err := flowFrom(get)
				if err != nil {
					rows.Close()
					return fmt.Errorf("report: %s: row %d: %w", path, n, err)
				}
				add(&f)
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rows.Close()
				return fmt.Errorf("report: %s: %w", path, err)
			}
		}
		rows.Close()
	}
	return nil
}

// unixIn is the time n units after the Unix epoch, in UTC; n far outside
// time.Duration's range (292 years of nanoseconds) is split, not wrapped.
func unixIn(n int64, unit time.Duration) time.Time {
	per := int64(time.Second / unit)
	return time.Unix(n/per, (n%per)*int64(unit)).UTC()
}

// ReadAlerts reads ECS alert lines as package detect writes them:
// @timestamp, rule.name (or the detector under flowhawk.detector /
// event.module), source.ip and destination.ip, nested or dotted.
func ReadAlerts(path string) ([]Alert, error) { return ReadAlertFiles([]string{path}) }

// ReadAlertFiles reads alerts files in the order given as one stream, so
// that a cause whose lines go on in the next file (--rotate, collect's
// alerts-<time>.jsonl) adds what its running count grew by there, not the
// whole count again. It holds every line; ReadAlertStats holds what the
// report shows only.
func ReadAlertFiles(paths []string) ([]Alert, error) {
	var out []Alert
	seen := newCauseCounts()
	for _, path := range paths {
		err := readAlerts(path, seen, func(l *alertLine) {
			out = append(out, Alert{Time: l.t, Detector: string(l.detector), Src: string(l.src), Dst: string(l.dst), Occurrences: l.occ})
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// causeCounts holds the last running count of each alert cause, across
// files, to tell what a line adds. A cause and start whose last line is
// more than causeHorizon of alert time away from its sensor's latest line
// is let go of (in a sweep each time the entries doubled), so weeks of a
// busy sensor's alerts, with new scanners every hour, hold the causes of
// about a day, not every cause ever seen. Each sensor (observer.name) has
// its own clock: in a fleet store one sensor may replay a capture of last
// year beside live ones, and measured against another sensor's line its
// causes still going on were let go of, and their next line counted whole.
type causeCounts struct {
	byStart map[string]*causeCount  // len(cause) cause event.start -> its last count
	latest  map[string]*causeLatest // cause -> its last line's entry in byStart
	key     []byte                  // scratch for byStart's key
	sensors map[string]int32        // observer.name ("" for none) -> index in clock
	clock   []int64                 // each sensor's latest line's @timestamp, Unix seconds
	sweepAt int                     // len(byStart) that starts the next sweep
}

// causeHorizon is how far in alert time a cause's last line may lie from
// its sensor's latest line before its count is let go of. The engine
// sends a cause's line at least once per --alert-interval while it goes
// on and forgets it one quiet interval later, when a recurrence starts
// over at 1 with a new start: a day is far beyond any interval in use,
// and a cause let go of and seen again with a count above 1 goes on from
// its cause's last line if that is still held, else adds its whole count.
const causeHorizon = 24 * 60 * 60

// minSweep is the number of entries below which no sweep runs.
const minSweep = 4096

// causeCount is the last running count of a cause and event.start, the
// @timestamp (Unix seconds) of its last line, and its sensor.
type causeCount struct {
	n      float64
	last   int64
	sensor int32
}

// causeLatest points at the entry of a cause's last line.
type causeLatest struct{ c *causeCount }

func newCauseCounts() *causeCounts {
	return &causeCounts{byStart: map[string]*causeCount{}, latest: map[string]*causeLatest{}, sensors: map[string]int32{}, sweepAt: minSweep}
}

// occurrences returns what a line of sensor obs (observer.name), cause
// (obs is part of it) with event.start start, running count c and
// @timestamp t (Unix seconds) adds: c less the count of the cause's
// previous line. A cause forgotten or evicted and seen again starts over
// at 1 with a new start. A line whose start moved back (the engine keeps
// the earliest start of the occurrences it merges) with a count above 1
// goes on from its cause's last line: read as a new cause, its whole
// count was added again. Counts are kept by start too, so two sensors'
// causes of one name in a fleet store keep their own even without
// observer.name. The maps are looked up by the line's bytes: only a new
// cause, start or sensor allocates.
func (cc *causeCounts) occurrences(obs, cause, start []byte, c float64, t int64) float64 {
	sensor, known := cc.sensors[string(obs)]
	if !known {
		sensor = int32(len(cc.clock))
		cc.sensors[string(obs)] = sensor
		cc.clock = append(cc.clock, t)
	}
	// A sensor's clock jump (or one bogus timestamp) must not make all
	// its causes look stale: no sweep at such a line.
	jump := !known || !near(t, cc.clock[sensor])
	cc.clock[sensor] = t
	// The cause's length goes first: a separator could appear in either
	// part ("a|b" with start "c" and "a" with start "b|c" were one key).
	cc.key = append(append(binary.AppendUvarint(cc.key[:0], uint64(len(cause))), cause...), start...)
	e := cc.byStart[string(cc.key)]
	l := cc.latest[string(cause)]
	var prev float64
	ok := e != nil
	if ok {
		prev = e.n
	} else if c > 1 && l != nil {
		prev, ok = l.c.n, true
	}
	if e == nil {
		if len(cc.byStart) >= cc.sweepAt && !jump {
			cc.sweep()
			l = cc.latest[string(cause)] // the sweep may have let go of it
		}
		e = &causeCount{sensor: sensor}
		cc.byStart[string(cc.key)] = e
	}
	e.n, e.last = c, t
	if l == nil {
		l = &causeLatest{}
		cc.latest[string(cause)] = l
	}
	l.c = e
	if ok && c > prev {
		return c - prev
	}
	return c
}

// sweep lets go of the entries whose last line is more than causeHorizon
// from their sensor's latest line, and sets the size of the next sweep to
// twice what is left, so sweeps cost O(1) a line.
func (cc *causeCounts) sweep() {
	for k, e := range cc.byStart {
		if !near(e.last, cc.clock[e.sensor]) {
			delete(cc.byStart, k)
		}
	}
	for k, l := range cc.latest {
		if !near(l.c.last, cc.clock[l.c.sensor]) { // the cause's newest entry: all its others are older
			delete(cc.latest, k)
		}
	}
	cc.sweepAt = max(2*len(cc.byStart), minSweep)
}

// near reports whether a and b are at most causeHorizon apart.
func near(a, b int64) bool { return a-b <= causeHorizon && b-a <= causeHorizon }

// alertLine is one alert line as the report reads it; its byte slices
// are valid during the call it is passed to only.
type alertLine struct {
	t                  time.Time
	detector, src, dst []byte
	// occ are the occurrences this line adds: an aggregated line's
	// flowhawk.count is its cause's total since event.start, so a line
	// adds its count less the count its cause's previous line gave; 1
	// for a line without flowhawk.count.
	occ float64
}

// unknownDetector names the detector of a line that names none.
var unknownDetector = []byte("unknown")

// readAlerts calls add with each alert line of path; seen holds each
// cause's last count, across files.
func readAlerts(path string, seen *causeCounts, add func(*alertLine)) error {
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var (
		v     alertValues
		a     alertLine
		cause []byte // scratch for the cause's key
	)
	line := 1
	for ; sc.Scan(); line++ {
		b := sc.Bytes()
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		if err := decodeAlertLine(b, &v); err != nil {
			return fmt.Errorf("report: %s:%d: %w", path, line, err)
		}
		a = alertLine{src: v.src, dst: v.dst}
		for _, d := range [][]byte{v.detector, v.category, v.name} {
			if a.detector = d; len(d) > 0 {
				break
			}
		}
		if len(a.detector) == 0 {
			a.detector = unknownDetector
		}
		if len(v.ts) == 0 && v.flowRecord {
			return fmt.Errorf("report: %s:%d: a flow record, not an alert: give flow files as arguments, alerts files with --alerts", path, line)
		}
		t, err := time.Parse(time.RFC3339Nano, string(v.ts))
		if err != nil {
			return fmt.Errorf("report: %s:%d: @timestamp %q: %w", path, line, v.ts, err)
		}
		a.t = t
		a.occ = 1
		if v.hasCount {
			if c := v.count; c < 1 || c > 1<<53 || c != math.Trunc(c) {
				return fmt.Errorf("report: %s:%d: flowhawk.count %v is not a count", path, line, c)
			}
			// A cause is the engine's (flowhawk.cause: its rule and key,
			// which for size, DNS, intel and flood rules leaves out a host
			// that changes from line to line). Lines written before
			// flowhawk.cause fall back to the rule and both hosts.
			// The sensor's name (observer.name, since 2026-12-07; empty
			// before), length first, goes before the cause: in a fleet
			// store, a line whose start moved back went on from another
			// sensor's last line of the same cause.
			cause = append(binary.AppendUvarint(cause[:0], uint64(len(v.observer))), v.observer...)
			if len(v.cause) > 0 {
				cause = append(cause, v.cause...)
			} else {
				cause = append(append(append(append(append(cause, v.name...), '|'), v.src...), '|'), v.dst...)
			}
			a.occ = seen.occurrences(v.observer, cause, v.start, v.count, t.Unix())
		}
		add(&a)
	}
	if err := sc.Err(); err != nil {
		// The line the scanner stopped in (a line past its 16 MB limit).
		return fmt.Errorf("report: %s:%d: %w", path, line, err)
	}
	return nil
}

// lookup finds a dotted ECS key either nested or flat; nil if absent.
func lookup(m map[string]any, key string) any {
	if v, ok := m[key]; ok {
		return v
	}
	head, rest, found := strings.Cut(key, ".")
	if !found {
		return nil
	}
	sub, ok := m[head].(map[string]any)
	if !ok {
		return nil
	}
	return lookup(sub, rest)
}

// Eval is one `flowhawk eval --json` document.
type Eval struct {
	Model   string `json:"model"`
	Kind    string `json:"kind"`
	Metrics struct {
		Rows      int        `json:"rows"`
		Accuracy  float64    `json:"accuracy"`
		MacroF1   float64    `json:"macro_f1"`
		Labels    []string   `json:"labels"`
		Confusion [][]int    `json:"confusion"`
		AUC       *float64   `json:"roc_auc"`
		PerClass  []PerClass `json:"per_class"`
	} `json:"metrics"`
}

// PerClass is one class's scores in an Eval.
type PerClass struct {
	Label     string  `json:"label"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int     `json:"support"`
}

// decodeEval reads one document: `flowhawk eval --json` output (one Eval),
// or `flowhawk train --test FILE --json` output (one Eval per test file).
// Anything else is refused: any JSON object decoded into an Eval with
// zero metrics, and the report showed a model of accuracy 0.
func decodeEval(raw json.RawMessage) ([]Eval, error) {
	var doc struct {
		Model   string                     `json:"model"`
		Kind    string                     `json:"kind"`
		Metrics json.RawMessage            `json:"metrics"`
		Results map[string]json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	var evals []Eval
	add := func(model string, metrics json.RawMessage) error {
		var e Eval
		e.Model, e.Kind = model, doc.Kind
		if err := json.Unmarshal(metrics, &e.Metrics); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		m := &e.Metrics
		if m.Rows <= 0 || len(m.Labels) == 0 {
			return errors.New("metrics without rows or labels")
		}
		if len(m.Confusion) != len(m.Labels) {
			return fmt.Errorf("confusion has %d rows for %d labels", len(m.Confusion), len(m.Labels))
		}
		for i, row := range m.Confusion {
			if len(row) != len(m.Labels) {
				return fmt.Errorf("confusion row %d has %d columns for %d labels", i+1, len(row), len(m.Labels))
			}
		}
		evals = append(evals, e)
		return nil
	}
	switch {
	case len(doc.Metrics) > 0 && string(doc.Metrics) != "null":
		if err := add(doc.Model, doc.Metrics); err != nil {
			return nil, err
		}
	case len(doc.Results) > 0:
		// train's "model" is the model kind; name each result by its test data.
		doc.Kind = cmp.Or(doc.Kind, doc.Model)
		for _, test := range slices.Sorted(maps.Keys(doc.Results)) {
			if err := add(doc.Model+" on "+test, doc.Results[test]); err != nil {
				return nil, fmt.Errorf("results %s: %w", test, err)
			}
		}
	default:
		return nil, errors.New("not flowhawk eval --json (or train --test FILE --json) output: no metrics")
	}
	return evals, nil
}

// ReadEvals reads one or more concatenated `flowhawk eval --json`
// documents (one per model) from path.
func ReadEvals(path string) ([]Eval, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	defer fh.Close()
	dec := json.NewDecoder(bufio.NewReader(fh))
	var out []Eval
	docs := 0
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("report: %s: document %d: %w", path, docs+1, err)
		}
		if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("[")) {
			return nil, fmt.Errorf("report: %s: document %d is a JSON array (flowhawk cv --json writes those); --eval takes flowhawk eval --json output", path, docs+1)
		}
		evals, err := decodeEval(raw)
		if err != nil {
			return nil, fmt.Errorf("report: %s: document %d: %w", path, docs+1, err)
		}
		docs++
		for _, e := range evals {
			if e.Model == "" {
				e.Model = fmt.Sprintf("model %d", len(out)+1)
			}
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("report: %s: no eval document", path)
	}
	return out, nil
}
