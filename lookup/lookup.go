package lookup

import (
	"context"
	"errors"
	"fmt"

	"github.com/pricing-engine/pricing-engine/money"
)

// MaxKeyLen is the longest product id or location accepted in a data file.
const MaxKeyLen = 64

// Kinds of lookup, used in [NotFoundError.Kind] and error messages.
const (
	KindProduct = "product"
	KindMarket  = "market"
)

// Catalog gives the base price of a product.
//
// Implementations must be safe for concurrent use, must honour ctx
// (return promptly with ctx.Err(), possibly wrapped, once ctx is done) and
// must not retain productID. An unknown product yields an error for which
// errors.Is(err, ErrNotFound) holds, normally a [*NotFoundError].
type Catalog interface {
	BasePrice(ctx context.Context, productID []byte) (money.Decimal, error)
}

// Markets gives the price multiplier of a location.
//
// An unknown location is not an error: it gets the default multiplier
// (the "*" row, 1 if there is none). Errors mean the back end failed or
// ctx ended. The same concurrency and ctx rules as [Catalog] apply.
type Markets interface {
	Multiplier(ctx context.Context, location []byte) (money.Decimal, error)
}

// InstantCatalog is a [Catalog] whose answers never block. BasePriceNow
// reports false for an unknown product. It must not allocate.
type InstantCatalog interface {
	Catalog
	BasePriceNow(productID []byte) (money.Decimal, bool)
}

// InstantMarkets is a [Markets] whose answers never block or fail.
// MultiplierNow must not allocate.
type InstantMarkets interface {
	Markets
	MultiplierNow(location []byte) money.Decimal
}

// ErrNotFound is matched (errors.Is) by every [*NotFoundError].
var ErrNotFound = errors.New("not found")

// NotFoundError reports a key that a lookup does not know.
type NotFoundError struct {
	Kind string // KindProduct or KindMarket
	Key  string // the key as given, truncated to MaxKeyLen+3 bytes
}

// newNotFound builds a *NotFoundError, copying and truncating key.
func newNotFound(kind string, key []byte) *NotFoundError {
	return &NotFoundError{Kind: kind, Key: truncate(key)}
}

func truncate(key []byte) string {
	if len(key) > MaxKeyLen {
		return string(key[:MaxKeyLen]) + "..."
	}
	return string(key)
}

// Error implements error.
func (e *NotFoundError) Error() string {
	return fmt.Sprintf("cannot find %s %q: not found", e.Kind, e.Key)
}

// Is reports whether target is [ErrNotFound].
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }
