package pricing

import (
	"strconv"

	"github.com/valyala/fastjson"
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
}

// Len is the number of items.
func (b *Batch) Len() int { return len(b.Items) }

// reset empties b, keeping its buffers.
func (b *Batch) reset() {
	b.Items = b.Items[:0]
	clear(b.Errs)
	b.Errs = b.Errs[:0]
	b.Explain = false
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

// DecodeBatch parses a batch body into b. A nil error means the request as
// a whole is good: b.Items holds 1..MaxBatchItems items, each decoded or
// refused (b.Errs[i]) exactly as [Decoder.Decode] would decode or refuse
// it as a single body, and each item's Explain includes the batch's. An
// error is a *Error for the whole request:
//
//   - 400 {"detail":"invalid JSON: <why> at offset <n>"} if body is not
//     strict JSON or not an object (as for Decode; a leading byte-order
//     mark is ignored);
//   - 422 with a pydantic v2 shaped list, as FastAPI renders a model
//     {items: list[PriceRequest] (1..100), explain: bool = false}:
//     missing (no "items"), list_type (not a list),
//     too_short / too_long (0 or more than MaxBatchItems items, ctx
//     field_type, min_length or max_length, actual_length), and
//     bool_type / bool_parsing for a non-boolean "explain". Items are
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
	return d.decodeBatchTree(body, skip, b)
}

// scanBatch decodes without a tree the batch bodies whose items all take
// the fast path (scanObject): {"items":[...]} with 1..MaxBatchItems items
// and optionally "explain" as scanBool takes it, "items" at most once,
// other members skipped (checked) when their key has no escape. Anything
// else reports false and leaves b in an unspecified state.
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
		isItems, isExplain := false, false
		switch rest := body[j+1:]; {
		case hasPrefix(rest, FieldItems+`"`):
			isItems, j = true, j+len(FieldItems)+2
		case hasPrefix(rest, FieldExplain+`"`):
			isExplain, j = true, j+len(FieldExplain)+2
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
	return 0, false // empty, or too many: the tree path says which
}

// decodeBatchTree is DecodeBatch through a parsed JSON tree: every body
// scanBatch does not take, and every error. body[:skip] is a byte-order
// mark, skipped.
func (d *Decoder) decodeBatchTree(body []byte, skip int, b *Batch) error {
	v, err := d.parseObject(body, skip)
	if err != nil {
		return err
	}
	var items, explain *fastjson.Value
	v.GetObject().Visit(func(key []byte, v *fastjson.Value) {
		switch string(key) {
		case FieldItems:
			items = v
		case FieldExplain:
			explain = v
		}
	})
	var bad []FieldError // nil on the happy path: no allocation
	var list []*fastjson.Value
	switch {
	case items == nil:
		bad = append(bad, FieldError{Type: "missing", Loc: loc(FieldItems), Msg: "Field required", Input: appendValue(nil, v)})
	case items.Type() != fastjson.TypeArray:
		bad = append(bad, FieldError{Type: "list_type", Loc: loc(FieldItems), Msg: "Input should be a valid list", Input: appendValue(nil, items)})
	default:
		list, _ = items.Array()
		if n := len(list); n < MinBatchItems || n > MaxBatchItems {
			bad = append(bad, itemCountError(items, n))
		}
	}
	b.Explain, bad = decodeBool(FieldExplain, explain, bad)
	if len(bad) > 0 {
		return &Error{Status: StatusUnprocessableEntity, Fields: bad}
	}
	for k, item := range list {
		r := b.next()
		if item.Type() != fastjson.TypeObject {
			b.Errs[k] = &Error{Status: StatusUnprocessableEntity, Fields: []FieldError{{
				Type:  "model_type",
				Loc:   []string{"body"},
				Msg:   "Input should be a valid dictionary or instance of " + itemModel,
				Input: appendValue(nil, item),
				Ctx:   []byte(`{"class_name":"` + itemModel + `"}`),
			}}}
			continue
		}
		if fb := decodeFields(item, r, nil); len(fb) > 0 {
			b.Errs[k] = &Error{Status: StatusUnprocessableEntity, Fields: fb}
			continue
		}
		r.Explain = r.Explain || b.Explain
	}
	return nil
}

// itemCountError is pydantic's too_short / too_long for a list of n items.
func itemCountError(items *fastjson.Value, n int) FieldError {
	e := FieldError{Loc: loc(FieldItems), Input: appendValue(nil, items)}
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
