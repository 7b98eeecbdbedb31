package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// hostile holds text that a flow file, an alert file, an eval file or a
// label set by an attacker (a crafted DNS name, a directory name, a class
// name in training data) can put into a report: each tries to leave the
// context it lands in (HTML text, an attribute, the script element, a JSON
// string, go-echarts' JS-function markers, ECharts' HTML tooltips).
var hostile = []string{
	`</script><script>document.body.setAttribute("data-pwned","1")</script>`,
	`"><img src=x onerror="document.body.setAttribute('data-pwned','2')">`,
	`<!--<script>`,
	`__f__(document.body.setAttribute("data-pwned","3"))__f__`,
	`a"__f__,x:1,y:__f__"b`,
	`&quot;,x:document.body.setAttribute(&quot;data-pwned&quot;,&quot;4&quot;),y:&quot;`,
	"line\u2028sep\u2029para",
	"bad\xff\xfeutf8\xc3",
	`back\slash\" quote' tick` + "`",
	"x&amp;y &lt;b&gt; &#34;",
}

func hostileInput() Input {
	in := Input{Title: "title " + hostile[0], Source: "src " + hostile[1]}
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	for i, h := range hostile {
		in.Flows = append(in.Flows, Flow{Time: t0.Add(time.Duration(i) * time.Second), Src: h, Dst: "dst " + h, DstPort: 53, Proto: 17, Bytes: float64(100 + i), Packets: 2, Label: "label " + h})
		in.Alerts = append(in.Alerts, Alert{Time: t0.Add(time.Duration(i) * time.Second), Detector: "det " + h, Src: h, Dst: h})
	}
	var e Eval
	e.Model, e.Kind = "model "+hostile[3], "kind "+hostile[0]
	e.Metrics.Labels = []string{hostile[3], hostile[4], hostile[5]}
	e.Metrics.Confusion = [][]int{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}
	in.Evals = []Eval{e}
	return in
}

// strs collects every string in a decoded JSON value.
func strs(v any, into map[string]bool) {
	switch x := v.(type) {
	case string:
		into[x] = true
	case []any:
		for _, e := range x {
			strs(e, into)
		}
	case map[string]any:
		for _, e := range x {
			strs(e, into)
		}
	}
}

// TestHostileTextStaysData renders hostile text into every field and
// checks, on the page as written, that the HTML has exactly the two
// script elements the report writes, and that every chart option embedded
// in the script is JSON that decodes back to the very strings given (bad
// UTF-8 as U+FFFD): nothing was dropped, unescaped or turned into code.
func TestHostileTextStaysData(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, hostileInput()); err != nil {
		t.Fatal(err)
	}
	// The inlined library is ours, not input: look at the rest.
	page := strings.Replace(b.String(), echartsJS, "ECHARTS", 1)
	if n, m := strings.Count(page, "<script"), strings.Count(page, "</script"); n != 2 || m != 2 {
		t.Errorf("page has %d <script and %d </script, want 2 of each", n, m)
	}
	for _, bad := range []string{"<img", "<!--", "\u2028", "\u2029"} {
		if i := strings.Index(page, bad); i >= 0 {
			t.Errorf("page holds %q raw at byte %d: %q", bad, i, page[max(0, i-40):min(len(page), i+40)])
		}
	}
	head := page[:strings.Index(page, "<script")]
	if strings.Contains(head, hostile[0]) || !strings.Contains(head, "title &lt;/script&gt;&lt;script&gt;") {
		t.Error("title not escaped in the page head")
	}
	const open = "const fhCharts = [\n"
	i := strings.Index(page, open)
	if i < 0 {
		t.Fatal("no chart list in the page")
	}
	seen := map[string]bool{}
	charts := 0
	for pos := i + len(open); ; charts++ {
		// Each entry is {id:"...",option:JSON},\n.
		rest := page[pos:]
		j := strings.Index(rest, "option:")
		if !strings.HasPrefix(rest, "{id:") || j < 0 {
			break
		}
		dec := json.NewDecoder(strings.NewReader(rest[j+len("option:"):]))
		var o any
		if err := dec.Decode(&o); err != nil {
			t.Fatalf("chart %d: option is not JSON: %v", charts, err)
		}
		strs(o, seen)
		pos += j + len("option:") + int(dec.InputOffset())
		for pos < len(page) && strings.ContainsRune("}, \n", rune(page[pos])) {
			pos++
		}
	}
	if charts != len(Charts(hostileInput())) {
		t.Fatalf("decoded %d chart options, want %d", charts, len(Charts(hostileInput())))
	}
	for _, h := range hostile {
		want := validUTF8(h)
		for _, s := range []string{want, "label " + want, "det " + want} {
			if !seen[s] {
				t.Errorf("no chart shows %q as given", s)
			}
		}
	}
}

