package pricing

import (
	"bytes"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/pricing-engine/pricing-engine/internal/jsonstr"
)

// This file is the strict JSON scanner of request bodies (RFC 8259). Its
// check functions (checkValue and below) find the first offending byte of
// a body and say why it offends; the decoders' fast path (scanObject,
// scanBatch) scans the common bodies with the same checks, and the full
// path (Decoder.decodeFull, Decoder.decodeBatchFull) checks a body once
// with checkObject while noting where the members it reads are, then
// decodes those values in place (a batch's items are walked once more,
// to note each item's members). No tree is built.

// MaxDepth is how deeply values may nest in a request body: the top-level
// object is at depth 1, its members' values at depth 2, and so on. A body
// with a value deeper than MaxDepth is refused with 400 invalid JSON (the
// standard library allows 10000; the bound keeps a hostile body from
// costing more than its size).
const MaxDepth = 300

// bom is the UTF-8 byte-order mark.
const bom = "\xef\xbb\xbf"

const hexDigits = "0123456789abcdef"

// bomLen is the length of the byte-order mark body starts with, or 0.
func bomLen(body []byte) int {
	if hasPrefix(body, bom) {
		return len(bom)
	}
	return 0
}

// decodeFast decodes the body every client sends: an object (scanObject)
// and nothing after it but JSON whitespace. On anything else it reports
// false, and Decode takes the full path; so the fast path only ever
// accepts, and what it accepts it decodes exactly as the full path would
// (FuzzDecodeFast holds the two to it). On false r may have been written
// to.
func decodeFast(body []byte, r *Request) bool {
	next, ok := scanObject(body, skipWS(body, 0), 1, r)
	return ok && skipWS(body, next) == len(body)
}

// scanObject decodes the request object starting at body[i], at the given
// nesting depth (1 for the top level), checking it as strictly as
// checkObject does. It takes the members product_id and user_location as
// strings of MinFieldLen to MaxFieldLen bytes of printable ASCII without
// escape, is_prime_member, explain and quote as true, false, 0, 1 or a lax
// boolean string (parseLaxBool) of printable ASCII without escape, and
// skips (checking) any other member whose key is printable ASCII without
// escape; of duplicate keys the last wins. On success it fills r and
// returns the offset after the closing brace. Anything else (a field
// error, an escape or non-ASCII text where it matters, invalid JSON)
// reports false and leaves r untouched, for the full path to decode or
// explain.
func scanObject(body []byte, i, depth int, r *Request) (next int, ok bool) {
	if i >= len(body) || body[i] != '{' {
		return 0, false
	}
	var pid, location []byte // nil until seen
	member, explain, quote := false, false, false
	for i++; ; i++ {
		// The known keys are matched, with their quotes, rather than
		// scanned: the common body never reaches the default case.
		j := skipWS(body, i)
		if j >= len(body) || body[j] != '"' {
			return 0, false
		}
		var dst *[]byte // the string field the key names
		var flag *bool  // the boolean field the key names
		// The known keys begin with different letters: the first byte
		// picks the one key to compare.
		var first byte
		if j+1 < len(body) {
			first = body[j+1]
		}
		switch rest := body[j+1:]; {
		case first == FieldProductID[0] && hasPrefix(rest, FieldProductID+`"`):
			dst, j = &pid, j+len(FieldProductID)+2
		case first == FieldUserLocation[0] && hasPrefix(rest, FieldUserLocation+`"`):
			dst, j = &location, j+len(FieldUserLocation)+2
		case first == FieldIsPrime[0] && hasPrefix(rest, FieldIsPrime+`"`):
			flag, j = &member, j+len(FieldIsPrime)+2
		case first == FieldExplain[0] && hasPrefix(rest, FieldExplain+`"`):
			flag, j = &explain, j+len(FieldExplain)+2
		case first == FieldQuote[0] && hasPrefix(rest, FieldQuote+`"`):
			flag, j = &quote, j+len(FieldQuote)+2
		default:
			// Another key: skip its member, unless the key has an
			// escape (it could spell a known one).
			_, after, ok := plainString(body, j)
			if !ok {
				return 0, false
			}
			j = after
		}
		j = skipWS(body, j)
		if j >= len(body) || body[j] != ':' {
			return 0, false
		}
		j = skipWS(body, j+1)
		switch {
		case dst != nil:
			val, after, ok := plainString(body, j)
			if !ok || len(val) < MinFieldLen || len(val) > MaxFieldLen {
				return 0, false
			}
			*dst, j = val, after
		case flag != nil:
			// The literals inline; scanBool for the rest.
			switch {
			case hasPrefix(body[j:], "true"):
				*flag, j = true, j+len("true")
			case hasPrefix(body[j:], "false"):
				*flag, j = false, j+len("false")
			default:
				if j, ok = scanBool(body, j, flag); !ok {
					return 0, false
				}
			}
		default:
			var why string
			if j, why = checkValue(body, j, depth+1); why != "" {
				return 0, false
			}
		}
		i = skipWS(body, j)
		if i < len(body) && body[i] == ',' {
			continue
		}
		if i < len(body) && body[i] == '}' {
			break
		}
		return 0, false
	}
	if pid == nil || location == nil {
		return 0, false
	}
	r.ProductID = append(r.ProductID[:0], pid...)
	r.Location = append(r.Location[:0], location...)
	r.Member = member
	r.Explain = explain
	r.Quote = quote
	return i + 1, true
}

