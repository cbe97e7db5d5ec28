package pricing

import "strings"

// HTTP status codes this package attaches to errors. They are spelled out
// here so that the package does not depend on net/http.
const (
	StatusBadRequest          = 400
	StatusNotFound            = 404
	StatusUnprocessableEntity = 422
	StatusInternalServerError = 500
	StatusBadGateway          = 502
	StatusServiceUnavailable  = 503
)

// Error is the one error type [Decoder.Decode] and [Engine] return (or
// wrap; use errors.As). It carries the HTTP status and the response body.
type Error struct {
	// Status is the HTTP status code to answer with.
	Status int
	// RetryAfter is the Retry-After value in seconds; 0 means none.
	RetryAfter int
	// Detail is the text of a {"detail":"..."} body. It is unused when
	// Fields is not empty.
	Detail string
	// Fields, when not empty, makes the body a pydantic v2 style list
	// {"detail":[...]} with one entry per bad field (status 422).
	Fields []FieldError
	// Err is the underlying cause, if any (for logs; not in the body).
	Err error
}

// FieldError is one entry of a pydantic v2 validation error list, as
// FastAPI renders it: {"type":..,"loc":[..],"msg":..,"input":..,"ctx":{..}}.
type FieldError struct {
	Type string   // pydantic error type, e.g. "missing", "string_too_long"
	Loc  []string // location, e.g. ["body", "product_id"]
	Msg  string   // pydantic message, e.g. "Field required"
	// Input is the offending input as raw JSON text; nil omits "input".
	Input []byte
	// Ctx is the raw JSON object of the "ctx" member (e.g.
	// {"max_length":64}); nil omits it.
	Ctx []byte
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	if len(e.Fields) > 0 {
		b.WriteString("validation failed:")
		for i, f := range e.Fields {
			if i > 0 {
				b.WriteByte(';')
			}
			b.WriteByte(' ')
			b.WriteString(strings.Join(f.Loc, "."))
			b.WriteString(": ")
			b.WriteString(f.Msg)
		}
	} else {
		b.WriteString(e.Detail)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// AppendJSON appends the full response body, {"detail":...}, to dst.
func (e *Error) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	dst = appendDetailMember(dst, e, -1)
	return append(dst, '}')
}

// newDetailError builds a {"detail":"..."} error; 503s get Retry-After 1.
func newDetailError(status int, detail string, cause error) *Error {
	e := &Error{Status: status, Detail: detail, Err: cause}
	if status == StatusServiceUnavailable {
		e.RetryAfter = 1
	}
	return e
}
