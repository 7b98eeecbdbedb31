// Package report renders flows, alerts and model evaluations into one
// self-contained HTML file: the ECharts library is embedded (no CDN), so
// the page works offline and can be mailed or archived as is.
//
// Chart options are built with go-echarts; the page itself is ours so that
// it can inline the library and report, in the DOM, whether every chart
// initialised with data (the test in headless Chromium reads that marker).
package report

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"
)

//go:embed assets/echarts.min.js
var echartsJS string

// Input is what a report shows; Alerts and Evals may be empty.
type Input struct {
	Title  string
	Source string // the flow file's name, shown in the header
	// Stats are the flows, gathered (ReadFlowStats); without them the
	// report gathers Flows.
	Stats *FlowStats
	Flows []Flow
	// AlertStats are the alerts, gathered (ReadAlertStats); without them
	// the report gathers Alerts.
	AlertStats *AlertStats
	Alerts     []Alert
	Evals      []Eval
	// TopN bounds the IP bar charts (default 15).
	TopN int
}

// chart is one rendered chart: its element ID and ECharts option JSON.
type chart struct {
	id, title, option string
}

// Write renders the report to w.
func Write(w io.Writer, in Input) error {
	if in.TopN <= 0 {
		in.TopN = 15
	}
	if in.Title == "" {
		in.Title = "flowhawk report"
	}
	in.Stats = in.flowStats()
	in.AlertStats = in.alertStats()
	if !in.Stats.finite() {
		return fmt.Errorf("report: the flows' byte or packet counts add up to more than a number can hold")
	}
	cs := Charts(in)
	if len(cs) == 0 {
		return fmt.Errorf("report: nothing to chart: no flows, alerts or evaluations")
	}
	var b strings.Builder
	b.Grow(len(echartsJS) + 64<<10)
	fmt.Fprintf(&b, `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%s</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f5f6f8;color:#222}
header{background:#1f2d3d;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:20px} header p{margin:4px 0 0;font-size:13px;opacity:.8}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:16px;padding:16px}
.card{background:#fff;border-radius:6px;box-shadow:0 1px 3px rgba(0,0,0,.12);padding:8px}
.chart{width:100%%;height:380px}
table.summary{border-collapse:collapse;margin:0 16px;font-size:13px}
table.summary td{padding:2px 12px 2px 0}
#fh-status{font-size:11px;color:#888;padding:0 16px 12px}
</style></head><body>
<header><h1>%s</h1><p>%s</p></header>
`, html.EscapeString(in.Title), html.EscapeString(in.Title), html.EscapeString(summaryLine(in)))
	b.WriteString(`<div class="grid">` + "\n")
	for _, c := range cs {
		fmt.Fprintf(&b, `<div class="card"><div class="chart" id="%s" aria-label="%s"></div></div>`+"\n", c.id, html.EscapeString(c.title))
	}
	b.WriteString("</div>\n<div id=\"fh-status\">rendering…</div>\n")
	b.WriteString("<script>\n")
	b.WriteString(echartsJS)
	b.WriteString("\n</script>\n<script>\n\"use strict\";\nconst fhCharts = [\n")
	for _, c := range cs {
		fmt.Fprintf(&b, "{id:%q,option:%s},\n", c.id, c.option)
	}
	b.WriteString(`];
(function(){
  let ok = 0;
  const empty = [];
  const failed = [];
  for (const c of fhCharts) {
    // One chart that cannot be drawn must not leave the others undrawn.
    try {
      const ch = echarts.init(document.getElementById(c.id), null, {renderer: "canvas"});
      ch.setOption(c.option);
      const o = ch.getOption();
      const full = o.series.length > 0 && o.series.every(s => Array.isArray(s.data) && s.data.length > 0);
      if (full) { ok++; } else { empty.push(c.id); }
      window.addEventListener("resize", () => ch.resize());
    } catch (e) {
      failed.push(c.id + " (" + e + ")");
    }
  }
  const st = document.getElementById("fh-status");
  st.textContent = "charts " + fhCharts.length + ", with data " + ok + (empty.length ? ", empty: " + empty.join(" ") : "") + (failed.length ? ", failed: " + failed.join(" ") : "");
  document.body.setAttribute("data-charts", String(fhCharts.length));
  document.body.setAttribute("data-charts-with-data", String(ok));
  document.body.setAttribute("data-charts-ready", ok === fhCharts.length ? "true" : "false");
})();
</script>
</body></html>
`)
	_, err := io.WriteString(w, b.String())
	return err
}

