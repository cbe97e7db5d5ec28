package redisstore

import (
	"strings"

	"github.com/pricing-engine/pricing-engine/lookup"
)

// Keys is the store's key schema, the one place that spells it:
//
//	<prefix>product:<product_id>   base price
//	<prefix>market:<location>      multiplier; <prefix>market:* is the default market
//
// The store, the import and the benchmark's reference server build and
// parse keys only through it. A Keys is an immutable value, safe for
// concurrent use; the Append forms do not allocate when dst has room.
type Keys struct {
	prefix, product, market string
}

// NewKeys returns the schema under prefix (DefaultPrefix when empty).
func NewKeys(prefix string) Keys {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return Keys{prefix: prefix, product: prefix + "product:", market: prefix + "market:"}
}

// Prefix is the prefix of every key (the one tracked for invalidations).
func (k Keys) Prefix() string { return k.prefix }

// ProductPrefix is the prefix of every product key, "<prefix>product:".
func (k Keys) ProductPrefix() string { return k.product }

// MarketPrefix is the prefix of every market key, "<prefix>market:".
func (k Keys) MarketPrefix() string { return k.market }

// Product is the key of productID's base price.
func (k Keys) Product(productID string) string { return k.product + productID }

// Market is the key of location's multiplier.
func (k Keys) Market(location string) string { return k.market + location }

// DefaultMarket is the key of the multiplier of locations without a key
// of their own.
func (k Keys) DefaultMarket() string { return k.market + lookup.DefaultMarket }

// AppendProduct appends the key of productID's base price to dst.
func (k Keys) AppendProduct(dst, productID []byte) []byte {
	return append(append(dst, k.product...), productID...)
}

// AppendMarket appends the key of location's multiplier to dst.
func (k Keys) AppendMarket(dst, location []byte) []byte {
	return append(append(dst, k.market...), location...)
}

// ProductID returns the product id of a product key, or false when key is
// not one.
func (k Keys) ProductID(key string) (string, bool) {
	return strings.CutPrefix(key, k.product)
}

// Location returns the location of a market key, or false when key is not
// one.
func (k Keys) Location(key string) (string, bool) {
	return strings.CutPrefix(key, k.market)
}

// Companion keys of a value key, for governed writes (package admin). A
// Lua script or MULTI/EXEC may only touch keys of one Redis Cluster slot:
// the value key stays the plain key above (the client-side cache and raw
// readers keep working) and its companions put the value key's whole
// name in braces, so they hash to the value key's slot:
//
//	{<value key>}:meta          hash: version, at (Unix ms), by (actor)
//	{<value key>}:audit         stream of the key's audit entries
//	{<value key>}:idem:<key>    hash: an idempotency key's first outcome
//
// This holds when the value key itself has no braces; the admin API
// refuses ids with braces (lookup.Ref.Check). Companions do not start with
// the prefix, so they cause no client-side cache invalidations.
//
// One key outside any entry's slot names the entry an idempotency key was
// first used on, so that its reuse on another entry is refused:
//
//	{<prefix>idem:<key>}        string: the entry (product:P-1), 24 h

// Meta is the companion hash of valueKey: version, at, by.
func (k Keys) Meta(valueKey string) string { return "{" + valueKey + "}:meta" }

// Audit is the companion stream of valueKey: its audit entries.
func (k Keys) Audit(valueKey string) string { return "{" + valueKey + "}:audit" }

// Idempotency is the companion hash of valueKey that remembers the
// first outcome of a write with idempotency key idem.
func (k Keys) Idempotency(valueKey, idem string) string {
	return "{" + valueKey + "}:idem:" + idem
}

// IdempotencyOwner is the key that holds the entry idempotency key idem
// was first used on (its own slot: it is set before the entry's script).
func (k Keys) IdempotencyOwner(idem string) string {
	return "{" + k.prefix + "idem:" + idem + "}"
}

// Value is the value key of a governed-write entry.
func (k Keys) Value(ref lookup.Ref) string {
	if ref.Kind == lookup.KindMarket {
		return k.Market(ref.ID)
	}
	return k.Product(ref.ID)
}
