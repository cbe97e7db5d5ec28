package httpparse

import (
	"errors"
	"net/http"
	"strconv"
)

// ErrIncomplete is returned by Parser.Parse when the bytes given so far are a
// valid prefix of a request but do not yet hold all of it. Call Parse again
// with the same bytes followed by more.
var ErrIncomplete = errors.New("httpparse: incomplete request")

// Error is a request the parser rejects. Status is the HTTP status code to
// answer with (400, 413, 414, 417, 431, 501 or 505) and Close reports whether
// the connection must be closed after the answer. Every error this parser
// returns today has Close set: after a rejected request the position of the
// next request in the byte stream is not known (or the client may still send
// a body nobody will read), so the only safe continuation is to close. The
// field exists so that callers key the decision on it rather than on Status.
//
// Reason is a short lowercase English phrase without any request bytes in
// it, safe to send to the client.
type Error struct {
	Status int
	Close  bool
	Reason string
}

// Error returns "httpparse: <status> <reason>".
func (e *Error) Error() string {
	return "httpparse: " + strconv.Itoa(e.Status) + " " + e.Reason
}

// Error constructors, one per status, so that every call site reads as the
// status it answers.

func errBad(reason string) *Error {
	return &Error{Status: http.StatusBadRequest, Close: true, Reason: reason}
}

func errTooLarge(reason string) *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Close: true, Reason: reason}
}

func errURITooLong(reason string) *Error {
	return &Error{Status: http.StatusRequestURITooLong, Close: true, Reason: reason}
}

func errExpectation(reason string) *Error {
	return &Error{Status: http.StatusExpectationFailed, Close: true, Reason: reason}
}

func errHeaderTooLarge(reason string) *Error {
	return &Error{Status: http.StatusRequestHeaderFieldsTooLarge, Close: true, Reason: reason}
}

func errNotImplemented(reason string) *Error {
	return &Error{Status: http.StatusNotImplemented, Close: true, Reason: reason}
}

func errVersion(reason string) *Error {
	return &Error{Status: http.StatusHTTPVersionNotSupported, Close: true, Reason: reason}
}