// optionJSON returns a chart's ECharts option as JSON that can stand in
// a script element as is: encoding/json writes <, > and & as \u003c,
// \u003e and \u0026 (so no text from the input files closes the element
// or opens a comment) and U+2028/U+2029 escaped. go-echarts' own
// RenderSnippet is not used: it strips every "__f__" (its marker for JS
// functions, which no chart here has) from the input's text and passes the
// JSON through html/template and back, so a label holding "__f__" came out
// altered.
func optionJSON(c interface {
	Validate()
	JSON() map[string]interface{}
}) string {
	c.Validate()
	b, err := json.Marshal(c.JSON())
	if err != nil {
		// Only NaN or an infinity in the data gets here; every value is
		// a finite count, sum or score.
		panic(fmt.Sprintf("report: chart option: %v", err))
	}
	return string(b)
}

// flowStats returns in.Stats, or gathers in.Flows. Flows whose byte or
// packet counts add up to no finite number are refused by Write: a chart
// of them has no JSON, and the page would show nothing.
func (in *Input) flowStats() *FlowStats {
	if in.Stats != nil {
		return in.Stats
	}
	st := NewFlowStats()
	for i := range in.Flows {
		st.Add(&in.Flows[i])
	}
	return st
}

// alertStats returns in.AlertStats, or gathers in.Alerts.
func (in *Input) alertStats() *AlertStats {
	if in.AlertStats != nil {
		return in.AlertStats
	}
	return gatherAlerts(in.Alerts)
}

func summaryLine(in Input) string {
	st := in.flowStats()
	first, last := st.First, st.Last
	flows := "1 flow"
	if st.N != 1 {
		flows = fmt.Sprintf("%d flows", st.N)
	}
	s := fmt.Sprintf("%s, %s packets, %s", flows, human(st.Packets, ""), human(st.Bytes, "B"))
	if !first.IsZero() {
		s += fmt.Sprintf(", %s – %s UTC", first.UTC().Format("2006-01-02 15:04:05"), last.UTC().Format("2006-01-02 15:04:05"))
	}
	if as := in.alertStats(); as.Lines > 0 {
		s += ", " + as.count()
	}
	if len(in.Evals) > 0 {
		s += fmt.Sprintf(", %d model evaluations", len(in.Evals))
	}
	if in.Source != "" {
		s = in.Source + ": " + s
	}
	return s
}

