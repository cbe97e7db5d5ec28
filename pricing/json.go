package pricing

import (
	"strconv"
	"unicode/utf8"

	"github.com/valyala/fastjson"

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

// MaxDepth is how deeply values may nest in a request body: the top-level
// object is at depth 1, its members' values at depth 2, and so on. A body
// with a value deeper than MaxDepth is refused with 400 invalid JSON (the
// standard library allows 10000; the bound keeps a hostile body from
// costing more than its size).
const MaxDepth = fastjson.MaxDepth

// checkJSON reports whether b is one strict JSON text (RFC 8259): a value
// with optional whitespace around it, numbers in JSON's grammar (no NaN,
// Infinity, leading zero, leading '+' or bare '.'), strings without raw
// control characters, with only JSON's escapes and in valid UTF-8, and no
// value deeper than MaxDepth. It returns ok, or the offset of the first
// offending byte and why it offends. It does not allocate when b is valid.
func checkJSON(b []byte) (off int, why string) {
	i, why := checkValue(b, skipWS(b, 0), 1)
	if why != "" {
		return i, why
	}
	if i = skipWS(b, i); i != len(b) {
		return i, "unexpected " + quoteByte(b[i]) + " after the top-level value"
	}
	return 0, ""
}

// checkValue checks the value starting at b[i], at the given depth, and
// returns the offset after it.
func checkValue(b []byte, i, depth int) (next int, why string) {
	if i >= len(b) {
		return i, "unexpected end of input, expected a value"
	}
	if depth > MaxDepth {
		return i, "value nested deeper than " + strconv.Itoa(MaxDepth) + " levels"
	}
	switch c := b[i]; {
	case c == '{':
		return checkObject(b, i, depth)
	case c == '[':
		return checkArray(b, i, depth)
	case c == '"':
		return checkString(b, i)
	case c == 't':
		return checkLiteral(b, i, "true")
	case c == 'f':
		return checkLiteral(b, i, "false")
	case c == 'n':
		return checkLiteral(b, i, "null")
	case c == '-' || '0' <= c && c <= '9':
		return checkNumber(b, i)
	case c == 'N' || c == 'I' || c == '+' || c == '.':
		return i, "unexpected " + quoteByte(c) + ": not a JSON value (NaN, Infinity, '+' and a bare '.' are not JSON numbers)"
	}
	return i, "unexpected " + quoteByte(b[i]) + ", expected a value"
}

func checkObject(b []byte, i, depth int) (int, string) {
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, ""
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, expected(b, i, "a string key")
		}
		var why string
		if i, why = checkString(b, i); why != "" {
			return i, why
		}
		if i = skipWS(b, i); i >= len(b) || b[i] != ':' {
			return i, expected(b, i, "':' after an object key")
		}
		if i, why = checkValue(b, skipWS(b, i+1), depth+1); why != "" {
			return i, why
		}
		if i = skipWS(b, i); i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
			continue
		}
		if i < len(b) && b[i] == '}' {
			return i + 1, ""
		}
		return i, expected(b, i, "',' or '}' in an object")
	}
}

func checkArray(b []byte, i, depth int) (int, string) {
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, ""
	}
	for {
		var why string
		if i, why = checkValue(b, i, depth+1); why != "" {
			return i, why
		}
		if i = skipWS(b, i); i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
			continue
		}
		if i < len(b) && b[i] == ']' {
			return i + 1, ""
		}
		return i, expected(b, i, "',' or ']' in an array")
	}
}

// checkString checks the string whose opening quote is b[i].
func checkString(b []byte, i int) (int, string) {
	for j := i + 1; j < len(b); {
		c := b[j]
		if strPlain[c] {
			j++
			continue
		}
		switch {
		case c == '"':
			return j + 1, ""
		case c == '\\':
			if j+1 >= len(b) {
				return j + 1, "unexpected end of input in a string escape"
			}
			switch e := b[j+1]; e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				for k := j + 2; k < j+6; k++ {
					if k >= len(b) {
						return k, "unexpected end of input in a \\u escape"
					}
					if !isHex(b[k]) {
						return k, "invalid \\u escape: " + quoteByte(b[k]) + " is not a hex digit"
					}
				}
				j += 6
			default:
				return j, "invalid escape \\" + string(rune(e)) + " in a string"
			}
		case c < 0x20:
			return j, "raw control character " + quoteByte(c) + " in a string (escape it)"
		default:
			r, size := utf8.DecodeRune(b[j:])
			if r == utf8.RuneError && size == 1 {
				return j, "invalid UTF-8 in a string"
			}
			j += size
		}
	}
	return len(b), "unexpected end of input in a string"
}

// strPlain marks the bytes that stand for themselves inside a JSON string
// and need no further look: printable ASCII other than '"' and '\\'.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func checkLiteral(b []byte, i int, lit string) (int, string) {
	if !hasPrefix(b[i:], lit) {
		return i, "invalid literal, expected " + lit
	}
	return i + len(lit), ""
}

// checkNumber checks -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
// starting at b[i].
func checkNumber(b []byte, i int) (int, string) {
	start := i
	digits := func() int {
		n := 0
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
		if i < len(b) && '0' <= b[i] && b[i] <= '9' {
			return start, "invalid number: leading zero"
		}
	case digits() == 0:
		return start, "invalid number: expected a digit"
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return start, "invalid number: expected a digit after '.'"
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return start, "invalid number: expected a digit in the exponent"
		}
	}
	return i, ""
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// expected is the message for a missing token at b[i].
func expected(b []byte, i int, what string) string {
	if i >= len(b) {
		return "unexpected end of input, expected " + what
	}
	return "unexpected " + quoteByte(b[i]) + ", expected " + what
}

// quoteByte names c for a message: 'x' when printable ASCII, else 0xNN.
func quoteByte(c byte) string {
	if 0x20 < c && c < 0x7f {
		return "'" + string(rune(c)) + "'"
	}
	return "byte 0x" + string([]byte{hexDigits[c>>4], hexDigits[c&0xf]})
}
