package quote

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	mrand "math/rand/v2"
	"strconv"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/jsonstr"
	"github.com/pricing-engine/pricing-engine/money"
)

// Version is the token format's version, its first field.
const Version = "v1"

// IDLen is the length of a quote id: the base64url text of 12 random
// bytes.
const IDLen = 16

// Claims are the signed fields of a quote.
type Claims struct {
	// ID is the quote's id (set by the Signer): 96 random bits, so
	// unique per quote for all practical purposes, and telling nothing
	// (not how many quotes were given).
	ID [IDLen]byte
	// KeyID is the id of the key that signed (set by the Signer, read by
	// the Verifier).
	KeyID string
	// ProductID and Location are the request's product_id and
	// user_location, as decoded.
	ProductID []byte
	Location  []byte
	// Member is the request's is_prime_member.
	Member bool
	// Final is the final price of the reply.
	Final money.Decimal
	// List and Version are the list price and the ruleset version of a
	// price made by rules; Version "" (no rules) leaves both out of the
	// token.
	List    money.Decimal
	Version string
	// IssuedAt and ExpiresAt are Unix seconds (set by the Signer).
	IssuedAt, ExpiresAt int64
}

// Signer signs quotes with the first key of its Keyring. It keeps one
// HMAC state, made again only when the Keyring's keys change, and a
// scratch buffer: after warm-up signing does not allocate. It is not
// safe for concurrent use: use one per event loop or goroutine.
type Signer struct {
	r   *Keyring
	rng *mrand.ChaCha8 // the ids: a cryptographic generator, seeded from crypto/rand
	ks  *keySet        // the keys mac was made for
	mac hash.Hash      // HMAC-SHA256 with ks.keys[0]'s secret
	buf []byte         // the payload JSON
	sum [sha256.Size]byte
}

// NewSigner returns a Signer over r's keys.
func (r *Keyring) NewSigner() *Signer {
	var seed [32]byte
	rand.Read(seed[:]) // never fails (crypto/rand, Go 1.24 and later)
	return &Signer{r: r, rng: mrand.NewChaCha8(seed)}
}

// AppendQuote signs c, issued at now and valid for the Keyring's TTL,
// and appends the quote object to dst:
//
//	{"id":"<16 characters>","expires_at":"2026-12-07T09:15:00Z","token":"v1.<kid>.<payload>.<mac>"}
//
// It sets c.ID, c.KeyID, c.IssuedAt and c.ExpiresAt. The token covers
// only whole seconds: issued_at is now truncated to the second.
func (s *Signer) AppendQuote(dst []byte, c *Claims, now time.Time) []byte {
	ks := s.r.cur.Load()
	if ks != s.ks {
		s.ks = ks
		s.mac = hmac.New(sha256.New, ks.keys[0].Secret)
	}
	k := &ks.keys[0]
	c.KeyID = k.ID
	var raw [12]byte
	_, _ = s.rng.Read(raw[:]) // never fails
	base64.RawURLEncoding.Encode(c.ID[:], raw[:])
	c.IssuedAt = now.Unix()
	c.ExpiresAt = c.IssuedAt + int64(s.r.ttl/time.Second)

	dst = append(dst, `{"id":"`...)
	dst = append(dst, c.ID[:]...)
	dst = append(dst, `","expires_at":"`...)
	dst = time.Unix(c.ExpiresAt, 0).UTC().AppendFormat(dst, time.RFC3339)
	dst = append(dst, `","token":"`...)
	tok := len(dst)
	dst = append(dst, Version+"."...)
	dst = append(dst, k.ID...)
	dst = append(dst, '.')
	s.buf = appendPayload(s.buf[:0], c)
	dst = base64.RawURLEncoding.AppendEncode(dst, s.buf)
	s.mac.Reset()
	s.mac.Write(dst[tok:])
	sum := s.mac.Sum(s.sum[:0])
	dst = append(dst, '.')
	dst = base64.RawURLEncoding.AppendEncode(dst, sum)
	return append(dst, `"}`...)
}

// appendPayload appends the payload JSON of c (see the package comment).
func appendPayload(dst []byte, c *Claims) []byte {
	dst = append(dst, `{"id":"`...)
	dst = append(dst, c.ID[:]...)
	dst = append(dst, `","issued_at":`...)
	dst = strconv.AppendInt(dst, c.IssuedAt, 10)
	dst = append(dst, `,"expires_at":`...)
	dst = strconv.AppendInt(dst, c.ExpiresAt, 10)
	dst = appendPrice(dst, c)
	return append(dst, '}')
}

// appendPrice appends the fields of c's price, each after a comma, in the
// order the payload and the verified reply share: product_id,
// user_location, is_prime_member, final_price, then list_price and
// ruleset_version when c has a ruleset version.
func appendPrice(dst []byte, c *Claims) []byte {
	dst = append(dst, `,"product_id":`...)
	dst = jsonstr.Append(dst, c.ProductID)
	dst = append(dst, `,"user_location":`...)
	dst = jsonstr.Append(dst, c.Location)
	dst = append(dst, `,"is_prime_member":`...)
	dst = strconv.AppendBool(dst, c.Member)
	dst = append(dst, `,"final_price":`...)
	dst = c.Final.Append(dst)
	if c.Version != "" {
		dst = append(dst, `,"list_price":`...)
		dst = c.List.Append(dst)
		dst = append(dst, `,"ruleset_version":`...)
		dst = jsonstr.Append(dst, c.Version)
	}
	return dst
}
