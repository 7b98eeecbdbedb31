package collector

// Add accumulates o into s, so a run over several files reports totals.
func (s *SourceStats) Add(o *SourceStats) { s.add(o) }
