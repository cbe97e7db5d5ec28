package pricing

import (
	"time"

	"github.com/pricing-engine/pricing-engine/internal/jsonstr"
	"github.com/pricing-engine/pricing-engine/money"
	"github.com/pricing-engine/pricing-engine/rules"
)

// Quote is a priced product. It is reused across requests: the engine
// overwrites ProductID in place (append to [:0]).
type Quote struct {
	ProductID  []byte
	Final      money.Decimal // round(Base * Multiplier * (1 - Discount), 2), half to even
	Base       money.Decimal // from the catalog
	Multiplier money.Decimal // from the markets
	Discount   money.Decimal // 0.05 for members, else 0
	Source     string        // "live" for a fresh lookup, "cache" for a cached one

	// With rules only (Version != ""): the list price (exact, before the
	// discount), the version of the ruleset that made the price and, when
	// the request asked "explain": true, the explanation (pointing into
	// the Exchange that made the quote: valid until its next request).
	List        money.Decimal
	Version     string
	Explanation *rules.Explanation
	// With an announced reduction only (Prior not zero): the prior price
	// (the lowest price before the reduction started, Directive 98/6/EC
	// Art. 6a) and, when the history used covers less than the window,
	// where it starts (zero otherwise).
	Prior      money.Decimal
	PriorSince time.Time

	// Signed, when not empty, is the signed quote object the request
	// asked for ("quote": true), {"id":...,"expires_at":...,"token":...}
	// (see package quote); it points into the Exchange that made the
	// quote, valid until its next request.
	Signed []byte
}

// Sources of a quote: the "source" field, an enum of openapi.json that
// apidocs' tests hold to these constants.
const (
	// SourceLive: computed from current values.
	SourceLive = "live"
	// SourceStale: computed from last-known values the store served while
	// it was unreachable ([lookup.Call.Stale]).
	SourceStale = "stale"
)

// AppendQuote appends the JSON body of q to dst, with the fields in the
// fixed order of the contract:
//
//	{"product_id":"P-123","final_price":45.12,"base_price":49.99,"market_multiplier":0.95,"discount_rate":0.05,"source":"live"}
//
// With rules (q.Version != ""), ,"list_price":...,"ruleset_version":"..."
// follow "source"; then, while an announced reduction applies,
// ,"prior_price":...[,"prior_price_since":"<RFC 3339>"]; and
// ,"explanation":[...] when q.Explanation is set. ,"quote":{...}
// (q.Signed) comes last. Without rules and without a quote the bytes are
// exactly the above.
//
// Numbers are written in their shortest form. It does not allocate when
// dst has room.
func AppendQuote(dst []byte, q *Quote) []byte {
	dst = append(dst, `{"product_id":`...)
	dst = jsonstr.Append(dst, q.ProductID)
	dst = append(dst, `,"final_price":`...)
	dst = q.Final.Append(dst)
	dst = append(dst, `,"base_price":`...)
	dst = q.Base.Append(dst)
	dst = append(dst, `,"market_multiplier":`...)
	dst = q.Multiplier.Append(dst)
	dst = append(dst, `,"discount_rate":`...)
	dst = q.Discount.Append(dst)
	dst = append(dst, `,"source":`...)
	dst = jsonstr.Append(dst, q.Source)
	if q.Version != "" {
		dst = append(dst, `,"list_price":`...)
		dst = q.List.Append(dst)
		dst = append(dst, `,"ruleset_version":`...)
		dst = jsonstr.Append(dst, q.Version)
		if !q.Prior.IsZero() {
			dst = append(dst, `,"prior_price":`...)
			dst = q.Prior.Append(dst)
			if !q.PriorSince.IsZero() {
				dst = append(dst, `,"prior_price_since":"`...)
				dst = q.PriorSince.UTC().AppendFormat(dst, time.RFC3339)
				dst = append(dst, '"')
			}
		}
		if q.Explanation != nil {
			dst = append(dst, `,"explanation":`...)
			dst = q.Explanation.AppendJSON(dst)
		}
	}
	if len(q.Signed) > 0 {
		dst = append(dst, `,"quote":`...)
		dst = append(dst, q.Signed...)
	}
	return append(dst, '}')
}
