package quote

import (
	"encoding/base64"
	"errors"
	"testing"
	"time"
)

// FuzzVerify feeds the token decoder arbitrary text: it never panics,
// every refusal is an *Error with a reason and a detail, and whatever
// verifies is exactly the token made from its claims (one token per
// set of claims: no other spelling verifies).
func FuzzVerify(f *testing.F) {
	r := keyring(f, 10*time.Minute, Key{"k1", secretA}, Key{"k2", secretB})
	s := r.NewSigner()
	for _, c := range []Claims{
		{ProductID: []byte("P-1"), Location: []byte("NY"), Final: dec("49.99")},
		{ProductID: []byte("P-\"x"), Location: []byte("é"), Member: true, Final: dec("0.5"), List: dec("1"), Version: "v"},
	} {
		f.Add(token(&testing.T{}, s.AppendQuote(nil, &c, t0)))
	}
	for _, seed := range []string{"", "v1", "v1...", "v1.k1.e30.", "v1.k1.e30." + mac(secretA, "v1.k1.e30"), "v2.k1.a.b", "v1.k9.a.AAAA"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, tok []byte) {
		v := r.NewVerifier()
		c, err := v.Verify(tok, t0.Add(time.Minute))
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) || qe.Reason < Malformed || qe.Reason > Expired || qe.Detail == "" {
				t.Fatalf("Verify(%q): %#v", tok, err)
			}
			return
		}
		// Whatever verifies is the one token of its claims.
		secret := secretA
		if c.KeyID == "k2" {
			secret = secretB
		}
		body := "v1." + c.KeyID + "." + base64.RawURLEncoding.EncodeToString(appendPayload(nil, &c))
		if again := body + "." + mac(secret, body); again != string(tok) {
			t.Fatalf("verified %q, but its claims sign as %q", tok, again)
		}
	})
}