func human(v float64, unit string) string {
	const k = 1000
	switch {
	case v >= k*k*k:
		return strconv.FormatFloat(v/(k*k*k), 'f', 2, 64) + " G" + unit
	case v >= k*k:
		return strconv.FormatFloat(v/(k*k), 'f', 2, 64) + " M" + unit
	case v >= k:
		return strconv.FormatFloat(v/k, 'f', 2, 64) + " k" + unit
	}
	if unit == "" { // a count: "126 packets", not "126  packets"
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + " " + unit
}

// Charts builds every chart that has data, in page order. The flows' byte
// and packet counts must add up to finite numbers, as Write checks.
func Charts(in Input) []chart {
	if in.TopN <= 0 {
		in.TopN = 15
	}
	var cs []chart
	add := func(id, title string, opt string) {
		cs = append(cs, chart{id: id, title: title, option: opt})
	}
	if st := in.flowStats(); st.N > 0 {
		if o, ok := topIPChart("Top sources by bytes", st.src, in.TopN); ok {
			add("top-src", "Top sources by bytes", o)
		}
		if o, ok := topIPChart("Top destinations by bytes", st.dst, in.TopN); ok {
			add("top-dst", "Top destinations by bytes", o)
		}
		add("proto-mix", "Protocol mix", mixChart("Protocol mix (bytes)", st.proto))
		add("app-mix", "Application mix", mixChart("Application mix (bytes, by service port)", st.app))
		if o, ok := timeChart(st); ok {
			add("over-time", "Flows and bytes over time", o)
		}
		if o, ok := labelChart(st.labels); ok {
			add("class-mix", "Flows by class", o)
		}
	}
	if as := in.alertStats(); as.Lines > 0 {
		add("alerts", "Alerts by detector over time", alertChart(as))
	}
	for i, e := range in.Evals {
		if len(e.Metrics.Labels) > 0 {
			add(fmt.Sprintf("confusion-%d", i), "Confusion matrix "+e.Model, confusionChart(&e))
		}
	}
	if len(in.Evals) > 0 {
		add("models", "Model comparison", modelChart(in.Evals))
	}
	return cs
}

func title(t, sub string) charts.GlobalOpts {
	return charts.WithTitleOpts(opts.Title{Title: t, Subtitle: sub, Left: "center"})
}

func noAnimation() charts.GlobalOpts { return charts.WithAnimation(false) }

type kv struct {
	k string
	v float64
}

func sortedDesc(m map[string]float64) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].v != out[j].v {
			return out[i].v > out[j].v
		}
		return out[i].k < out[j].k
	})
	return out
}

// topIPChart draws the n addresses with the most bytes in m.
func topIPChart(t string, m map[string]float64, n int) (string, bool) {
	top := sortedDesc(m)
	if len(top) == 0 {
		return "", false
	}
	if len(top) > n {
		top = top[:n]
	}
	// Horizontal bars read top-down: largest first.
	names := make([]string, len(top))
	data := make([]opts.BarData, len(top))
	for i := range top {
		j := len(top) - 1 - i
		names[i] = top[j].k
		data[i] = opts.BarData{Value: top[j].v}
	}
	bar := charts.NewBar()
	bar.SetGlobalOptions(title(t, fmt.Sprintf("top %d of %d addresses", len(top), len(m))), noAnimation(),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithGridOpts(opts.Grid{Left: "3%", Right: "6%", ContainLabel: opts.Bool(true), Top: "60"}),
		charts.WithXAxisOpts(opts.XAxis{Name: "bytes", Type: "value"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(false)}),
	)
	bar.SetXAxis(names).AddSeries("bytes", data)
	bar.XYReversal()
	return optionJSON(bar), true
}

// mixChart draws m's shares of bytes.
func mixChart(t string, m map[string]float64) string {
	top := sortedDesc(m)
	const maxSlices = 10
	if len(top) > maxSlices {
		var rest float64
		for _, e := range top[maxSlices-1:] {
			rest += e.v
		}
		top = append(top[:maxSlices-1], kv{"all others", rest})
	}
	data := make([]opts.PieData, 0, len(top))
	for _, e := range top {
		data = append(data, opts.PieData{Name: e.k, Value: e.v})
	}
	pie := charts.NewPie()
	pie.SetGlobalOptions(title(t, ""), noAnimation(),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "item"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Orient: "vertical", Left: "left", Top: "40"}),
	)
	pie.AddSeries(t, data, charts.WithPieChartOpts(opts.PieChart{Radius: []string{"35%", "65%"}, Center: []string{"60%", "55%"}}))
	return optionJSON(pie)
}

// bucket chooses a time bucket giving at most about 120 points.
func bucket(span time.Duration) time.Duration {
	for _, d := range []time.Duration{time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour} {
		if span/d <= 120 {
			return d
		}
	}
	// Longer spans (years of captures in one file): about 120 buckets.
	return (span/120 + 24*time.Hour).Truncate(24 * time.Hour)
}

