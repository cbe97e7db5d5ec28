package rules

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/pricing-engine/pricing-engine/money"
)

// Input is what one price depends on besides the ruleset: the request,
// the looked-up values, the time and the demand seen for the product x
// location. Product and Location are only read during Price.
type Input struct {
	Product, Location []byte
	Member            bool
	Base, Market      money.Decimal
	// Now is the time schedules are matched against.
	Now time.Time
	// Demand is the demand seen for Product x Location (what package
	// demand's snapshot holds); the zero value means no requests seen.
	Demand DemandSeen
}

// DemandSeen is the demand of one product x location, as plain figures:
// the requests in the window and the smoothed multiplier. Package demand
// fills it (its Value converts to DemandSeen).
type DemandSeen struct {
	// Requests seen in the window (summed over replicas in shared mode).
	Requests int64
	// Value is the smoothed demand multiplier; zero means 1. Price uses
	// it when the ruleset smooths (max_step), else the tier's target.
	Value money.Decimal
}

// FactorKind names one step of a price's computation.
type FactorKind uint8

// The factors and guards, in the order Price applies them.
const (
	FactorBase     FactorKind = iota // the catalog's base price
	FactorMarket                     // the location's market multiplier
	FactorDemand                     // the demand multiplier
	FactorSchedule                   // the first schedule that matched
	FactorFloor                      // list >= floor x base
	FactorCeiling                    // list <= ceiling x base
	FactorEnding                     // list rounded to n + ending within the guards
	FactorDiscount                   // the member discount rate
	FactorPrior                      // the prior price of an announced reduction (set by the caller)
)

var factorNames = [...]string{"base", "market", "demand", "schedule", "floor", "ceiling", "ending", "discount", "prior_price"}

// String returns the factor's name as the explanation writes it.
func (k FactorKind) String() string {
	if int(k) < len(factorNames) {
		return factorNames[k]
	}
	return "factor(" + strconv.Itoa(int(k)) + ")"
}

// Factor is one step of the explanation. Which fields are set depends on
// Kind:
//
//	base, market: Value
//	demand:       Value (the multiplier applied), Requests, Tier (-1: none
//	              met), Above (of the tier met), Target (what the tier asks,
//	              capped; Value moves toward it by at most max_step a window)
//	schedule:     Name, Value
//	floor/ceiling: Value (the factor), Bound (factor x base), Hit (clamped)
//	ending:       Value (the ending), Hit (false when the list price is
//	              below the ending and stays as it is, or when no n + ending
//	              fits between the guards and the list price is the floor)
//	discount:     Value (the rate), Hit (the member flag)
//	prior_price:  Value (the prior price), Hit (it was recorded: Day is
//	              the day it was recorded; false: nothing was, and it is
//	              the list price without the reduction), Start (the
//	              reduction's start), Requests (the window in days)
type Factor struct {
	Kind     FactorKind
	Hit      bool
	Tier     int
	Value    money.Decimal
	Bound    money.Decimal
	Target   money.Decimal
	Requests int64
	Above    int64
	Name     string // points into the Ruleset: no copy
	Announce bool   // schedule: an announced reduction
	Day      time.Time
	Start    time.Time
}

// maxFactors is every kind once.
const maxFactors = 9

// Explanation records how one price was made. Price fills a compact
// trace of what it computed; Factors expands it into the ordered list of
// factors and guards only when asked (for "explain": true), so that
// pricing without an explanation pays nothing for it. Neither allocates.
type Explanation struct {
	base, market money.Decimal
	demand       bool // the ruleset has a demand section
	demandValue  money.Decimal
	demandTarget money.Decimal
	requests     int64
	tier         int
	above        int64
	schedule     *Schedule // the schedule applied, or nil
	floor, ceil  money.Decimal
	floorBound   money.Decimal
	ceilBound    money.Decimal
	floorHit     bool
	ceilHit      bool
	ending       bool
	endingValue  money.Decimal
	endingHit    bool
	discount     money.Decimal
	member       bool
	prior        bool // SetPrior was called
	priorValue   money.Decimal
	priorHit     bool
	priorDay     time.Time
	priorStart   time.Time
	priorWindow  int64

	factors [maxFactors]Factor
}

