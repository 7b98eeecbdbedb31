package detect

import (
	"slices"
	"strings"
	"time"
)

// Bounds on what one aggregated alert carries.
const (
	maxAlertFlowIDs = 32
	maxAlertNames   = 8
)

// aggregator rate-limits alerts per cause: the first occurrence goes to
// the sink at once; later ones are counted and merged (flow IDs, names,
// latest evidence) and sent at most once per interval, with the total
// count and first/last seen. Causes idle for an interval with nothing
// pending are forgotten; the number of causes is bounded, and a cause
// evicted for a new one is counted and first sends what it holds.
type aggregator struct {
	interval int64
	causes   *bounded[string, aggState]
}

type aggState struct {
	first, last int64
	lastSent    int64
	count       uint64
	pending     uint64 // occurrences not yet sent
	latest      *Alert
	flowIDs     []uint64
	names       []string
}

func (g *aggregator) init(interval time.Duration, limit int) {
	g.interval = max(interval.Nanoseconds(), 0) // 0: every occurrence is sent
	g.causes = newBounded[string](limit, func(s *aggState) uint64 { return uint64(s.last) })
}

func (g *aggregator) len() int { return g.causes.len() }

func causeKey(a *Alert) string {
	if a.cause != "" {
		return a.Rule + "|" + a.cause
	}
	var b strings.Builder
	b.WriteString(a.Rule)
	b.WriteByte('|')
	if a.Src.IsValid() {
		b.WriteString(a.Src.String())
	}
	b.WriteByte('|')
	if a.Dst.IsValid() {
		b.WriteString(a.Dst.String())
	}
	return b.String()
}

func (s *aggState) merge(a *Alert) {
	for _, id := range a.FlowIDs {
		if len(s.flowIDs) < maxAlertFlowIDs && !slices.Contains(s.flowIDs, id) {
			s.flowIDs = append(s.flowIDs, id)
		}
	}
	for _, n := range a.Names {
		if len(s.names) < maxAlertNames && !slices.Contains(s.names, n) {
			s.names = append(s.names, n)
		}
	}
}

func (g *aggregator) raise(a *Alert, send func(*Alert)) {
	k := causeKey(a)
	s := g.causes.get(k)
	if s == nil {
		if g.causes.full() {
			// The evicted cause's occurrences not yet sent go out now:
			// they would otherwise be lost, not just de-duplicated.
			if v := g.causes.evict(); v != nil && v.pending > 0 {
				g.emit(v, a.Time, send)
			}
		}
		s = g.causes.upsert(k)
		s.first, s.last, s.lastSent, s.count = a.First, a.Last, a.Time, 1
		s.merge(a)
		a.Count = 1
		s.latest = a
		send(a)
		return
	}
	s.count++
	s.pending++
	s.first = min(s.first, a.First)
	s.last = max(s.last, a.Last)
	s.merge(a)
	s.latest = a
	if a.Time-s.lastSent >= g.interval {
		g.emit(s, a.Time, send)
	}
}

// emit sends the cause's aggregate built on its latest alert.
func (g *aggregator) emit(s *aggState, now int64, send func(*Alert)) {
	a := *s.latest
	a.Time = now
	a.First, a.Last, a.Count = s.first, s.last, s.count
	a.FlowIDs = slices.Clone(s.flowIDs)
	a.Names = slices.Clone(s.names)
	s.lastSent = now
	s.pending = 0
	send(&a)
}

// addFlowID adds a flow that finished after its alert was raised to the
// cause's next aggregate.
func (g *aggregator) addFlowID(cause string, id uint64) {
	if s := g.causes.get(cause); s != nil && len(s.flowIDs) < maxAlertFlowIDs && !slices.Contains(s.flowIDs, id) {
		s.flowIDs = append(s.flowIDs, id)
	}
}

// tick sends aggregates whose interval passed, in first-seen order (as
// flush), so identical replays send identical alert streams whatever the
// map's iteration order, and forgets quiet causes.
func (g *aggregator) tick(now int64, send func(*Alert)) {
	var due []*aggState
	for k, s := range g.causes.m {
		switch {
		case s.pending > 0 && now-s.lastSent >= g.interval:
			due = append(due, s)
		case s.pending == 0 && now-s.last >= g.interval && now-s.lastSent >= g.interval:
			delete(g.causes.m, k)
		}
	}
	sortStates(due)
	for _, s := range due {
		g.emit(s, now, send)
	}
}

// flush sends every pending aggregate, in first-seen order.
func (g *aggregator) flush(send func(*Alert)) {
	var due []*aggState
	for _, s := range g.causes.m {
		if s.pending > 0 {
			due = append(due, s)
		}
	}
	sortStates(due)
	for _, s := range due {
		g.emit(s, max(s.last, s.lastSent), send)
	}
}

// sortStates orders aggregates collected from a map walk by first
// occurrence, rule and cause, so the order does not depend on the map.
func sortStates(due []*aggState) {
	slices.SortFunc(due, func(a, b *aggState) int {
		switch {
		case a.first != b.first:
			return cmpInt(a.first, b.first)
		case a.latest.Rule != b.latest.Rule:
			return strings.Compare(a.latest.Rule, b.latest.Rule)
		}
		return strings.Compare(causeKey(a.latest), causeKey(b.latest))
	})
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
