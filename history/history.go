package history

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/pairkey"
	"github.com/pricing-engine/pricing-engine/money"
)

const (
	// Retention is how many UTC days of history are kept: today and the
	// 39 days before it.
	Retention = 40
	// secondsPerDay is the length of a UTC day (Unix time has no leap
	// seconds).
	secondsPerDay = 86400
)

// Day is a UTC day: the days since 1970-01-01.
type Day int32

// DayOf returns the UTC day of t.
func DayOf(t time.Time) Day {
	s := t.Unix()
	d := s / secondsPerDay
	if s%secondsPerDay < 0 {
		d--
	}
	return Day(d)
}

// Start returns the first instant of d (midnight UTC).
func (d Day) Start() time.Time { return time.Unix(int64(d)*secondsPerDay, 0).UTC() }

// String returns d as YYYY-MM-DD.
func (d Day) String() string { return d.Start().Format(time.DateOnly) }

// ParseDay parses YYYY-MM-DD as a UTC day.
func ParseDay(s string) (Day, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, fmt.Errorf("cannot parse date %q: want YYYY-MM-DD", truncate(s))
	}
	return DayOf(t), nil
}

// Low is what one UTC day holds for one product x location. A zero
// Decimal means nothing was recorded.
type Low struct {
	// Price is the lowest price recorded that day.
	Price money.Decimal
	// Plain is the lowest price recorded that day while no announced
	// reduction applied to the item (what the day on which a reduction
	// started contributes to its prior price).
	Plain money.Decimal
}

// lowerTo lowers each part of l to o's where o's is recorded and lower;
// it reports whether l changed.
func (l *Low) lowerTo(o Low) bool {
	changed := false
	if !o.Price.IsZero() && (l.Price.IsZero() || o.Price.Cmp(l.Price) < 0) {
		l.Price, changed = o.Price, true
	}
	if !o.Plain.IsZero() && (l.Plain.IsZero() || o.Plain.Cmp(l.Plain) < 0) {
		l.Plain, changed = o.Plain, true
	}
	return changed
}

// AppendValue appends l as the store keeps it: "<price> <plain>", with
// "-" for a part not recorded ("49.99 54.99", "44.99 -").
func AppendValue(dst []byte, l Low) []byte {
	dst = appendPart(dst, l.Price)
	dst = append(dst, ' ')
	return appendPart(dst, l.Plain)
}

func appendPart(dst []byte, d money.Decimal) []byte {
	if d.IsZero() {
		return append(dst, '-')
	}
	return d.Append(dst)
}

// ErrValue is wrapped by ParseValue's errors.
var ErrValue = errors.New("invalid history value")

// ParseValue parses a value written by AppendValue; a bare "<price>"
// means the price was recorded without a reduction (Plain = Price). Each
// price must be a decimal in (0, 10^9] (lookup's price bound).
func ParseValue(s string) (Low, error) {
	p, q, two := strings.Cut(s, " ")
	var l Low
	var err error
	if l.Price, err = parsePart(p); err != nil {
		return Low{}, fmt.Errorf("%w %q: %w", ErrValue, truncate(s), err)
	}
	if !two {
		l.Plain = l.Price
	} else if l.Plain, err = parsePart(q); err != nil {
		return Low{}, fmt.Errorf("%w %q: %w", ErrValue, truncate(s), err)
	}
	if l.Price.IsZero() && l.Plain.IsZero() {
		return Low{}, fmt.Errorf("%w %q: no price", ErrValue, truncate(s))
	}
	return l, nil
}

var maxPrice = money.New(1_000_000_000, 0)

func parsePart(s string) (money.Decimal, error) {
	if s == "-" {
		return money.Decimal{}, nil
	}
	d, err := money.Parse(s)
	if err != nil {
		return d, err
	}
	if d.Sign() <= 0 || d.Cmp(maxPrice) > 0 {
		return money.Decimal{}, fmt.Errorf("%s is outside (0, %s]", d, maxPrice)
	}
	return d, nil
}

// Key returns the key of product x location as the Shared store is given
// it: a length byte, the product, the location (so that no two pairs
// collide). ok is false when the product is empty or either id is longer
// than 64 bytes; such pairs are not recorded.
func Key(product, location string) (key string, ok bool) {
	var kb [pairkey.Len]byte
	k, ok := pairkey.Make(&kb, []byte(product), []byte(location))
	return string(k), ok
}

// SplitKey returns the product and location of a key made by Key, or ok
// false if key is not one.
func SplitKey(key string) (product, location string, ok bool) { return pairkey.Split(key) }

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