// validUTF8 replaces each byte of s that is not UTF-8 by U+FFFD, as
// encoding/json writes it.
func validUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r) // utf8.RuneError for a bad byte, with n == 1
		i += n
	}
	return b.String()
}

// TestHugeCountsRefused: counts that add up to an infinity have no JSON;
// the page used to be written with empty chart options (a script syntax
// error: a blank report) and exit status 0.
func TestHugeCountsRefused(t *testing.T) {
	in := Input{Flows: []Flow{{Src: "a", Dst: "b", Proto: 6, Bytes: 1e308}, {Src: "a", Dst: "b", Proto: 6, Bytes: 1e308}}}
	var b bytes.Buffer
	if err := Write(&b, in); err == nil || !strings.Contains(err.Error(), "add up to more than") {
		t.Fatalf("Write = %v, want the counts refused", err)
	}
}

// TestHostileChromium renders the hostile report in headless Chromium,
// opens the tooltip (ECharts draws tooltips as HTML) on every data item
// of every chart, and checks that no input text ran as code: body never
// gets the data-pwned attribute the hostile strings try to set, and every
// chart still initialised.
func TestHostileChromium(t *testing.T) {
	bin := ""
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("chromium not installed (Debian package chromium; CI installs it)")
	}
	var b bytes.Buffer
	in := hostileInput()
	if err := Write(&b, in); err != nil {
		t.Fatal(err)
	}
	// Hover every item: showTip on each series' data, one after another.
	probe := `<script>
setTimeout(function(){
  let shown = 0;
  for (const c of fhCharts) {
    const ch = echarts.getInstanceByDom(document.getElementById(c.id));
    const o = ch.getOption();
    o.series.forEach((s, si) => s.data.forEach((_, di) => {
      ch.dispatchAction({type: "showTip", seriesIndex: si, dataIndex: di});
      shown++;
    }));
  }
  document.body.setAttribute("data-tips", String(shown));
}, 100);
</script>
</body>`
	page := b.String()
	i := strings.LastIndex(page, "</body>")
	page = page[:i] + probe + page[i+len("</body>"):]
	path := filepath.Join(t.TempDir(), "hostile.html")
	if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir="+t.TempDir(),
		"--virtual-time-budget=5000", "--dump-dom", "file://"+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v: %s", err, stderr.String())
	}
	body := regexp.MustCompile(`<body[^>]*>`).Find(dom)
	want := fmt.Sprintf(`data-charts-with-data="%d"`, len(Charts(in)))
	if !bytes.Contains(body, []byte(want)) || !bytes.Contains(body, []byte(`data-tips="`)) {
		t.Fatalf("report did not render with every chart and tooltip: %s", body)
	}
	if bytes.Contains(body, []byte("data-pwned")) {
		t.Fatalf("input text ran as code: %s", body)
	}
	// The tooltips drew the input as text: the last item's, escaped once
	// by ECharts and once more by the DOM dump.
	if !bytes.Contains(dom, []byte(">x&amp;amp;y &amp;lt;b&amp;gt; &amp;#34;</div>")) {
		t.Error("no tooltip shows the input text")
	}
	t.Logf("%s", body)
}