// scanBool reads the boolean value at b[i] into *v when the fast path can
// take it: true, false, the numbers 0 and 1, or a string without escape
// that parseLaxBool accepts. It returns the offset after the value.
func scanBool(b []byte, i int, v *bool) (next int, ok bool) {
	switch {
	case hasPrefix(b[i:], "true"):
		*v = true
		return i + len("true"), true
	case hasPrefix(b[i:], "false"):
		*v = false
		return i + len("false"), true
	case i >= len(b):
		return 0, false
	case b[i] == '0' || b[i] == '1':
		// Only the one-digit number: the full path reads 1.0 or 1e0.
		if i+1 < len(b) && (isDigit(b[i+1]) || b[i+1] == '.' || b[i+1] == 'e' || b[i+1] == 'E') {
			return 0, false
		}
		*v = b[i] == '1'
		return i + 1, true
	case b[i] == '"':
		s, after, ok := plainString(b, i)
		if !ok {
			return 0, false
		}
		if *v, ok = parseLaxBool(s); !ok {
			return 0, false
		}
		return after, true
	}
	return 0, false
}

// scanBatch decodes the batch bodies whose items all take the fast path
// (scanObject): {"items":[...]} with 1..MaxBatchItems items and optionally
// "explain" and "quote" as scanBool takes them, "items" at most once, other members
// skipped (checked) when their key has no escape. Anything else reports
// false and leaves b in an unspecified state.
func scanBatch(body []byte, b *Batch) bool {
	i := skipWS(body, 0)
	if i >= len(body) || body[i] != '{' {
		return false
	}
	itemsSeen := false
	for i++; ; i++ {
		j := skipWS(body, i)
		if j >= len(body) || body[j] != '"' {
			return false
		}
		isItems, isExplain, isQuote := false, false, false
		switch rest := body[j+1:]; {
		case hasPrefix(rest, FieldItems+`"`):
			isItems, j = true, j+len(FieldItems)+2
		case hasPrefix(rest, FieldExplain+`"`):
			isExplain, j = true, j+len(FieldExplain)+2
		case hasPrefix(rest, FieldQuote+`"`):
			isQuote, j = true, j+len(FieldQuote)+2
		default:
			_, after, ok := plainString(body, j)
			if !ok {
				return false
			}
			j = after
		}
		j = skipWS(body, j)
		if j >= len(body) || body[j] != ':' {
			return false
		}
		j = skipWS(body, j+1)
		var ok bool
		switch {
		case isItems:
			if itemsSeen {
				return false
			}
			itemsSeen = true
			if j, ok = scanItems(body, j, b); !ok {
				return false
			}
		case isExplain:
			if j, ok = scanBool(body, j, &b.Explain); !ok {
				return false
			}
		case isQuote:
			if j, ok = scanBool(body, j, &b.Quote); !ok {
				return false
			}
		default:
			var why string
			if j, why = checkValue(body, j, 2); why != "" {
				return false
			}
		}
		i = skipWS(body, j)
		if i < len(body) && body[i] == ',' {
			continue
		}
		if i < len(body) && body[i] == '}' {
			break
		}
		return false
	}
	if !itemsSeen || skipWS(body, i+1) != len(body) {
		return false
	}
	for k := range b.Items {
		b.Items[k].Explain = b.Items[k].Explain || b.Explain
		b.Items[k].Quote = b.Items[k].Quote || b.Quote
	}
	return true
}