// timeAxis is the bucketing of a time chart: n buckets of d from start
// (UTC). It counts in whole seconds (every bucket is whole seconds), not
// in time.Duration, which saturates at 292 years: flows from year 1 and
// year 9999 in one file were drawn with the last one in year 290.
type timeAxis struct {
	start int64 // Unix seconds
	sec   int64 // d in seconds
	d     time.Duration
	n     int
}

func newTimeAxis(first, last time.Time) timeAxis {
	d := axisStep(first, last)
	ax := timeAxis{start: first.Truncate(d).Unix(), sec: int64(d / time.Second), d: d}
	ax.n = ax.index(last) + 1
	return ax
}

// axisStep is the bucket width of a time chart from first to last.
func axisStep(first, last time.Time) time.Duration {
	span := last.Unix() - first.Unix()
	if span < int64(math.MaxInt64/time.Second) {
		return bucket(time.Duration(span) * time.Second)
	}
	// About 120 buckets of whole days, as bucket does.
	return time.Duration(span/120/86400+1) * 24 * time.Hour
}

// index is the bucket of t, which lies in [first, last].
func (ax timeAxis) index(t time.Time) int { return int((t.Unix() - ax.start) / ax.sec) }

// at is the start of bucket i.
func (ax timeAxis) at(i int) time.Time { return time.Unix(ax.start+int64(i)*ax.sec, 0).UTC() }

// withYear returns the time axis layout for points from first to last, d
// apart: layout as it is within one year, with the year in front (and no
// time of day for buckets of a day or more) when the points span several,
// so that labels neither repeat nor hide which year they are in.
func withYear(layout string, first, last time.Time, d time.Duration) string {
	if first.UTC().Year() == last.UTC().Year() {
		return layout
	}
	if d >= 24*time.Hour {
		return "2006-01-02"
	}
	if strings.HasPrefix(layout, "01-02 ") {
		return "2006-" + layout
	}
	return "2006-01-02 " + layout
}

// timeChart draws flows and bytes by flow start.
func timeChart(st *FlowStats) (string, bool) {
	first, last := st.First, st.Last
	if first.IsZero() {
		return "", false
	}
	ax := newTimeAxis(first, last)
	d, n := ax.d, ax.n
	cnt, byt := st.series(ax)
	xs := make([]string, n)
	fl := make([]opts.LineData, n)
	by := make([]opts.LineData, n)
	layout := "15:04:05"
	if last.Unix()-first.Unix() > 24*3600 {
		layout = "01-02 15:04"
	}
	layout = withYear(layout, first, last, d)
	for i := range xs {
		xs[i] = ax.at(i).Format(layout)
		fl[i] = opts.LineData{Value: cnt[i]}
		by[i] = opts.LineData{Value: byt[i]}
	}
	line := charts.NewLine()
	line.SetGlobalOptions(title("Flows and bytes over time", "per "+d.String()+", by flow start (UTC)"), noAnimation(),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "45"}),
		charts.WithGridOpts(opts.Grid{Top: "80", ContainLabel: opts.Bool(true), Left: "3%", Right: "3%"}),
		charts.WithYAxisOpts(opts.YAxis{Name: "flows", Type: "value"}),
	)
	line.ExtendYAxis(opts.YAxis{Name: "bytes", Type: "value"})
	line.SetXAxis(xs).
		AddSeries("flows", fl, charts.WithLineChartOpts(opts.LineChart{Step: "middle"})).
		AddSeries("bytes", by, charts.WithLineChartOpts(opts.LineChart{YAxisIndex: 1}), charts.WithAreaStyleOpts(opts.AreaStyle{Opacity: opts.Float(0.15)}))
	return optionJSON(line), true
}

