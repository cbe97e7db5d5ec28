package pricing

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/money"
	"github.com/pricing-engine/pricing-engine/quote"
	"github.com/pricing-engine/pricing-engine/rules"
)

func testKeyring(t testing.TB) *quote.Keyring {
	t.Helper()
	r, err := quote.New([]quote.Key{{ID: "k1", Secret: bytes.Repeat([]byte("s"), 32)}}, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// quoted is a price reply with its quote, as a client reads it.
type quoted struct {
	ProductID string  `json:"product_id"`
	Final     float64 `json:"final_price"`
	List      float64 `json:"list_price"`
	Version   string  `json:"ruleset_version"`
	Quote     *struct {
		ID        string `json:"id"`
		ExpiresAt string `json:"expires_at"`
		Token     string `json:"token"`
	} `json:"quote"`
}

// checkQuoted checks that reply carries a quote whose token verifies
// with r and signs what the reply says, for the request's location and
// membership.
func checkQuoted(t *testing.T, r *quote.Keyring, reply []byte, loc string, member bool) quoted {
	t.Helper()
	var q quoted
	if err := json.Unmarshal(reply, &q); err != nil {
		t.Fatalf("reply %s: %v", reply, err)
	}
	if q.Quote == nil {
		t.Fatalf("reply %s has no quote", reply)
	}
	if !bytes.HasSuffix(reply, []byte(`,"quote":{"id":"`+q.Quote.ID+`","expires_at":"`+q.Quote.ExpiresAt+`","token":"`+q.Quote.Token+`"}}`)) {
		t.Errorf("the quote is not the reply's last member: %s", reply)
	}
	c, err := r.NewVerifier().Verify([]byte(q.Quote.Token), time.Now())
	if err != nil {
		t.Fatalf("token of %s: %v", reply, err)
	}
	if string(c.ProductID) != q.ProductID || string(c.Location) != loc || c.Member != member ||
		c.Final.String() != jsonNumber(t, reply, "final_price") || c.Version != q.Version {
		t.Errorf("token claims %+v, reply %s", c, reply)
	}
	if q.Version != "" && c.List.String() != jsonNumber(t, reply, "list_price") {
		t.Errorf("token list price %v, reply %s", c.List, reply)
	}
	if exp := time.Unix(c.ExpiresAt, 0).UTC().Format(time.RFC3339); exp != q.Quote.ExpiresAt || c.ExpiresAt-c.IssuedAt != 15*60 {
		t.Errorf("expires_at %s, token %d..%d", q.Quote.ExpiresAt, c.IssuedAt, c.ExpiresAt)
	}
	if string(c.ID[:]) != q.Quote.ID {
		t.Errorf("id %s, token's %s", q.Quote.ID, c.ID)
	}
	return q
}

// jsonNumber returns the text of the number member name of a flat object.
func jsonNumber(t *testing.T, obj []byte, name string) string {
	t.Helper()
	_, after, ok := bytes.Cut(obj, []byte(`"`+name+`":`))
	if !ok {
		t.Fatalf("%s has no %s", obj, name)
	}
	end := bytes.IndexAny(after, ",}")
	return string(after[:end])
}

func TestQuoteSingle(t *testing.T) {
	mem := memorySource(t)
	ring := testKeyring(t)
	for _, src := range []lookup.Source{mem, &syncSource{answer: mem.Answer}} {
		e := NewEngine(src, Config{Quotes: ring})
		plain := NewEngine(src, Config{})
		l, lp := e.NewLoop(), plain.NewLoop()
		var x, y Exchange
		for _, tc := range []struct {
			body   string
			loc    string
			member bool
		}{
			{`{"product_id":"P-123","user_location":"NY","is_prime_member":true,"quote":true}`, "NY", true},
			{`{"quote":"yes","product_id":"P-7","user_location":"Z\u00fcrich"}`, "Zürich", false},
		} {
			loopServe(t, l, &x, tc.body, false)
			if x.Status != 200 {
				t.Fatalf("%s: %d %s", tc.body, x.Status, x.Body)
			}
			checkQuoted(t, ring, x.Body, tc.loc, tc.member)
			// The same request without a quote answers the bytes it
			// always did, keys or not.
			noQuote := strings.NewReplacer(`"quote":true`, `"quote":false`, `"quote":"yes"`, `"quote":"no"`).Replace(tc.body)
			loopServe(t, l, &x, noQuote, false)
			loopServe(t, lp, &y, noQuote, false)
			if x.Status != 200 || !bytes.Equal(x.Body, y.Body) || bytes.Contains(x.Body, []byte(`"quote"`)) {
				t.Errorf("without quote: %s, without keys: %s", x.Body, y.Body)
			}
			// The blocking path signs too.
			e.Price(&y, []byte(tc.body))
			if y.Status != 200 {
				t.Fatalf("Price: %d %s", y.Status, y.Body)
			}
			checkQuoted(t, ring, y.Body, tc.loc, tc.member)
		}
	}
}

func TestQuoteRules(t *testing.T) {
	ring := testKeyring(t)
	rs := parseRules(t, testRules)
	e := NewEngine(memorySource(t), Config{Quotes: ring, Rules: func() *rules.Ruleset { return rs }})
	var x Exchange
	e.Price(&x, []byte(`{"product_id":"P-1","user_location":"NY","is_prime_member":true,"explain":true,"quote":true}`))
	q := checkQuoted(t, ring, x.Body, "NY", true)
	if q.Version != "t1" || q.List == 0 {
		t.Errorf("rules reply %s", x.Body)
	}
}

func TestQuoteBatch(t *testing.T) {
	mem := memorySource(t)
	ring := testKeyring(t)
	for _, src := range []lookup.Source{mem, &syncSource{answer: mem.Answer}} {
		l := NewEngine(src, Config{Quotes: ring}).NewLoop()
		var x Exchange
		for _, tc := range []struct {
			name   string
			body   string
			quoted []bool // per item
		}{
			{"for the batch", `{"quote":true,"items":[{"product_id":"P-1","user_location":"NY"},{"product_id":"P-1","user_location":"NY"},{"product_id":"P-X","user_location":"NY"}]}`, []bool{true, true, false}},
			{"per item", `{"items":[{"product_id":"P-1","user_location":"NY"},{"product_id":"P-2","user_location":"LA","is_prime_member":1,"quote":1}]}`, []bool{false, true}},
		} {
			loopServe(t, l, &x, tc.body, true)
			items := batchItems(t, x.Body)
			if x.Status != 200 || len(items) != len(tc.quoted) {
				t.Fatalf("%s: %d %s", tc.name, x.Status, x.Body)
			}
			ids := map[string]bool{}
			for i, it := range items {
				has := strings.Contains(it, `"quote":{`)
				if has != tc.quoted[i] {
					t.Errorf("%s: item %d: %s", tc.name, i, it)
				}
				if has {
					var r Request
					var d Decoder
					var bb Batch
					_ = d.DecodeBatch([]byte(tc.body), &bb)
					r = bb.Items[i]
					q := checkQuoted(t, ring, []byte(it), string(r.Location), r.Member)
					if ids[q.Quote.ID] {
						t.Errorf("%s: item %d repeats a quote id", tc.name, i)
					}
					ids[q.Quote.ID] = true
				}
			}
			if strings.Contains(items[len(items)-1], "P-X") && !strings.Contains(items[len(items)-1], `"status":404`) {
				t.Errorf("unknown product: %s", items[len(items)-1])
			}
		}
	}
}

// TestQuotesNotEnabled: asking for a quote from an engine without keys is
// a 422 located at the field that asked, wherever it is.
func TestQuotesNotEnabled(t *testing.T) {
	e := NewEngine(memorySource(t), Config{})
	l := e.NewLoop()
	var x Exchange
	for _, tc := range []struct {
		name   string
		body   string
		batch  bool
		status int
		want   string
	}{
		{"single", `{"product_id":"P-1","user_location":"NY","quote":true}`, false, 422,
			`{"detail":[{"type":"value_error","loc":["body","quote"],"msg":"Value error, quotes are not enabled"}]}`},
		{"single, lax", `{"product_id":"P-1","user_location":"NY","quote":"on"}`, false, 422,
			`{"detail":[{"type":"value_error","loc":["body","quote"],"msg":"Value error, quotes are not enabled"}]}`},
		{"single, off", `{"product_id":"P-1","user_location":"CHI","quote":false}`, false, 200,
			`{"product_id":"P-1","final_price":50.99,"base_price":50.99,"market_multiplier":1,"discount_rate":0,"source":"live"}`},
		{"batch", `{"items":[{"product_id":"P-1","user_location":"NY"}],"quote":true}`, true, 422,
			`{"detail":[{"type":"value_error","loc":["body","quote"],"msg":"Value error, quotes are not enabled"}]}`},
		{"item", `{"items":[{"product_id":"P-1","user_location":"CHI"},{"product_id":"P-1","user_location":"CHI","quote":true}]}`, true, 200,
			`{"items":[{"product_id":"P-1","final_price":50.99,"base_price":50.99,"market_multiplier":1,"discount_rate":0,"source":"live"},` +
				`{"error":{"status":422,"detail":[{"type":"value_error","loc":["body","items",1,"quote"],"msg":"Value error, quotes are not enabled"}]}}]}`},
	} {
		loopServe(t, l, &x, tc.body, tc.batch)
		if x.Status != tc.status || string(x.Body) != tc.want {
			t.Errorf("%s: %d %s\nwant %d %s", tc.name, x.Status, x.Body, tc.status, tc.want)
		}
		if tc.batch {
			e.PriceBatch(&x, []byte(tc.body))
		} else {
			e.Price(&x, []byte(tc.body))
		}
		if x.Status != tc.status || string(x.Body) != tc.want {
			t.Errorf("%s (blocking): %d %s", tc.name, x.Status, x.Body)
		}
	}
	e.VerifyQuote(&x, []byte(`{"token":"v1.k1.a.b"}`))
	if x.Status != 422 || string(x.Body) != `{"detail":"quotes are not enabled"}` {
		t.Errorf("verify without keys: %d %s", x.Status, x.Body)
	}
}

func TestVerifyQuote(t *testing.T) {
	ring := testKeyring(t)
	e := NewEngine(memorySource(t), Config{Quotes: ring})
	var goodID string
	sign := func(pid string, at time.Time) string {
		c := quote.Claims{ProductID: []byte(pid), Location: []byte("NY"), Final: mustDecimal(t, "49.99")}
		var q struct{ Token string }
		if err := json.Unmarshal(ring.NewSigner().AppendQuote(nil, &c, at), &q); err != nil {
			t.Fatal(err)
		}
		goodID = string(c.ID[:])
		return q.Token
	}
	now := time.Now()
	good := sign("P-1", now)
	id := goodID
	f := strings.Split(good, ".")
	other := strings.Split(sign("P-2", now), ".")
	for _, tc := range []struct {
		name   string
		body   string
		status int
		want   string // the body, or a prefix of it ending in '…'
	}{
		{"valid", `{"token":"` + good + `"}`, 200, `{"valid":true,"id":"` + id + `","key_id":"k1","product_id":"P-1","user_location":"NY","is_prime_member":false,"final_price":49.99,"issued_at":"` +
			now.UTC().Format(time.RFC3339) + `","expires_at":"` + now.Add(15*time.Minute).UTC().Format(time.RFC3339) + `"}`},
		{"expired", `{"token":"` + sign("P-1", now.Add(-16*time.Minute)) + `"}`, 410, `{"detail":"quote expired at …`},
		{"tampered", `{"token":"` + f[0] + "." + f[1] + "." + other[2] + "." + f[3] + `"}`, 422, `{"detail":"tampered token: the MAC does not match (changed, swapped or signed with another secret)"}`},
		{"unknown key", `{"token":"v1.k7.` + f[2] + "." + f[3] + `"}`, 422, `{"detail":"unknown key id \"k7\""}`},
		{"malformed", `{"token":"v1.k1.` + f[2] + `"}`, 422, `{"detail":"malformed token: want 4 fields separated by '.' (v1.<kid>.<payload>.<mac>)"}`},
		{"escaped token", `{"token":"` + strings.Replace(good, ".", `\u002e`, 1) + `"}`, 200, `{"valid":true,…`},
		{"missing token", `{"tok":"x"}`, 422, `{"detail":[{"type":"missing","loc":["body","token"],"msg":"Field required","input":{"tok":"x"}}]}`},
		{"token not a string", `{"token":7}`, 422, `{"detail":[{"type":"string_type","loc":["body","token"],"msg":"Input should be a valid string","input":7}]}`},
		{"not JSON", `{"token":`, 400, `{"detail":"invalid JSON: …`},
		{"not an object", `["x"]`, 400, `{"detail":"invalid JSON: expected an object at the top level, got array"}`},
	} {
		var x Exchange
		e.VerifyQuote(&x, []byte(tc.body))
		want, prefix := strings.CutSuffix(tc.want, "…")
		if x.Status != tc.status || prefix && !strings.HasPrefix(string(x.Body), want) || !prefix && string(x.Body) != want {
			t.Errorf("%s: %d %s\nwant %d %s", tc.name, x.Status, x.Body, tc.status, tc.want)
		}
	}
}

// TestQuoteAllocs: a quoted request allocates no more than an unquoted
// one (nothing), single or batch, inline or pending.
func TestQuoteAllocs(t *testing.T) {
	single := []byte(`{"product_id":"P-123","user_location":"NY","is_prime_member":true,"quote":true}`)
	batch := []byte(`{"quote":true,"items":[{"product_id":"P-123","user_location":"NY"},{"product_id":"P-1","user_location":"LA","is_prime_member":true},{"product_id":"P-2","user_location":"MIA"}]}`)
	checkServeAllocs(t, Config{Quotes: testKeyring(t)}, single, batch, func(x *Exchange) bool {
		return x.Status == 200 && bytes.Contains(x.Body, []byte(`"token":"v1.k1.`))
	})
}

func mustDecimal(t testing.TB, s string) money.Decimal {
	t.Helper()
	d, err := money.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// FuzzDecodeToken: the verification body decoder never panics, refuses
// with a 400/422 *Error whose body is JSON, and what it accepts is the
// "token" string encoding/json reads from the same body (the last of
// duplicates).
func FuzzDecodeToken(f *testing.F) {
	for _, s := range []string{
		`{"token":"v1.k1.e30.AAAA"}`, `{"token":"a\u002eb","x":[1,{}]}`, `{"token":1}`, `{}`, `[`,
		`{"token":"a","token":"b"}`, "\xef\xbb\xbf" + `{"token":""}`, `{"token":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var d Decoder
		tok, err := d.DecodeToken(body, nil)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Status != StatusBadRequest && pe.Status != StatusUnprocessableEntity || !json.Valid(pe.AppendJSON(nil)) {
				t.Fatalf("DecodeToken(%q): %v", body, err)
			}
			return
		}
		// A map keeps keys exactly (a struct field would match "TOKEN").
		var obj map[string]json.RawMessage
		var ref string
		b := bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
		if json.Unmarshal(b, &obj) != nil || json.Unmarshal(obj["token"], &ref) != nil {
			t.Fatalf("DecodeToken(%q) accepted %q; encoding/json does not", body, tok)
		}
		if utf8.ValidString(ref) && !strings.Contains(ref, "\ufffd") && string(tok) != ref {
			t.Fatalf("DecodeToken(%q) = %q, encoding/json %q", body, tok, ref)
		}
	})
}
