package classifier

import "unicode/utf8"

// flatFields splits a JSON Lines record that is one flat object, as
// flowhawk writes them, into its keys and cells without building a map:
// keys and string values without escapes, numbers (their text as
// written, as json.Number keeps it), true and false (cells "1" and "0",
// as jsonCell gives them) and null (""). It returns false for anything
// else (escapes, nested values, text after the object, malformed JSON),
// which the caller then decodes with encoding/json, so every record reads
// as it did and every error is encoding/json's. A key twice is the
// caller's to refuse. keys and cells are reused: appended to from length
// 0; both are substrings of b.
func flatFields(b string, keys, cells []string) ([]string, []string, bool) {
	keys, cells = keys[:0], cells[:0]
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return keys, cells, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return keys, cells, skipSpace(b, i+1) == len(b)
	}
	for {
		k, j, ok := plainString(b, i)
		if !ok {
			return keys, cells, false
		}
		j = skipSpace(b, j)
		if j >= len(b) || b[j] != ':' {
			return keys, cells, false
		}
		j = skipSpace(b, j+1)
		if j >= len(b) {
			return keys, cells, false
		}
		var cell string
		switch c := b[j]; {
		case c == '"':
			cell, j, ok = plainString(b, j)
		case c == '-' || (c >= '0' && c <= '9'):
			var end int
			end, ok = numberEnd(b, j)
			cell, j = b[j:end], end
		case hasWord(b, j, "true"):
			cell, j = "1", j+4
		case hasWord(b, j, "false"):
			cell, j = "0", j+5
		case hasWord(b, j, "null"):
			cell, j = "", j+4
		default:
			ok = false
		}
		if !ok {
			return keys, cells, false
		}
		keys, cells = append(keys, k), append(cells, cell)
		j = skipSpace(b, j)
		if j >= len(b) {
			return keys, cells, false
		}
		if b[j] == '}' {
			if skipSpace(b, j+1) != len(b) {
				return keys, cells, false
			}
			break
		}
		if b[j] != ',' {
			return keys, cells, false
		}
		i = skipSpace(b, j+1)
	}
	return keys, cells, true
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
// escape, no control character and no invalid UTF-8, returning its contents and the index
// after its closing quote.
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
// its grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func numberEnd(b string, i int) (int, bool) {
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
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return j, false
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
			return j, false
		}
		i = j
	}
	// A number runs into the next token only through a delimiter.
	if i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		return i, false
	}
	return i, true
}