// series returns the flows and bytes in each bucket of ax.
func (st *FlowStats) series(ax timeAxis) (cnt, byt []float64) {
	if ax.sec%st.gran != 0 {
		// FlowStats.coarsen's bound rules this out; a chart of wrong
		// buckets would be worse than none.
		panic(fmt.Sprintf("report: time bucket %v is not a multiple of the gathered %d s", ax.d, st.gran))
	}
	cnt = make([]float64, ax.n)
	byt = make([]float64, ax.n)
	keys := make([]int64, 0, len(st.times))
	for k := range st.times {
		keys = append(keys, k)
	}
	slices.Sort(keys) // sums in time order, the same on every run
	for _, k := range keys {
		b := st.times[k]
		i := int((k - ax.start) / ax.sec)
		cnt[i] += b.flows
		byt[i] += b.bytes
	}
	return cnt, byt
}

// maxClasses bounds the bars of the class chart.
const maxClasses = 30

// labelChart draws flows by class (m: class -> flows).
func labelChart(m map[string]float64) (string, bool) {
	if len(m) == 0 {
		return "", false
	}
	top := sortedDesc(m)
	sub := "predicted label when present, else dataset label"
	if len(top) > maxClasses {
		// Thousands of bars (a label per host, say) are unreadable and
		// slow to draw: the largest classes, then the rest as one.
		var rest float64
		for _, e := range top[maxClasses-1:] {
			rest += e.v
		}
		sub += fmt.Sprintf("; the %d largest of %d classes", maxClasses-1, len(top))
		top = append(top[:maxClasses-1:maxClasses-1], kv{fmt.Sprintf("all %d others", len(top)-maxClasses+1), rest})
	}
	names := make([]string, len(top))
	data := make([]opts.BarData, len(top))
	for i, e := range top {
		names[i], data[i] = e.k, opts.BarData{Value: e.v}
	}
	bar := charts.NewBar()
	bar.SetGlobalOptions(title("Flows by class", sub), noAnimation(),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithGridOpts(opts.Grid{ContainLabel: opts.Bool(true), Top: "70", Left: "3%", Right: "3%"}),
		charts.WithYAxisOpts(opts.YAxis{Name: "flows", Type: "log"}),
		charts.WithXAxisOpts(opts.XAxis{AxisLabel: &opts.AxisLabel{Rotate: 30, Interval: "0"}}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(false)}),
	)
	bar.SetXAxis(names).AddSeries("flows", data)
	return optionJSON(bar), true
}

// alertCount says how many occurrences the alert lines carry, and in how
// many lines: aggregation sends one line for many occurrences.
func alertCount(alerts []Alert) string { return gatherAlerts(alerts).count() }

// count is alertCount of the lines gathered.
func (s *AlertStats) count() string {
	plural := func(v float64, one, many string) string {
		if v == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%.0f %s", v, many)
	}
	return plural(s.Occurrences, "alert occurrence", "alert occurrences") + " in " + plural(float64(s.Lines), "alert line", "alert lines")
}

func alertChart(s *AlertStats) string {
	first, last := s.First, s.Last
	ax := newTimeAxis(first, last)
	d, n := ax.d, ax.n
	names, counts := s.series(ax)
	xs := make([]string, n)
	layout := withYear("01-02 15:04:05", first, last, d)
	for i := range xs {
		xs[i] = ax.at(i).Format(layout)
	}
	sub := fmt.Sprintf("%s, per %s (UTC), each line's new occurrences at its @timestamp", s.count(), d)
	series := topDetectors(names, counts, s)
	if len(series) < len(names) {
		sub += fmt.Sprintf("; the %d detectors with the most occurrences", maxClasses-1)
	}
	bar := charts.NewBar()
	bar.SetGlobalOptions(title("Alert occurrences by detector over time", sub), noAnimation(),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "45"}),
		charts.WithGridOpts(opts.Grid{Top: "80", ContainLabel: opts.Bool(true), Left: "3%", Right: "3%"}),
		charts.WithYAxisOpts(opts.YAxis{Name: "occurrences", Type: "value"}),
	)
	bar.SetXAxis(xs)
	for _, k := range series {
		data := make([]opts.BarData, n)
		for i, v := range counts[k] {
			data[i] = opts.BarData{Value: v}
		}
		bar.AddSeries(legendName(k), data, charts.WithBarChartOpts(opts.BarChart{Stack: "alerts"}))
	}
	return optionJSON(bar)
}

