package classifier

import (
	"strings"
	"unicode/utf8"
)

// cp1252 holds the runes of Windows-1252 bytes 0x80-0x9F; bytes from 0xA0
// are the Latin-1 code points. The five bytes Windows-1252 leaves
// undefined map to the C1 controls, as the WHATWG decoder maps them.
var cp1252 = [32]rune{
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
}

// textUTF8 returns s when it is valid UTF-8 and otherwise reads it as
// Windows-1252, the encoding of CIC-IDS2017's published CSVs ("Web Attack
// \x96 Brute Force"), so a label is one valid UTF-8 class name however the
// file was saved, and survives the model file's JSON unchanged.
func textUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/2)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x80:
			b.WriteByte(c)
		case c < 0xA0:
			b.WriteRune(cp1252[c-0x80])
		default:
			b.WriteRune(rune(c))
		}
	}
	return b.String()
}
