package classifier

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/flowhawk/flowhawk/export"
	"github.com/flowhawk/flowhawk/internal/cictime"
	"github.com/flowhawk/flowhawk/internal/cp1252"
	"github.com/flowhawk/flowhawk/internal/flatjson"
)

// Frame is a table of named columns read from a data file: numeric columns
// as float64 (NaN for missing), categorical columns as strings. Columns are
// addressed by name so models never depend on a file's column order.
type Frame struct {
	Names  []string
	Num    [][]float64 // Num[c] is nil for a categorical column
	Cat    [][]string  // Cat[c] is nil for a numeric column
	Labels []string    // raw or mapped class label per row, nil when unlabelled
	// Times holds a per-row timestamp (Unix seconds) when the file has a
	// Timestamp column; used for time-ordered cross-validation.
	Times []float64
	// timeErr says why Times is nil though a file has a Timestamp column
	// (a cell that is no time, a file without the column): cv --split
	// time refuses the frame rather than fall back to file order.
	timeErr error
	// Hash is the SHA-256 of the files the frame was read from, in order.
	Hash string
	// LabelMap names the label mapping applied while reading (e.g. "nslkdd5").
	LabelMap string
	// LabelColumn is ReadOptions.Label of the read ("": Label, any
	// case), which a model trained on the frame records.
	LabelColumn string
	// Dropped names the columns of numbers with words that a whole read
	// left out as identifier-like, so the model file lists them under
	// preprocessing.dropped instead of losing them without a trace.
	Dropped []string
	// mixed are the columns of numbers with words a whole read found in
	// each file, which ReadFiles logs once it has judged the columns.
	mixed []mixedColumn
	// wide are the text columns with more than maxDistinct values in one
	// file read so far: judgeColumns leaves them out whatever the other
	// files hold, so ReadFiles frees their cells at once instead of
	// holding them until every file is read.
	wide map[string]bool
	Rows int
	// base is the number of data rows of its file before the frame's
	// first, for a frame of a chunked read (rowSink): errors name rows
	// of the file.
	base int
}

// rowSink takes a reader's rows in frames of at most n rows, so that
// predict holds one frame at a time instead of a whole file. Frames
// handed on keep every column a reader keeps (a column that looks like
// an identifier in one frame need not in the next, and a model picks its
// columns by name), and carry no Hash.
type rowSink struct {
	n    int
	emit func(*Frame) error
	// numeric names the columns a stray word in a column of numbers
	// (frameFromStrings) is an error for: the model's numeric ones. A
	// chunk cannot tell a column of numbers with a broken cell from a
	// text column whose words come in later chunks, so a column the
	// model reads as text, or does not read, is never refused for it.
	numeric map[string]bool
}

// newRowSink is a rowSink of frames of n rows for m's columns.
func newRowSink(m *Model, n int, emit func(*Frame) error) *rowSink {
	s := &rowSink{n: n, emit: emit, numeric: map[string]bool{}}
	for _, c := range m.Pre.Columns {
		if c.Kind != "categorical" {
			s.numeric[c.Name] = true
			if r, ok := repeatOf[c.Name]; ok {
				s.numeric[r] = true
			}
		}
	}
	return s
}

// readChunks reads data files for m a chunk of rows at a time (PredictChunk
// when chunk is 0) and hands each frame to use, after --only and, for
// labelled reads, the empty-label check a whole read makes. startFile,
// when not nil, runs before each file's first frame.
func readChunks(m *Model, paths []string, opt ReadOptions, chunk int, startFile func(), use func(*Frame) error) error {
	if len(paths) == 0 {
		return errors.New("no data files")
	}
	if chunk <= 0 {
		chunk = PredictChunk
	}
	emit := func(f *Frame) error {
		if len(opt.Only) > 0 {
			if err := f.keepOnly(opt.Only); err != nil {
				return err
			}
		}
		if f.Labels != nil && !opt.Unlabelled {
			if err := f.checkLabels(); err != nil {
				return err
			}
		}
		if opt.NSLKDDLabels && f.LabelMap == "" { // not mapped by the NSL-KDD reader
			// Data that lacks the model's columns says so first: its
			// labels are then no surprise.
			if err := m.Pre.missingColumns(f); err != nil {
				return err
			}
			if err := f.mapNSLKDD(opt.NSLKDDClasses); err != nil {
				return err
			}
		}
		return use(f)
	}
	opt.drop = newDropper(opt.Drop)
	for _, p := range paths {
		if startFile != nil {
			startFile()
		}
		if _, err := readFileTo(p, opt, io.Discard, newRowSink(m, chunk, emit)); err != nil {
			return err
		}
	}
	return opt.drop.check()
}

// Column returns the index of the column with the given (trimmed) name, or -1.
func (f *Frame) Column(name string) int {
	for i, n := range f.Names {
		if n == name {
			return i
		}
	}
	return -1
}

// ReadOptions selects how data files are interpreted.
type ReadOptions struct {
	// Format is auto (by extension and content), csv, flowhawk,
	// cicids2017, nslkdd, jsonl or parquet; any but auto forces its reader.
	Format string
	// Label is the label column name; "" means Label (case-insensitive).
	Label string
	// NSLKDDClasses is 2, 5 or 0 (all attack names).
	NSLKDDClasses int
	// NSLKDDLabels maps the labels of every format with NSLKDDClasses,
	// not only those of NSL-KDD .txt files: NSL-KDD rows saved as CSV,
	// JSON Lines or Parquet, when --nslkdd-classes is given or the model
	// was trained on mapped labels (ForModel), else scored against raw
	// attack names.
	NSLKDDLabels bool
	// Drop lists extra column names to ignore.
	Drop []string
	// Unlabelled allows files without a label column (predict).
	Unlabelled bool
	// Only keeps just these feature columns; a trailing * matches a
	// prefix ("splt_*" for an early-classification model).
	Only []string
	// Workers is how many goroutines parse a CSV file's cells (0: one
	// a CPU); the frame is the same for any number.
	Workers int
	// drop is Drop's dropper, shared by the files of one read.
	drop *dropper
}

// identifierColumns are per-flow identifiers that would leak into a model
// (addresses, ports chosen by the OS, timestamps, VLAN and tunnel IDs);
// they are never features.
var identifierColumns = map[string]bool{
	"flow id": true, "source ip": true, "src ip": true, "destination ip": true, "dst ip": true,
	"source port": true, "src port": true, "timestamp": true, "src_ip": true, "dst_ip": true,
	"src_port": true, "flow_id": true, "timestamp_start": true, "timestamp_end": true,
	"start": true, "end": true, "first_seen": true, "last_seen": true, "difficulty": true,
	"vlan_outer": true, "vlan_inner": true, "tunnel_id": true,
}