// topDetectors returns the names of the alert chart's series: every
// detector, or when there are more than maxClasses the maxClasses-1 with
// the most occurrences and one series of the rest (added to counts), so
// an alerts file whose every line names a detector of its own gives a
// readable page, not one series per line (50,000 such lines made a 76 MB
// page). The others' series is named in the chart's subtitle's terms.
func topDetectors(names []string, counts map[string][]float64, s *AlertStats) []string {
	if len(names) <= maxClasses {
		return names
	}
	tot := make(map[string]float64, len(names))
	for _, k := range names {
		if k == otherDetectors {
			continue // past maxDetectors: among the others
		}
		for _, v := range counts[k] {
			tot[k] += v
		}
	}
	top := sortedDesc(tot)
	others := top[maxClasses-1:]
	rest := slices.Clone(counts[otherDetectors]) // nil unless folded
	if rest == nil {
		rest = make([]float64, len(counts[names[0]]))
	}
	for _, e := range others {
		for i, v := range counts[e.k] {
			rest[i] += v
		}
	}
	keep := make([]string, 0, maxClasses)
	for _, e := range top[:maxClasses-1] {
		keep = append(keep, e.k)
	}
	slices.Sort(keep)
	name := fmt.Sprintf("all %d other detectors", len(others))
	if s.folded > 0 {
		// How many detectors the folded lines name is not kept.
		name = fmt.Sprintf("all %d+ other detectors", len(others)+1)
	}
	counts[name] = rest
	return append(keep, name)
}

// legendName is the name a series goes by in a chart's legend: ECharts
// keeps the legend's selection in a plain object keyed by series name
// and calls its hasOwnProperty, so a detector named hasOwnProperty (from
// an alerts file) threw and left every chart after it undrawn. Names of
// Object.prototype's properties get a suffix.
func legendName(k string) string {
	switch k {
	case "constructor", "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable", "toLocaleString", "toString", "valueOf",
		"__proto__", "__defineGetter__", "__defineSetter__", "__lookupGetter__", "__lookupSetter__":
		return k + " (detector)"
	}
	return k
}

func confusionChart(e *Eval) string {
	labels := e.Metrics.Labels
	var data []opts.HeatMapData
	maxV := 1
	for i, row := range e.Metrics.Confusion {
		for j, v := range row {
			// x = predicted, y = true; rows of the matrix are true labels.
			data = append(data, opts.HeatMapData{Value: [3]interface{}{j, i, v}})
			if v > maxV {
				maxV = v
			}
		}
	}
	hm := charts.NewHeatMap()
	hm.SetGlobalOptions(title("Confusion matrix: "+e.Model, fmt.Sprintf("%s, %d rows, accuracy %.4f, macro F1 %.4f", e.Kind, e.Metrics.Rows, e.Metrics.Accuracy, e.Metrics.MacroF1)), noAnimation(),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true)}),
		charts.WithGridOpts(opts.Grid{Top: "70", Bottom: "90", ContainLabel: opts.Bool(true), Left: "3%", Right: "80"}),
		charts.WithXAxisOpts(opts.XAxis{Type: "category", Data: labels, Name: "predicted", NameLocation: "middle", NameGap: 60, AxisLabel: &opts.AxisLabel{Rotate: 30, Interval: "0"}, SplitArea: &opts.SplitArea{Show: opts.Bool(true)}}),
		charts.WithYAxisOpts(opts.YAxis{Type: "category", Data: labels, Name: "true", Inverse: opts.Bool(true), AxisLabel: &opts.AxisLabel{Interval: "0"}, SplitArea: &opts.SplitArea{Show: opts.Bool(true)}}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(false)}),
		charts.WithVisualMapOpts(opts.VisualMap{Calculable: opts.Bool(true), Min: 0, Max: float32(maxV), Orient: "vertical", Right: "0", Top: "center",
			InRange: &opts.VisualMapInRange{Color: []string{"#f7fbff", "#6baed6", "#08306b"}}}),
	)
	hm.SetXAxis(labels).AddSeries("flows", data, charts.WithLabelOpts(opts.Label{Show: opts.Bool(true)}))
	return optionJSON(hm)
}

