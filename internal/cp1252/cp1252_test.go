package cp1252

import "testing"

func TestToUTF8(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"BENIGN", "BENIGN"},
		{"Web Attack \x96 Brute Force", "Web Attack \u2013 Brute Force"},
		{"Web Attack \u2013 XSS", "Web Attack \u2013 XSS"}, // already UTF-8
		{"\x80\x81\x8d\x9f\xa0\xff", "\u20ac\ufffd\ufffd\u0178\u00a0\u00ff"},
		{"", ""},
	} {
		if got := ToUTF8(c.in); got != c.want {
			t.Errorf("ToUTF8(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