// scanItems decodes the items array at body[i] (depth 2; items at depth
// 3) into b when it has 1..MaxBatchItems items that all take the fast
// path, returning the offset after it.
func scanItems(body []byte, i int, b *Batch) (next int, ok bool) {
	if i >= len(body) || body[i] != '[' {
		return 0, false
	}
	for i = skipWS(body, i+1); len(b.Items) < MaxBatchItems; i = skipWS(body, i+1) {
		if i, ok = scanObject(body, i, 3, b.next()); !ok {
			return 0, false
		}
		if i = skipWS(body, i); i < len(body) && body[i] == ']' {
			return i + 1, true
		}
		if i >= len(body) || body[i] != ',' {
			return 0, false
		}
	}
	return 0, false // empty, or too many: the full path says which
}

// span is where a value lies in a body: b[start:end]. The zero span
// (end 0) is a member that is absent.
type span struct{ start, end int }

// members is what the full path keeps of an object while checkObject
// checks it: where the last value of each member a request or a batch
// reads lies (of duplicate keys the last wins), and a buffer for keys and
// strings that need unescaping. A Decoder owns one and reuses it.
type members struct {
	pid, location, member, explain, quote, items span
	token                                        span // POST /api/v1/quotes/verify

	buf []byte
}

// reset forgets the members of an earlier object, keeping the buffer.
func (m *members) reset() {
	m.pid, m.location, m.member, m.explain, m.quote, m.items, m.token = span{}, span{}, span{}, span{}, span{}, span{}, span{}
}

// note notes the value v of the member whose key, as it stands between
// the quotes in the body, is raw.
func (m *members) note(raw []byte, v span) {
	key := raw
	if bytes.IndexByte(raw, '\\') >= 0 {
		m.buf = unquote(m.buf[:0], raw)
		key = m.buf
	}
	switch string(key) {
	case FieldProductID:
		m.pid = v
	case FieldUserLocation:
		m.location = v
	case FieldIsPrime:
		m.member = v
	case FieldExplain:
		m.explain = v
	case FieldQuote:
		m.quote = v
	case FieldToken:
		m.token = v
	case FieldItems:
		m.items = v
	}
}

// scanTop checks that b is one strict JSON text whose value is an object
// (b has no byte-order mark; skip is the length of the one the body
// started with, which error offsets count), noting its members in m, and
// returns where the object lies; or it returns the 400 *Error saying
// where and why not.
func (m *members) scanTop(b []byte, skip int) (span, *Error) {
	m.reset()
	i := skipWS(b, 0)
	var end int
	var why string
	if i < len(b) && b[i] == '{' {
		end, why = checkObject(b, i, 1, m)
	} else {
		end, why = checkValue(b, i, 1)
	}
	if why == "" {
		if j := skipWS(b, end); j != len(b) {
			end, why = j, "unexpected "+quoteByte(b[j])+" after the top-level value"
		}
	}
	if why != "" {
		return span{}, newDetailError(StatusBadRequest, "invalid JSON: "+why+" at offset "+strconv.Itoa(skip+end), nil)
	}
	if b[i] != '{' {
		return span{}, newDetailError(StatusBadRequest, "invalid JSON: expected an object at the top level, got "+typeName(b[i]), nil)
	}
	return span{i, end}, nil
}

// typeName names the type of the checked value that starts with c.
func typeName(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't':
		return "true"
	case 'f':
		return "false"
	case 'n':
		return "null"
	}
	return "number"
}

