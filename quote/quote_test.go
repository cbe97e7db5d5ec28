package quote

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/money"
)

var (
	secretA = bytes.Repeat([]byte{0xa1}, 32)
	secretB = bytes.Repeat([]byte{0xb2}, 40)
	t0      = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
)

func keyring(t testing.TB, ttl time.Duration, keys ...Key) *Keyring {
	t.Helper()
	r, err := New(keys, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func dec(s string) money.Decimal {
	d, err := money.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// sign returns the quote object and its token for c.
func sign(t testing.TB, r *Keyring, c Claims, now time.Time) (obj map[string]string, token []byte) {
	t.Helper()
	out := r.NewSigner().AppendQuote([]byte("prefix"), &c, now)
	if !bytes.HasPrefix(out, []byte("prefix")) {
		t.Fatalf("AppendQuote lost dst: %s", out)
	}
	obj = map[string]string{}
	if err := json.Unmarshal(out[len("prefix"):], &obj); err != nil {
		t.Fatalf("quote object %s: %v", out, err)
	}
	return obj, []byte(obj["token"])
}

// mac is HMAC-SHA256 as a checkout computes it, in base64url.
func mac(secret []byte, input string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func TestSignVerify(t *testing.T) {
	r := keyring(t, 15*time.Minute, Key{"k2", secretB}, Key{"k1", secretA})
	for _, tc := range []struct {
		name    string
		c       Claims
		payload string
	}{
		{"seed", Claims{ProductID: []byte("P-123"), Location: []byte("NY"), Member: true, Final: dec("45.12")},
			`{"id":"ID","issued_at":1796634000,"expires_at":1796634900,"product_id":"P-123","user_location":"NY","is_prime_member":true,"final_price":45.12}`},
		{"rules", Claims{ProductID: []byte("P-1"), Location: []byte("SF"), Final: dec("50"), List: dec("52.5"), Version: "2026-12-a"},
			`{"id":"ID","issued_at":1796634000,"expires_at":1796634900,"product_id":"P-1","user_location":"SF","is_prime_member":false,"final_price":50,"list_price":52.5,"ruleset_version":"2026-12-a"}`},
		{"escapes", Claims{ProductID: []byte("P-\"é\\\n"), Location: []byte("Zürich"), Final: dec("0.05")},
			`{"id":"ID","issued_at":1796634000,"expires_at":1796634900,"product_id":"P-\"é\\\n","user_location":"Zürich","is_prime_member":false,"final_price":0.05}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj, token := sign(t, r, tc.c, t0.Add(500*time.Millisecond))
			if obj["expires_at"] != "2026-12-07T09:15:00Z" {
				t.Errorf("expires_at %q", obj["expires_at"])
			}
			f := strings.Split(string(token), ".")
			if len(f) != 4 || f[0] != "v1" || f[1] != "k2" {
				t.Fatalf("token %s", token)
			}
			p, err := base64.RawURLEncoding.DecodeString(f[2])
			want := strings.Replace(tc.payload, `"id":"ID"`, `"id":"`+obj["id"]+`"`, 1)
			if err != nil || string(p) != want || len(obj["id"]) != IDLen {
				t.Errorf("payload %s (%v),\nwant    %s", p, err, want)
			}
			// The MAC as the package comment defines it.
			if want := mac(secretB, "v1.k2."+f[2]); f[3] != want {
				t.Errorf("mac %s, want %s", f[3], want)
			}
			c, err := r.NewVerifier().Verify(token, t0.Add(14*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if c.KeyID != "k2" || string(c.ID[:]) != obj["id"] || !bytes.Equal(c.ProductID, tc.c.ProductID) || !bytes.Equal(c.Location, tc.c.Location) ||
				c.Member != tc.c.Member || c.Final.Cmp(tc.c.Final) != 0 || c.List.Cmp(tc.c.List) != 0 || c.Version != tc.c.Version ||
				c.IssuedAt != t0.Unix() || c.ExpiresAt != t0.Add(15*time.Minute).Unix() {
				t.Errorf("claims %+v, signed %+v", c, tc.c)
			}
			var v map[string]any
			out := AppendVerified(nil, &c)
			if err := json.Unmarshal(out, &v); err != nil || v["valid"] != true || v["id"] != obj["id"] || v["issued_at"] != "2026-12-07T09:00:00Z" {
				t.Errorf("verified reply %s (%v)", out, err)
			}
		})
	}
}

// TestRefused holds every kind of bad token to its reason and detail.
func TestRefused(t *testing.T) {
	r := keyring(t, 10*time.Minute, Key{"k1", secretA})
	c := Claims{ProductID: []byte("P-1"), Location: []byte("NY"), Final: dec("49.99")}
	_, good := sign(t, r, c, t0)
	_, other := sign(t, r, Claims{ProductID: []byte("P-2"), Location: []byte("NY"), Final: dec("1")}, t0)
	f := strings.Split(string(good), ".")
	g := strings.Split(string(other), ".")
	// forged is a token over payload p signed with secret under kid.
	forged := func(kid string, secret []byte, p string) string {
		b := base64.RawURLEncoding.EncodeToString([]byte(p))
		return "v1." + kid + "." + b + "." + mac(secret, "v1."+kid+"."+b)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(f[2])
	cheaper := strings.Replace(string(payload), "49.99", "4.99", 1)
	flipLast := func(s string) string {
		b := []byte(s)
		b[len(b)-1] ^= 1
		return string(b)
	}
	now := t0.Add(time.Minute)
	for _, tc := range []struct {
		name   string
		token  string
		reason Reason
		detail string
	}{
		{"empty", "", Malformed, "malformed token: empty"},
		{"one field", "v1", Malformed, "want 4 fields"},
		{"three fields", strings.Join(f[:3], "."), Malformed, "want 4 fields"},
		{"five fields", string(good) + ".x", Malformed, "more than 4 fields"},
		{"other version", "v2." + strings.Join(f[1:], "."), Malformed, `version "v2", want "v1"`},
		{"bad key id", "v1.k/1." + f[2] + "." + f[3], Malformed, "invalid key id"},
		{"empty key id", "v1.." + f[2] + "." + f[3], Malformed, "invalid key id"},
		{"empty payload", "v1.k1.." + f[3], Malformed, "empty payload"},
		{"too long", "v1.k1." + strings.Repeat("A", MaxTokenLen) + "." + f[3], Malformed, "longer than 2048 bytes"},
		{"truncated mac", string(good[:len(good)-1]), Malformed, "the MAC is not 32 bytes"},
		{"mac not base64", strings.Join(f[:3], ".") + "." + strings.Repeat("*", 43), Malformed, "the MAC is not 32 bytes"},
		{"mac with trailing bits", strings.Join(f[:3], ".") + "." + flipLast(f[3]), Malformed, "the MAC is not 32 bytes"},
		{"unknown key id", "v1.k9." + f[2] + "." + f[3], UnknownKey, `unknown key id "k9"`},
		{"re-signed with an unknown key", forged("k9", secretB, cheaper), UnknownKey, `unknown key id "k9"`},
		{"re-signed with another secret", forged("k1", secretB, cheaper), Tampered, "tampered token"},
		{"payload changed", "v1.k1." + base64.RawURLEncoding.EncodeToString([]byte(cheaper)) + "." + f[3], Tampered, "tampered token"},
		{"payload swapped", "v1.k1." + g[2] + "." + f[3], Tampered, "tampered token"},
		{"mac swapped", "v1.k1." + f[2] + "." + g[3], Tampered, "tampered token"},
		{"truncated payload", "v1.k1." + f[2][:len(f[2])-1] + "." + f[3], Tampered, "tampered token"},
		{"signed garbage", forged("k1", secretA, `{"id":"AAAAAAAAAAAAAAAA","issued_at":1}`), Malformed, `want ",\"expires_at\":"`},
		{"signed short id", forged("k1", secretA, strings.Replace(string(payload), `{"id":"`, `{"id":"x`, 1)), Malformed, "bad id"},
		{"signed unknown member", forged("k1", secretA, strings.Replace(string(payload), `{`, `{"x":1,`, 1)), Malformed, `want "{\"id\":"`},
		{"signed non-JSON", forged("k1", secretA, "hello"), Malformed, "malformed token: payload"},
		{"expired", string(good), Expired, "quote expired at 2026-12-07T09:10:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at := now
			if tc.reason == Expired {
				at = t0.Add(10 * time.Minute) // the second it expires
			}
			_, err := r.NewVerifier().Verify([]byte(tc.token), at)
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("Verify: %v, want a *quote.Error", err)
			}
			if qe.Reason != tc.reason || !strings.Contains(qe.Detail, tc.detail) {
				t.Errorf("Verify: %v (%v), want %v with %q", qe.Reason, qe.Detail, tc.reason, tc.detail)
			}
			if !errors.Is(err, &Error{Reason: tc.reason}) {
				t.Error("errors.Is does not match the reason")
			}
		})
	}
	// The token itself still verifies a second before it expires.
	if _, err := r.NewVerifier().Verify(good, t0.Add(10*time.Minute-time.Second)); err != nil {
		t.Errorf("a second before expiry: %v", err)
	}
}

// TestRotation: the first key signs, all verify; a token's key removed,
// it no longer verifies.
func TestRotation(t *testing.T) {
	r := keyring(t, time.Minute, Key{"k1", secretA})
	s, v := r.NewSigner(), r.NewVerifier()
	c := Claims{ProductID: []byte("P-1"), Location: []byte("NY"), Final: dec("1")}
	old := s.AppendQuote(nil, &c, t0)
	r.cur.Store(&keySet{keys: []Key{{"k2", secretB}, {"k1", secretA}}})
	if _, err := v.Verify(token(t, old), t0); err != nil {
		t.Fatalf("old token during rotation: %v", err)
	}
	s.AppendQuote(nil, &c, t0)
	if c.KeyID != "k2" {
		t.Errorf("signed with %q after rotation, want k2", c.KeyID)
	}
	r.cur.Store(&keySet{keys: []Key{{"k2", secretB}}})
	if _, err := v.Verify(token(t, old), t0); !errors.Is(err, &Error{Reason: UnknownKey}) {
		t.Errorf("old token after its key was removed: %v", err)
	}
}

func token(t *testing.T, obj []byte) []byte {
	t.Helper()
	var o struct{ Token string }
	if err := json.Unmarshal(obj, &o); err != nil {
		t.Fatal(err)
	}
	return []byte(o.Token)
}

// TestIDsUnique: the same claims signed in the same second twice, by one
// signer or by two, make distinct quotes.
func TestIDsUnique(t *testing.T) {
	r := keyring(t, time.Minute, Key{"k1", secretA})
	c := Claims{ProductID: []byte("P-1"), Location: []byte("NY"), Final: dec("1")}
	seen := map[string]bool{}
	for _, s := range []*Signer{r.NewSigner(), r.NewSigner()} {
		for range 3 {
			tok := string(token(t, s.AppendQuote(nil, &c, t0)))
			if seen[tok] || seen[string(c.ID[:])] {
				t.Fatalf("repeated token or id %s", c.ID)
			}
			seen[tok], seen[string(c.ID[:])] = true, true
		}
	}
}

func TestSignAllocs(t *testing.T) {
	r := keyring(t, time.Minute, Key{"k1", secretA})
	s := r.NewSigner()
	c := Claims{ProductID: []byte("P-123"), Location: []byte("NY"), Final: dec("45.12"), List: dec("47.49"), Version: "v12"}
	buf := s.AppendQuote(nil, &c, t0)
	if n := testing.AllocsPerRun(100, func() { buf = s.AppendQuote(buf[:0], &c, t0) }); n != 0 {
		t.Errorf("AppendQuote: %v allocations, want 0", n)
	}
}

// TestLongestToken: the longest claims a request can carry (64-byte ids
// of characters JSON escapes 6 bytes long, a 64-byte ruleset version, a
// 32-byte key id) make a token that fits MaxTokenLen and verifies.
func TestLongestToken(t *testing.T) {
	kid := strings.Repeat("k", MaxKeyIDLen)
	r := keyring(t, time.Minute, Key{kid, secretA})
	c := Claims{
		ProductID: bytes.Repeat([]byte{0x01}, 64),
		Location:  bytes.Repeat([]byte("\u2028"), 21),
		Member:    true,
		Final:     dec("999999999999.99"),
		List:      dec("-0.000000000000000001"),
		Version:   strings.Repeat("v", 64),
	}
	_, tok := sign(t, r, c, t0)
	if len(tok) > MaxTokenLen {
		t.Fatalf("token of %d bytes, over MaxTokenLen %d", len(tok), MaxTokenLen)
	}
	got, err := r.NewVerifier().Verify(tok, t0)
	if err != nil || !bytes.Equal(got.ProductID, c.ProductID) || !bytes.Equal(got.Location, c.Location) {
		t.Fatalf("Verify: %v, claims %+v", err, got)
	}
	t.Logf("longest token: %d bytes", len(tok))
}
