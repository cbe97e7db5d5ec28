package pricing

import (
	"errors"
	"time"

	"github.com/pricing-engine/pricing-engine/pricer"
	"github.com/pricing-engine/pricing-engine/quote"
)

// FieldToken is the member of a POST /api/v1/quotes/verify body.
const FieldToken = "token"

// StatusGone is the status of a verified quote that has expired.
const StatusGone = 410

// detailQuotesOff is the text of every refusal made because the engine
// has no quote keys (Config.Quotes).
const detailQuotesOff = "quotes are not enabled"

// quotesOff is the 422 of a request that asks for a quote from an engine
// without keys, pydantic-shaped like the other field errors: a
// value_error located at the "quote" field (of the request, of a batch,
// or of a batch item once AppendBatchItemError places it).
func quotesOff() *Error {
	return &Error{Status: StatusUnprocessableEntity, Fields: []FieldError{{
		Type: "value_error",
		Loc:  loc(FieldQuote),
		Msg:  "Value error, " + detailQuotesOff,
	}}}
}

// quoteRefused reports whether r asks for a quote the engine cannot give.
func (e *Engine) quoteRefused(r *Request) bool { return r.Quote && e.cfg.Quotes == nil }

// signer takes a quote signer from the engine's pool (nil without
// keys), for callers that own a goroutine per request.
func (e *Engine) signer() *quote.Signer {
	if e.cfg.Quotes == nil {
		return nil
	}
	if s, ok := e.signers.Get().(*quote.Signer); ok {
		return s
	}
	return e.cfg.Quotes.NewSigner()
}

// putSigner returns a signer of signer to the pool.
func (e *Engine) putSigner(s *quote.Signer) {
	if s != nil {
		e.signers.Put(s)
	}
}

// sign sets x.Quote.Signed to the quote object of x's priced request,
// signed with x's signer, or clears it when the request asked for none.
// It does not allocate once x's buffer has grown.
func (x *Exchange) sign() {
	if !x.Req.Quote || x.signer == nil {
		x.Quote.Signed = nil
		return
	}
	q, c := &x.Quote, &x.claims
	c.ProductID, c.Location, c.Member = x.Req.ProductID, x.Req.Location, x.Req.Member
	c.Final, c.List, c.Version = q.Final, q.List, q.Version
	x.signed = x.signer.AppendQuote(x.signed[:0], c, x.start)
	q.Signed = x.signed
}

// VerifyQuote decodes body as a POST /api/v1/quotes/verify request,
// {"token":"..."}, and verifies the token against the engine's quote
// keys at the current time, making the reply in x: 200
// {"valid":true,...the signed fields} ([quote.AppendVerified]), 410 for
// an expired quote, 422 for a malformed or tampered token or an unknown
// key id (the detail says which), 422 "quotes are not enabled" without
// keys; 400/422 for a bad body as for a price request. x must be an
// *Exchange. It does not block and is safe for concurrent use with
// distinct exchanges.
func (e *Engine) VerifyQuote(px pricer.Exchange, body []byte) {
	x := exchange(px)
	dec := e.decoder()
	var err error
	x.scr, err = dec.DecodeToken(body, x.scr[:0])
	e.decoders.Put(dec)
	if err != nil {
		x.Fail(err)
		return
	}
	if e.cfg.Quotes == nil {
		setDetail(x, StatusUnprocessableEntity, 0, detailQuotesOff)
		return
	}
	v, _ := e.verifiers.Get().(*quote.Verifier)
	if v == nil {
		v = e.cfg.Quotes.NewVerifier()
	}
	c, err := v.Verify(x.scr, time.Now())
	e.verifiers.Put(v)
	var qe *quote.Error
	switch {
	case err == nil:
		x.Status, x.RetryAfter = 200, 0
		x.Body = quote.AppendVerified(x.Body[:0], &c)
	case errors.As(err, &qe) && qe.Reason == quote.Expired:
		setDetail(x, StatusGone, 0, qe.Detail)
	case qe != nil:
		setDetail(x, StatusUnprocessableEntity, 0, qe.Detail)
	default:
		x.Fail(err)
	}
}

// DecodeToken parses body as {"token":"..."} and appends the token to
// dst. Errors are *Error: 400 for a body that is not strict JSON or not
// an object (as [Decoder.Decode]); 422 pydantic-shaped for a missing
// token (missing) or one that is not a string (string_type). Unknown
// fields are ignored; of duplicate keys the last wins.
func (d *Decoder) DecodeToken(body, dst []byte) ([]byte, error) {
	skip := bomLen(body)
	b := body[skip:]
	obj, err := d.m.scanTop(b, skip)
	if err != nil {
		return dst, err
	}
	v := d.m.token
	switch {
	case v.end == 0:
		return dst, &Error{Status: StatusUnprocessableEntity, Fields: []FieldError{{Type: "missing", Loc: loc(FieldToken), Msg: "Field required", Input: appendCanonical(nil, b[obj.start:obj.end])}}}
	case b[v.start] != '"':
		return dst, &Error{Status: StatusUnprocessableEntity, Fields: []FieldError{{Type: "string_type", Loc: loc(FieldToken), Msg: "Input should be a valid string", Input: appendCanonical(nil, b[v.start:v.end])}}}
	}
	return unquote(dst, b[v.start+1:v.end-1]), nil
}