// checkValue checks that the value starting at b[i], at the given depth,
// is strict JSON (RFC 8259): numbers in JSON's grammar (no NaN, Infinity,
// leading zero, leading '+' or bare '.'), strings without raw control
// characters, with only JSON's escapes and in valid UTF-8, and no value
// deeper than MaxDepth. It returns the offset after the value, or the
// offset of the first offending byte and why it offends. It does not
// allocate when the value is valid.
func checkValue(b []byte, i, depth int) (next int, why string) {
	if i >= len(b) {
		return i, "unexpected end of input, expected a value"
	}
	if depth > MaxDepth {
		return i, "value nested deeper than " + strconv.Itoa(MaxDepth) + " levels"
	}
	switch c := b[i]; {
	case c == '{':
		return checkObject(b, i, depth, nil)
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

// checkObject checks the object starting at b[i], as checkValue does,
// noting its members in m unless m is nil.
func checkObject(b []byte, i, depth int, m *members) (int, string) {
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, ""
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, expected(b, i, "a string key")
		}
		key := i
		var why string
		if i, why = checkString(b, i); why != "" {
			return i, why
		}
		keyEnd := i
		if i = skipWS(b, i); i >= len(b) || b[i] != ':' {
			return i, expected(b, i, "':' after an object key")
		}
		v := skipWS(b, i+1)
		if i, why = checkValue(b, v, depth+1); why != "" {
			return i, why
		}
		if m != nil {
			m.note(b[key+1:keyEnd-1], span{v, i})
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

// firstElement returns the offset of the first element of the checked
// array at b[i], or -1 when it is empty.
func firstElement(b []byte, i int) int {
	if i = skipWS(b, i+1); b[i] == ']' {
		return -1
	}
	return i
}

// nextElement returns the offset of the element after the one of a
// checked array that ends at b[end], or -1 when that was the last.
func nextElement(b []byte, end int) int {
	if i := skipWS(b, end); b[i] == ',' {
		return skipWS(b, i+1)
	}
	return -1
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

// unquote appends to dst the text of a checked string whose contents (the
// bytes between its quotes) are s. It reads \u escapes as the decoder
// always has: a surrogate followed by another \u escape makes one rune
// (U+FFFD when the two are not a pair), and a surrogate with no \u escape
// after it is kept as its six characters, backslash included.
func unquote(dst, s []byte) []byte {
	for {
		n := bytes.IndexByte(s, '\\')
		if n < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:n]...)
		e := s[n+1]
		s = s[n+2:]
		switch e {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			hex := s[:4]
			r := hexRune(hex)
			s = s[4:]
			switch {
			case !utf16.IsSurrogate(r):
				dst = utf8.AppendRune(dst, r)
			case len(s) >= 6 && s[0] == '\\' && s[1] == 'u':
				dst = utf8.AppendRune(dst, utf16.DecodeRune(r, hexRune(s[2:6])))
				s = s[6:]
			default:
				dst = append(append(dst, `\u`...), hex...)
			}
		default: // '"', '\\', '/'
			dst = append(dst, e)
		}
	}
}

// hexRune is the value of the four hex digits h[:4].
func hexRune(h []byte) rune {
	var r rune
	for _, c := range h[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c >= 'a':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// appendCanonical appends the checked value v in the form the "input" of
// a validation error takes: without whitespace, its strings (keys too)
// unescaped and written again by jsonstr.Append, numbers and literals as
// they are.
func appendCanonical(dst, v []byte) []byte {
	for i := 0; i < len(v); {
		switch c := v[i]; c {
		case ' ', '\t', '\r', '\n':
			i++
		case '"':
			end, _ := checkString(v, i)
			dst = jsonstr.Append(dst, unquote(nil, v[i+1:end-1]))
			i = end
		default:
			dst = append(dst, c)
			i++
		}
	}
	return dst
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// skipWS returns the offset of the first byte at or after i that is not
// JSON whitespace (RFC 8259 section 2), or len(b).
func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// plainString reads the JSON string starting at b[i] when it is printable
// ASCII with no escape, returning its contents and the offset after its
// closing quote. It does not check UTF-8, which would cost the common
// body: ids are ASCII, and the full path checks and decodes the rest.
func plainString(b []byte, i int) (s []byte, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return b[i+1 : j], j + 1, true
		case c == '\\' || c-0x20 >= utf8.RuneSelf-0x20:
			// An escape, a control byte, or a byte of a multi-byte
			// UTF-8 sequence: the full path checks and decodes those.
			return nil, 0, false
		}
	}
	return nil, 0, false
}

func hasPrefix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[:len(s)]) == s
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
