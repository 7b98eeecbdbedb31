package report

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/flowhawk/flowhawk/internal/flatjson"
)

// alertValues are what the report reads of one alert line, each found as
// lookup finds it in the line decoded into a map: a dotted key given flat
// ("rule.name") wins, else the key under its nested head ({"rule":
// {"name":..}}). A string field is empty when absent or not a string.
type alertValues struct {
	ts, src, dst, detector, category, name, cause, start, observer []byte
	count                                                          float64
	hasCount                                                       bool // flowhawk.count is a number
	flowRecord                                                     bool // a flow record's "Source IP" or "src_ip" key
}

// The fields of an alert line the report reads, by their index in
// alertKeys.
const (
	fTimestamp = iota
	fSrc
	fDst
	fDetector
	fCategory
	fName
	fCount
	fCause
	fStart
	fObserver
	nAlertFields
)

// alertKeys are the ECS keys of the fields, as lookup takes them.
var alertKeys = [nAlertFields]string{
	fTimestamp: "@timestamp", fSrc: "source.ip", fDst: "destination.ip",
	fDetector: "flowhawk.detector", fCategory: "rule.category", fName: "rule.name",
	fCount: "flowhawk.count", fCause: "flowhawk.cause", fStart: "event.start",
	fObserver: "observer.name",
}

// alertValuesFromMap fills v from an alert line decoded by encoding/json.
func alertValuesFromMap(m map[string]any, v *alertValues) {
	str := func(i int) []byte {
		s, _ := lookup(m, alertKeys[i]).(string)
		if s == "" {
			return nil
		}
		return []byte(s)
	}
	*v = alertValues{
		ts: str(fTimestamp), src: str(fSrc), dst: str(fDst),
		detector: str(fDetector), category: str(fCategory), name: str(fName),
		cause: str(fCause), start: str(fStart), observer: str(fObserver),
		flowRecord: isFlowRecord(m) == nil,
	}
	v.count, v.hasCount = lookup(m, alertKeys[fCount]).(float64)
}

