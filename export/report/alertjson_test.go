package report

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// nestedLine and flatLine write one alert line as detect does (nested)
// and with dotted keys.
func nestedLine(ts time.Time, det, rule, cause, start, src string, count int) string {
	return fmt.Sprintf(`{"@timestamp":%q,"destination":{"ip":"192.0.2.1","port":53},"event":{"category":["network","intrusion_detection"],"dataset":"flowhawk.%s","kind":"alert","severity":47,"start":%q},"flowhawk":{"cause":%q,"count":%d,"detector":%q,"evidence":{"entropy":3.9,"names":["a\"b","c"],"score":1e-7}},"message":"%s: \"quoted\" caf\u00e9","rule":{"category":%q,"name":%q},"source":{"ip":%q}}`,
		ts.Format(time.RFC3339Nano), det, start, cause, count, det, rule, det, rule, src)
}

func flatLine(ts time.Time, det, rule, cause, start, src string, count int) string {
	return fmt.Sprintf(`{"@timestamp":%q,"destination.ip":"192.0.2.1","event.category":["network"],"event.start":%q,"flowhawk.cause":%q,"flowhawk.count":%d,"flowhawk.detector":%q,"message":"x","rule.category":%q,"rule.name":%q,"source.ip":%q}`,
		ts.Format(time.RFC3339Nano), start, cause, count, det, det, rule, src)
}

// FuzzParseAlertLine checks parseAlertLine against encoding/json and
// lookup: a line it takes must decode, to the same values.
func FuzzParseAlertLine(f *testing.F) {
	t0 := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{
		nestedLine(t0, "dns", "dns.dga", "dns.dga|10.0.0.1", "2026-07-01T11:59:00Z", "10.0.0.1", 3),
		flatLine(t0, "dns", "dns.dga", "dns.dga|10.0.0.1", "2026-07-01T11:59:00Z", "10.0.0.1", 3),
		`{"@timestamp":"2020-01-01T00:00:00Z","rule.name":5,"rule":{"name":"x"},"source":"s","source.ip":null}`,
		`{"rule":{"name":"a"},"rule":{"category":"b"},"flowhawk":{"count":2},"flowhawk":7}`,
		`{"flowhawk":{"count":1e400}}`, `{"flowhawk":{"count":"3"}}`, `{"flowhawk.count":-0.5e1}`,
		`{"r\u0075le":{"name":"x"}}`, `{"rule":{"n\u0061me":"x"}}`, `{"rule":{"name":"caf\u00e9"}}`,
		`{"Source IP":"1.2.3.4"}`, `{"src_ip":1}`, `{"a":[1,{"b":[]},"c",true,false,null]}`,
		"{\"rule\":{\"name\":\"\xff\"}}", `{"a":1}x`, `{"a":01}`, `{"a":[1,]}`, `{}`, `[]`, `null`, ` {"a" : 1 } `,
		`{"@timestamp":"2020-01-01T00:00:00Z","@timestamp":"2021-01-01T00:00:00Z"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast alertValues
		if !parseAlertLine(b, &fast) {
			return
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("parseAlertLine took %q, encoding/json refuses it: %v", b, err)
		}
		var slow alertValues
		alertValuesFromMap(m, &slow)
		norm := func(v alertValues) alertValues {
			for _, p := range []*[]byte{&v.ts, &v.src, &v.dst, &v.detector, &v.category, &v.name, &v.cause, &v.start} {
				if len(*p) == 0 {
					*p = nil
				}
			}
			return v
		}
		if !reflect.DeepEqual(norm(fast), norm(slow)) {
			t.Fatalf("%q: parseAlertLine read %+v, encoding/json %+v", b, fast, slow)
		}
	})
}
