package quote

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/jsonstr"
	"github.com/pricing-engine/pricing-engine/money"
)

// MaxTokenLen bounds a token given to Verify: the longest a Signer makes
// (two 64-byte ids, a ruleset version and the rest) fits well below it.
const MaxTokenLen = 2048

// Reason says why a token was refused.
type Reason uint8

// Reasons a token is refused. A verifier checks in this order: the
// token's shape, its key id, its MAC, its payload, its expiry; a token
// refused for one reason was not checked for the later ones.
const (
	// Malformed: not four base64url fields of the version this package
	// writes, or a payload that is not a quote's.
	Malformed Reason = iota + 1
	// UnknownKey: no key with the token's key id is in use (never
	// issued, or removed since).
	UnknownKey
	// Tampered: the MAC does not match the version, key id and payload
	// (changed, swapped between tokens, or signed with another secret).
	Tampered
	// Expired: a genuine quote whose expires_at has passed.
	Expired
)

func (r Reason) String() string {
	switch r {
	case Malformed:
		return "malformed"
	case UnknownKey:
		return "unknown key"
	case Tampered:
		return "tampered"
	case Expired:
		return "expired"
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}

// Error is the error of Verify: why the token was refused, and the
// detail a reply can show (it quotes nothing secret).
type Error struct {
	Reason Reason
	Detail string
}

func (e *Error) Error() string { return e.Detail }

// Is makes errors.Is(err, &Error{Reason: r}) match any *Error with
// reason r.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason
}