// decodeAlertLine fills v from one non-blank alert line: through
// parseAlertLine when it takes the line, else through encoding/json, whose
// error it returns.
func decodeAlertLine(b []byte, v *alertValues) error {
	if fastAlertJSON && parseAlertLine(b, v) {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	alertValuesFromMap(m, v)
	return nil
}

// fastAlertJSON enables parseAlertLine; tests turn it off to compare with
// encoding/json's decoding.
var fastAlertJSON = true

// jsonKind is what a JSON value was, as far as lookup tells kinds apart.
type jsonKind uint8

const (
	jsonAbsent jsonKind = iota
	jsonString
	jsonNumber
	jsonOther // null, true, false, an array or an object
)

// jsonField is one field's value in the line: the string's contents or
// the number's text.
type jsonField struct {
	kind jsonKind
	raw  []byte
}

// alertParser walks one alert line.
type alertParser struct {
	b      []byte
	flat   [nAlertFields]jsonField // top-level dotted keys ("rule.name")
	nested [nAlertFields]jsonField // keys under their head ({"rule":{"name":..}})
	flow   bool
}

// maxAlertDepth bounds the nesting parseAlertLine walks; deeper lines go
// to encoding/json, which refuses them past its own bound.
const maxAlertDepth = 64

// parseAlertLine fills v from b, one JSON object, without a map: a line of
// several hundred bytes decoded into map[string]any made reading alerts
// slow and its garbage large. It takes only what it can read exactly as
// encoding/json and lookup do, and says no to the rest (a key with an
// escape or invalid UTF-8 where keys are read, a field read holding an
// escape or invalid UTF-8, a number that may not fit a float64, malformed
// JSON, deep nesting), which the caller decodes with encoding/json, so
// values and errors are the same. FuzzParseAlertLine checks that.
func parseAlertLine(b []byte, v *alertValues) bool {
	p := alertParser{b: b}
	i := p.space(0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i, ok := p.object(i, nil, true, 1)
	if !ok || p.space(i) != len(b) {
		return false
	}
	get := func(f int) jsonField {
		if p.flat[f].kind != jsonAbsent {
			return p.flat[f]
		}
		return p.nested[f]
	}
	str := func(f int) []byte {
		if x := get(f); x.kind == jsonString && len(x.raw) > 0 {
			return x.raw
		}
		return nil
	}
	*v = alertValues{
		ts: str(fTimestamp), src: str(fSrc), dst: str(fDst),
		detector: str(fDetector), category: str(fCategory), name: str(fName),
		cause: str(fCause), start: str(fStart), observer: str(fObserver),
		flowRecord: p.flow,
	}
	if x := get(fCount); x.kind == jsonNumber {
		c, err := strconv.ParseFloat(string(x.raw), 64)
		if err != nil {
			return false // checked by number; kept for safety
		}
		v.count, v.hasCount = c, true
	}
	return true
}

// headField is a field under a head: its key there and its index.
type headField struct {
	key string
	f   int
}

// heads are the nested objects holding fields, and the fields under
// each: lookup(m, "rule.name") reads m["rule"]["name"].
var heads = map[string][]headField{
	"source":      {{"ip", fSrc}},
	"destination": {{"ip", fDst}},
	"flowhawk":    {{"detector", fDetector}, {"count", fCount}, {"cause", fCause}},
	"rule":        {{"category", fCategory}, {"name", fName}},
	"event":       {{"start", fStart}},
	"observer":    {{"name", fObserver}},
}

// fleetSrc is the fleet name of a flow record's source address.
var fleetSrc = fleetColumns[colSrc]

func (p *alertParser) space(i int) int {
	for i < len(p.b) && (p.b[i] == ' ' || p.b[i] == '\t' || p.b[i] == '\n' || p.b[i] == '\r') {
		i++
	}
	return i
}

// object reads the object at p.b[i] ('{'), returning the index after it:
// the line's top level (top), whose keys are looked up in alertKeys and
// heads; a head's object, whose fields are inner; or (neither) any other
// object, only checked.
func (p *alertParser) object(i int, inner []headField, top bool, depth int) (int, bool) {
	b := p.b
	i = p.space(i + 1)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		ks, ke, j, plain, ok := p.str(i)
		if !ok {
			return j, false
		}
		j = p.space(j)
		if j >= len(b) || b[j] != ':' {
			return j, false
		}
		j = p.space(j + 1)
		key := b[ks:ke]
		var dst *jsonField
		var sub []headField
		switch {
		case !top && inner == nil:
			// An object only checked: none of its keys is read.
		case !plain:
			// An escape may spell a key read ("rule\u002ename").
			return j, false
		case top:
			for f, k := range alertKeys {
				if string(key) == k {
					dst = &p.flat[f]
					break
				}
			}
			if dst == nil {
				if fs, isHead := heads[string(key)]; isHead {
					// The last value of a key is the one kept: an
					// earlier object of this head no longer counts.
					sub = fs
					for _, h := range fs {
						p.nested[h.f] = jsonField{}
					}
				} else if string(key) == colSrc || string(key) == fleetSrc {
					p.flow = true
				}
			}
		default:
			for _, h := range inner {
				if string(key) == h.key {
					dst = &p.nested[h.f]
					break
				}
			}
		}
		switch {
		case dst != nil:
			j, ok = p.field(j, dst, depth)
		case sub != nil && j < len(b) && b[j] == '{':
			j, ok = p.object(j, sub, false, depth+1)
		default:
			j, ok = p.value(j, depth)
		}
		if !ok {
			return j, false
		}
		var more bool
		if i, more, ok = p.next(j, '}'); !more {
			return i, ok
		}
	}
}

// field reads the value at p.b[i] into dst: a string's contents (which
// must be plain: no escape, valid UTF-8) or a number's text.
func (p *alertParser) field(i int, dst *jsonField, depth int) (int, bool) {
	if i < len(p.b) && p.b[i] == '"' {
		s, e, j, plain, ok := p.str(i)
		if !ok || !plain {
			return j, false
		}
		*dst = jsonField{kind: jsonString, raw: p.b[s:e]}
		return j, true
	}
	j, ok := p.value(i, depth)
	if !ok {
		return j, false
	}
	kind := jsonOther
	if c := p.b[i]; c == '-' || (c >= '0' && c <= '9') {
		kind = jsonNumber
	}
	*dst = jsonField{kind: kind, raw: p.b[i:j]}
	return j, true
}

// value checks the value at p.b[i], returning the index after it.
func (p *alertParser) value(i int, depth int) (int, bool) {
	b := p.b
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '"':
		_, _, j, _, ok := p.str(i)
		return j, ok
	case c == '{':
		if depth >= maxAlertDepth {
			return i, false
		}
		return p.object(i, nil, false, depth+1)
	case c == '[':
		if depth >= maxAlertDepth {
			return i, false
		}
		return p.array(i, depth+1)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number(i)
	case hasLiteral(b, i, "true"):
		return i + 4, true
	case hasLiteral(b, i, "false"):
		return i + 5, true
	case hasLiteral(b, i, "null"):
		return i + 4, true
	}
	return i, false
}

