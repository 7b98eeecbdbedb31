// Package flatjson splits the records of flowhawk's JSON Lines, flat
// objects of numbers and strings, into keys and values without decoding
// them into a map: a map of a 168-field record and its garbage made
// reading a JSON Lines file about ten times slower than the CSV of the
// same flows. It recognises only what it can split exactly as
// encoding/json decodes it, and says no to the rest, which the caller
// then hands to encoding/json, so records read and errors are the same.
package flatjson

import "unicode/utf8"

// Kind is what a value was in the JSON text.
type Kind uint8

const (
	// String is a string; its value is the text between the quotes.
	String Kind = iota
	// Number is a number; its value is the number as written, as
	// json.Number keeps it.
	Number
	// True is the literal true; its value is "true".
	True
	// False is the literal false; its value is "false".
	False
	// Null is the literal null; its value is "null".
	Null
)

// Fields is one record's keys, values and kinds, in the record's order.
// Split reuses the slices of the Fields it is given.
type Fields struct {
	Keys   []string
	Values []string
	Kinds  []Kind
}

// Split splits b, one JSON object, into f: keys and string values without
// escapes, control characters or invalid UTF-8, numbers in JSON's
// grammar, true, false and null, and nothing after the object but
// spaces. It returns false for anything else (escapes, nested values,
// malformed JSON), whatever it has put in f. A key twice is the caller's
// to refuse (encoding/json keeps its last value). Keys and values are
// substrings of b.
func Split(b string, f *Fields) bool {
	f.Keys, f.Values, f.Kinds = f.Keys[:0], f.Values[:0], f.Kinds[:0]
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipSpace(b, i+1) == len(b)
	}
	for {
		k, j, ok := plainString(b, i)
		if !ok {
			return false
		}
		j = skipSpace(b, j)
		if j >= len(b) || b[j] != ':' {
			return false
		}
		j = skipSpace(b, j+1)
		if j >= len(b) {
			return false
		}
		var v string
		var kind Kind
		switch c := b[j]; {
		case c == '"':
			v, j, ok = plainString(b, j)
		case c == '-' || (c >= '0' && c <= '9'):
			var end int
			end, ok = numberEnd(b, j)
			v, j, kind = b[j:end], end, Number
		case hasWord(b, j, "true"):
			v, j, kind = b[j:j+4], j+4, True
		case hasWord(b, j, "false"):
			v, j, kind = b[j:j+5], j+5, False
		case hasWord(b, j, "null"):
			v, j, kind = b[j:j+4], j+4, Null
		default:
			ok = false
		}
		if !ok {
			return false
		}
		f.Keys, f.Values, f.Kinds = append(f.Keys, k), append(f.Values, v), append(f.Kinds, kind)
		j = skipSpace(b, j)
		if j >= len(b) {
			return false
		}
		if b[j] == '}' {
			return skipSpace(b, j+1) == len(b)
		}
		if b[j] != ',' {
			return false
		}
		i = skipSpace(b, j+1)
	}
}

func skipSpace(b string, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func hasWord(b string, i int, w string) bool {
	return len(b)-i >= len(w) && b[i:i+len(w)] == w
}

// plainString reads the JSON string at b[i] (a quote) that holds no
// escape, no control character and no invalid UTF-8, returning its
// contents and the index after its closing quote.
func plainString(b string, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", i, false
	}
	high := false
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			// encoding/json turns invalid UTF-8 into U+FFFD.
			if high && !utf8.ValidString(b[i+1:j]) {
				return "", j, false
			}
			return b[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20:
			return "", j, false
		case c >= 0x80:
			high = true
		}
	}
	return "", len(b), false
}

// numberEnd returns the index after the JSON number at b[i], checking
// its grammar (NumberEnd) and that a delimiter follows it.
func numberEnd(b string, i int) (int, bool) {
	i, _, ok := NumberEnd(b, i)
	if !ok {
		return i, false
	}
	// A number runs into the next token only through a delimiter.
	if i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		return i, false
	}
	return i, true
}

// NumberEnd returns the index after the JSON number at b[i], whether it
// has an exponent, and whether it follows JSON's grammar,
// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?: the one scan that this
// package's reader and report's alert-line reader both need.
func NumberEnd[T string | []byte](b T, i int) (end int, exp, ok bool) {
	digits := func(j int) int {
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		return j
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(i)
	default:
		return i, false, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return j, false, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return j, true, false
		}
		return j, true, true
	}
	return i, false, true
}
