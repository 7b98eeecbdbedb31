// Package cictime reads the timestamps of CICFlowMeter's CSVs, as the
// published CIC datasets hold them, for every reader of such files.
package cictime

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// pattern is CICFlowMeter's timestamp: day/month/year (the CIC datasets
// were made in Canada), hours and minutes, maybe seconds and AM/PM.
var pattern = regexp.MustCompile(`^(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))?(?: ?([AaPp][Mm]))?$`)

// Parse reads CICFlowMeter's timestamps as the published CIC
// datasets hold them: "3/7/2017 8:55" is 3 July (read month first it was
// 7 March), and "7/7/2017 3:30" is 15:30: the CIC-IDS2017 CSVs write a
// 12-hour clock without AM/PM, and their captures ran from 08:00 to
// 17:10, so an hour from 1 to 7 without AM/PM is taken as afternoon. The
// time is the capture's local clock (UTC-3 for CIC-IDS2017), returned as
// written, in time.UTC.
func Parse(s string) (time.Time, bool) {
	m := pattern.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	day, month, year, hour, min := n(1), n(2), n(3), n(4), n(5)
	sec := 0
	if m[6] != "" {
		sec = n(6)
	}
	switch ampm := strings.ToUpper(m[7]); {
	case ampm != "":
		if hour < 1 || hour > 12 {
			return time.Time{}, false
		}
		hour %= 12
		if ampm == "PM" {
			hour += 12
		}
	case hour >= 1 && hour <= 7:
		hour += 12
	}
	if month < 1 || month > 12 || day < 1 || hour > 23 || min > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, min, sec, 0, time.UTC)
	if t.Day() != day { // 31/6: Date normalizes it to 1 July
		return time.Time{}, false
	}
	return t, true
}
