package lookup

import (
	"errors"
	"fmt"

	"github.com/pricing-engine/pricing-engine/money"
)

// Bounds of the values a Source may serve. A base price lies in
// (0, MaxPriceUnits], a market multiplier in (0, MaxMultiplierUnits].
// Data files, the import, the Redis store's reader and every writer check
// values with [CheckPrice] and [CheckMultiplier], so that nothing written
// is refused when read.
const (
	MaxPriceUnits      = 1_000_000_000
	MaxMultiplierUnits = 100
)

// ErrOutOfRange is matched (errors.Is) by the errors of [CheckPrice] and
// [CheckMultiplier].
var ErrOutOfRange = errors.New("out of range")

// CheckPrice reports whether d may be a base price: 0 < d <= 10^9. The
// error wraps [ErrOutOfRange] and names the bounds. It does not allocate
// when d is in range.
func CheckPrice(d money.Decimal) error {
	return checkRange(d, money.New(MaxPriceUnits, 0))
}

// CheckMultiplier reports whether d may be a market multiplier:
// 0 < d <= 100. The error wraps [ErrOutOfRange] and names the bounds. It
// does not allocate when d is in range.
func CheckMultiplier(d money.Decimal) error {
	return checkRange(d, money.New(MaxMultiplierUnits, 0))
}

func checkRange(d, hi money.Decimal) error {
	if d.Sign() <= 0 || d.Cmp(hi) > 0 {
		return fmt.Errorf("%w: must be greater than 0 and at most %s", ErrOutOfRange, hi)
	}
	return nil
}
