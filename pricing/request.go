package pricing

import (
	"math"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"
)

// Field names and bounds of the request body.
const (
	FieldProductID    = "product_id"
	FieldUserLocation = "user_location"
	FieldIsPrime      = "is_prime_member"
	FieldExplain      = "explain"

	// MinFieldLen and MaxFieldLen bound product_id and user_location, in
	// bytes. (pydantic counts characters; the contract counts bytes, which
	// is stricter for non-ASCII text and is what the lookups key on.)
	MinFieldLen = 1
	MaxFieldLen = 64
)

// Request is a decoded price request. It is meant to be reused: Decode
// overwrites ProductID and Location in place (append to [:0]), so after
// warm-up decoding does not allocate. The slices are owned by the Request
// and stay valid until the next Decode into it.
type Request struct {
	ProductID []byte
	Location  []byte
	Member    bool
	// Explain asks for the explanation of the price (the optional
	// "explain" field; in a batch, also set by the batch's own "explain").
	Explain bool
}

// Reset empties r, keeping its buffers.
func (r *Request) Reset() {
	r.ProductID = r.ProductID[:0]
	r.Location = r.Location[:0]
	r.Member = false
	r.Explain = false
}

// Decoder decodes request bodies, single ([Decoder.Decode]) and batch
// ([Decoder.DecodeBatch]). It owns one JSON parser and is NOT safe for
// concurrent use: use one Decoder per event loop or goroutine. The zero
// Decoder is ready to use.
type Decoder struct {
	p fastjson.Parser
}

// Decode parses body into r. On failure r is left in an unspecified state
// and the error is a *Error:
//
//   - 400 {"detail":"invalid JSON: <why> at offset <n>"} if body is not
//     strict JSON (RFC 8259: no raw control character, unknown escape or
//     invalid UTF-8 in a string, no NaN, Infinity, 01, 1., +1 or .5, no
//     value nested deeper than [MaxDepth]) or not a JSON object. One UTF-8
//     byte-order mark before the body is ignored (RFC 8259 section 8.1);
//     offsets count it.
//   - 422 with a pydantic v2 shaped list, one entry per bad field
//     (FastAPI's rendering, without "url"):
//     missing ("Field required", input = the whole body object),
//     string_type ("Input should be a valid string"),
//     string_too_short ("String should have at least 1 character", ctx min_length),
//     string_too_long ("String should have at most 64 characters", ctx max_length),
//     bool_type ("Input should be a valid boolean"),
//     bool_parsing ("Input should be a valid boolean, unable to interpret input").
//
// is_prime_member and explain are optional (default false) and, like
// pydantic v2 in lax mode, accept true/false, the numbers 0 and 1 (also
// 0.0 and 1.0), and the strings 0/1/f/t/n/y/no/yes/off/on/false/true in
// any case. Unknown fields are ignored; of duplicate keys the last wins,
// as in Python's json module.
//
// The bodies clients send (the fields as plain strings, the booleans as
// literals, 0/1 or lax strings, unknown members) are decoded by a scanner
// that builds no tree and checks the JSON as it goes; any other body (an
// escape in a field, 1.0 for a boolean) and every error go through a
// strict check (checkJSON) and a full parse, with the same result.
//
// Decode does not retain body. It does not allocate on success once r's
// buffers have grown.
func (d *Decoder) Decode(body []byte, r *Request) error {
	skip := bomLen(body)
	if decodeFast(body[skip:], r) {
		return nil
	}
	return d.decodeTree(body, skip, r)
}

// bom is the UTF-8 byte-order mark.
const bom = "\xef\xbb\xbf"

// bomLen is the length of the byte-order mark body starts with, or 0.
func bomLen(body []byte) int {
	if hasPrefix(body, bom) {
		return len(bom)
	}
	return 0
}

// decodeTree is Decode through a parsed JSON tree: every body that
// decodeFast does not take, and every error. body[:skip] is a byte-order
// mark, skipped.
func (d *Decoder) decodeTree(body []byte, skip int, r *Request) error {
	v, err := d.parseObject(body, skip)
	if err != nil {
		return err
	}
	if bad := decodeFields(v, r, nil); len(bad) > 0 {
		return &Error{Status: StatusUnprocessableEntity, Fields: bad}
	}
	return nil
}

// parseObject checks that body[skip:] is strict JSON and parses it into a
// tree whose root is an object, or returns a 400 *Error saying where and
// why not. The tree lives until the next parse with d.
func (d *Decoder) parseObject(body []byte, skip int) (*fastjson.Value, error) {
	if off, why := checkJSON(body[skip:]); why != "" {
		return nil, newDetailError(StatusBadRequest, "invalid JSON: "+why+" at offset "+strconv.Itoa(skip+off), nil)
	}
	v, err := d.p.ParseBytes(body[skip:])
	if err != nil { // not expected after checkJSON; kept as a net
		return nil, newDetailError(StatusBadRequest, "invalid JSON: "+trimParseError(err.Error()), nil)
	}
	if v.Type() != fastjson.TypeObject {
		return nil, newDetailError(StatusBadRequest, "invalid JSON: expected an object at the top level, got "+v.Type().String(), nil)
	}
	return v, nil
}

