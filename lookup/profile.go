package lookup

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/textarg"
)

// ErrInjected is matched (errors.Is) by the failures a fault-injecting
// [Profile] produces.
var ErrInjected = errors.New("injected lookup failure")

// DefaultStall is how long an injected stall lasts unless "stalldur" says
// otherwise. It is meant to outlast any lookup deadline.
const DefaultStall = 30 * time.Second

// maxProfileDelay bounds every duration in a profile.
const maxProfileDelay = time.Hour

// Range is a uniform delay range [Min, Max]. The zero Range is no delay.
type Range struct {
	Min, Max time.Duration
}

// Draw returns a delay drawn uniformly from r. It is safe for concurrent
// use.
func (r Range) Draw() time.Duration {
	if r.Max <= r.Min {
		return r.Min
	}
	return r.Min + rand.N(r.Max-r.Min+1) // math/rand/v2 top-level: goroutine safe
}

// String returns the range as in a profile: "10ms-50ms", or "60ms" for a
// fixed delay.
func (r Range) String() string {
	if r.Min == r.Max {
		return r.Min.String()
	}
	return r.Min.String() + "-" + r.Max.String()
}

// Profile describes simulated latency and faults of the back ends. The
// zero Profile is "none": lookups are used as they are.
//
// A Profile is a plain value; the lookups it wraps are safe for concurrent
// use if the wrapped ones are.
type Profile struct {
	Catalog Range // delay of every catalog lookup
	Market  Range // delay of every market lookup

	// ErrRate is the probability in [0, 1] that a lookup fails with an
	// error wrapping ErrInjected (after its delay).
	ErrRate float64
	// StallRate is the probability in [0, 1] that a lookup stalls for
	// StallDur (or until its deadline) before its normal delay.
	StallRate float64
	StallDur  time.Duration

	name string
}

// ParseProfile parses a latency profile. The grammar is
//
//	profile = base [ ":" option { "," option } ]
//	base    = "none" | "seed" | "fault"
//	option  = "catalog=" range | "market=" range
//	        | "err=" probability | "stall=" probability | "stalldur=" duration
//	range   = duration [ "-" duration ]      (uniform, bounds inclusive)
//
// "none" adds nothing; "seed" reproduces the old service (catalog
// U[10ms, 50ms], market U[20ms, 40ms]); "fault" is "none" meant to be
// followed by options, e.g. "fault:err=0.1,stall=0.05,stalldur=2s".
// Options override the base: "seed:err=0.01" is the seed profile with 1%
// failures. Durations use time.ParseDuration syntax and must be within
// [0, 1h]; probabilities are within [0, 1]. stalldur defaults to 30s.
func ParseProfile(s string) (Profile, error) {
	base, opts, hasOpts := strings.Cut(s, ":")
	var p Profile
	switch base {
	case "none", "fault":
	case "seed":
		p.Catalog = Range{10 * time.Millisecond, 50 * time.Millisecond}
		p.Market = Range{20 * time.Millisecond, 40 * time.Millisecond}
	default:
		return Profile{}, fmt.Errorf("cannot parse latency profile %q: unknown base %q, want none, seed or fault", trunc(s), trunc(base))
	}
	if hasOpts {
		if opts == "" {
			return Profile{}, fmt.Errorf("cannot parse latency profile %q: empty option list", trunc(s))
		}
		for _, opt := range strings.Split(opts, ",") {
			if err := p.setOption(opt); err != nil {
				return Profile{}, fmt.Errorf("cannot parse latency profile %q: %w", trunc(s), err)
			}
		}
	}
	if p.StallRate > 0 && p.StallDur == 0 {
		p.StallDur = DefaultStall
	}
	p.name = s
	return p, nil
}

func (p *Profile) setOption(opt string) error {
	key, val, ok := strings.Cut(opt, "=")
	if !ok {
		return fmt.Errorf("option %q is not key=value", opt)
	}
	var err error
	switch key {
	case "catalog":
		p.Catalog, err = parseRange(val)
	case "market":
		p.Market, err = parseRange(val)
	case "err":
		p.ErrRate, err = parseProbability(val)
	case "stall":
		p.StallRate, err = parseProbability(val)
	case "stalldur":
		p.StallDur, err = parseDelay(val)
		if err == nil && p.StallDur == 0 {
			err = fmt.Errorf("stall duration %q must be greater than zero", val)
		}
	default:
		return fmt.Errorf("unknown option %q, want catalog, market, err, stall or stalldur", key)
	}
	if err != nil {
		return fmt.Errorf("option %s: %w", key, err)
	}
	return nil
}

func parseRange(s string) (Range, error) {
	from, to, err := textarg.ParseRange(s, parseDelay)
	return Range{from, to}, err
}

func parseDelay(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	if d < 0 || d > maxProfileDelay {
		return 0, fmt.Errorf("duration %q out of range [0, %v]", s, maxProfileDelay)
	}
	return d, nil
}

func parseProbability(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f >= 0 && f <= 1) {
		return 0, fmt.Errorf("bad probability %q, want a number in [0, 1]", s)
	}
	return f, nil
}

// String returns the text the profile was parsed from, or a canonical
// form for a Profile built in code.
func (p Profile) String() string {
	if p.name != "" {
		return p.name
	}
	if p.IsNone() {
		return "none"
	}
	var b strings.Builder
	b.WriteString("fault:catalog=" + p.Catalog.String() + ",market=" + p.Market.String())
	if p.ErrRate > 0 {
		b.WriteString(",err=" + strconv.FormatFloat(p.ErrRate, 'g', -1, 64))
	}
	if p.StallRate > 0 {
		b.WriteString(",stall=" + strconv.FormatFloat(p.StallRate, 'g', -1, 64) + ",stalldur=" + p.StallDur.String())
	}
	return b.String()
}

// IsNone reports whether the profile adds neither delay nor faults.
func (p Profile) IsNone() bool {
	return p.Catalog == Range{} && p.Market == Range{} && p.ErrRate == 0 && p.StallRate == 0
}