func refuse(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// Verifier verifies tokens against the keys of its Keyring. It keeps an
// HMAC state per key, made again only when the keys change. It is not
// safe for concurrent use: use one per goroutine (or a sync.Pool).
type Verifier struct {
	r    *Keyring
	ks   *keySet
	macs []hash.Hash // by key index, made on first use
	sum  [sha256.Size]byte
	mac  [sha256.Size]byte
	buf  []byte // the decoded payload
	enc  []byte // the payload written again from its claims
}

// NewVerifier returns a Verifier over r's keys.
func (r *Keyring) NewVerifier() *Verifier { return &Verifier{r: r} }

// Verify checks token at now and returns its claims; the error is an
// *Error (see [Reason] for the order of the checks). The MAC is compared
// in constant time (hmac.Equal). The claims do not point into token.
func (v *Verifier) Verify(token []byte, now time.Time) (Claims, error) {
	var c Claims
	if len(token) > MaxTokenLen {
		return c, refuse(Malformed, "malformed token: longer than %d bytes", MaxTokenLen)
	}
	ver, rest, ok1 := bytes.Cut(token, []byte{'.'})
	kid, rest, ok2 := bytes.Cut(rest, []byte{'.'})
	body, macText, ok3 := bytes.Cut(rest, []byte{'.'})
	switch {
	case len(token) == 0:
		return c, refuse(Malformed, "malformed token: empty")
	case !ok1 || !ok2 || !ok3:
		return c, refuse(Malformed, "malformed token: want 4 fields separated by '.' (v1.<kid>.<payload>.<mac>)")
	case string(ver) != Version:
		return c, refuse(Malformed, "malformed token: version %q, want %q", truncate(ver), Version)
	case !validKeyID(kid):
		return c, refuse(Malformed, "malformed token: invalid key id %q", truncate(kid))
	case bytes.IndexByte(macText, '.') >= 0:
		return c, refuse(Malformed, "malformed token: more than 4 fields")
	case len(body) == 0:
		return c, refuse(Malformed, "malformed token: empty payload")
	}
	ks := v.r.cur.Load()
	if ks != v.ks {
		v.ks, v.macs = ks, make([]hash.Hash, len(ks.keys))
	}
	i := ks.find(kid)
	if i < 0 {
		return c, refuse(UnknownKey, "unknown key id %q", kid)
	}
	if !decodeMAC(&v.mac, macText) {
		return c, refuse(Malformed, "malformed token: the MAC is not %d bytes of base64url", sha256.Size)
	}
	if v.macs[i] == nil {
		v.macs[i] = hmac.New(sha256.New, ks.keys[i].Secret)
	}
	m := v.macs[i]
	m.Reset()
	m.Write(token[:len(token)-len(macText)-1])
	if !hmac.Equal(m.Sum(v.sum[:0]), v.mac[:]) {
		return c, refuse(Tampered, "tampered token: the MAC does not match (changed, swapped or signed with another secret)")
	}
	// A genuine token: its payload is one this package wrote, and what
	// follows only fails for a token signed with a leaked key by
	// something else.
	var err error
	v.buf, err = strictB64.AppendDecode(v.buf[:0], body)
	if err != nil {
		return c, refuse(Malformed, "malformed token: the payload is not base64url")
	}
	if v.enc, err = decodePayload(v.buf, v.enc, &c); err != nil {
		return c, refuse(Malformed, "malformed token: payload: %v", err)
	}
	c.KeyID = ks.keys[i].ID
	if now.Unix() >= c.ExpiresAt {
		return c, refuse(Expired, "quote expired at %s", time.Unix(c.ExpiresAt, 0).UTC().Format(time.RFC3339))
	}
	return c, nil
}

// decodePayload decodes the payload JSON b into c, reading the members
// in the order appendPayload writes them. The payload must be exactly
// what appendPayload writes for the claims it holds (checked by writing
// them again into scratch, which it returns), so one set of claims has
// one token.
func decodePayload(b, scratch []byte, c *Claims) ([]byte, error) {
	p := payloadReader{b: b}
	p.lit(`{"id":`)
	if id := p.str(); len(id) == IDLen && validID(id) {
		copy(c.ID[:], id)
	} else {
		p.fail("bad id")
	}
	p.lit(`,"issued_at":`)
	c.IssuedAt = p.int()
	p.lit(`,"expires_at":`)
	c.ExpiresAt = p.int()
	p.lit(`,"product_id":`)
	c.ProductID = p.str()
	p.lit(`,"user_location":`)
	c.Location = p.str()
	p.lit(`,"is_prime_member":`)
	c.Member = p.bool()
	p.lit(`,"final_price":`)
	c.Final = p.dec()
	if p.next(`,"list_price":`) {
		c.List = p.dec()
		p.lit(`,"ruleset_version":`)
		c.Version = string(p.str())
		if p.err == nil && c.Version == "" {
			p.fail("ruleset_version is empty")
		}
	}
	p.lit("}")
	if p.err == nil && len(p.b) > 0 {
		p.fail("data after the object")
	}
	if p.err != nil {
		return scratch, p.err
	}
	scratch = appendPayload(scratch[:0], c)
	if !bytes.Equal(scratch, b) {
		return scratch, errors.New("not in canonical form")
	}
	return scratch, nil
}

// payloadReader reads a payload from the front of b; the first failure
// sticks in err and makes every later read a no-op.
type payloadReader struct {
	b   []byte
	err error
}

func (p *payloadReader) fail(why string) {
	if p.err == nil {
		p.err = errors.New(why)
	}
	p.b = nil
}

// next consumes lit if b starts with it.
func (p *payloadReader) next(lit string) bool {
	if p.err == nil && bytes.HasPrefix(p.b, []byte(lit)) {
		p.b = p.b[len(lit):]
		return true
	}
	return false
}

func (p *payloadReader) lit(lit string) {
	if p.err == nil && !p.next(lit) {
		p.fail("want " + strconv.Quote(lit) + " at " + strconv.Quote(string(truncate(p.b))))
	}
}

// token returns the bytes up to the first of the stop characters.
func (p *payloadReader) token() []byte {
	i := bytes.IndexAny(p.b, ",}")
	if i < 0 {
		i = len(p.b)
	}
	t := p.b[:i]
	p.b = p.b[i:]
	return t
}

func (p *payloadReader) int() int64 {
	if p.err != nil {
		return 0
	}
	n, err := strconv.ParseInt(string(p.token()), 10, 64)
	if err != nil {
		p.fail("bad time")
	}
	return n
}

func (p *payloadReader) bool() bool {
	switch {
	case p.next("true"):
		return true
	case p.next("false"):
		return false
	}
	p.fail("bad is_prime_member")
	return false
}

func (p *payloadReader) dec() money.Decimal {
	if p.err != nil {
		return money.Decimal{}
	}
	d, err := money.Parse(string(p.token()))
	if err != nil {
		p.fail("bad price")
	}
	return d
}

// str reads a JSON string as jsonstr writes them: its escapes are all
// Go escapes too.
func (p *payloadReader) str() []byte {
	if p.err != nil {
		return nil
	}
	if len(p.b) == 0 || p.b[0] != '"' {
		p.fail("want a string")
		return nil
	}
	for i := 1; i < len(p.b); i++ {
		switch p.b[i] {
		case '\\':
			i++
		case '"':
			s, err := strconv.Unquote(string(p.b[:i+1]))
			if err != nil {
				p.fail("bad string")
				return nil
			}
			p.b = p.b[i+1:]
			return []byte(s)
		}
	}
	p.fail("unterminated string")
	return nil
}

// AppendVerified appends the reply of a token that verified:
//
//	{"valid":true,"id":"...","key_id":"k1","product_id":"P-123","user_location":"NY","is_prime_member":true,"final_price":45.12,"issued_at":"...","expires_at":"..."}
//
// list_price and ruleset_version follow final_price when the claims have
// them; times are RFC 3339 UTC.
func AppendVerified(dst []byte, c *Claims) []byte {
	dst = append(dst, `{"valid":true,"id":`...)
	dst = jsonstr.Append(dst, c.ID[:])
	dst = append(dst, `,"key_id":`...)
	dst = jsonstr.Append(dst, c.KeyID)
	dst = appendPrice(dst, c)
	dst = append(dst, `,"issued_at":"`...)
	dst = time.Unix(c.IssuedAt, 0).UTC().AppendFormat(dst, time.RFC3339)
	dst = append(dst, `","expires_at":"`...)
	dst = time.Unix(c.ExpiresAt, 0).UTC().AppendFormat(dst, time.RFC3339)
	return append(dst, `"}`...)
}

// validID reports whether id is base64url text.
func validID(id []byte) bool {
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// decodeMAC decodes the MAC field text into sum, reporting whether it is
// exactly a SHA-256 sum in unpadded base64url.
func decodeMAC(sum *[sha256.Size]byte, text []byte) bool {
	if len(text) != base64.RawURLEncoding.EncodedLen(sha256.Size) {
		return false
	}
	n, err := strictB64.Decode(sum[:], text)
	return err == nil && n == sha256.Size
}

// truncate bounds bad input quoted in a detail.
func truncate(b []byte) []byte {
	if len(b) > 16 {
		return b[:16]
	}
	return b
}

// strictB64 decodes unpadded base64url refusing non-zero trailing bits,
// so that one MAC or payload has exactly one spelling. It is read-only.
var strictB64 = base64.RawURLEncoding.Strict()