// Factors returns the factors and guards in the order applied. The slice
// aliases e: it is valid until e is reused (the next Factors or Price
// into the same Result).
func (e *Explanation) Factors() []Factor {
	n := 0
	add := func(f Factor) { e.factors[n] = f; n++ }
	add(Factor{Kind: FactorBase, Value: e.base})
	add(Factor{Kind: FactorMarket, Value: e.market})
	if e.demand {
		add(Factor{Kind: FactorDemand, Value: e.demandValue, Requests: e.requests, Tier: e.tier, Above: e.above, Target: e.demandTarget})
	}
	if e.schedule != nil {
		add(Factor{Kind: FactorSchedule, Name: e.schedule.Name, Value: e.schedule.Multiplier, Announce: e.schedule.Announce})
	}
	if !e.floor.IsZero() {
		add(Factor{Kind: FactorFloor, Value: e.floor, Bound: e.floorBound, Hit: e.floorHit})
	}
	if !e.ceil.IsZero() {
		add(Factor{Kind: FactorCeiling, Value: e.ceil, Bound: e.ceilBound, Hit: e.ceilHit})
	}
	if e.ending {
		add(Factor{Kind: FactorEnding, Value: e.endingValue, Hit: e.endingHit})
	}
	add(Factor{Kind: FactorDiscount, Value: e.discount, Hit: e.member})
	if e.prior {
		add(Factor{Kind: FactorPrior, Value: e.priorValue, Hit: e.priorHit, Day: e.priorDay, Start: e.priorStart, Requests: e.priorWindow})
	}
	return e.factors[:n]
}

// SetPrior adds the prior price of the announced reduction that applied
// to the explanation: its value, whether it was recorded (on day) or is
// the list price without the reduction, the reduction's start and the
// window. The caller, which looks the price up in the history, sets it
// after Price; Price clears it.
func (e *Explanation) SetPrior(value money.Decimal, recorded bool, day, start time.Time, window time.Duration) {
	e.prior, e.priorValue, e.priorHit = true, value, recorded
	e.priorDay, e.priorStart, e.priorWindow = day, start, int64(window/(24*time.Hour))
}

// Result is the outcome of Price. Reuse one Result per goroutine: Price
// overwrites every field.
type Result struct {
	// List is the list price: base x market x demand x schedule, clamped
	// by the guards, then the ending (never below the floor, see
	// EndWithin). Exact (not rounded).
	List money.Decimal
	// Discount is the discount rate applied (0 for non-members).
	Discount money.Decimal
	// Final is round_half_even(List x (1 - Discount), 2).
	Final money.Decimal
	// Version is the ruleset's version ("" without rules).
	Version string
	// Reduction reports that an announced schedule applied (see
	// Schedule.Announce); Start and Regular are set only then.
	Reduction bool
	// Start is when the reduction started: the start of the occurrence
	// of the schedule that applies, or of the first of the announced
	// reductions that followed each other without a gap up to now
	// (progressive reductions keep the first one's start), at most
	// MaxReductionRun before now.
	Start time.Time
	// Regular is the list price without the reduction: as List, with
	// no schedule applied.
	Regular money.Decimal
	// Explanation lists every factor and guard in order.
	Explanation Explanation
}

// ErrCompute is wrapped by Price's errors: a product did not fit an exact
// decimal (only absurd inputs get there; the caller answers 500).
var ErrCompute = errors.New("cannot compute price")

