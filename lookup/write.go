package lookup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pricing-engine/pricing-engine/money"
)

// KindMarket is the [Ref.Kind] of a market multiplier (KindProduct names a
// product's base price).
const KindMarket = "market"

// Bounds of what a governed write carries, so that one audit entry has a
// bounded size (see docs/ADMIN.md).
const (
	// MaxActorLen bounds the actor (the admin token's name).
	MaxActorLen = 64
	// MaxRequestIDLen bounds the request id recorded with a write.
	MaxRequestIDLen = 128
	// MaxIdempotencyKeyLen bounds an Idempotency-Key.
	MaxIdempotencyKeyLen = 255
	// MaxValueLen bounds a stored decimal's text (MaxDigits digits, a
	// sign and a point fit well within it).
	MaxValueLen = 40
)

// Defaults of the writers' retention.
const (
	// DefaultAuditRetention is how long audit entries are kept.
	DefaultAuditRetention = 400 * 24 * time.Hour
	// DefaultAuditMaxPerKey bounds the audit entries kept per key, within
	// the retention.
	DefaultAuditMaxPerKey = 10_000
	// IdempotencyTTL is how long an Idempotency-Key is remembered.
	IdempotencyTTL = 24 * time.Hour
)

// Ref names one writable entry: a product's base price or a market's
// multiplier.
type Ref struct {
	Kind string // KindProduct or KindMarket
	ID   string // the product id or location ("*" is the default market)
}

// String is the entry's audit key, "product:P-1" or "market:NY".
func (r Ref) String() string { return r.Kind + ":" + r.ID }

// ParseRef parses an audit key ("product:P-1", "market:NY").
func ParseRef(s string) (Ref, error) {
	for _, kind := range [...]string{KindProduct, KindMarket} {
		if len(s) > len(kind) && s[:len(kind)] == kind && s[len(kind)] == ':' {
			r := Ref{Kind: kind, ID: s[len(kind)+1:]}
			return r, r.Check()
		}
	}
	return Ref{}, fmt.Errorf("cannot parse key %q: want product:<id> or market:<location>", truncate([]byte(s)))
}

// Check reports whether r may be written: a known kind and an id of
// 1..MaxKeyLen bytes without control characters, '/', '\\', '{' or '}'
// (which would confuse paths or the store's key slots).
func (r Ref) Check() error {
	if r.Kind != KindProduct && r.Kind != KindMarket {
		return fmt.Errorf("cannot use kind %q: want %q or %q", r.Kind, KindProduct, KindMarket)
	}
	switch {
	case r.ID == "":
		return errors.New("id is empty")
	case len(r.ID) > MaxKeyLen:
		return fmt.Errorf("id is longer than %d bytes", MaxKeyLen)
	case r.ID == "." || r.ID == "..":
		return fmt.Errorf("id %q is a path segment", r.ID)
	}
	for i := 0; i < len(r.ID); i++ {
		switch c := r.ID[i]; {
		case c < 0x20 || c == 0x7f:
			return errors.New("id holds a control character")
		case c == '/' || c == '\\' || c == '{' || c == '}':
			return fmt.Errorf("id holds %q", c)
		}
	}
	return nil
}

// Record is the current state of one entry.
type Record struct {
	Exists bool
	Value  string // the decimal as stored
	// Version counts the governed writes of the entry; 0 for a value
	// written outside the admin API (CSV, import, a raw SET) and never
	// changed through it. It keeps counting across deletes, so a version
	// is never reused for one key.
	Version   uint64
	UpdatedAt time.Time // zero when Version is 0
	UpdatedBy string    // the actor of the last governed write
}

// Op is what a [Write] does to its entry.
type Op uint8

// Operations.
const (
	OpPut Op = iota
	OpDelete
)

// Cond is a write's precondition.
type Cond uint8

// Preconditions, from the request's If-Match / If-None-Match.
const (
	// CondNone: no precondition.
	CondNone Cond = iota
	// CondVersion: the entry exists at Write.Version (If-Match: "<v>").
	CondVersion
	// CondExists: the entry exists (If-Match: *).
	CondExists
	// CondAbsent: the entry does not exist (If-None-Match: *).
	CondAbsent
)

