package pricing

import (
	"unicode/utf8"

	"github.com/pricing-engine/pricing-engine/money"
	"github.com/pricing-engine/pricing-engine/rules"
)

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string literal (RFC 8259 section 7).
// '"', '\\' and control characters are escaped, invalid UTF-8 becomes
// \ufffd, and U+2028/U+2029 are escaped so the output is also valid
// JavaScript. '<', '>' and '&' are not escaped: bodies are served as
// application/json, never embedded in HTML.
func appendString[S ~string | ~[]byte](dst []byte, s S) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		// A string conversion of at most UTFMax bytes that does not escape
		// uses a stack buffer: no allocation for []byte input.
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

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
// follow "source", and ,"explanation":[...] when q.Explanation is set.
// Without rules the bytes are exactly the above.
//
// Numbers are written in their shortest form. It does not allocate when
// dst has room.
func AppendQuote(dst []byte, q *Quote) []byte {
	dst = append(dst, `{"product_id":`...)
	dst = appendString(dst, q.ProductID)
	dst = append(dst, `,"final_price":`...)
	dst = q.Final.Append(dst)
	dst = append(dst, `,"base_price":`...)
	dst = q.Base.Append(dst)
	dst = append(dst, `,"market_multiplier":`...)
	dst = q.Multiplier.Append(dst)
	dst = append(dst, `,"discount_rate":`...)
	dst = q.Discount.Append(dst)
	dst = append(dst, `,"source":`...)
	dst = appendString(dst, q.Source)
	if q.Version != "" {
		dst = append(dst, `,"list_price":`...)
		dst = q.List.Append(dst)
		dst = append(dst, `,"ruleset_version":`...)
		dst = appendString(dst, q.Version)
		if q.Explanation != nil {
			dst = append(dst, `,"explanation":`...)
			dst = q.Explanation.AppendJSON(dst)
		}
	}
	return append(dst, '}')
}
