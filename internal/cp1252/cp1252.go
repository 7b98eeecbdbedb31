// Package cp1252 turns text that is not UTF-8 into UTF-8 by reading it as
// Windows-1252, the encoding CIC-IDS2017's published CSVs were saved in
// ("Web Attack \x96 Brute Force"), so labels read from such files are the
// same valid class names in models, reports and JSON wherever they are read.
package cp1252

import (
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// ToUTF8 returns s unchanged when it is valid UTF-8, and otherwise s read as
// Windows-1252 (the five bytes Windows-1252 leaves undefined, 0x81, 0x8D,
// 0x8F, 0x90 and 0x9D, become U+FFFD). Valid UTF-8 is the common case and
// costs no allocation.
func ToUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	out, err := charmap.Windows1252.NewDecoder().String(s)
	if err != nil {
		// Every byte has a mapping, so the decoder cannot fail; keep the
		// text as it is rather than lose it if it ever did.
		return s
	}
	return out
}
