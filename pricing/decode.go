package pricing

import (
	"bytes"
	"math"
	"strconv"

	"github.com/valyala/fastjson/fastfloat"

	"github.com/pricing-engine/pricing-engine/internal/jsonstr"
)

// Field names and bounds of the request body.
const (
	FieldProductID    = "product_id"
	FieldUserLocation = "user_location"
	FieldIsPrime      = "is_prime_member"
	FieldExplain      = "explain"
	FieldQuote        = "quote"

	// MinFieldLen and MaxFieldLen bound product_id and user_location, in
	// bytes. (pydantic counts characters; the contract counts bytes, which
	// is stricter for non-ASCII text and is what the lookups key on.)
	MinFieldLen = 1
	MaxFieldLen = 64
)

// Batch request body (POST /api/v1/prices).
const (
	FieldItems = "items"

	// MinBatchItems and MaxBatchItems bound the number of items of a
	// batch; outside them the whole request is refused with 422.
	MinBatchItems = 1
	MaxBatchItems = 100

	// itemModel is the name FastAPI would give the item model in a
	// model_type error (the OpenAPI schema of an item).
	itemModel = "PriceRequest"
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
	// Quote asks for a signed quote of the price (the optional "quote"
	// field; in a batch, also set by the batch's own "quote").
	Quote bool
}

// Reset empties r, keeping its buffers.
func (r *Request) Reset() {
	r.ProductID = r.ProductID[:0]
	r.Location = r.Location[:0]
	r.Member = false
	r.Explain = false
	r.Quote = false
}

// Batch is a decoded batch request: {"items":[{...},...],"explain":false}.
// It is meant to be reused: DecodeBatch reslices Items and Errs and
// decodes into the Requests already there, so after warm-up decoding a
// batch does not allocate. Everything in it stays valid until the next
// DecodeBatch into it.
type Batch struct {
	// Items holds one Request per item, in request order. Items[i] is
	// meaningful only when Errs[i] is nil. Each item's Explain is true
	// when the item or the batch asks for an explanation.
	Items []Request
	// Errs has one entry per item: nil for a good item, or the 422 *Error
	// of a bad one. Its Fields are located as in a single request
	// (["body", field], or ["body"] for an item that is not an object);
	// [AppendBatchItemError] renders them under ["body", "items", i].
	Errs []*Error
	// Explain is the batch's own "explain" field (default false).
	Explain bool
	// Quote is the batch's own "quote" field (default false).
	Quote bool
}

// Len is the number of items.
func (b *Batch) Len() int { return len(b.Items) }

// reset empties b, keeping its buffers.
func (b *Batch) reset() {
	b.Items = b.Items[:0]
	clear(b.Errs)
	b.Errs = b.Errs[:0]
	b.Explain = false
	b.Quote = false
}

// next appends an item slot and returns its Request, reusing the Request
// (and its buffers) that an earlier batch left there.
func (b *Batch) next() *Request {
	if n := len(b.Items); n < cap(b.Items) {
		b.Items = b.Items[:n+1]
	} else {
		b.Items = append(b.Items, Request{})
	}
	b.Errs = append(b.Errs, nil)
	return &b.Items[len(b.Items)-1]
}