// TestBadCellsNamed: a cell the report needs that holds no number (or no
// time) used to count as 0 (or as a flow without a time) with no word,
// so totals and charts were silently wrong; now the error names the file,
// the line, the column and the value.
func TestBadCellsNamed(t *testing.T) {
	const head = "Source IP,Destination IP,Destination Port,Protocol,Timestamp,Total Fwd Packets,Total Backward Packets,Total Length of Fwd Packets,Total Length of Bwd Packets,Label\n"
	const good = "10.0.0.1,10.0.0.2,80,6,2017-07-07 10:00:00,1,1,10,20,BENIGN\n"
	dir := t.TempDir()
	for _, c := range []struct{ name, body, want string }{
		{"word.csv", head + good + "10.0.0.1,10.0.0.2,80,6,2017-07-07 10:00:00,1,1,ten,20,BENIGN\n", `word.csv:3: column "Total Length of Fwd Packets": "ten" is not a number`},
		{"time.csv", head + good + good + "10.0.0.1,10.0.0.2,80,6,yesterday,1,1,10,20,BENIGN\n", `time.csv:4: column "Timestamp": "yesterday" is not a time`},
		{"neg.csv", head + "10.0.0.1,10.0.0.2,80,6,2017-07-07 10:00:00,-5,1,10,20,BENIGN\n", `neg.csv:2: column "Total Fwd Packets": -5 is not a count`},
		{"huge.csv", head + "10.0.0.1,10.0.0.2,80,6,2017-07-07 10:00:00,1,1,1e308,20,BENIGN\n", `huge.csv:2: column "Total Length of Fwd Packets": 1e+308 is not a count`},
		{"nan.csv", head + "10.0.0.1,10.0.0.2,80,6,2017-07-07 10:00:00,NaN,1,10,20,BENIGN\n", `nan.csv:2: column "Total Fwd Packets": NaN is not a finite number`},
		{"word.jsonl", `{"Source IP":"10.0.0.1","Total Fwd Packets":1}` + "\n\n" + `{"Source IP":"10.0.0.1","Total Fwd Packets":"many"}` + "\n", `word.jsonl:3: column "Total Fwd Packets": "many" is not a number`},
		{"time.jsonl", `{"Source IP":"10.0.0.1","Timestamp":1499421600}` + "\n", `time.jsonl:1: column "Timestamp": "1499421600" is not a time`},
	} {
		p := filepath.Join(dir, c.name)
		if err := os.WriteFile(p, []byte(c.body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadFlows(p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
	// Empty cells are no data, not an error: the CIC-IDS2017 files end in
	// rows of empty fields, which are no flows either.
	p := filepath.Join(dir, "blank.csv")
	if err := os.WriteFile(p, []byte(head+good+",,,,,,,,,\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fl, err := ReadFlows(p); err != nil || len(fl) != 1 {
		t.Errorf("blank row: %d flows, %v", len(fl), err)
	}
}

// TestLongJSONLLineNamed: a line past the reader's bound names its line.
func TestLongJSONLLineNamed(t *testing.T) {
	p := filepath.Join(t.TempDir(), "long.jsonl")
	body := `{"Source IP":"10.0.0.1"}` + "\n" + `{"Label":"` + strings.Repeat("x", 65<<20) + `"}` + "\n"
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFlows(p); err == nil || !strings.Contains(err.Error(), "long.jsonl:2: ") {
		t.Errorf("ReadFlows = %v, want an error naming long.jsonl:2", err)
	}
}

// TestTimeAxisYears: flows and alerts spanning years used to be labelled
// by month and day alone ("07-05 00:00"), so the axis hid the year and the
// same label came back every year.
func TestTimeAxisYears(t *testing.T) {
	in := Input{}
	for _, y := range []int{1971, 1999, 2026} {
		ts := time.Date(y, 7, 5, 10, 0, 0, 0, time.UTC)
		in.Flows = append(in.Flows, Flow{Time: ts, Src: "10.0.0.1", Dst: "10.0.0.2", Proto: 6, Bytes: 100, Packets: 2})
		in.Alerts = append(in.Alerts, Alert{Time: ts, Detector: "portscan"})
	}
	in.Alerts = append(in.Alerts, Alert{Time: time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC), Detector: "dns"}, Alert{Time: time.Date(2027, 1, 1, 0, 1, 0, 0, time.UTC), Detector: "dns"})
	for _, c := range Charts(in) {
		if c.id != "over-time" && c.id != "alerts" {
			continue
		}
		var o struct {
			XAxis []struct {
				Data []string `json:"data"`
			} `json:"xAxis"`
		}
		if err := json.Unmarshal([]byte(c.option), &o); err != nil {
			t.Fatal(err)
		}
		xs := o.XAxis[0].Data
		seen := map[string]bool{}
		for _, x := range xs {
			if seen[x] {
				t.Errorf("%s: label %q twice", c.id, x)
			}
			seen[x] = true
		}
		if !strings.HasPrefix(xs[0], "197") || !strings.HasPrefix(xs[len(xs)-1], "202") {
			t.Errorf("%s: axis from %q to %q, want the years shown", c.id, xs[0], xs[len(xs)-1])
		}
	}
	// Within one year the labels stay short.
	one := Input{Alerts: []Alert{{Time: time.Date(2026, 7, 5, 10, 0, 0, 0, time.UTC), Detector: "dns"}, {Time: time.Date(2026, 7, 5, 10, 0, 30, 0, time.UTC), Detector: "dns"}}}
	for _, c := range Charts(one) {
		if !strings.Contains(c.option, `"07-05 10:00:00"`) {
			t.Errorf("%s: one-year labels changed: %.300s", c.id, c.option)
		}
	}
}

// TestTimeAxisBeyondDuration: a file whose flows span more than
// time.Duration holds (292 years: a row from year 1 beside today's) drew
// the last flow's bucket as if it were 290 years after the first.
func TestTimeAxisBeyondDuration(t *testing.T) {
	in := Input{}
	for _, ts := range []time.Time{time.Date(1, 1, 2, 10, 0, 0, 0, time.UTC), time.Date(2026, 7, 5, 10, 0, 0, 0, time.UTC), time.Date(9999, 7, 7, 10, 0, 0, 0, time.UTC)} {
		in.Flows = append(in.Flows, Flow{Time: ts, Src: "10.0.0.1", Dst: "10.0.0.2", Proto: 6, Bytes: 100, Packets: 2})
		in.Alerts = append(in.Alerts, Alert{Time: ts, Detector: "dns"})
	}
	for _, c := range Charts(in) {
		if c.id != "over-time" && c.id != "alerts" {
			continue
		}
		var o struct {
			XAxis []struct {
				Data []string `json:"data"`
			} `json:"xAxis"`
			Series []struct {
				Data []struct {
					Value float64 `json:"value"`
				} `json:"data"`
			} `json:"series"`
		}
		if err := json.Unmarshal([]byte(c.option), &o); err != nil {
			t.Fatal(err)
		}
		xs := o.XAxis[0].Data
		var at []string
		for i, v := range o.Series[0].Data {
			if v.Value != 0 {
				at = append(at, xs[i])
			}
		}
		if len(xs) > 130 || len(at) != 3 || !strings.HasPrefix(at[0], "0001-") || !strings.HasPrefix(at[1], "20") || !strings.HasPrefix(at[2], "99") {
			t.Errorf("%s: %d buckets, flows at %q; want year 1, 20xx and 99xx", c.id, len(xs), at)
		}
	}
}
