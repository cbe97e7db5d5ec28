package pricing

import (
	"errors"
	"strconv"
)

// AppendBatchOpen appends the start of a batch reply, {"items":[, to dst.
// A reply is AppendBatchOpen, then for i = 0, 1, ... in request order
// either AppendBatchItemQuote or AppendBatchItemError, then
// AppendBatchClose:
//
//	{"items":[{"product_id":"P-1",...,"source":"live"},{"error":{"status":404,"detail":"unknown product_id \"P-X\""}}]}
//
// None of them allocates when dst has room.
func AppendBatchOpen(dst []byte) []byte { return append(dst, `{"items":[`...) }

// AppendBatchClose appends the end of a batch reply, ]}, to dst.
func AppendBatchClose(dst []byte) []byte { return append(dst, "]}"...) }

// AppendBatchItemQuote appends item i's quote, the same object that
// POST /api/v1/price answers for it ([AppendQuote]), preceded by a comma
// unless i is 0.
func AppendBatchItemQuote(dst []byte, i int, q *Quote) []byte {
	if i > 0 {
		dst = append(dst, ',')
	}
	return AppendQuote(dst, q)
}

// AppendBatchItemError appends item i's failure, preceded by a comma
// unless i is 0: {"error":{"status":S,"detail":D}} where S and D are the
// status and the detail the single request would answer with (D is the
// pydantic list for a 422, its locations under ["body", "items", i]). An
// err that is not a *Error (see errors.As) is written as a 500.
func AppendBatchItemError(dst []byte, i int, err error) []byte {
	if i > 0 {
		dst = append(dst, ',')
	}
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: StatusInternalServerError, Detail: "internal error"}
	}
	dst = append(dst, `{"error":{"status":`...)
	dst = strconv.AppendInt(dst, int64(e.Status), 10)
	dst = append(dst, `,"detail":`...)
	if len(e.Fields) == 0 {
		dst = appendString(dst, e.Detail)
	} else {
		dst = appendFieldErrors(dst, e.Fields, i)
	}
	return append(dst, "}}"...)
}

// appendFieldErrors appends fields as a pydantic detail list. With item
// >= 0 each location ["body", rest...] becomes ["body", "items", item,
// rest...], the index a JSON number as FastAPI writes it.
func appendFieldErrors(dst []byte, fields []FieldError, item int) []byte {
	dst = append(dst, '[')
	for k := range fields {
		if k > 0 {
			dst = append(dst, ',')
		}
		f := &fields[k]
		dst = append(dst, `{"type":`...)
		dst = appendString(dst, f.Type)
		dst = append(dst, `,"loc":[`...)
		for j, l := range f.Loc {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, l)
			if j == 0 && item >= 0 {
				dst = append(dst, `,"items",`...)
				dst = strconv.AppendInt(dst, int64(item), 10)
			}
		}
		dst = append(dst, `],"msg":`...)
		dst = appendString(dst, f.Msg)
		if f.Input != nil {
			dst = append(dst, `,"input":`...)
			dst = append(dst, f.Input...)
		}
		if f.Ctx != nil {
			dst = append(dst, `,"ctx":`...)
			dst = append(dst, f.Ctx...)
		}
		dst = append(dst, '}')
	}
	return append(dst, ']')
}