// Price computes the price of in under rs into out, as a pure function of
// its arguments. rs == nil is the seed formula ([Seed]), exactly as
// without rules, explained as base, market and discount. Price does not
// allocate unless it returns an error, and is safe for concurrent use
// (rs is read-only).
func Price(rs *Ruleset, in *Input, out *Result) error {
	ex := &out.Explanation
	ex.base, ex.market = in.Base, in.Market
	ex.demand, ex.schedule, ex.ending, ex.prior = false, nil, false, false
	ex.floor, ex.ceil = money.Decimal{}, money.Decimal{}
	out.Reduction, out.Start, out.Regular = false, time.Time{}, money.Decimal{}
	if rs == nil {
		list, disc, final, err := Seed(in.Base, in.Market, in.Member)
		if err != nil {
			return err
		}
		ex.discount, ex.member = disc, in.Member
		out.List, out.Discount, out.Final, out.Version = list, disc, final, ""
		return nil
	}
	out.Version = rs.Version
	list, err := in.Base.Mul(in.Market)
	if err != nil {
		return computeError(err)
	}
	keep := rs.memberKeep
	if keep.IsZero() { // a Ruleset not made by Parse
		if keep, err = one.Sub(rs.MemberDiscount); err != nil {
			return computeError(err)
		}
	}
	market := list
	s := rs.schedule(in)
	if list, err = rs.adjust(in, market, s, ex); err != nil {
		return computeError(err)
	}
	if s != nil && s.Announce {
		out.Reduction = true
		out.Start = rs.reductionStart(in, s)
		if out.Regular, err = rs.adjust(in, market, nil, nil); err != nil {
			return computeError(err)
		}
	}
	disc, final, err := discounted(list, rs.MemberDiscount, keep, in.Member)
	if err != nil {
		return computeError(err)
	}
	ex.discount, ex.member = disc, in.Member
	out.List, out.Discount, out.Final = list, disc, final
	return nil
}

// Seed is the seed formula, the price without rules: list = base x
// market; discount = 0.05 for members, 0 otherwise; final =
// round_half_even(list x (1 - discount), 2), on exact decimals. It is the
// one implementation of that formula: Price with a nil ruleset and the
// engine's quote without rules both call it. It does not allocate unless
// it returns an error (which wraps ErrCompute), and is safe for
// concurrent use.
func Seed(base, market money.Decimal, member bool) (list, discount, final money.Decimal, err error) {
	if list, err = base.Mul(market); err != nil {
		return list, discount, final, computeError(err)
	}
	if discount, final, err = discounted(list, defaultMemberDiscount, defaultMemberKeep, member); err != nil {
		return list, discount, final, computeError(err)
	}
	return list, discount, final, nil
}

// discounted is the last step of every price: members pay list x keep
// (keep = 1 - disc), others the list price; the result is rounded half
// to even to cents. discount is disc for members, 0 for others.
func discounted(list, disc, keep money.Decimal, member bool) (discount, final money.Decimal, err error) {
	if !member {
		return money.Decimal{}, list.Round(2), nil
	}
	if final, err = list.Mul(keep); err != nil {
		return discount, final, err
	}
	return disc, final.Round(2), nil
}

func computeError(err error) error { return fmt.Errorf("%w: %w", ErrCompute, err) }

// adjust applies demand, the schedule s (nil: none), guards and ending
// to list, recording each step in ex (nil: not recorded).
func (rs *Ruleset) adjust(in *Input, list money.Decimal, s *Schedule, ex *Explanation) (money.Decimal, error) {
	var err error
	if d := rs.Demand; d != nil {
		tier, target := d.Target(in.Demand.Requests)
		v := target
		if !d.MaxStep.IsZero() {
			v = in.Demand.Value
			if v.IsZero() {
				v = one
			}
			if !d.MaxMultiplier.IsZero() {
				v = money.Min(v, d.MaxMultiplier)
			}
		}
		if ex != nil {
			ex.demand, ex.demandValue, ex.demandTarget = true, v, target
			ex.requests, ex.tier, ex.above = in.Demand.Requests, tier, 0
			if tier >= 0 {
				ex.above = d.Tiers[tier].Above
			}
		}
		if list, err = list.Mul(v); err != nil {
			return list, err
		}
	}
	if s != nil {
		if ex != nil {
			ex.schedule = s
		}
		if list, err = list.Mul(s.Multiplier); err != nil {
			return list, err
		}
	}
	var floorBound, ceilBound money.Decimal // zero: no such guard
	if !rs.Floor.IsZero() {
		bound, err := in.Base.Mul(rs.Floor)
		if err != nil {
			return list, err
		}
		hit := list.Cmp(bound) < 0
		if hit {
			list = bound
		}
		if ex != nil {
			ex.floor, ex.floorBound, ex.floorHit = rs.Floor, bound, hit
		}
		floorBound = bound
	}
	if !rs.Ceiling.IsZero() {
		bound, err := in.Base.Mul(rs.Ceiling)
		if err != nil {
			return list, err
		}
		hit := list.Cmp(bound) > 0
		if hit {
			list = bound
		}
		if ex != nil {
			ex.ceil, ex.ceilBound, ex.ceilHit = rs.Ceiling, bound, hit
		}
		ceilBound = bound
	}
	if rs.HasEnding {
		var hit bool
		list, hit, err = EndWithin(list, rs.Ending, floorBound, ceilBound)
		if err != nil {
			return list, err
		}
		if ex != nil {
			ex.ending, ex.endingValue, ex.endingHit = true, rs.Ending, hit
		}
	}
	return list, nil
}

