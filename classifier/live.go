package classifier

import (
	"strconv"
	"strings"

	"github.com/flowhawk/flowhawk/features"
)

// RowPredictor labels feature rows as flows finish (replay and capture
// --model). It satisfies pipeline.Predictor: safe for concurrent use and
// allocation-free per row.
type RowPredictor struct {
	m       *Model
	src     []int                // feature column index per model column
	fromStr []bool               // the feature column is text
	catStr  []map[string]float64 // categorical code by text
	catNum  []map[float64]float64
	minConf float64
}

// NewRowPredictor binds the model to the extractor's columns (by Name, or
// by CSV header without its leading space). The error names every model
// feature the extractor does not produce. Below minConfidence the label is
// "Unknown".
func NewRowPredictor(m *Model, cols []features.Column, minConfidence float64) (*RowPredictor, error) {
	byName := map[string]int{}
	for _, c := range cols {
		byName[c.Name] = c.Index
	}
	for _, c := range cols {
		h := strings.TrimSpace(c.Header)
		if _, ok := byName[h]; !ok {
			byName[h] = c.Index
		}
	}
	nc := len(m.Pre.Columns)
	p := &RowPredictor{m: m, src: make([]int, nc), fromStr: make([]bool, nc), catStr: make([]map[string]float64, nc),
		catNum: make([]map[float64]float64, nc), minConf: minConfidence}
	var missing []string
	for i, mc := range m.Pre.Columns {
		j, ok := byName[mc.Name]
		if !ok {
			missing = append(missing, mc.Name)
			continue
		}
		p.src[i] = j
		p.fromStr[i] = !cols[j].Numeric()
		if mc.Kind == "categorical" {
			p.catStr[i] = map[string]float64{}
			p.catNum[i] = map[float64]float64{}
			for k, s := range mc.Categories {
				p.catStr[i][s] = float64(k)
				if v, err := strconv.ParseFloat(s, 64); err == nil {
					p.catNum[i][v] = float64(k)
				}
			}
		} else if p.fromStr[i] {
			missing = append(missing, mc.Name+" (text in features, numeric in model)")
		}
	}
	if len(missing) > 0 {
		return nil, &MissingColumnsError{Columns: missing}
	}
	return p, nil
}

// Predict returns the predicted label ("Unknown" below the minimum
// confidence, or where the model's gate does not allow the class) and the
// top class probability.
func (p *RowPredictor) Predict(row *features.Row) (string, float64) {
	m := p.m
	ws := m.pool.Get().(*workspace)
	for i, j := range p.src {
		switch {
		case p.catStr[i] == nil:
			ws.raw[i] = row.Num[j]
		case p.fromStr[i]:
			code, ok := p.catStr[i][string(row.Str[j])]
			if !ok {
				code = -1
			}
			ws.raw[i] = code
		default:
			code, ok := p.catNum[i][row.Num[j]]
			if !ok {
				code = -1
			}
			ws.raw[i] = code
		}
	}
	m.Pre.Transform(ws.raw, ws.x)
	m.est.predict(ws.x, ws.proba, ws)
	c, conf := argmax(ws.proba)
	allowed := m.Allows(ws.raw, c)
	m.pool.Put(ws)
	if belowConfidence(conf, p.minConf) || !allowed {
		return Unknown, conf
	}
	return m.Classes[c], conf
}
