package pricing

import (
	"errors"
	"strconv"

	"github.com/pricing-engine/pricing-engine/internal/jsonstr"
)

// detailInternal is the detail of a 500 whose cause is not a *Error: the
// one fallback text, for single replies and batch items alike.
const detailInternal = "internal server error"

// errorReply appends to dst the reply body of err, {"detail":D}, and
// returns it with the status and Retry-After seconds: a *Error (see
// errors.As) gives its own, anything else is a 500 "internal server
// error". With item >= 0 a 422's field locations are written under
// ["body", "items", item] (a batch item, see [AppendBatchItemError]).
func errorReply(dst []byte, err error, item int) (status, retryAfter int, body []byte) {
	var e *Error
	status = StatusInternalServerError
	if errors.As(err, &e) {
		status, retryAfter = e.Status, e.RetryAfter
	}
	dst = append(dst, '{')
	dst = appendDetailMember(dst, e, item)
	return status, retryAfter, append(dst, '}')
}

// appendDetailMember appends "detail":D for e, the member of both the
// single reply body and a batch item's error object; a nil e is the 500
// fallback.
func appendDetailMember(dst []byte, e *Error, item int) []byte {
	dst = append(dst, `"detail":`...)
	switch {
	case e == nil:
		return jsonstr.Append(dst, detailInternal)
	case len(e.Fields) == 0:
		return jsonstr.Append(dst, e.Detail)
	}
	return appendFieldErrors(dst, e.Fields, item)
}

// AppendBatchOpen appends the start of a batch reply, {"items":[, to dst.
// A reply is AppendBatchOpen, then for i = 0, 1, ... in request order
// either AppendBatchItemQuote or AppendBatchItemError, then
// AppendBatchClose:
//
//	{"items":[{"product_id":"P-1",...,"source":"live"},{"error":{"status":404,"detail":"unknown product_id \"P-X\""}}]}
//
// None of them allocates when dst has room. A [Loop] writes batch replies
// with them ([Loop.ServeBatch]).
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
// unless i is 0: {"error":{"status":S,"detail":D}} where S is the status
// and {"detail":D} the body the single request would answer with
// ([Exchange.Fail]), except that a 422's locations are under ["body",
// "items", i]. An err that is not a *Error (see errors.As) is a 500
// "internal server error".
func AppendBatchItemError(dst []byte, i int, err error) []byte {
	var e *Error
	status := StatusInternalServerError
	if errors.As(err, &e) {
		status = e.Status
	}
	dst = appendItemErrorOpen(dst, i, status)
	dst = appendDetailMember(dst, e, i)
	return append(dst, "}}"...)
}

// appendBatchItem appends item i's result from its finished Exchange: its
// quote, or its error object made from the reply the single request would
// have had (x.Body, {"detail":D}). It is the one encoder of a batch item
// that was looked up; AppendBatchItemError writes the same bytes for the
// same error.
func appendBatchItem(dst []byte, i int, x *Exchange) []byte {
	if x.Status == 200 {
		return AppendBatchItemQuote(dst, i, &x.Quote)
	}
	dst = appendItemErrorOpen(dst, i, x.Status)
	dst = append(dst, x.Body[1:]...) // "detail":D}
	return append(dst, '}')
}

// appendItemErrorOpen appends the start of item i's error object,
// {"error":{"status":S, preceded by a comma unless i is 0.
func appendItemErrorOpen(dst []byte, i, status int) []byte {
	if i > 0 {
		dst = append(dst, ',')
	}
	dst = append(dst, `{"error":{"status":`...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	return append(dst, ',')
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
		dst = jsonstr.Append(dst, f.Type)
		dst = append(dst, `,"loc":[`...)
		for j, l := range f.Loc {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = jsonstr.Append(dst, l)
			if j == 0 && item >= 0 {
				dst = append(dst, `,"items",`...)
				dst = strconv.AppendInt(dst, int64(item), 10)
			}
		}
		dst = append(dst, `],"msg":`...)
		dst = jsonstr.Append(dst, f.Msg)
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