// EndWithin applies the ending to list without leaving the guards' range
// [floor, ceiling] (a zero bound means no such guard; list is already in
// the range). The ending rounds down (ApplyEnding); when that would take
// the price below floor, the price becomes the smallest n + ending at or
// above floor instead, and when that is above ceiling, floor itself
// (applied false: no price with this ending fits between the guards).
// A list price below the ending stays as it is (applied false).
func EndWithin(list, ending, floor, ceiling money.Decimal) (result money.Decimal, applied bool, err error) {
	r, applied, err := ApplyEnding(list, ending)
	if err != nil || !applied || floor.IsZero() || r.Cmp(floor) >= 0 {
		return r, applied, err
	}
	up, err := EndingAtLeast(floor, ending)
	if err != nil {
		return list, false, err
	}
	if !ceiling.IsZero() && up.Cmp(ceiling) > 0 {
		return floor, false, nil
	}
	return up, true, nil
}

// EndingAtLeast returns the smallest value n + ending >= v with n a whole
// number >= 0 (49.99 for 49.94001 and ending 0.99; 49.99 for 49.99; 0.99
// for 0.5).
func EndingAtLeast(v, ending money.Decimal) (money.Decimal, error) {
	down, applied, err := ApplyEnding(v, ending)
	if err != nil {
		return v, err
	}
	if !applied {
		return ending, nil
	}
	if down.Cmp(v) == 0 {
		return down, nil
	}
	return down.Add(money.New(1, 0))
}

// ApplyEnding returns the largest value n + ending <= list with n a whole
// number >= 0 (49.99 for 50.37 and ending 0.99; 50.99 for 50.99; 49 for
// 49.50 and ending 0). A list price below the ending has no such value:
// it is returned unchanged with applied false.
func ApplyEnding(list, ending money.Decimal) (result money.Decimal, applied bool, err error) {
	if list.Cmp(ending) < 0 {
		return list, false, nil
	}
	rest, err := list.Sub(ending)
	if err != nil {
		return list, false, err
	}
	r, err := rest.Floor(0).Add(ending)
	if err != nil {
		return list, false, err
	}
	return r, true, nil
}

// schedule returns the first schedule matching in, or nil.
func (rs *Ruleset) schedule(in *Input) *Schedule {
	for i := range rs.Schedules {
		s := &rs.Schedules[i]
		if matchAny(s.Products, s.products, in.Product) && matchAny(s.Locations, s.locations, in.Location) && s.activeAt(in.Now) {
			return s
		}
	}
	return nil
}

const (
	secondsPerDay = 86400
	minutesPerDay = 24 * 60
)