// Write is one governed change of one entry.
type Write struct {
	Ref     Ref
	Op      Op
	Value   string // OpPut: a decimal checked with CheckPrice / CheckMultiplier
	Cond    Cond
	Version uint64 // CondVersion's version
	// AuditKind is recorded as the audit entry's kind when set ("revert");
	// otherwise it is "create", "update" or "delete".
	AuditKind string
	Actor     string // <= MaxActorLen bytes
	RequestID string // <= MaxRequestIDLen bytes
	// IdempotencyKey, when set, makes the write idempotent: a repeat with
	// the same key and Fingerprint within IdempotencyTTL returns the
	// first outcome (Replayed), refusals included, and changes nothing;
	// another Fingerprint fails with Status WriteKeyReused. A key belongs
	// to the first entry it is used on: within IdempotencyTTL its use on
	// another entry fails with WriteKeyReused too.
	IdempotencyKey string
	Fingerprint    string // a digest of the request (method, path, body)
}

// WriteStatus is how a write ended.
type WriteStatus uint8

// Write statuses.
const (
	WriteCreated WriteStatus = iota + 1
	WriteUpdated
	WriteDeleted
	// WriteConflict: the precondition failed; Outcome.Record is the
	// current state.
	WriteConflict
	// WriteNotFound: a delete of an entry that does not exist.
	WriteNotFound
	// WriteKeyReused: the idempotency key was used with another request.
	WriteKeyReused
)

// Outcome is the result of a [Writer.Write].
type Outcome struct {
	Status WriteStatus
	// Record is the entry after the write (for WriteDeleted: Exists false,
	// the new Version), or its current state for WriteConflict.
	Record Record
	// Replayed reports that this is the stored outcome of an earlier
	// write with the same idempotency key.
	Replayed bool
}

// AuditEntry is one governed write, as recorded in the same atomic step
// as the value.
type AuditEntry struct {
	ID        string    // unique per key, ordered by time
	At        time.Time // the store's clock
	Actor     string
	Kind      string // "create", "update", "delete" or "revert"
	Key       string // Ref.String()
	Before    *string
	After     *string
	Version   uint64
	RequestID string
}

// AuditQuery selects audit entries of one key, newest first.
type AuditQuery struct {
	Ref   Ref
	Since time.Time // entries at or after; zero: all kept
	Limit int       // 1..MaxAuditLimit
	// Cursor is the NextCursor of the previous page ("" for the first):
	// only entries older than it are returned.
	Cursor string
}

// MaxAuditLimit bounds one page of audit entries.
const MaxAuditLimit = 1000

// ErrBadCursor is matched by the error of an audit query whose cursor was
// not produced by the store.
var ErrBadCursor = errors.New("invalid cursor")

// Writer is the governed write side of a store: versioned, conditional,
// idempotent writes with an audit trail. Implementations are safe for
// concurrent use; a Write returns once the store has acknowledged it, so
// that readers of the store see it.
type Writer interface {
	// Read returns the entry's current state (Exists false when absent).
	Read(ctx context.Context, ref Ref) (Record, error)
	// Write applies w atomically: the precondition, the value, the
	// version, the audit entry and the idempotency record change
	// together or not at all. Errors are the store's failures; refused
	// writes are Outcome statuses.
	Write(ctx context.Context, w *Write) (Outcome, error)
	// Audit returns one page of q.Ref's audit, newest first, and the
	// cursor of the next page ("" when there is none).
	Audit(ctx context.Context, q AuditQuery) ([]AuditEntry, string, error)
	// AuditVersion returns the audit entry that produced version v of
	// ref, or false when it is not kept (any more).
	AuditVersion(ctx context.Context, ref Ref, v uint64) (AuditEntry, bool, error)
}

// CheckValue parses s and checks it for ref's kind with [CheckPrice] or
// [CheckMultiplier]: the one value check of every writer.
func CheckValue(kind, s string) error {
	if len(s) > MaxValueLen {
		return fmt.Errorf("value is longer than %d bytes", MaxValueLen)
	}
	d, err := money.Parse(s)
	if err != nil {
		return err
	}
	if kind == KindMarket {
		return CheckMultiplier(d)
	}
	return CheckPrice(d)
}