// repeatedColumn is the name flowhawk's JSON Lines and Parquet files (and
// pandas) give CIC-IDS2017's second " Fwd Header Length" column, which
// holds the same values as the first. Every reader leaves it out, as the
// CSV reader leaves out the repeated header, so the same flows give the
// same frame, and the same model, in each format.
const repeatedColumn = "Fwd Header Length.1"

// repeatOf is the column a repeat stands for.
var repeatOf = map[string]string{repeatedColumn: "Fwd Header Length"}

// skipColumn reports whether a (trimmed) column name is never a feature:
// dropped by the caller, an identifier, or the repeated Fwd Header Length.
func skipColumn(name string, drop *dropper) bool {
	return drop.match(name) || identifierColumns[strings.ToLower(name)] || name == repeatedColumn
}

// dropper is ReadOptions.Drop: column names and, as in --only, prefix*
// patterns, each noting whether it matched a column of any file read, so
// a pattern that drops nothing (a typo) is an error, not a column kept.
type dropper struct {
	patterns []string
	used     []bool
}

// dropSet is the dropper of ReadOptions.Drop: the one a multi-file read
// shares (ReadFiles, readChunks), else one of the file's own.
func dropSet(opt ReadOptions) *dropper {
	if opt.drop != nil {
		return opt.drop
	}
	return newDropper(opt.Drop)
}

func newDropper(patterns []string) *dropper {
	d := &dropper{}
	for _, p := range patterns {
		d.patterns = append(d.patterns, strings.TrimSpace(p))
	}
	d.used = make([]bool, len(d.patterns))
	return d
}

// match reports whether a pattern drops the column name, noting which.
func (d *dropper) match(name string) bool {
	hit := false
	for i, p := range d.patterns {
		if pre, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(name, pre) || p == name {
			d.used[i], hit = true, true
		}
	}
	return hit
}

// check refuses the patterns that matched no column, as --only does.
func (d *dropper) check() error {
	var unused []string
	for i, p := range d.patterns {
		if !d.used[i] {
			unused = append(unused, p)
		}
	}
	if len(unused) > 0 {
		return fmt.Errorf("--drop %q matches no feature column of the data (a * matches a prefix, at the end only)", unused)
	}
	return nil
}