// Decoder decodes request bodies, single ([Decoder.Decode]) and batch
// ([Decoder.DecodeBatch]). It owns the buffers of its full path and is
// NOT safe for concurrent use: use one Decoder per event loop or
// goroutine. The zero Decoder is ready to use.
type Decoder struct {
	m members
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
// is_prime_member, explain and quote are optional (default false) and, like
// pydantic v2 in lax mode, accept true/false, the numbers 0 and 1 (also
// 0.0 and 1.0), and the strings 0/1/f/t/n/y/no/yes/off/on/false/true in
// any case. Unknown fields are ignored; of duplicate keys the last wins,
// as in Python's json module.
//
// The bodies clients send (the fields as plain strings, the booleans as
// literals, 0/1 or lax strings, unknown members) take a fast path that
// decodes while it checks; any other body (an escape in a field, 1.0 for
// a boolean) and every error take the full path, which checks the body
// once and decodes the values it noted, with the same result.
//
// Decode does not retain body. It does not allocate on success once r's
// buffers have grown.
func (d *Decoder) Decode(body []byte, r *Request) error {
	skip := bomLen(body)
	if decodeFast(body[skip:], r) {
		return nil
	}
	return d.decodeFull(body, skip, r)
}

// decodeFull is Decode's full path: every body that decodeFast does not
// take, and every error. body[:skip] is a byte-order mark, skipped.
func (d *Decoder) decodeFull(body []byte, skip int, r *Request) error {
	b := body[skip:]
	obj, err := d.m.scanTop(b, skip)
	if err != nil {
		return err
	}
	if bad := d.m.decode(b, obj, r, nil); len(bad) > 0 {
		return &Error{Status: StatusUnprocessableEntity, Fields: bad}
	}
	return nil
}

// DecodeBatch parses a batch body into b. A nil error means the request as
// a whole is good: b.Items holds 1..MaxBatchItems items, each decoded or
// refused (b.Errs[i]) exactly as [Decoder.Decode] would decode or refuse
// it as a single body, and each item's Explain and Quote include the
// batch's. An
// error is a *Error for the whole request:
//
//   - 400 {"detail":"invalid JSON: <why> at offset <n>"} if body is not
//     strict JSON or not an object (as for Decode; a leading byte-order
//     mark is ignored);
//   - 422 with a pydantic v2 shaped list, as FastAPI renders a model
//     {items: list[PriceRequest] (1..100), explain: bool = false,
//     quote: bool = false}:
//     missing (no "items"), list_type (not a list),
//     too_short / too_long (0 or more than MaxBatchItems items, ctx
//     field_type, min_length or max_length, actual_length), and
//     bool_type / bool_parsing for a non-boolean "explain" or "quote". Items are
//     not looked at when the request as a whole is refused.
//
// Unknown fields are ignored; of duplicate keys the last wins. DecodeBatch
// does not retain body. It does not allocate on success once b's buffers
// have grown (a bad item's *Error is allocated).
func (d *Decoder) DecodeBatch(body []byte, b *Batch) error {
	skip := bomLen(body)
	b.reset()
	if scanBatch(body[skip:], b) {
		return nil
	}
	b.reset()
	return d.decodeBatchFull(body, skip, b)
}

// decodeBatchFull is DecodeBatch's full path: every body scanBatch does
// not take, and every error. body[:skip] is a byte-order mark, skipped.
func (d *Decoder) decodeBatchFull(body []byte, skip int, b *Batch) error {
	buf := body[skip:]
	m := &d.m
	obj, err := m.scanTop(buf, skip)
	if err != nil {
		return err
	}
	items, explain, quote := m.items, m.explain, m.quote
	var bad []FieldError // nil on the happy path: no allocation
	switch {
	case items.end == 0:
		bad = append(bad, FieldError{Type: "missing", Loc: loc(FieldItems), Msg: "Field required", Input: appendCanonical(nil, buf[obj.start:obj.end])})
	case buf[items.start] != '[':
		bad = append(bad, FieldError{Type: "list_type", Loc: loc(FieldItems), Msg: "Input should be a valid list", Input: appendCanonical(nil, buf[items.start:items.end])})
	default:
		// The items are decoded as they are counted; a request refused
		// as a whole drops them.
		n := 0
		for i := firstElement(buf, items.start); i >= 0; n++ {
			var end int
			if n < MaxBatchItems {
				end = d.decodeItem(buf, i, b)
			} else {
				end, _ = checkValue(buf, i, 3)
			}
			i = nextElement(buf, end)
		}
		if n < MinBatchItems || n > MaxBatchItems {
			bad = append(bad, itemCountError(buf[items.start:items.end], n))
		}
	}
	b.Explain, bad = m.decodeBool(FieldExplain, buf, explain, bad)
	b.Quote, bad = m.decodeBool(FieldQuote, buf, quote, bad)
	if len(bad) > 0 {
		b.reset()
		return &Error{Status: StatusUnprocessableEntity, Fields: bad}
	}
	for k := range b.Items {
		if b.Errs[k] == nil {
			b.Items[k].Explain = b.Items[k].Explain || b.Explain
			b.Items[k].Quote = b.Items[k].Quote || b.Quote
		}
	}
	return nil
}

// decodeItem decodes the checked item that starts at buf[i] into the
// next slot of b, and returns the offset after it.
func (d *Decoder) decodeItem(buf []byte, i int, b *Batch) (end int) {
	k, r := len(b.Items), b.next()
	if buf[i] != '{' {
		end, _ = checkValue(buf, i, 3)
		b.Errs[k] = &Error{Status: StatusUnprocessableEntity, Fields: []FieldError{{
			Type:  "model_type",
			Loc:   []string{"body"},
			Msg:   "Input should be a valid dictionary or instance of " + itemModel,
			Input: appendCanonical(nil, buf[i:end]),
			Ctx:   []byte(`{"class_name":"` + itemModel + `"}`),
		}}}
		return end
	}
	d.m.reset()
	end, _ = checkObject(buf, i, 3, &d.m) // checked: this only notes the members
	if bad := d.m.decode(buf, span{i, end}, r, nil); len(bad) > 0 {
		b.Errs[k] = &Error{Status: StatusUnprocessableEntity, Fields: bad}
	}
	return end
}

// decode decodes into r the request object b[obj.start:obj.end], whose
// members m has noted, appending to bad one entry per bad field, located
// as in a single request (["body", field]).
func (m *members) decode(b []byte, obj span, r *Request, bad []FieldError) []FieldError {
	r.ProductID, bad = decodeString(r.ProductID[:0], FieldProductID, b, m.pid, obj, bad)
	r.Location, bad = decodeString(r.Location[:0], FieldUserLocation, b, m.location, obj, bad)
	r.Member, bad = m.decodeBool(FieldIsPrime, b, m.member, bad)
	r.Explain, bad = m.decodeBool(FieldExplain, b, m.explain, bad)
	r.Quote, bad = m.decodeBool(FieldQuote, b, m.quote, bad)
	return bad
}

func loc(field string) []string { return []string{"body", field} }

// decodeString appends to dst the required string field whose value is
// b[v.start:v.end] in the object b[obj.start:obj.end].
func decodeString(dst []byte, field string, b []byte, v, obj span, bad []FieldError) ([]byte, []FieldError) {
	if v.end == 0 {
		return dst, append(bad, FieldError{Type: "missing", Loc: loc(field), Msg: "Field required", Input: appendCanonical(nil, b[obj.start:obj.end])})
	}
	if b[v.start] != '"' {
		return dst, append(bad, FieldError{Type: "string_type", Loc: loc(field), Msg: "Input should be a valid string", Input: appendCanonical(nil, b[v.start:v.end])})
	}
	s := unquote(dst, b[v.start+1:v.end-1])
	switch n := len(s) - len(dst); {
	case n < MinFieldLen:
		return s[:len(dst)], append(bad, FieldError{Type: "string_too_short", Loc: loc(field),
			Msg: "String should have at least 1 character", Input: jsonstr.Append(nil, s[len(dst):]), Ctx: []byte(`{"min_length":1}`)})
	case n > MaxFieldLen:
		return s[:len(dst)], append(bad, FieldError{Type: "string_too_long", Loc: loc(field),
			Msg: "String should have at most 64 characters", Input: jsonstr.Append(nil, s[len(dst):]), Ctx: []byte(`{"max_length":64}`)})
	}
	return s, bad
}

// decodeBool decodes the optional lax boolean field whose value is
// b[v.start:v.end] (absent is false).
func (m *members) decodeBool(field string, b []byte, v span, bad []FieldError) (bool, []FieldError) {
	if v.end == 0 {
		return false, bad
	}
	switch c := b[v.start]; {
	case c == 't':
		return true, bad
	case c == 'f':
		return false, bad
	case c == '"':
		m.buf = unquote(m.buf[:0], b[v.start+1:v.end-1])
		if value, ok := parseLaxBool(m.buf); ok {
			return value, bad
		}
		return false, append(bad, boolParsing(field, jsonstr.Append(nil, m.buf)))
	case c == '-' || isDigit(c):
		num := b[v.start:v.end]
		f, err := parseFloat(num)
		switch {
		case err != nil:
			// not representable: pydantic would fail the int/float step
		case f == 0:
			return false, bad
		case f == 1:
			return true, bad
		case math.Trunc(f) == f && !math.IsInf(f, 0):
			// an integer other than 0/1
			return false, append(bad, boolParsing(field, bytes.Clone(num)))
		}
	}
	return false, append(bad, FieldError{Type: "bool_type", Loc: loc(field),
		Msg: "Input should be a valid boolean", Input: appendCanonical(nil, b[v.start:v.end])})
}

// parseFloat reads the checked JSON number num as the decoder always has:
// with fastfloat, which rounds some numbers with an exponent differently
// from strconv (0.14e4 is not quite 1400), and so decides between
// bool_type and bool_parsing for them. Without an exponent the two agree,
// and strconv does not allocate.
func parseFloat(num []byte) (float64, error) {
	if !bytes.ContainsAny(num, "eE") {
		return strconv.ParseFloat(string(num), 64)
	}
	return fastfloat.Parse(string(num))
}

func boolParsing(field string, input []byte) FieldError {
	return FieldError{Type: "bool_parsing", Loc: loc(field),
		Msg: "Input should be a valid boolean, unable to interpret input", Input: input}
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

// itemCountError is pydantic's too_short / too_long for the checked list
// items of n items.
func itemCountError(items []byte, n int) FieldError {
	e := FieldError{Loc: loc(FieldItems), Input: appendCanonical(nil, items)}
	count := strconv.Itoa(n)
	if n < MinBatchItems {
		e.Type = "too_short"
		e.Msg = "List should have at least " + strconv.Itoa(MinBatchItems) + " item after validation, not " + count
		e.Ctx = []byte(`{"field_type":"List","min_length":` + strconv.Itoa(MinBatchItems) + `,"actual_length":` + count + `}`)
	} else {
		e.Type = "too_long"
		e.Msg = "List should have at most " + strconv.Itoa(MaxBatchItems) + " items after validation, not " + count
		e.Ctx = []byte(`{"field_type":"List","max_length":` + strconv.Itoa(MaxBatchItems) + `,"actual_length":` + count + `}`)
	}
	return e
}
