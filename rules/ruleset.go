package rules

import (
	"sync/atomic"
	"time"

	"github.com/pricing-engine/pricing-engine/money"
)

// Bounds of a rules file, checked by [Parse].
const (
	// MaxFileSize bounds the bytes of a rules file.
	MaxFileSize = 1 << 20
	// MaxNameLen bounds a version or a schedule name.
	MaxNameLen = 64
	// MaxGlobLen bounds a product or location pattern (the ids themselves
	// are at most 64 bytes).
	MaxGlobLen = 64
	// MaxFactorScale is the most digits after the point a multiplier,
	// guard, discount or ending may carry: it keeps every product exact.
	MaxFactorScale = 4
	// MaxTiers and MaxSchedules bound the lists of a file.
	MaxTiers     = 32
	MaxSchedules = 256
	// MinWindow and MaxWindow bound demand.window.
	MinWindow = time.Second
	MaxWindow = 24 * time.Hour
	// DefaultOmnibusWindow is omnibus.window's default: the 30 days of
	// Directive 98/6/EC Art. 6a(2).
	DefaultOmnibusWindow = 30 * 24 * time.Hour
	// MinOmnibusWindow and MaxOmnibusWindow bound omnibus.window, in
	// whole days: the history keeps 40 UTC days, and a window reaches
	// into the day before its first full one.
	MinOmnibusWindow = 24 * time.Hour
	MaxOmnibusWindow = 38 * 24 * time.Hour
	// MaxReductionRun bounds how far back the start of an announced
	// reduction is looked for (see [Result].Start): as far as the
	// history goes.
	MaxReductionRun = 40 * 24 * time.Hour
)

// defaultMemberDiscount is the member discount when the file sets no
// member_discount: 0.05, as the seed formula.
var defaultMemberDiscount = money.New(5, 2)

// defaultMemberKeep is 1 - defaultMemberDiscount: what members pay.
var defaultMemberKeep = money.New(95, 2)

// Ruleset is one parsed and validated rules file. It is immutable after
// [Parse] returns it and safe for concurrent use by any number of
// goroutines; a reload builds a new Ruleset instead of changing one.
type Ruleset struct {
	// Version is the file's version, echoed as ruleset_version.
	Version string
	// MemberDiscount is the discount rate of members (0.05 when the file
	// does not set member_discount).
	MemberDiscount money.Decimal
	memberKeep     money.Decimal // 1 - MemberDiscount
	// Demand is nil when the file has no demand section.
	Demand *Demand
	// Schedules in file order; the first that matches a request applies.
	Schedules []Schedule
	// Floor and Ceiling are factors of the base price; a zero value means
	// the guard is not set.
	Floor, Ceiling money.Decimal
	// Ending is the fractional part list prices are rounded down to
	// (0.99); HasEnding is false when the file sets none.
	Ending    money.Decimal
	HasEnding bool
	// Omnibus sets how prior prices of announced reductions are found.
	Omnibus Omnibus
	// announced counts the schedules with Announce set.
	announced int

	// Source is the file name the ruleset was parsed from (for messages).
	Source string
	// sum identifies the file's bytes, raw holds them (see Holder).
	sum [32]byte
	raw []byte
}

// Omnibus is the omnibus section: how the prior price of an announced
// reduction (Directive 98/6/EC Art. 6a) is found.
type Omnibus struct {
	// Window is how far before the reduction's start prices count
	// (DefaultOmnibusWindow unless the file sets omnibus.window).
	Window time.Duration
	// MemberPrices makes member prices prices applied: the price a
	// member paid (the list price less the member discount) is recorded
	// in the history as well. False (the default): member discounts are
	// not reductions, and the history holds list prices only.
	MemberPrices bool
}

// Demand is the demand section: requests per product x location in a
// sliding window select a tier's multiplier. Package demand counts the
// requests and keeps the smoothed multiplier (moved by Step once per
// window); [Price] reads both from [Input].Demand.
type Demand struct {
	// Window is the length of the sliding window.
	Window time.Duration
	// Shared asks for counts summed across replicas (package demand's
	// SharedCounter).
	Shared bool
	// Tiers in strictly increasing order of Above, with non-decreasing
	// multipliers.
	Tiers []Tier
	// MaxMultiplier caps the demand multiplier; zero means no cap other
	// than the highest tier.
	MaxMultiplier money.Decimal
	// MaxStep bounds how far the multiplier moves per window; zero means
	// it follows the tier at once.
	MaxStep money.Decimal
}

// Tier is met when a key saw more than Above requests in the window.
type Tier struct {
	Above      int64
	Multiplier money.Decimal
}

// Schedule is a time-boxed multiplier for some products and locations.
type Schedule struct {
	Name string
	// Days is a bit set of weekdays (1<<time.Sunday ... 1<<time.Saturday)
	// on which the window starts.
	Days uint8
	// From and To are minutes after local midnight: [From, To). To may be
	// 1440 (24:00); To < From spans midnight.
	From, To int
	// Location is the time zone of Days, From and To.
	Location *time.Location
	// Products and Locations are glob patterns (see MatchGlob); empty
	// means every product or location.
	Products, Locations []string
	Multiplier          money.Decimal
	// Announce marks a price reduction shown to customers: while it
	// applies, the reply carries the prior price (Multiplier is below 1).
	Announce bool

	// memo remembers the last minute's answer of activeAt (a cache of a
	// pure function, shared by all goroutines; nil in hand-made values).
	memo *atomic.Uint64
	// runMemo remembers the last minute's start of the run of
	// occurrences (see runStart), like memo.
	runMemo *atomic.Uint64
	// products and locations are Products and Locations compiled.
	products, locations []glob
}

// Target returns the demand multiplier the tiers ask for at the given
// number of requests: the highest tier met (requests > Above), capped at
// MaxMultiplier, or 1 when no tier is met. tier is the index of the tier
// met, -1 for none.
func (d *Demand) Target(requests int64) (tier int, target money.Decimal) {
	tier = -1
	target = one
	for i := len(d.Tiers) - 1; i >= 0; i-- {
		if requests > d.Tiers[i].Above {
			tier, target = i, d.Tiers[i].Multiplier
			break
		}
	}
	if !d.MaxMultiplier.IsZero() {
		target = money.Min(target, d.MaxMultiplier)
	}
	return tier, target
}

// Step returns the multiplier one window later: cur moved toward target
// by at most MaxStep (straight to target when MaxStep is zero).
func (d *Demand) Step(cur, target money.Decimal) money.Decimal {
	if d.MaxStep.IsZero() {
		return target
	}
	switch cur.Cmp(target) {
	case -1:
		up, err := cur.Add(d.MaxStep)
		if err != nil {
			return target
		}
		return money.Min(up, target)
	case 1:
		down, err := cur.Sub(d.MaxStep)
		if err != nil {
			return target
		}
		return money.Max(down, target)
	}
	return cur
}

var one = money.New(1, 0)

// Raw returns the bytes of the file the ruleset was parsed from (for a
// /rules endpoint). The slice must not be modified.
func (rs *Ruleset) Raw() []byte { return rs.raw }