// decodeFields decodes the request object v into r, appending to bad one
// entry per bad field, located as in a single request (["body", field]).
func decodeFields(v *fastjson.Value, r *Request, bad []FieldError) []FieldError {
	var pid, location, prime, explain *fastjson.Value
	v.GetObject().Visit(func(key []byte, v *fastjson.Value) {
		switch string(key) {
		case FieldProductID:
			pid = v
		case FieldUserLocation:
			location = v
		case FieldIsPrime:
			prime = v
		case FieldExplain:
			explain = v
		}
	})
	r.ProductID, bad = decodeString(r.ProductID[:0], FieldProductID, pid, v, bad)
	r.Location, bad = decodeString(r.Location[:0], FieldUserLocation, location, v, bad)
	r.Member, bad = decodeBool(FieldIsPrime, prime, bad)
	r.Explain, bad = decodeBool(FieldExplain, explain, bad)
	return bad
}

// maxParseError bounds the parser message quoted in an invalid-JSON error.
const maxParseError = 200

// trimParseError keeps fastjson's message readable: it already says where
// (the unparsed tail, truncated) and why; cap the length.
func trimParseError(s string) string {
	s = strings.TrimPrefix(s, "cannot parse JSON: ")
	if len(s) > maxParseError {
		return s[:maxParseError] + "..."
	}
	return s
}

func loc(field string) []string { return []string{"body", field} }

func decodeString(dst []byte, field string, v, root *fastjson.Value, bad []FieldError) ([]byte, []FieldError) {
	if v == nil {
		return dst, append(bad, FieldError{Type: "missing", Loc: loc(field), Msg: "Field required", Input: appendValue(nil, root)})
	}
	if v.Type() != fastjson.TypeString {
		return dst, append(bad, FieldError{Type: "string_type", Loc: loc(field), Msg: "Input should be a valid string", Input: appendValue(nil, v)})
	}
	s, _ := v.StringBytes() // cannot fail for TypeString
	switch {
	case len(s) < MinFieldLen:
		return dst, append(bad, FieldError{Type: "string_too_short", Loc: loc(field),
			Msg: "String should have at least 1 character", Input: appendValue(nil, v), Ctx: []byte(`{"min_length":1}`)})
	case len(s) > MaxFieldLen:
		return dst, append(bad, FieldError{Type: "string_too_long", Loc: loc(field),
			Msg: "String should have at most 64 characters", Input: appendValue(nil, v), Ctx: []byte(`{"max_length":64}`)})
	}
	return append(dst, s...), bad
}

// decodeBool decodes the optional lax boolean field (absent is false).
func decodeBool(field string, v *fastjson.Value, bad []FieldError) (bool, []FieldError) {
	if v == nil {
		return false, bad
	}
	switch v.Type() {
	case fastjson.TypeTrue:
		return true, bad
	case fastjson.TypeFalse:
		return false, bad
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		if b, ok := parseLaxBool(s); ok {
			return b, bad
		}
		return false, append(bad, boolParsing(field, v))
	case fastjson.TypeNumber:
		f, err := v.Float64()
		switch {
		case err != nil:
			// not representable: pydantic would fail the int/float step
		case f == 0:
			return false, bad
		case f == 1:
			return true, bad
		case math.Trunc(f) == f && !math.IsInf(f, 0):
			// an integer other than 0/1
			return false, append(bad, boolParsing(field, v))
		}
	}
	return false, append(bad, FieldError{Type: "bool_type", Loc: loc(field),
		Msg: "Input should be a valid boolean", Input: appendValue(nil, v)})
}

func boolParsing(field string, v *fastjson.Value) FieldError {
	return FieldError{Type: "bool_parsing", Loc: loc(field),
		Msg: "Input should be a valid boolean, unable to interpret input", Input: appendValue(nil, v)}
}

// parseLaxBool implements pydantic-core's str_as_bool: exact "0"/"1", and
// f/n/no/off/false, t/y/yes/on/true in any ASCII case.
func parseLaxBool(s []byte) (value, ok bool) {
	if len(s) > 5 {
		return false, false
	}
	var buf [5]byte
	for i, c := range s {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	switch string(buf[:len(s)]) {
	case "0", "f", "n", "no", "off", "false":
		return false, true
	case "1", "t", "y", "yes", "on", "true":
		return true, true
	}
	return false, false
}

// appendValue writes v as strict JSON for the "input" member of a
// validation error. fastjson's own MarshalTo is not used: it copies number
// text verbatim and quotes strings Go-style, which is not always JSON.
// Number text that is not a strict JSON number (fastjson also accepts
// e.g. "inf" or "1.") is written as a string.
func appendValue(dst []byte, v *fastjson.Value) []byte {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		dst = append(dst, '{')
		first := true
		o.Visit(func(key []byte, v *fastjson.Value) {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendString(dst, key)
			dst = append(dst, ':')
			dst = appendValue(dst, v)
		})
		return append(dst, '}')
	case fastjson.TypeArray:
		a, _ := v.Array()
		dst = append(dst, '[')
		for i, e := range a {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendValue(dst, e)
		}
		return append(dst, ']')
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		return appendString(dst, s)
	case fastjson.TypeNumber:
		start := len(dst)
		dst = v.MarshalTo(dst)
		if num := dst[start:]; !isJSONNumber(num) {
			text := string(num)
			return appendString(dst[:start], text)
		}
		return dst
	case fastjson.TypeTrue:
		return append(dst, "true"...)
	case fastjson.TypeFalse:
		return append(dst, "false"...)
	}
	return append(dst, "null"...)
}

// isJSONNumber reports whether b is a number per RFC 8259 section 6:
// -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
func isJSONNumber(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	n, why := checkNumber(b, 0)
	return why == "" && n == len(b)
}
