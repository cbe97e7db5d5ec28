package rules

import "time"

// maxReductionHops bounds the announced reductions followed back to the
// first one of a progressive reduction.
const maxReductionHops = 64

// reductionStart returns when the announced reduction s, which applies to
// in at in.Now, started: the start of s's run of occurrences (see
// runStart), or, when another announced reduction applied to in until
// that very start (no gap), that one's start, and so on back (Directive
// 98/6/EC Art. 6a(5): a progressive reduction keeps the first step's
// prior price). Never before in.Now - MaxReductionRun.
func (rs *Ruleset) reductionStart(in *Input, s *Schedule) time.Time {
	limit := in.Now.Add(-MaxReductionRun)
	start := s.runStart(in.Now)
	for hop := 0; rs.announced > 1 && hop < maxReductionHops && start.After(limit); hop++ {
		before := start.Add(-time.Second)
		p := rs.scheduleAt(in, before)
		if p == nil || !p.Announce || p == s {
			break
		}
		s, start = p, p.runStart(before)
	}
	if start.Before(limit) {
		return limit
	}
	return start
}

// scheduleAt is schedule at time t instead of in.Now, without the
// per-minute memo (t is not the minute the requests are in).
func (rs *Ruleset) scheduleAt(in *Input, t time.Time) *Schedule {
	for i := range rs.Schedules {
		s := &rs.Schedules[i]
		if !matchAny(s.Products, s.products, in.Product) || !matchAny(s.Locations, s.locations, in.Location) {
			continue
		}
		if a, _ := s.compute(t); a {
			return s
		}
	}
	return nil
}

// runMemo packs a minute and how many minutes before it the run started.
const runDeltaBits = 20

// runStart returns the start of the run of s's occurrences that contains
// t (s is active at t): the start of the occurrence, or, for a whole-day
// schedule (from 00:00 to 24:00), of the first of the consecutive listed
// days up to t (each day's occurrence ends where the next one's begins).
// Never more than MaxReductionRun before t.
//
// The answer is the same for a whole minute, so it is remembered per
// minute in s.runMemo, as activeAt does.
func (s *Schedule) runStart(t time.Time) time.Time {
	sec := t.Unix()
	if s.runMemo == nil || sec < 0 {
		return s.computeRunStart(t)
	}
	minute := uint64(sec / 60)
	if v := s.runMemo.Load(); v != 0 && v>>runDeltaBits == minute {
		return time.Unix(int64(minute-v&(1<<runDeltaBits-1))*60, 0)
	}
	start := s.computeRunStart(t)
	if ss := start.Unix(); ss%60 == 0 && ss <= sec && minute < 1<<(64-runDeltaBits) {
		if delta := minute - uint64(ss/60); delta < 1<<runDeltaBits {
			s.runMemo.Store(minute<<runDeltaBits | delta)
		}
	}
	return start
}

// computeRunStart is runStart without the memo. A start in a local hour
// that the zone skips (daylight saving time begins) may come out after t
// (time.Date moves it past the gap): it is then t's minute, when the
// occurrence was first seen running.
func (s *Schedule) computeRunStart(t time.Time) time.Time {
	if start := s.occurrenceRunStart(t); !start.After(t) {
		return start
	}
	return t.Truncate(time.Minute)
}

// occurrenceRunStart is computeRunStart before the check against t.
func (s *Schedule) occurrenceRunStart(t time.Time) time.Time {
	local := t.In(s.Location)
	y, mo, d := local.Date()
	minute := local.Hour()*60 + local.Minute()
	switch {
	case s.From == 0 && s.To == minutesPerDay:
		start := time.Date(y, mo, d, 0, 0, 0, 0, s.Location)
		limit := t.Add(-MaxReductionRun)
		for i := 1; start.After(limit); i++ {
			prev := time.Date(y, mo, d-i, 0, 0, 0, 0, s.Location)
			if s.Days&(1<<prev.Weekday()) == 0 {
				break
			}
			start = prev
		}
		return start
	case s.From < s.To || minute >= s.From:
		return time.Date(y, mo, d, s.From/60, s.From%60, 0, 0, s.Location)
	}
	// Spans midnight and t is in the part after it: it began yesterday.
	return time.Date(y, mo, d-1, s.From/60, s.From%60, 0, 0, s.Location)
}