func modelChart(evals []Eval) string {
	names := make([]string, len(evals))
	acc := make([]opts.BarData, len(evals))
	f1 := make([]opts.BarData, len(evals))
	auc := make([]opts.BarData, len(evals))
	hasAUC := false
	for i, e := range evals {
		names[i] = e.Model
		if e.Kind != "" {
			names[i] += " (" + e.Kind + ")"
		}
		acc[i] = opts.BarData{Value: round4(e.Metrics.Accuracy)}
		f1[i] = opts.BarData{Value: round4(e.Metrics.MacroF1)}
		if e.Metrics.AUC != nil {
			hasAUC = true
			auc[i] = opts.BarData{Value: round4(*e.Metrics.AUC)}
		}
	}
	bar := charts.NewBar()
	bar.SetGlobalOptions(title("Model comparison", "accuracy and macro F1 on the evaluation data"), noAnimation(),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "45"}),
		charts.WithGridOpts(opts.Grid{Top: "80", ContainLabel: opts.Bool(true), Left: "3%", Right: "3%"}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Min: 0, Max: 1}),
	)
	bar.SetXAxis(names).AddSeries("accuracy", acc).AddSeries("macro F1", f1)
	if hasAUC {
		bar.AddSeries("ROC AUC", auc)
	}
	return optionJSON(bar)
}

func round4(v float64) float64 { return float64(int64(v*10000+0.5)) / 10000 }

var protoNames = map[int]string{1: "ICMP", 2: "IGMP", 6: "TCP", 17: "UDP", 47: "GRE", 50: "ESP", 58: "ICMPv6", 132: "SCTP"}

func protoName(p int) string {
	if n, ok := protoNames[p]; ok {
		return n
	}
	return "IP proto " + strconv.Itoa(p)
}

// services maps well-known service ports to application names; the report
// labels a flow by its responder port (the CIC "Destination Port").
var services = map[int]string{
	20: "ftp-data", 21: "ftp", 22: "ssh", 23: "telnet", 25: "smtp", 53: "dns", 67: "dhcp", 68: "dhcp",
	80: "http", 88: "kerberos", 110: "pop3", 123: "ntp", 137: "netbios", 138: "netbios", 139: "netbios",
	143: "imap", 161: "snmp", 389: "ldap", 443: "https", 445: "smb", 465: "smtps", 514: "syslog",
	587: "smtp", 636: "ldaps", 853: "dns-over-tls", 993: "imaps", 995: "pop3s", 1883: "mqtt", 3306: "mysql",
	3389: "rdp", 4222: "nats", 4739: "ipfix", 5353: "mdns", 5432: "postgres", 6379: "redis",
	8080: "http-alt", 8443: "https-alt", 9100: "jetdirect", 9200: "elasticsearch",
}

func appName(proto, port int) string {
	switch proto {
	case 1, 58:
		return "icmp"
	case 6, 17, 132:
		if s, ok := services[port]; ok {
			if proto == 17 && port == 443 {
				return "quic"
			}
			return s
		}
		if port >= 49152 || port == 0 {
			return "other (ephemeral)"
		}
		return "other"
	}
	return protoName(proto)
}