// ReadFiles reads and concatenates data files into one frame. All files must
// share the same columns (by name, in any order).
func ReadFiles(paths []string, opt ReadOptions) (*Frame, error) {
	if len(paths) == 0 {
		return nil, errors.New("no data files")
	}
	h := sha256.New()
	var out *Frame
	opt.drop = newDropper(opt.Drop)
	// Header names are compared trimmed (CIC-IDS2017 writes " Label"),
	// so is the name asked for, as --drop and --only are.
	opt.Label = strings.TrimSpace(opt.Label)
	for i, p := range paths {
		f, err := readFile(p, opt, h)
		if err != nil {
			return nil, err
		}
		for k := range f.mixed {
			f.mixed[k].file = p
		}
		if f.timeErr != nil {
			f.timeErr = fmt.Errorf("%s: %w", p, f.timeErr)
		}
		if out == nil {
			out = f
			out.freeWide(out)
			continue
		}
		out.freeWide(f)
		if out.timeErr == nil && f.timeErr == nil && (out.Times == nil) != (f.Times == nil) {
			has, hasnt := paths[i-1], p
			if out.Times == nil {
				has, hasnt = p, paths[i-1]
			}
			out.timeErr = fmt.Errorf("%s has a Timestamp column, %s has none", has, hasnt)
		}
		if out.timeErr == nil {
			out.timeErr = f.timeErr
		}
		if err := out.appendFrame(f); err != nil {
			return nil, fmt.Errorf("%s: %w (earlier: %s)", p, err, strings.Join(paths[:i], ", "))
		}
	}
	if err := opt.drop.check(); err != nil {
		return nil, err
	}
	// Identifier-like text is judged over every file: a column of a few
	// values in one and one a row in another is not left out of one
	// file only (which made the other's column "missing").
	out.judgeColumns()
	out.Hash = hex.EncodeToString(h.Sum(nil))
	out.LabelColumn = opt.Label
	if len(opt.Only) > 0 {
		if err := out.keepOnly(opt.Only); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// checkLabels refuses a row without a label (an empty label cell, a
// null JSON label): training would make it a class named "", and eval
// would score against it. predict (Unlabelled) copies labels as they are.
func (f *Frame) checkLabels() error {
	for r, l := range f.Labels {
		if l == "" {
			return fmt.Errorf("data row %d has no label (an empty label cell): label it, or leave the row out", f.base+r+1)
		}
	}
	return nil
}

// keepOnly drops every column not matched by the patterns.
func (f *Frame) keepOnly(patterns []string) error {
	used := make([]bool, len(patterns))
	match := func(name string) bool {
		hit := false
		for i, p := range patterns {
			p = strings.TrimSpace(p)
			if pre, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(name, pre) || p == name {
				used[i], hit = true, true
			}
		}
		return hit
	}
	var names []string
	var num [][]float64
	var cat [][]string
	for c, n := range f.Names {
		if match(n) {
			names = append(names, n)
			num = append(num, f.Num[c])
			cat = append(cat, f.Cat[c])
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("no column matches %q", patterns)
	}
	// A pattern that keeps nothing is a typo (or "*rate", which is not a
	// suffix match): the model would silently go without those columns.
	var unused []string
	for i, p := range patterns {
		if !used[i] {
			unused = append(unused, p)
		}
	}
	if len(unused) > 0 {
		return fmt.Errorf("--only %q matches no column of the data (a * matches a prefix, at the end only)", unused)
	}
	f.Names, f.Num, f.Cat = names, num, cat
	return nil
}

func (f *Frame) appendFrame(g *Frame) error {
	// A column of one file only is an error whichever file has it (one
	// of a later file was left out without a word).
	for _, name := range g.Names {
		if f.Column(name) < 0 {
			return fmt.Errorf("column %q is not in the earlier files", name)
		}
	}
	for c, name := range f.Names {
		j := g.Column(name)
		if j < 0 {
			return fmt.Errorf("missing column %q present in earlier files", name)
		}
		switch {
		case f.wide[name]:
			// Left out at the end (freeWide): nothing to keep.
		case f.Num[c] != nil && g.Num[j] != nil:
			f.Num[c] = append(f.Num[c], g.Num[j]...)
		case f.Cat[c] != nil && g.Cat[j] != nil:
			f.Cat[c] = append(f.Cat[c], g.Cat[j]...)
		case f.Cat[c] != nil:
			for _, v := range g.Num[j] {
				f.Cat[c] = append(f.Cat[c], fmtNum(v))
			}
		default:
			// Numbers so far, text in g: the column is text, its earlier
			// cells spelled as a text column spells numbers
			// (colBuilder.add; a missing cell is "NaN" either way), so
			// the files read the same in either order. This was an
			// error: a text column empty in one capture's file read as
			// numbers, and --data a,b trained where b,a was refused.
			col := make([]string, 0, len(f.Num[c])+len(g.Cat[j]))
			for _, v := range f.Num[c] {
				col = append(col, fmtNum(v))
			}
			f.Cat[c], f.Num[c] = append(col, g.Cat[j]...), nil
		}
	}
	if (f.Labels == nil) != (g.Labels == nil) {
		return errors.New("label column present in some files only")
	}
	f.Labels = append(f.Labels, g.Labels...)
	f.mixed = append(f.mixed, g.mixed...)
	if f.Times != nil && g.Times != nil {
		f.Times = append(f.Times, g.Times...)
	} else {
		f.Times = nil
	}
	f.Rows += g.Rows
	return nil
}

type hashReader struct {
	r io.Reader
	h io.Writer
}

func (h hashReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	return n, err
}

func readFile(path string, opt ReadOptions, h io.Writer) (*Frame, error) {
	return readFileTo(path, opt, h, nil)
}

// readFileTo is readFile, handing the rows to sink in frames instead
// when sink is not nil (and then returning a nil frame).
func readFileTo(path string, opt ReadOptions, h io.Writer, sink *rowSink) (*Frame, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	br := bufio.NewReaderSize(hashReader{fh, h}, 1<<20)
	// A UTF-8 byte order mark (Excel's and PowerShell's Export-Csv) is
	// no part of the data: left in, it kept the quotes of a quoted first
	// column name, and failed NSL-KDD and JSON Lines files.
	if head, _ := br.Peek(3); string(head) == "\xef\xbb\xbf" {
		br.Discard(3)
	}
	format := opt.Format
	if format == "" || format == "auto" {
		format = detectFormat(path, br)
	}
	// The NSL-KDD reader maps its labels itself; the others' frames are
	// mapped here when read whole, and by readChunks in chunks.
	mapLabels := opt.NSLKDDLabels && format != "nslkdd"
	if format != "parquet" {
		if err := notTabular(br); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	var f *Frame
	switch format {
	case "nslkdd":
		f, err = readNSLKDD(br, opt, sink)
	case "jsonl":
		f, err = readJSONL(br, opt, sink)
	case "csv", "flowhawk", "cicids2017":
		f, err = readCSV(br, opt, sink)
	case "parquet":
		f, err = readParquet(path, opt, h, sink)
		if err == nil && f != nil && !opt.Unlabelled {
			err = f.checkLabels()
		}
		if err == nil && f != nil && mapLabels {
			err = f.mapNSLKDD(opt.NSLKDDClasses)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return f, nil
	default:
		return nil, fmt.Errorf("%s: unknown format %q (want auto, csv, flowhawk, cicids2017, nslkdd, jsonl or parquet)", path, format)
	}
	if err == nil && f != nil && !opt.Unlabelled {
		err = f.checkLabels()
	}
	if err == nil && f != nil && mapLabels {
		err = f.mapNSLKDD(opt.NSLKDDClasses)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// Drain so the hash covers the whole file.
	io.Copy(io.Discard, br)
	return f, nil
}

// notTabular recognises the files most often given by mistake for flow
// data, a capture and a compressed file, whose bytes otherwise read as a
// CSV with a nonsense header ("no label column", "57 fields, header has 1").
func notTabular(br *bufio.Reader) error {
	head, _ := br.Peek(4)
	if len(head) < 4 {
		return nil
	}
	switch binary.BigEndian.Uint32(head) {
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0x0a0d0d0a:
		return errors.New("a packet capture, not flow data: make flows from it first (flowhawk replay CAPTURE -o flows.csv, or flowhawk dataset to label them)")
	case 0x28b52ffd:
		return errors.New("zstd-compressed: decompress it first (zstd -d)")
	}
	if string(head) == "PAR1" {
		return errors.New("a Parquet file: read it with --format parquet (or auto)")
	}
	if head[0] == 0x1f && head[1] == 0x8b {
		return errors.New("gzip-compressed: decompress it first (gunzip)")
	}
	return nil
}

func detectFormat(path string, br *bufio.Reader) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".ndjson", ".json":
		return "jsonl"
	case ".parquet":
		return "parquet"
	}
	head, _ := br.Peek(4096)
	if strings.HasPrefix(string(head), "PAR1") {
		return "parquet" // whatever its name
	}
	line := string(head)
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	fields := strings.Split(strings.TrimRight(line, "\r"), ",")
	if len(fields) >= len(NSLKDDFeatures) && len(fields) <= len(NSLKDDFeatures)+2 { // 41 features (predict), label, difficulty
		if p := fields[1]; p == "tcp" || p == "udp" || p == "icmp" {
			return "nslkdd"
		}
	}
	if strings.HasPrefix(strings.TrimSpace(line), "{") {
		return "jsonl"
	}
	return "csv"
}

// NSLKDDFeatures are the 41 NSL-KDD feature names in file order.
var NSLKDDFeatures = []string{"duration", "protocol_type", "service", "flag", "src_bytes", "dst_bytes", "land",
	"wrong_fragment", "urgent", "hot", "num_failed_logins", "logged_in", "num_compromised", "root_shell",
	"su_attempted", "num_root", "num_file_creations", "num_shells", "num_access_files", "num_outbound_cmds",
	"is_host_login", "is_guest_login", "count", "srv_count", "serror_rate", "srv_serror_rate", "rerror_rate",
	"srv_rerror_rate", "same_srv_rate", "diff_srv_rate", "srv_diff_host_rate", "dst_host_count",
	"dst_host_srv_count", "dst_host_same_srv_rate", "dst_host_diff_srv_rate", "dst_host_same_src_port_rate",
	"dst_host_srv_diff_host_rate", "dst_host_serror_rate", "dst_host_srv_serror_rate", "dst_host_rerror_rate",
	"dst_host_srv_rerror_rate"}

var nslkddCategorical = map[string]bool{"protocol_type": true, "service": true, "flag": true}

// nslkddCategory maps NSL-KDD attack names (train and test) to the four
// attack categories of the benchmark.
var nslkddCategory = map[string]string{
	"normal": "normal",
	"back":   "DoS", "land": "DoS", "neptune": "DoS", "pod": "DoS", "smurf": "DoS", "teardrop": "DoS",
	"apache2": "DoS", "mailbomb": "DoS", "processtable": "DoS", "udpstorm": "DoS", "worm": "DoS",
	"ipsweep": "Probe", "nmap": "Probe", "portsweep": "Probe", "satan": "Probe", "mscan": "Probe", "saint": "Probe",
	"ftp_write": "R2L", "guess_passwd": "R2L", "imap": "R2L", "multihop": "R2L", "phf": "R2L", "spy": "R2L",
	"warezclient": "R2L", "warezmaster": "R2L", "sendmail": "R2L", "named": "R2L", "snmpgetattack": "R2L",
	"snmpguess": "R2L", "xlock": "R2L", "xsnoop": "R2L", "httptunnel": "R2L",
	"buffer_overflow": "U2R", "loadmodule": "U2R", "perl": "U2R", "rootkit": "U2R", "ps": "U2R",
	"sqlattack": "U2R", "xterm": "U2R",
}

// MapNSLKDDLabel maps a raw NSL-KDD label to the label of the requested
// class scheme: 2 (normal/attack), 5 (normal/DoS/Probe/R2L/U2R) or 0 (raw).
// A label already of the scheme (DoS in 5 classes, attack in 2) stays as
// it is, so rows saved with mapped labels are read as they were written.
// KDD Cup '99 files end each label with a dot ("normal.", "smurf."): one
// trailing dot is dropped, else every row was an attack in 2 classes.
func MapNSLKDDLabel(raw string, classes int) (string, error) {
	raw = strings.TrimSuffix(raw, ".")
	switch classes {
	case 0:
		return raw, nil
	case 2:
		if raw == "normal" {
			return "normal", nil
		}
		return "attack", nil
	case 5:
		c, ok := nslkddCategory[raw]
		if !ok {
			if nslkddCategories[raw] {
				return raw, nil
			}
			return "", fmt.Errorf("unknown NSL-KDD attack name %q", raw)
		}
		return c, nil
	}
	return "", fmt.Errorf("nslkdd classes must be 2, 5 or all, not %d", classes)
}

// nslkddCategories are the classes of the 5-class scheme.
var nslkddCategories = map[string]bool{"normal": true, "DoS": true, "Probe": true, "R2L": true, "U2R": true}

// mapNSLKDD maps the frame's labels (of a file other than an NSL-KDD .txt)
// to the NSL-KDD scheme of classes, naming the data row of a label it
// cannot map. Labels none of which NSL-KDD knows are an error: in 2
// classes every one would silently become attack.
func (f *Frame) mapNSLKDD(classes int) error {
	if len(f.Labels) == 0 {
		return nil
	}
	known, first := false, f.Labels[0]
	for r, l := range f.Labels {
		if l == "" {
			continue // checkLabels names it, predict copies it
		}
		k := strings.TrimSuffix(l, ".")
		_, attack := nslkddCategory[k]
		known = known || attack || nslkddCategories[k] || k == "attack"
		m, err := MapNSLKDDLabel(l, classes)
		if err != nil {
			return fmt.Errorf("data row %d: %w", f.base+r+1, err)
		}
		f.Labels[r] = m
	}
	if !known && slices.ContainsFunc(f.Labels, func(l string) bool { return l != "" }) {
		return fmt.Errorf("no label is an NSL-KDD attack name or class (such as %q), yet the NSL-KDD label scheme was asked for (--nslkdd-classes, or a model trained on NSL-KDD)", first)
	}
	f.LabelMap = nslkddMapName(classes)
	return nil
}

func nslkddMapName(classes int) string {
	switch classes {
	case 2:
		return "nslkdd2"
	case 5:
		return "nslkdd5"
	}
	return "nslkddall"
}

func readNSLKDD(r io.Reader, opt ReadOptions, sink *rowSink) (*Frame, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	nf := len(NSLKDDFeatures)
	// --drop leaves columns out here as the CSV reader does: the
	// headerless file's columns are named by NSLKDDFeatures.
	drop := dropSet(opt)
	var keep []int // field index per frame column
	var names []string
	for i, n := range NSLKDDFeatures {
		if !skipColumn(n, drop) {
			keep = append(keep, i)
			names = append(names, n)
		}
	}
	newFrame := func(base int) *Frame {
		f := &Frame{Names: slices.Clone(names), Num: make([][]float64, len(keep)), Cat: make([][]string, len(keep)),
			LabelMap: nslkddMapName(opt.NSLKDDClasses), base: base}
		for c, n := range names {
			if nslkddCategorical[n] {
				f.Cat[c] = []string{}
			} else {
				f.Num[c] = []float64{}
			}
		}
		return f
	}
	f := newFrame(0)
	intern := map[string]string{}
	line := 0
	// labelled is whether the file's rows have a label, as its first
	// says: predict reads rows of the 41 features alone.
	labelled := true
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line++
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if line == 1 && len(rec) == nf {
			if !opt.Unlabelled {
				return nil, fmt.Errorf("line 1: %d fields, the 41 features without a label: predict reads such rows, a labelled read wants 42 or 43 (41 features, label, difficulty)", len(rec))
			}
			labelled = false
		}
		switch {
		case !labelled && len(rec) != nf:
			return nil, fmt.Errorf("line %d: %d fields, want 41 as the rows before it (the 41 features without a label)", line, len(rec))
		case labelled && (len(rec) < nf+1 || len(rec) > nf+2):
			return nil, fmt.Errorf("line %d: %d fields, want 42 or 43 (41 features, label, difficulty)", line, len(rec))
		}
		for c, i := range keep {
			if f.Cat[c] != nil {
				f.Cat[c] = append(f.Cat[c], internText(intern, rec[i]))
				continue
			}
			v, err := parseNum(rec[i])
			if err != nil {
				return nil, fmt.Errorf("line %d, field %s: %w", line, NSLKDDFeatures[i], err)
			}
			f.Num[c] = append(f.Num[c], v)
		}
		if labelled {
			lab, err := MapNSLKDDLabel(rec[nf], opt.NSLKDDClasses)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			f.Labels = append(f.Labels, internText(intern, lab))
		}
		f.Rows++
		if sink != nil && f.Rows == sink.n {
			if err := sink.emit(f); err != nil {
				return nil, err
			}
			f = newFrame(f.base + f.Rows)
		}
	}
	if f.base+f.Rows == 0 {
		return nil, errors.New("no rows")
	}
	if sink != nil {
		if f.Rows > 0 {
			return nil, sink.emit(f)
		}
		return nil, nil
	}
	return f, nil
}

// parseNum parses a numeric cell, accepting the spellings found in
// CIC-IDS2017 files (Infinity, NaN) and the common markers of a missing
// value (NaN): an empty cell, Zeek's "-", Weka's "?", spreadsheets' N/A
// and #N/A, pandas' and databases' NA, null and None. A column of numbers
// with such markers stays a column of numbers instead of turning to text.
func parseNum(s string) (float64, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "", "NaN", "nan", "NA", "na", "N/A", "n/a", "#N/A", "null", "NULL", "None", "none", "-", "?":
		return math.NaN(), nil
	case "Infinity", "inf", "Inf", "+Infinity", "+inf":
		return math.Inf(1), nil
	case "-Infinity", "-inf", "-Inf":
		return math.Inf(-1), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if errors.Is(err, strconv.ErrRange) {
		return v, nil // beyond float64: ±Inf (or 0), as for "Infinity"
	}
	return v, err
}

func isLabelName(name, want string) bool {
	if want = strings.TrimSpace(want); want != "" {
		return name == want
	}
	return strings.EqualFold(name, "label")
}

// readCSV reads a CSV file with a header: CIC-IDS2017 MachineLearningCSV and
// TrafficLabelling files as published, and flowhawk's own flow CSV.
func readCSV(r io.Reader, opt ReadOptions, sink *rowSink) (*Frame, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	cr.LazyQuotes = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("reading header: %w", err)
	}
	drop := dropSet(opt)
	seen := map[string]bool{}
	keep := make([]int, 0, len(header)) // file column index per frame column
	labelCol, timeCol := -1, -1
	var names []string
	for i, h := range header {
		name := cp1252.ToUTF8(strings.TrimSpace(h))
		if isLabelName(name, opt.Label) && labelCol < 0 {
			labelCol = i
			continue
		}
		if strings.EqualFold(name, "timestamp") && timeCol < 0 {
			timeCol = i
		}
		if seen[name] || name == "" {
			continue // CIC-IDS2017 repeats "Fwd Header Length" with identical data
		}
		seen[name] = true
		if skipColumn(name, drop) {
			continue
		}
		keep = append(keep, i)
		names = append(names, name)
	}
	if labelCol < 0 && !opt.Unlabelled {
		want := opt.Label
		if want == "" {
			want = "Label"
		}
		return nil, fmt.Errorf("no label column %q in header", want)
	}
	raw := newBuilders(len(keep))
	var labels, times []string
	intern := map[string]string{}
	line, blank := 1, 0
	base, rows := 0, 0 // data rows handed to sink, and gathered since
	feed := newColFeeder(keep, opt.Workers)
	defer feed.close()
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line++
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if blankRecord(rec) {
			// A blank line, or a row of empty cells (",,,"): no
			// flow and no label, not a row of missing values.
			blank++
			continue
		}
		if len(rec) != len(header) {
			return nil, fmt.Errorf("line %d: %d fields, header has %d", line, len(rec), len(header))
		}
		feed.add(rec, raw)
		if labelCol >= 0 {
			labels = append(labels, internLabel(intern, strings.TrimSpace(rec[labelCol])))
		}
		if timeCol >= 0 {
			times = append(times, strings.Clone(rec[timeCol]))
		}
		rows++
		if sink != nil && rows == sink.n {
			feed.flush()
			if err := emitRows(sink, names, raw, labels, times, rows, base); err != nil {
				return nil, err
			}
			base, rows = base+rows, 0
			raw, labels, times = newBuilders(len(keep)), nil, nil
		}
	}
	feed.flush()
	if blank > 0 && blank < line-1 {
		slog.Warn("skipped rows of empty cells", "rows", blank)
	}
	if sink != nil {
		return nil, finishRows(sink, names, raw, labels, times, rows, base)
	}
	return wholeFrame(names, raw, labels, times, line-1)
}

// emitRows hands the rows gathered since the last frame to sink, base
// data rows into the file.
func emitRows(sink *rowSink, names []string, raw []*colBuilder, labels, times []string, rows, base int) error {
	f, err := frameFromStrings(names, raw, labels, times, rows, base, sink.numeric)
	if err != nil {
		return err
	}
	return sink.emit(f)
}

// finishRows hands the last rows of a file to sink: a file without rows
// is an error, as when it is read whole.
func finishRows(sink *rowSink, names []string, raw []*colBuilder, labels, times []string, rows, base int) error {
	switch {
	case rows > 0:
		return emitRows(sink, names, raw, labels, times, rows, base)
	case base == 0:
		return errors.New("no rows")
	}
	return nil
}

// blankRecord reports whether every cell of a CSV record is empty or
// spaces.
func blankRecord(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// colBuilder accumulates one column: numbers while every cell parses as
// a number (8 bytes a cell, so multi-million-row CIC files fit in memory),
// interned text from the first cell that does not.
type colBuilder struct {
	num    []float64
	cat    []string
	isCat  bool
	intern map[string]string
	// Cells that are numbers (missing values not counted) and cells that
	// are not, the first of the latter (and its data row, from 1), and up
	// to 4 distinct ones: a column of numbers with a stray word is a
	// broken cell, not text.
	nNum, nText int
	firstText   string
	firstRow    int
	texts       map[string]struct{}
}

func newBuilders(n int) []*colBuilder {
	out := make([]*colBuilder, n)
	for i := range out {
		out[i] = &colBuilder{}
	}
	return out
}

func (b *colBuilder) len() int {
	if b.isCat {
		return len(b.cat)
	}
	return len(b.num)
}

func (b *colBuilder) add(s string) {
	v, err := parseNum(s)
	if err == nil {
		if v == v {
			b.nNum++ // a missing value says nothing of the column's kind
		}
		if !b.isCat {
			b.num = append(b.num, v)
			return
		}
		// A number in a text column reads as the cells before the
		// column's first text do (and as a column of numbers does at
		// predict): "1.0" is the category "1" wherever it stands.
		s = fmtNum(v)
	} else {
		s = cp1252.ToUTF8(s)
		b.nText++
		if b.texts == nil {
			b.firstText, b.firstRow, b.texts = s, b.len()+1, map[string]struct{}{}
		}
		if len(b.texts) < 4 {
			b.texts[strings.Clone(s)] = struct{}{}
		}
	}
	if !b.isCat {
		b.isCat = true
		b.intern = map[string]string{}
		b.cat = make([]string, 0, cap(b.num))
		for _, v := range b.num {
			b.cat = append(b.cat, b.internOf(fmtNum(v)))
		}
		b.num = nil
	}
	b.cat = append(b.cat, b.internOf(s))
}

// numLabel is a label that reads as a number in one spelling ("1.0",
// "1e0" and "1" are "1"), so a class has one name whichever way its file
// wrote it: JSON Lines and pandas write 1.0 where a CSV has 1. Any other
// label is returned as it is.
func numLabel(s string) string {
	if s == "" || strings.Trim(s, "0123456789.eE+-") != "" {
		return s // no number: no strconv error to allocate
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) {
		return s
	}
	if n := fmtNum(v); n != s {
		return n
	}
	return s
}

// internLabel is internText of a label cell, in numLabel's spelling.
func internLabel(intern map[string]string, s string) string {
	if v, ok := intern[s]; ok {
		return v
	}
	k := strings.Clone(s)
	v := numLabel(cp1252.ToUTF8(k))
	intern[k] = v
	return v
}

// internText returns the shared copy of text cell s as valid UTF-8
// (cp1252.ToUTF8), keyed by its bytes as read.
func internText(intern map[string]string, s string) string {
	if v, ok := intern[s]; ok {
		return v
	}
	k := strings.Clone(s)
	v := cp1252.ToUTF8(k)
	intern[k] = v
	return v
}

func (b *colBuilder) internOf(s string) string {
	if v, ok := b.intern[s]; ok {
		return v
	}
	v := strings.Clone(s)
	if len(b.intern) < 1<<16 {
		b.intern[v] = v
	}
	return v
}

// frameFromStrings builds a frame of the rows in raw. A non-nil numeric
// makes a frame of a chunked read (rowSink), whose first row is data row
// base+1 of its file and whose columns of numbers with a stray word are
// an error only when numeric names them.
func frameFromStrings(names []string, raw []*colBuilder, labels, times []string, rows, base int, numeric map[string]bool) (*Frame, error) {
	if rows == 0 || (len(raw) > 0 && raw[0].len() == 0) {
		return nil, errors.New("no rows")
	}
	n := len(labels)
	if len(raw) > 0 {
		n = raw[0].len()
	}
	f := &Frame{Names: names, Num: make([][]float64, len(names)), Cat: make([][]string, len(names)), Labels: labels, Rows: n, base: base}
	for c := range names {
		if b := raw[c]; b.isCat && b.nNum > 0 && b.nText*100 <= b.nNum && len(b.texts) < 4 {
			switch {
			case numeric == nil:
				return nil, fmt.Errorf("column %q: data row %d has %q, yet %d of its %d cells are numbers: fix that cell, or leave it empty for a missing value",
					names[c], b.firstRow, b.firstText, b.nNum, b.len())
			case numeric[names[c]]:
				return nil, fmt.Errorf("column %q: data row %d has %q, yet %d of the %d cells of data rows %d-%d are numbers: fix that cell, or leave it empty for a missing value",
					names[c], base+b.firstRow, b.firstText, b.nNum, b.len(), base+1, base+b.len())
			}
		}
		if raw[c].isCat {
			f.Cat[c] = raw[c].cat
		} else {
			f.Num[c] = raw[c].num
		}
	}
	if len(times) == n {
		ts := make([]float64, n)
		for i, s := range times {
			t, err := parseTime(s)
			if err != nil {
				ts = nil
				f.timeErr = fmt.Errorf("data row %d: %w", base+i+1, err)
				break
			}
			ts[i] = t
		}
		f.Times = ts
	}
	return f, nil
}

// mixedColumn is a column of numbers with words in one file: its first
// word and that word's data row.
type mixedColumn struct {
	name, file, cell string
	row, nNum, nText int
}

// wholeFrame is frameFromStrings for a file read whole, noting the
// columns whose cells are mostly numbers but have words (more than the
// stray words frameFromStrings refuses), which are read as text.
func wholeFrame(names []string, raw []*colBuilder, labels, times []string, rows int) (*Frame, error) {
	f, err := frameFromStrings(names, raw, labels, times, rows, 0, nil)
	if err != nil {
		return nil, err
	}
	for c, b := range raw {
		if b.isCat && b.nNum > b.nText {
			f.mixed = append(f.mixed, mixedColumn{name: names[c], cell: b.firstText, row: b.firstRow, nNum: b.nNum, nText: b.nText})
		}
	}
	return f, nil
}

// judgeColumns leaves out the columns that look like identifiers
// (dropIdentifierLike), and logs each column of numbers with words, read
// as text or, when that text looks like an identifier, left out and listed
// in Frame.Dropped; the log names the column, its first word and that
// word's file and data row.
func (f *Frame) judgeColumns() {
	dropped := f.dropIdentifierLike()
	warned := map[string]bool{}
	for _, m := range f.mixed {
		if warned[m.name] {
			continue
		}
		warned[m.name] = true
		args := []any{"column", m.name, "file", m.file, "row", m.row, "cell", m.cell, "numbers", m.nNum, "words", m.nText}
		if slices.Contains(dropped, m.name) {
			slog.Warn("a column of numbers has words and nearly one value per row as text: left out (fix the words, or make them empty for missing values)", args...)
			f.Dropped = append(f.Dropped, m.name)
		} else {
			slog.Warn("a column of numbers has words: read as text (fix the words, or make them empty for missing values)", args...)
		}
	}
	f.mixed = nil
}

// maxDistinct is the most values a text column may have and still be a
// feature (dropIdentifierLike).
const maxDistinct = 1000

// distinctOver reports whether col has more than n distinct values.
func distinctOver(col []string, n int) (int, bool) {
	d := map[string]struct{}{}
	for _, s := range col {
		d[s] = struct{}{}
		if len(d) > n {
			return len(d), true
		}
	}
	return len(d), false
}

// freeWide marks the text columns of g, a file just read into f (or f
// itself, the first file), that have more than maxDistinct values, and
// frees their cells in f: dropIdentifierLike will leave them out however
// many files follow, and judging over every file (ReadFiles) would
// otherwise hold each such column's strings until the last one is read.
func (f *Frame) freeWide(g *Frame) {
	for j, name := range g.Names {
		if g.Cat[j] == nil || f.wide[name] {
			continue
		}
		if c := f.Column(name); c >= 0 && f.Cat[c] == nil {
			continue // numbers in f: appendFrame makes the column text, judged at the end
		}
		if _, over := distinctOver(g.Cat[j], maxDistinct); !over {
			continue
		}
		if f.wide == nil {
			f.wide = map[string]bool{}
		}
		f.wide[name] = true
		if c := f.Column(name); c >= 0 {
			f.Cat[c] = []string{}
		}
	}
}

// dropIdentifierLike removes text columns with nearly one value per row
// (addresses, flow ids under unexpected names): they cannot generalise.
// It returns the names of the columns removed.
func (f *Frame) dropIdentifierLike() (dropped []string) {
	var names []string
	var num [][]float64
	var cat [][]string
	for c := range f.Names {
		if f.wide[f.Names[c]] {
			dropped = append(dropped, f.Names[c])
			continue
		}
		if f.Cat[c] != nil && f.Rows >= 50 {
			n, over := distinctOver(f.Cat[c], maxDistinct)
			if over || n > f.Rows/2 {
				dropped = append(dropped, f.Names[c])
				continue
			}
		}
		names = append(names, f.Names[c])
		num = append(num, f.Num[c])
		cat = append(cat, f.Cat[c])
	}
	f.Names, f.Num, f.Cat = names, num, cat
	return dropped
}

// timeLayouts are flowhawk's timestamps, RFC 3339, and ISO 8601 without a
// zone, read as UTC as flowhawk's own are (and as cictime.Parse returns
// CICFlowMeter's, its clock as written); CICFlowMeter's are read by
// cictime.Parse.
var timeLayouts = []string{"2006-01-02 15:04:05.000000", "2006-01-02 15:04:05", "2006-01-02T15:04:05Z07:00", time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999"}

func parseTime(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		return v, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return float64(t.UnixNano()) / 1e9, nil
		}
	}
	if t, ok := cictime.Parse(s); ok {
		return float64(t.UnixNano()) / 1e9, nil
	}
	return 0, fmt.Errorf("timestamp %q is no time this reader knows (RFC 3339, ISO 8601, flowhawk's, CICFlowMeter's or Unix seconds)", s)
}

// readJSONL reads one JSON object per line; numbers become numeric columns,
// strings categorical ones.
func readJSONL(r io.Reader, opt ReadOptions, sink *rowSink) (*Frame, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var names []string
	index := map[string]int{}
	var raw []*colBuilder
	var labels, times []string
	drop := dropSet(opt)
	labelKey := ""
	line := 0
	rows, base := 0, 0 // rows gathered since the last frame handed to sink, and those before
	// chunkLabels checks that the rows gathered have a label each, or
	// (Unlabelled) drops the labels that some have.
	chunkLabels := func() error {
		if len(labels) != rows {
			if !opt.Unlabelled {
				return errors.New("no label field in records")
			}
			labels = nil
		}
		return nil
	}
	// After the first record, cells go through a colFeeder (rec, one
	// cell a column), and a record with the first one's keys in the same
	// order, flat, is split by flatjson instead of decoded into a map:
	// flowhawk's JSON Lines read about ten times faster.
	var (
		feed      *colFeeder
		rec       []string
		count     []int
		plan      []string // the first record's keys, when it is flat
		planCol   []int    // each key's column, -1 for none
		planLabel []bool
		planTime  []bool
		fields    flatjson.Fields
	)
	defer func() {
		if feed != nil {
			feed.close()
		}
	}()
	for sc.Scan() {
		line++
		b := strings.TrimSpace(sc.Text())
		if b == "" {
			continue
		}
		// JSON is UTF-8; a line that is not was saved as Windows-1252
		// (its JSON syntax is ASCII either way), and would otherwise
		// decode with U+FFFD for each such byte.
		b = cp1252.ToUTF8(b)
		if plan != nil && flatjson.Split(b, &fields) && slices.Equal(fields.Keys, plan) {
			for i, c := range fields.Values {
				c = flatCell(c, fields.Kinds[i])
				switch {
				case planLabel[i]:
					labels = append(labels, numLabel(strings.Clone(strings.TrimSpace(c))))
					continue
				case planTime[i]:
					times = append(times, strings.Clone(c))
				}
				if planCol[i] >= 0 {
					rec[planCol[i]] = c
				}
			}
			feed.add(rec, raw)
			rows++
		} else {
			var obj map[string]any
			dec := json.NewDecoder(strings.NewReader(b))
			dec.UseNumber()
			if err := dec.Decode(&obj); err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			gotLabel := false
			first := base+rows == 0
			var keys []string
			if first {
				// The first record sets the column order: the file's, as
				// in CSV and Parquet, so the same flows train the same
				// model whichever format holds them.
				keys = objectKeys(b)
			} else {
				keys = make([]string, 0, len(obj))
				for k := range obj {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				clear(count)
			}
			for _, k := range keys {
				name := strings.TrimSpace(k)
				s := jsonCell(obj[k])
				if isLabelName(name, opt.Label) {
					labels = append(labels, numLabel(strings.TrimSpace(s)))
					labelKey = name
					gotLabel = true
					continue
				}
				if strings.EqualFold(name, "timestamp") {
					times = append(times, s)
				}
				if skipColumn(name, drop) {
					continue
				}
				c, ok := index[name]
				if !ok {
					if !first {
						return nil, fmt.Errorf("line %d: field %q not in the first record", line, name)
					}
					c = len(names)
					index[name] = c
					names = append(names, name)
					raw = append(raw, &colBuilder{})
				}
				if first {
					raw[c].add(s)
				} else {
					rec[c] = s
					count[c]++
				}
			}
			rows++
			for c := range names {
				if (first && raw[c].len() != rows) || (!first && count[c] != 1) {
					return nil, fmt.Errorf("line %d: field %q missing", line, names[c])
				}
			}
			if !gotLabel && labelKey != "" {
				return nil, fmt.Errorf("line %d: no label", line)
			}
			if first {
				feed = newColFeeder(identityColumns(len(names)), opt.Workers)
				rec, count = make([]string, len(names)), make([]int, len(names))
				plan, planCol, planLabel, planTime = jsonPlan(b, opt.Label, drop, index)
			} else {
				feed.add(rec, raw)
			}
		}
		if sink != nil && rows == sink.n {
			feed.flush()
			if err := chunkLabels(); err != nil {
				return nil, err
			}
			if err := emitRows(sink, names, raw, labels, times, rows, base); err != nil {
				return nil, err
			}
			base, rows = base+rows, 0
			raw, labels, times = newBuilders(len(names)), nil, nil
		}
	}
	if feed != nil {
		feed.flush()
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line+1, err)
	}
	if err := chunkLabels(); err != nil {
		return nil, err
	}
	if sink != nil {
		return nil, finishRows(sink, names, raw, labels, times, rows, base)
	}
	return wholeFrame(names, raw, labels, times, rows)
}

// flatCell is jsonCell of a value flatjson.Split gave.
func flatCell(v string, k flatjson.Kind) string {
	switch k {
	case flatjson.True:
		return "1"
	case flatjson.False:
		return "0"
	case flatjson.Null:
		return ""
	}
	return v
}

// flatJSON enables readJSONL's flatjson path; tests turn it off to
// compare with encoding/json's.
var flatJSON = true

// identityColumns is 0, 1, ... n-1.
func identityColumns(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// jsonPlan is what readJSONL does with each key of its first record b,
// for the records after it with the same keys in the same order: the
// column it goes to (-1: none), whether it is the label or the
// timestamp. A nil plan (b not flat, or a key twice) sends every record
// through encoding/json.
func jsonPlan(b, label string, drop *dropper, index map[string]int) (plan []string, col []int, isLabel, isTime []bool) {
	var fs flatjson.Fields
	if !flatjson.Split(b, &fs) || !flatJSON {
		return nil, nil, nil, nil
	}
	seen := map[string]bool{}
	for _, k := range fs.Keys {
		if seen[k] {
			return nil, nil, nil, nil
		}
		seen[k] = true
		name := strings.TrimSpace(k)
		c, lab, tm := -1, isLabelName(name, label), false
		if !lab {
			tm = strings.EqualFold(name, "timestamp")
			if !skipColumn(name, drop) {
				c = index[name]
			}
		}
		plan = append(plan, strings.Clone(k))
		col, isLabel, isTime = append(col, c), append(isLabel, lab), append(isTime, tm)
	}
	return plan, col, isLabel, isTime
}

// objectKeys returns the keys of the JSON object b (already decoded
// without error) in the order they are written, each once.
func objectKeys(b string) []string {
	dec := json.NewDecoder(strings.NewReader(b))
	var keys []string
	seen := map[string]bool{}
	if _, err := dec.Token(); err != nil { // {
		return nil
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			break
		}
		k, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			break
		}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

func jsonCell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "1"
		}
		return "0"
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// Subset returns a frame with the given rows, sharing nothing with f.
func (f *Frame) Subset(rows []int) *Frame {
	g := &Frame{Names: f.Names, Num: make([][]float64, len(f.Names)), Cat: make([][]string, len(f.Names)),
		Rows: len(rows), Hash: f.Hash, LabelMap: f.LabelMap, LabelColumn: f.LabelColumn, Dropped: f.Dropped}
	for c := range f.Names {
		if f.Num[c] != nil {
			col := make([]float64, len(rows))
			for i, r := range rows {
				col[i] = f.Num[c][r]
			}
			g.Num[c] = col
		} else {
			col := make([]string, len(rows))
			for i, r := range rows {
				col[i] = f.Cat[c][r]
			}
			g.Cat[c] = col
		}
	}
	if f.Labels != nil {
		g.Labels = make([]string, len(rows))
		for i, r := range rows {
			g.Labels[i] = f.Labels[r]
		}
	}
	if f.Times != nil {
		g.Times = make([]float64, len(rows))
		for i, r := range rows {
			g.Times[i] = f.Times[r]
		}
	}
	return g
}

// ParseNSLKDDClasses parses the --nslkdd-classes flag value: 2, 5 or all.
func ParseNSLKDDClasses(s string) (int, error) {
	switch s {
	case "2":
		return 2, nil
	case "5", "":
		return 5, nil
	case "all":
		return 0, nil
	}
	return 0, fmt.Errorf("nslkdd classes %q: want 2, 5 or all", s)
}

// ForModel adjusts read options to the label mapping the model was trained
// with, so NSL-KDD labels are mapped the same way at evaluation, in any
// format (NSLKDDLabels), and, without a Label of their own, to the label
// column it was trained on.
func (o ReadOptions) ForModel(m *Model) ReadOptions {
	if o.Label == "" {
		o.Label = m.LabelColumn
	}
	switch m.LabelMap {
	case "nslkdd2":
		o.NSLKDDClasses, o.NSLKDDLabels = 2, true
	case "nslkdd5":
		o.NSLKDDClasses, o.NSLKDDLabels = 5, true
	case "nslkddall":
		o.NSLKDDClasses, o.NSLKDDLabels = 0, true
	}
	return o
}

// readParquet reads a flowhawk Parquet flow file through the export
// package's reader; the file's bytes are hashed separately.
func readParquet(path string, opt ReadOptions, h io.Writer, sink *rowSink) (*Frame, error) {
	if h != io.Discard { // predict hashes nothing: no need to read the file twice
		fh, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		_, err = io.Copy(h, fh)
		fh.Close()
		if err != nil {
			return nil, err
		}
	}
	// Opened as Parquet whatever its name: --format parquet forces the
	// reader (export.OpenReader goes by the extension).
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	var magic [4]byte
	if _, err := fh.ReadAt(magic[:], 0); err != nil || string(magic[:]) != "PAR1" {
		return nil, errors.New("not a Parquet file (it does not start with PAR1)")
	}
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	r, err := export.NewParquetReader(fh, st.Size())
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cols := r.Columns()
	labelCol, timeCol := -1, -1
	var keep []int
	var names []string
	drop := dropSet(opt)
	for i, name := range cols {
		switch {
		case isLabelName(name, opt.Label) && labelCol < 0:
			labelCol = i
			continue
		case strings.EqualFold(name, "timestamp") && timeCol < 0:
			timeCol = i
		}
		if skipColumn(name, drop) {
			continue
		}
		keep = append(keep, i)
		names = append(names, name)
	}
	if labelCol < 0 && !opt.Unlabelled {
		return nil, errors.New("no label column in parquet schema")
	}
	raw := newBuilders(len(keep))
	var labels, times []string
	var rec export.Record
	rows, base := 0, 0 // rows gathered since the last frame handed to sink, and those before
	// Next makes new strings for every row (only rec.Str is reused), as
	// the feeder needs.
	feed := newColFeeder(keep, opt.Workers)
	defer feed.close()
	for {
		if err := r.Next(&rec); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("row %d: %w", base+rows+1, err)
		}
		rows++
		feed.add(rec.Str, raw)
		if labelCol >= 0 {
			labels = append(labels, numLabel(cp1252.ToUTF8(strings.Clone(strings.TrimSpace(rec.Str[labelCol])))))
		}
		if timeCol >= 0 {
			times = append(times, strings.Clone(rec.Str[timeCol]))
		}
		if sink != nil && rows == sink.n {
			feed.flush()
			if err := emitRows(sink, names, raw, labels, times, rows, base); err != nil {
				return nil, err
			}
			base, rows = base+rows, 0
			raw, labels, times = newBuilders(len(keep)), nil, nil
		}
	}
	feed.flush()
	if sink != nil {
		return nil, finishRows(sink, names, raw, labels, times, rows, base)
	}
	return wholeFrame(names, raw, labels, times, rows)
}