// next reads what follows a member of an object or an element of an
// array ending in end: a comma (more: i is where the next one starts) or
// end (i is just past it, ok); anything else is malformed.
func (p *alertParser) next(j int, end byte) (i int, more, ok bool) {
	b := p.b
	j = p.space(j)
	switch {
	case j >= len(b):
		return j, false, false
	case b[j] == end:
		return j + 1, false, true
	case b[j] == ',':
		return p.space(j + 1), true, true
	}
	return j, false, false
}

func hasLiteral(b []byte, i int, w string) bool {
	return len(b)-i >= len(w) && string(b[i:i+len(w)]) == w
}

func (p *alertParser) array(i int, depth int) (int, bool) {
	b := p.b
	i = p.space(i + 1)
	if i < len(b) && b[i] == ']' {
		return i + 1, true
	}
	for {
		j, ok := p.value(i, depth)
		if !ok {
			return j, false
		}
		var more bool
		if i, more, ok = p.next(j, ']'); !more {
			return i, ok
		}
	}
}

// str reads the JSON string at p.b[i] (a quote), returning the bounds of
// its contents and the index after its closing quote; plain is false when
// it holds an escape or invalid UTF-8 (encoding/json turns that into
// U+FFFD), so that its contents are not its value.
func (p *alertParser) str(i int) (start, end, next int, plain, ok bool) {
	b := p.b
	if i >= len(b) || b[i] != '"' {
		return 0, 0, i, false, false
	}
	plain, high := true, false
	for j := i + 1; j < len(b); j++ {
		if !strSpecial[b[j]] {
			continue
		}
		switch c := b[j]; {
		case c == '"':
			if high && !utf8.Valid(b[i+1:j]) {
				plain = false
			}
			return i + 1, j, j + 1, plain, true
		case c == '\\':
			plain = false
			if j+1 >= len(b) {
				return 0, 0, j, false, false
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				if j+5 >= len(b) {
					return 0, 0, j, false, false
				}
				for _, h := range b[j+2 : j+6] {
					if !isHex(h) {
						return 0, 0, j, false, false
					}
				}
				j += 5
			default:
				return 0, 0, j, false, false
			}
		case c < 0x20:
			return 0, 0, j, false, false
		case c >= 0x80:
			high = true
		}
	}
	return 0, 0, len(b), false, false
}

// strSpecial marks the bytes str looks at: the quote, the backslash,
// control characters and the bytes of multi-byte UTF-8.
var strSpecial = func() (t [256]bool) {
	for c := range t {
		t[c] = c == '"' || c == '\\' || c < 0x20 || c >= 0x80
	}
	return t
}()

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// number checks the JSON number at p.b[i] against JSON's grammar,
// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, and that it fits a
// float64, as encoding/json needs to decode it into an any: only one
// with an exponent or of 300 characters or more can fall outside.
func (p *alertParser) number(i int) (int, bool) {
	b := p.b
	start := i
	i, exp, ok := flatjson.NumberEnd(b, i)
	if !ok {
		return i, false
	}
	if exp || i-start >= 300 {
		if _, err := strconv.ParseFloat(string(b[start:i]), 64); err != nil {
			return i, false
		}
	}
	return i, true
}