// activeAt reports whether t falls in one of s's windows: a window starts
// on each day of s.Days at From (local time in s.Location) and ends at To
// the same day, or the next day when To < From.
//
// The answer is the same for a whole UTC minute (From, To and the zones'
// offsets are whole minutes), so it is remembered per minute in s.memo:
// one atomic load instead of a time zone lookup for most requests.
func (s *Schedule) activeAt(t time.Time) bool {
	sec := t.Unix()
	if s.memo == nil || sec < 0 {
		a, _ := s.compute(t)
		return a
	}
	minute := uint64(sec / 60)
	if v := s.memo.Load(); v&memoValid != 0 && v>>2 == minute {
		return v&memoActive != 0
	}
	a, off := s.compute(t)
	if off%60 == 0 && minute < 1<<62 {
		v := minute<<2 | memoValid
		if a {
			v |= memoActive
		}
		s.memo.Store(v)
	}
	return a
}

const (
	memoActive = 1
	memoValid  = 2
)

// compute is activeAt without the memo; it also returns the zone offset
// in seconds.
func (s *Schedule) compute(t time.Time) (bool, int) {
	_, off := t.In(s.Location).Zone()
	local := t.Unix() + int64(off)
	day := local / secondsPerDay
	if local%secondsPerDay < 0 {
		day--
	}
	minute := int((local - day*secondsPerDay) / 60)
	today := time.Weekday((day + 4) % 7) // 1970-01-01 was a Thursday
	if today < 0 {
		today += 7
	}
	yesterday := (today + 6) % 7
	if s.From < s.To {
		return s.Days&(1<<today) != 0 && minute >= s.From && minute < s.To, off
	}
	// Spans midnight: [From, 24:00) on a listed day, [00:00, To) the day after.
	return s.Days&(1<<today) != 0 && minute >= s.From ||
		s.Days&(1<<yesterday) != 0 && minute < s.To, off
}

// AppendJSON appends the explanation as a JSON array, e.g.
// [{"factor":"base","value":49.99},{"factor":"market","value":1.1},
// {"factor":"demand","value":1.05,"requests":137,"tier":0,"above":100,"target":1.05},...].
// It does not allocate beyond growing dst; names are validated to need
// no escaping.
func (e *Explanation) AppendJSON(dst []byte) []byte {
	dst = append(dst, '[')
	for i, f := range e.Factors() {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"factor":"`...)
		dst = append(dst, f.Kind.String()...)
		dst = append(dst, '"')
		if f.Kind == FactorSchedule {
			dst = append(dst, `,"name":"`...)
			dst = append(dst, f.Name...)
			dst = append(dst, '"')
			if f.Announce {
				dst = append(dst, `,"announce":true`...)
			}
		}
		dst = append(dst, `,"value":`...)
		dst = f.Value.Append(dst)
		switch f.Kind {
		case FactorDemand:
			dst = append(dst, `,"requests":`...)
			dst = strconv.AppendInt(dst, f.Requests, 10)
			if f.Tier >= 0 {
				dst = append(dst, `,"tier":`...)
				dst = strconv.AppendInt(dst, int64(f.Tier), 10)
				dst = append(dst, `,"above":`...)
				dst = strconv.AppendInt(dst, f.Above, 10)
			}
			dst = append(dst, `,"target":`...)
			dst = f.Target.Append(dst)
		case FactorFloor, FactorCeiling:
			dst = append(dst, `,"bound":`...)
			dst = f.Bound.Append(dst)
			dst = appendBool(dst, `,"hit":`, f.Hit)
		case FactorEnding:
			dst = appendBool(dst, `,"applied":`, f.Hit)
		case FactorDiscount:
			dst = appendBool(dst, `,"member":`, f.Hit)
		case FactorPrior:
			dst = appendBool(dst, `,"recorded":`, f.Hit)
			if f.Hit {
				dst = append(dst, `,"day":"`...)
				dst = f.Day.UTC().AppendFormat(dst, time.DateOnly)
				dst = append(dst, '"')
			}
			dst = append(dst, `,"reduction_start":"`...)
			dst = f.Start.UTC().AppendFormat(dst, time.RFC3339)
			dst = append(dst, `","window_days":`...)
			dst = strconv.AppendInt(dst, f.Requests, 10)
		}
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

func appendBool(dst []byte, key string, v bool) []byte {
	dst = append(dst, key...)
	if v {
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}
