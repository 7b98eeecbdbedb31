package cictime

import "testing"

// CICFlowMeter's timestamps, as the published CIC datasets hold them:
// day first (3/7/2017 is 3 July; month first it became 7 March), and the
// CIC-IDS2017 CSVs' 12-hour clock without AM/PM, whose afternoon (3:30 in
// the Friday DDoS file, the attack ran 15:56-16:16) came before its
// morning.
func TestParse(t *testing.T) {
	for in, want := range map[string]string{
		"3/7/2017 8:55":          "2017-07-03 08:55:00",
		"7/7/2017 3:30":          "2017-07-07 15:30:00",
		"7/7/2017 12:05":         "2017-07-07 12:05:00",
		"05/07/2017 09:47:12":    "2017-07-05 09:47:12",
		"02/03/2018 08:47:38 AM": "2018-03-02 08:47:38",
		"02/03/2018 12:10:00 AM": "2018-03-02 00:10:00",
		"02/03/2018 03:04:05 pm": "2018-03-02 15:04:05",
	} {
		got, ok := Parse(in)
		if !ok || got.Format("2006-01-02 15:04:05") != want {
			t.Errorf("%q: %v %v, want %s", in, got, ok, want)
		}
	}
	for _, bad := range []string{"13/13/2017 8:00", "31/6/2017 8:00", "7/7/2017 24:00", "7/7/2017 13:00 PM", "7/7/17 8:00", "2017-07-07 15:30:00"} {
		if got, ok := Parse(bad); ok {
			t.Errorf("%q read as %v", bad, got)
		}
	}
}
