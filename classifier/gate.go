package classifier

import (
	"fmt"
	"slices"
	"sort"
)

// support gates predictions on categorical inputs: a class is predicted
// only for values of a gate column that it had in training. A forest asked
// about a flow unlike anything it was trained on (an ICMPv6 neighbour
// solicitation, to a model whose only ICMP class is ping) still answers
// with one of its classes, sometimes confidently; the gate turns such an
// answer into "Unknown" where the confidence threshold cannot. Config.Gate
// names the columns.
type support struct {
	cols []int      // positions in Pre.Columns
	ok   [][][]bool // ok[g][class][category code]
}

// supportFile is the JSON layout: column name -> class -> categories.
type supportFile map[string]map[string][]string

// fitSupport records, for each gate column, which categories each class
// had in f.
func fitSupport(f *Frame, pre *Preprocessor, classes []string, gate []string) (*support, error) {
	if len(gate) == 0 {
		return nil, nil
	}
	ci := make(map[string]int, len(classes))
	for i, c := range classes {
		ci[c] = i
	}
	s := &support{}
	for _, name := range gate {
		j := slices.IndexFunc(pre.Columns, func(c ColumnSpec) bool { return c.Name == name })
		fc := f.Column(name)
		if j < 0 || fc < 0 || pre.Columns[j].Kind != "categorical" || f.Cat[fc] == nil {
			return nil, fmt.Errorf("gate column %q: not a categorical input of the model", name)
		}
		cats := pre.Columns[j].Categories
		ok := make([][]bool, len(classes))
		for k := range ok {
			ok[k] = make([]bool, len(cats))
		}
		for r, v := range f.Cat[fc] {
			if code := slices.Index(cats, v); code >= 0 {
				ok[ci[f.Labels[r]]][code] = true
			}
		}
		s.cols = append(s.cols, j)
		s.ok = append(s.ok, ok)
	}
	return s, nil
}

// allows reports whether class may be predicted for the raw row (category
// codes in Pre.Columns order; -1 for a category unseen in training).
func (s *support) allows(raw []float64, class int) bool {
	if s == nil {
		return true
	}
	for g, j := range s.cols {
		ok, code := s.ok[g][class], raw[j]
		if !(code >= 0 && code < float64(len(ok))) || !ok[int(code)] { // NaN fails the first test
			return false
		}
	}
	return true
}

func (s *support) toFile(pre *Preprocessor, classes []string) supportFile {
	if s == nil {
		return nil
	}
	out := supportFile{}
	for g, j := range s.cols {
		col := pre.Columns[j]
		byClass := map[string][]string{}
		for k, ok := range s.ok[g] {
			vals := []string{}
			for code, yes := range ok {
				if yes {
					vals = append(vals, col.Categories[code])
				}
			}
			byClass[classes[k]] = vals
		}
		out[col.Name] = byClass
	}
	return out
}

// decodeSupport checks a model file's gate against its columns and classes.
func decodeSupport(sf supportFile, pre *Preprocessor, classes []string) (*support, error) {
	if len(sf) == 0 {
		return nil, nil
	}
	names := make([]string, 0, len(sf))
	for n := range sf {
		names = append(names, n)
	}
	sort.Strings(names) // the file's map has no order; the gate's does not matter, errors' should
	s := &support{}
	for _, name := range names {
		j := slices.IndexFunc(pre.Columns, func(c ColumnSpec) bool { return c.Name == name })
		if j < 0 || pre.Columns[j].Kind != "categorical" {
			return nil, fmt.Errorf("support: %q is not a categorical input column", name)
		}
		cats := pre.Columns[j].Categories
		ok := make([][]bool, len(classes))
		for k, class := range classes {
			ok[k] = make([]bool, len(cats))
			vals, found := sf[name][class]
			if !found {
				return nil, fmt.Errorf("support.%s: no entry for class %q", name, class)
			}
			for _, v := range vals {
				code := slices.Index(cats, v)
				if code < 0 {
					return nil, fmt.Errorf("support.%s.%s: %q is not one of the column's categories", name, class, v)
				}
				ok[k][code] = true
			}
		}
		if len(sf[name]) != len(classes) {
			return nil, fmt.Errorf("support.%s: %d classes, want %d", name, len(sf[name]), len(classes))
		}
		s.cols = append(s.cols, j)
		s.ok = append(s.ok, ok)
	}
	return s, nil
}
