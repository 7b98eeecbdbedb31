package flatjson

import (
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
)

// FuzzSplit checks Split against encoding/json: a record it splits must
// decode, to the same keys (in order, the first of a repeat) and, for
// each key's last occurrence, the same value.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":"x","c":null,"d":true,"e":false}`,
		`{ "Flow Duration" : 12.5e-3 , "Label":"BENIGN" }`,
		`{"a":-0,"b":1E+400,"c":"caf\u00e9"}`,
		`{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":1}x`, `{"a":[1]}`, `{"a":{"b":1}}`,
		`{"a":1,"a":2}`, `{}`, `{"a":tru}`, `{"a":"\t"}`, `{"a" 1}`, `{"a":1,}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b string) {
		var fs Fields
		if !Split(b, &fs) {
			return
		}
		if len(fs.Keys) != len(fs.Values) || len(fs.Keys) != len(fs.Kinds) {
			t.Fatalf("%q: %d keys, %d values, %d kinds", b, len(fs.Keys), len(fs.Values), len(fs.Kinds))
		}
		var obj map[string]any
		dec := json.NewDecoder(strings.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil {
			t.Fatalf("Split took %q, encoding/json refuses it: %v", b, err)
		}
		if _, err := dec.Token(); err != io.EOF {
			t.Fatalf("Split took %q, which has more after the object", b)
		}
		if len(obj) != len(dedup(fs.Keys)) {
			t.Fatalf("%q: keys %q, encoding/json's %v", b, fs.Keys, obj)
		}
		for i, k := range fs.Keys {
			if slices.Contains(fs.Keys[i+1:], k) {
				continue // encoding/json keeps the last
			}
			v, ok := obj[k]
			if !ok {
				t.Fatalf("%q: key %q not in encoding/json's %v", b, k, obj)
			}
			var same bool
			switch x := v.(type) {
			case string:
				same = fs.Kinds[i] == String && fs.Values[i] == x
			case json.Number:
				same = fs.Kinds[i] == Number && fs.Values[i] == string(x)
			case bool:
				same = (fs.Kinds[i] == True) == x && (fs.Kinds[i] == True || fs.Kinds[i] == False)
			case nil:
				same = fs.Kinds[i] == Null
			}
			if !same {
				t.Fatalf("%q: key %q: %q (kind %d), encoding/json's %#v", b, k, fs.Values[i], fs.Kinds[i], v)
			}
		}
	})
}

func dedup(keys []string) []string {
	var out []string
	for _, k := range keys {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// TestSplitRefuses names what Split leaves to encoding/json.
func TestSplitRefuses(t *testing.T) {
	for _, b := range []string{`{"a":"x\"y"}`, `{"a":[1]}`, `{"a":{}}`, `{"a":1} {}`, `{"a":01}`, `{"a":1.}`, "{\"a\":\"\x81\"}", `{"a":1`, `["a"]`, `{"a":+1}`} {
		var fs Fields
		if Split(b, &fs) {
			t.Errorf("Split took %q", b)
		}
	}
	var fs Fields
	if !Split(` { "a" : -1.5e+3 , "b":"x y", "c":true,"d":false, "e":null } `, &fs) ||
		!slices.Equal(fs.Keys, []string{"a", "b", "c", "d", "e"}) || !slices.Equal(fs.Values, []string{"-1.5e+3", "x y", "true", "false", "null"}) ||
		!slices.Equal(fs.Kinds, []Kind{Number, String, True, False, Null}) {
		t.Errorf("split %q %q %v", fs.Keys, fs.Values, fs.Kinds)
	}
}
