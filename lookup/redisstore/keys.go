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
