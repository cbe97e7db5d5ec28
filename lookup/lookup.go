package lookup

import (
	"errors"
	"fmt"
)

// MaxKeyLen is the longest product id or location accepted in a data file.
const MaxKeyLen = 64

// KindProduct is the [NotFoundError.Kind] of an unknown product, the one
// key a lookup can fail to find (an unknown location takes the default
// market).
const KindProduct = "product"

// ErrNotFound is matched (errors.Is) by every [*NotFoundError].
var ErrNotFound = errors.New("not found")

// NotFoundError reports a key that a lookup does not know.
type NotFoundError struct {
	Kind string // KindProduct
	Key  string // the key as given, truncated to MaxKeyLen+3 bytes
}

// NewNotFound builds a *NotFoundError for key, copying it and truncating it
// to MaxKeyLen bytes plus "...". Every Source reports an unknown product
// through it, so the error text is the same whatever the back end.
func NewNotFound(kind string, key []byte) *NotFoundError {
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
