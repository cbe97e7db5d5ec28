package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pricing-engine/pricing-engine/internal/redistest"
	"github.com/pricing-engine/pricing-engine/internal/testfile"
	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/lookup/redisstore"
	"github.com/pricing-engine/pricing-engine/money"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*call).DelayDo.func1"),
		// rueidis' cluster client, after a slot move, refreshes its
		// topology once more 5 s later, even when closed meanwhile.
		goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*clusterClient)._refresh.func2"))
}

// Tokens of the tests' tokens file.
const (
	writeToken = "w-0123456789abcdef0123"
	readToken  = "r-0123456789abcdef0123"
)

// backend is a store under test and a way to read what the price path
// serves for a product.
type backend struct {
	name  string
	open  func(t *testing.T) (lookup.Writer, func(id string) (string, bool))
	redis bool
}

func memoryBackend(t *testing.T) (lookup.Writer, func(id string) (string, bool)) {
	cat, mk, err := lookup.Default()
	if err != nil {
		t.Fatal(err)
	}
	s := lookup.NewMemoryStore(cat, mk, lookup.MemoryStoreOptions{})
	return s, func(id string) (string, bool) {
		c := &lookup.Call{ProductID: []byte(id), Location: []byte("NY")}
		s.Answer(c)
		if c.Err != nil {
			return "", false
		}
		return c.Base.String(), true
	}
}

// norm is a decimal's shortest form, as the price path reports it.
func norm(s string) string {
	d, err := money.Parse(s)
	if err != nil {
		return "invalid " + s
	}
	return d.String()
}

// unversioned are products every backend holds as written outside the
// API (the embedded catalog, or a raw SET): version 0.
var unversioned = []string{"P-2", "P-3", "P-4", "P-5"}

func redisBackend(t *testing.T) (lookup.Writer, func(id string) (string, bool)) {
	srv := redistest.Start(t, redistest.Options{})
	st := openStore(t, srv.URL())
	srv.MustDo("SET", "pricing:product:P-1", "50.99")
	srv.MustDo("SET", "pricing:market:NY", "1.10")
	for _, id := range unversioned {
		srv.MustDo("SET", "pricing:product:"+id, "20.00")
	}
	return st.Writer(redisstore.WriterOptions{}), func(id string) (string, bool) {
		v, err := srv.Do("GET", "pricing:product:"+id)
		if err != nil || v == "(nil)" {
			return "", false
		}
		return norm(v), true
	}
}

// clusterBackend is a three-node Redis Cluster: each write's script runs
// on the node of its value key's slot.
func clusterBackend(t *testing.T) (lookup.Writer, func(id string) (string, bool)) {
	c := redistest.StartCluster(t, 3)
	st := openStore(t, c.URL())
	seed := map[string]string{"pricing:product:P-1": "50.99", "pricing:market:NY": "1.10"}
	for _, id := range unversioned {
		seed["pricing:product:"+id] = "20.00"
	}
	for k, v := range seed {
		c.Node(t, k).MustDo("SET", k, v)
	}
	return st.Writer(redisstore.WriterOptions{}), func(id string) (string, bool) {
		key := "pricing:product:" + id
		v, err := c.Node(t, key).Do("GET", key)
		if err != nil || v == "(nil)" {
			return "", false
		}
		return norm(v), true
	}
}

func openStore(t testing.TB, url string) *redisstore.Store {
	t.Helper()
	st, err := redisstore.Open(context.Background(), redisstore.Options{
		URL: url, CacheEntries: 1000,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

var backends = []backend{
	{name: "memory", open: memoryBackend},
	{name: "redis", open: redisBackend, redis: true},
	{name: "cluster", open: clusterBackend, redis: true},
}

// fixture is an admin API on a real HTTP server.
type fixture struct {
	t      *testing.T
	url    string
	tokens string // the tokens file
	store  lookup.Writer
	served func(id string) (string, bool)
}

func newFixture(t *testing.T, b backend) *fixture {
	t.Helper()
	st, served := b.open(t)
	f := &fixture{t: t, store: st, served: served}
	f.tokens = filepath.Join(t.TempDir(), "tokens")
	f.writeTokens("# test tokens\nalice write " + writeToken + "\nbob read " + readToken + "\n")
	tk, err := LoadTokens(f.tokens)
	if err != nil {
		t.Fatal(err)
	}
	h := New(Config{Store: st, Tokens: tk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// writeTokens replaces the tokens file as docs/ADMIN.md tells operators
// to: written aside, then renamed over it, so a watcher never reads half
// a file.
func (f *fixture) writeTokens(content string) {
	f.t.Helper()
	testfile.Replace(f.t, f.tokens, content)
}

// reply is one HTTP exchange's result.
type reply struct {
	status int
	header http.Header
	body   string
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("reply %d is not a JSON object: %v\n%s", r.status, err, r.body)
	}
	return m
}

// do sends a request with a raw target (not cleaned), token and headers
// given as "Name: value" strings.
func (f *fixture) do(method, target, token, body string, headers ...string) reply {
	f.t.Helper()
	return rawDo(f.t, f.url, method, target, token, body, headers...)
}

// rawDo writes the request line by hand so that targets such as
// "/admin/v1/products/../x" reach the server unchanged.
func rawDo(t *testing.T, base, method, target, token, body string, headers ...string) reply {
	t.Helper()
	addr := strings.TrimPrefix(base, "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, target, addr)
	if token != "" {
		fmt.Fprintf(&b, "Authorization: Bearer %s\r\n", token)
	}
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	if body != "" || method == "PUT" || method == "POST" {
		fmt.Fprintf(&b, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n" + body)
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(method, base+"/", nil)
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: strings.TrimSpace(string(rb))}
}

func (f *fixture) expect(r reply, status int) reply {
	f.t.Helper()
	if r.status != status {
		f.t.Fatalf("status %d, want %d\n%s", r.status, status, r.body)
	}
	if status != http.StatusNoContent && r.header.Get("Content-Type") != "application/json" {
		f.t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
	}
	return r
}

func eachBackend(t *testing.T, test func(t *testing.T, f *fixture)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, newFixture(t, b)) })
	}
}

func TestDisabledWithoutTokens(t *testing.T) {
	st, _ := memoryBackend(t)
	srv := httptest.NewServer(New(Config{Store: st}))
	defer srv.Close()
	for _, m := range []string{"GET", "PUT", "DELETE", "POST"} {
		r := rawDo(t, srv.URL, m, "/admin/v1/products/P-1", writeToken, "")
		if r.status != 403 || r.body != `{"detail":"admin API disabled: no --admin-tokens-file"}` {
			t.Errorf("%s: %d %s", m, r.status, r.body)
		}
	}
}

func TestAuth(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		for _, tc := range []struct {
			name, method, token string
			headers             []string
			status              int
		}{
			{"no token", "GET", "", nil, 401},
			{"unknown token", "GET", "nope-0123456789abcdef", nil, 401},
			{"basic scheme", "GET", "", []string{"Authorization: Basic " + writeToken}, 401},
			{"read token reads", "GET", readToken, nil, 200},
			{"lower-case scheme", "GET", "", []string{"Authorization: bearer " + readToken}, 200},
			{"read token writes", "PUT", readToken, []string{"If-Match: \"0\""}, 403},
			{"read token deletes", "DELETE", readToken, []string{"If-Match: \"0\""}, 403},
		} {
			t.Run(tc.name, func(t *testing.T) {
				body := ""
				if tc.method == "PUT" {
					body = `{"base_price":"1"}`
				}
				r := f.do(tc.method, "/admin/v1/products/P-1", tc.token, body, tc.headers...)
				f.expect(r, tc.status)
				if tc.status == 401 && r.header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				if strings.Contains(r.body, writeToken) || strings.Contains(r.body, readToken) {
					t.Error("reply quotes a token")
				}
			})
		}
		// A refused write changed nothing.
		if v, _ := f.served("P-1"); v != norm("50.99") {
			t.Errorf("P-1 = %q after refused writes", v)
		}
	})
}

func TestEntryLifecycle(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		const p = "/admin/v1/products/P-NEW"
		f.expect(f.do("GET", p, readToken, ""), 404)
		// Neither If-Match nor If-None-Match: 428.
		f.expect(f.do("PUT", p, writeToken, `{"base_price":"10.00"}`), 428)
		// Create.
		r := f.expect(f.do("PUT", p, writeToken, `{"base_price":"10.00"}`, "If-None-Match: *"), 201)
		if r.header.Get("ETag") != `"1"` {
			t.Errorf("create ETag %q", r.header.Get("ETag"))
		}
		m := r.json(t)
		if m["product_id"] != "P-NEW" || m["base_price"] != "10.00" || m["version"] != "1" || m["updated_by"] != "alice" {
			t.Errorf("create reply %s", r.body)
		}
		if _, err := time.Parse(time.RFC3339, m["updated_at"].(string)); err != nil {
			t.Errorf("updated_at: %v", err)
		}
		if v, ok := f.served("P-NEW"); !ok || v != norm("10.00") {
			t.Errorf("served %q %v after create", v, ok)
		}
		// Create again: 412 with the current ETag.
		r = f.expect(f.do("PUT", p, writeToken, `{"base_price":"11"}`, "If-None-Match: *"), 412)
		if r.header.Get("ETag") != `"1"` {
			t.Errorf("412 ETag %q", r.header.Get("ETag"))
		}
		// Update with a stale ETag: 412; with the current one: 200.
		f.expect(f.do("PUT", p, writeToken, `{"base_price":"11"}`, `If-Match: "7"`), 412)
		f.expect(f.do("PUT", p, writeToken, `{"base_price":"11"}`, `If-Match: W/"1"`), 400)
		r = f.expect(f.do("PUT", p, writeToken, `{"base_price":12.5}`, `If-Match: "1"`), 200)
		if r.header.Get("ETag") != `"2"` || r.json(t)["base_price"] != "12.5" {
			t.Errorf("update: ETag %q body %s", r.header.Get("ETag"), r.body)
		}
		// GET.
		r = f.expect(f.do("GET", p, readToken, ""), 200)
		if r.header.Get("ETag") != `"2"` || r.json(t)["base_price"] != "12.5" {
			t.Errorf("get: ETag %q body %s", r.header.Get("ETag"), r.body)
		}
		// Delete: 428 without If-Match, 412 stale, 204.
		f.expect(f.do("DELETE", p, writeToken, ""), 428)
		f.expect(f.do("DELETE", p, writeToken, "", `If-Match: "1"`), 412)
		r = f.do("DELETE", p, writeToken, "", `If-Match: "2"`)
		if r.status != 204 || r.body != "" {
			t.Fatalf("delete: %d %q", r.status, r.body)
		}
		f.expect(f.do("GET", p, readToken, ""), 404)
		if _, ok := f.served("P-NEW"); ok {
			t.Error("deleted product still served")
		}
		// Versions continue after a delete: the next create is 4.
		r = f.expect(f.do("PUT", p, writeToken, `{"base_price":"9"}`, "If-None-Match: *"), 201)
		if r.header.Get("ETag") != `"4"` {
			t.Errorf("re-create ETag %q, want \"4\"", r.header.Get("ETag"))
		}
	})
}

func TestUnversionedEntry(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		// P-1 was written outside the API (CSV, raw SET): version 0.
		r := f.expect(f.do("GET", "/admin/v1/products/P-1", readToken, ""), 200)
		if r.header.Get("ETag") != `"0"` || r.body != `{"product_id":"P-1","base_price":"50.99","version":"0","updated_at":null,"updated_by":null}` {
			t.Errorf("got ETag %q %s", r.header.Get("ETag"), r.body)
		}
		f.expect(f.do("PUT", "/admin/v1/products/P-1", writeToken, `{"base_price":"51"}`, `If-Match: "0"`), 200)
		// Markets, the default market included.
		f.expect(f.do("PUT", "/admin/v1/markets/*", writeToken, `{"multiplier":"1.25"}`, `If-Match: *`), statusOfDefaultMarket(t, f))
		r = f.expect(f.do("PUT", "/admin/v1/markets/NY", writeToken, `{"multiplier":"1.10"}`, `If-Match: "0"`), 200)
		if m := r.json(t); m["location"] != "NY" || m["multiplier"] != "1.10" || m["version"] != "1" {
			t.Errorf("market reply %s", r.body)
		}
	})
}

// statusOfDefaultMarket is what If-Match: * on the default market
// answers: 200 when the store has a "*" row (the embedded markets), 412
// when not (the Redis fixture has none).
func statusOfDefaultMarket(t *testing.T, f *fixture) int {
	rec, err := f.store.Read(context.Background(), lookup.Ref{Kind: lookup.KindMarket, ID: "*"})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Exists {
		return 200
	}
	return 412
}

func TestBadInput(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		for _, tc := range []struct {
			name, method, target, body string
			headers                    []string
			status                     int
			detail                     string // a substring of the reply
		}{
			{"malformed JSON", "PUT", "/admin/v1/products/P-1", `{"base_price":`, []string{`If-Match: "0"`}, 400, "invalid JSON"},
			{"not an object", "PUT", "/admin/v1/products/P-1", `["1"]`, []string{`If-Match: "0"`}, 400, "JSON object"},
			{"empty body", "PUT", "/admin/v1/products/P-1", ``, []string{`If-Match: "0"`}, 400, "empty body"},
			{"unknown field", "PUT", "/admin/v1/products/P-1", `{"base_price":"1","x":1}`, []string{`If-Match: "0"`}, 422, `"extra_forbidden"`},
			{"missing value", "PUT", "/admin/v1/products/P-1", `{}`, []string{`If-Match: "0"`}, 422, `"missing"`},
			{"not a decimal", "PUT", "/admin/v1/products/P-1", `{"base_price":"12,50"}`, []string{`If-Match: "0"`}, 422, `"decimal_parsing"`},
			{"exponent", "PUT", "/admin/v1/products/P-1", `{"base_price":1e3}`, []string{`If-Match: "0"`}, 422, `"decimal_parsing"`},
			{"boolean", "PUT", "/admin/v1/products/P-1", `{"base_price":true}`, []string{`If-Match: "0"`}, 422, `"decimal_type"`},
			{"zero price", "PUT", "/admin/v1/products/P-1", `{"base_price":"0"}`, []string{`If-Match: "0"`}, 422, `"greater_than"`},
			{"price too high", "PUT", "/admin/v1/products/P-1", `{"base_price":"1000000000.01"}`, []string{`If-Match: "0"`}, 422, `"less_than_equal"`},
			{"multiplier too high", "PUT", "/admin/v1/markets/NY", `{"multiplier":"100.5"}`, []string{`If-Match: "0"`}, 422, `"less_than_equal"`},
			{"price field on a market", "PUT", "/admin/v1/markets/NY", `{"base_price":"1"}`, []string{`If-Match: "0"`}, 422, `"extra_forbidden"`},
			{"wrong content type", "PUT", "/admin/v1/products/P-1", `{"base_price":"1"}`, []string{`If-Match: "0"`, "Content-Type: text/plain"}, 415, "Content-Type"},
			{"both conditions", "PUT", "/admin/v1/products/P-1", `{"base_price":"1"}`, []string{`If-Match: "0"`, "If-None-Match: *"}, 400, "not both"},
			{"If-None-Match tag", "PUT", "/admin/v1/products/P-1", `{"base_price":"1"}`, []string{`If-None-Match: "3"`}, 400, "If-None-Match"},
			{"bad idempotency key", "PUT", "/admin/v1/products/P-1", `{"base_price":"1"}`, []string{`If-Match: "0"`, "Idempotency-Key: " + strings.Repeat("k", 300)}, 400, "Idempotency-Key"},
			{"dot-dot", "GET", "/admin/v1/products/..", ``, nil, 400, "path segment"},
			{"dot-dot write", "PUT", "/admin/v1/products/..", `{"base_price":"1"}`, []string{"If-None-Match: *"}, 400, "path segment"},
			{"traversal", "GET", "/admin/v1/products/../markets/NY", ``, nil, 404, "Not Found"},
			{"escaped slash", "PUT", "/admin/v1/products/a%2Fb", `{"base_price":"1"}`, []string{"If-None-Match: *"}, 400, "holds '/'"},
			{"escaped dot-dot", "PUT", "/admin/v1/products/%2E%2E", `{"base_price":"1"}`, []string{"If-None-Match: *"}, 400, "path segment"},
			{"empty id", "PUT", "/admin/v1/products/", `{"base_price":"1"}`, []string{"If-None-Match: *"}, 400, "empty"},
			{"long id", "PUT", "/admin/v1/products/" + strings.Repeat("x", 65), `{"base_price":"1"}`, []string{"If-None-Match: *"}, 400, "longer than 64"},
			{"brace in id", "PUT", "/admin/v1/products/a%7Bb%7D", `{"base_price":"1"}`, []string{"If-None-Match: *"}, 400, "holds"},
			{"unknown path", "GET", "/admin/v1/prices/P-1", ``, nil, 404, "Not Found"},
			{"other version", "GET", "/admin/v2/products/P-1", ``, nil, 404, "Not Found"},
			{"unknown sub-path", "POST", "/admin/v1/products/P-1/undo", `{}`, nil, 404, "Not Found"},
			{"wrong method", "POST", "/admin/v1/products/P-1", `{}`, nil, 405, "Method Not Allowed"},
			{"wrong method on changes", "GET", "/admin/v1/changes", ``, nil, 405, "Method Not Allowed"},
			{"delete with If-None-Match", "DELETE", "/admin/v1/products/P-1", ``, []string{"If-None-Match: *"}, 400, "delete"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := f.do(tc.method, tc.target, writeToken, tc.body, tc.headers...)
				f.expect(r, tc.status)
				if !strings.Contains(r.body, tc.detail) {
					t.Errorf("reply %s does not hold %q", r.body, tc.detail)
				}
				if _, ok := r.json(t)["detail"]; !ok {
					t.Errorf("no detail: %s", r.body)
				}
				if tc.status == 405 && r.header.Get("Allow") == "" {
					t.Error("405 without Allow")
				}
			})
		}
		// Nothing was written.
		if v, _ := f.served("P-1"); v != norm("50.99") {
			t.Errorf("P-1 = %q after bad input", v)
		}
		rec, err := f.store.Read(context.Background(), lookup.Ref{Kind: lookup.KindProduct, ID: "P-1"})
		if err != nil || rec.Version != 0 {
			t.Errorf("P-1 version %d (%v) after bad input", rec.Version, err)
		}
		r := f.expect(f.do("PUT", "/admin/v1/products/P-1", writeToken, `{"base_price":"-1","x":2}`, `If-Match: "0"`), 422)
		var body struct {
			Detail []fieldError `json:"detail"`
		}
		if err := json.Unmarshal([]byte(r.body), &body); err != nil || len(body.Detail) != 2 {
			t.Fatalf("want two field errors: %s", r.body)
		}
		if body.Detail[0].Loc[1] != "base_price" || body.Detail[1].Loc[1] != "x" {
			t.Errorf("locations %v %v", body.Detail[0].Loc, body.Detail[1].Loc)
		}
	})
}

func TestOversizeBody(t *testing.T) {
	st, _ := memoryBackend(t)
	tk := tokensFile(t, "alice write "+writeToken+"\n")
	srv := httptest.NewServer(New(Config{Store: st, Tokens: tk, MaxBodyBytes: 64, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	r := rawDo(t, srv.URL, "PUT", "/admin/v1/products/P-1", writeToken, `{"base_price":"1`+strings.Repeat("0", 100)+`"}`, `If-Match: "0"`)
	if r.status != 413 {
		t.Errorf("status %d, want 413: %s", r.status, r.body)
	}
}

func tokensFile(t testing.TB, content string) *Tokens {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	tk, err := LoadTokens(p)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestIdempotency(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		const p = "/admin/v1/products/P-IDEM"
		first := f.expect(f.do("PUT", p, writeToken, `{"base_price":"5"}`, "If-None-Match: *", "Idempotency-Key: k-1"), 201)
		// Someone else changes the entry; the retry still returns the
		// first reply and changes nothing.
		f.expect(f.do("PUT", p, writeToken, `{"base_price":"6"}`, `If-Match: "1"`), 200)
		again := f.expect(f.do("PUT", p, writeToken, `{"base_price":"5"}`, "If-None-Match: *", "Idempotency-Key: k-1"), 201)
		if again.body != first.body || again.header.Get("ETag") != first.header.Get("ETag") || again.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("replay %s (ETag %q) differs from the first %s", again.body, again.header.Get("ETag"), first.body)
		}
		if v, _ := f.served("P-IDEM"); v != norm("6") {
			t.Errorf("served %q after the replay, want 6", v)
		}
		// The same key with another body: 422, nothing written.
		f.expect(f.do("PUT", p, writeToken, `{"base_price":"7"}`, `If-Match: "2"`, "Idempotency-Key: k-1"), 422)
		if v, _ := f.served("P-IDEM"); v != norm("6") {
			t.Errorf("served %q after a reused key, want 6", v)
		}
		// Concurrent retries of one request: one write, the same reply.
		const n = 16
		replies := make([]reply, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				replies[i] = rawDo(t, f.url, "PUT", p, writeToken, `{"base_price":"8"}`, `If-Match: "2"`, "Idempotency-Key: k-2")
			}()
		}
		wg.Wait()
		for i, r := range replies {
			if r.status != 200 || r.header.Get("ETag") != `"3"` || r.body != replies[0].body {
				t.Errorf("retry %d: %d ETag %q %s", i, r.status, r.header.Get("ETag"), r.body)
			}
		}
		rec, _ := f.store.Read(context.Background(), lookup.Ref{Kind: lookup.KindProduct, ID: "P-IDEM"})
		if rec.Version != 3 {
			t.Errorf("version %d after concurrent retries, want 3", rec.Version)
		}
		// A key belongs to the first entry it was used on: the same key
		// and body on another entry, or another method on the same
		// entry, is 422 and writes nothing.
		for _, tc := range []struct{ method, path, body, cond string }{
			{"PUT", "/admin/v1/products/P-IDEM2", `{"base_price":"5"}`, "If-None-Match: *"},
			{"PUT", "/admin/v1/markets/IDEM", `{"multiplier":"1.5"}`, "If-None-Match: *"},
			{"DELETE", p, "", `If-Match: "3"`},
			{"POST", p + "/revert", `{"version":"1"}`, `If-Match: "3"`},
		} {
			r := f.expect(f.do(tc.method, tc.path, writeToken, tc.body, tc.cond, "Idempotency-Key: k-1"), 422)
			if d := r.json(t)["detail"]; d != detailKeyReused {
				t.Errorf("%s %s: detail %v", tc.method, tc.path, d)
			}
		}
		if _, ok := f.served("P-IDEM2"); ok {
			t.Error("a write with a reused key on another entry was applied")
		}
		if v, _ := f.served("P-IDEM"); v != norm("8") {
			t.Errorf("served %q after refused reuses, want 8", v)
		}
		// One new key on several entries at once: exactly one entry
		// takes it, the others answer 422.
		var created []string
		var mu sync.Mutex
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprintf("P-IDEMRACE-%d", i)
				r := rawDo(t, f.url, "PUT", "/admin/v1/products/"+id, writeToken, `{"base_price":"9"}`, "If-None-Match: *", "Idempotency-Key: k-race")
				mu.Lock()
				defer mu.Unlock()
				switch r.status {
				case 201:
					created = append(created, id)
				case 422:
				default:
					t.Errorf("%s: %d %s", id, r.status, r.body)
				}
			}()
		}
		wg.Wait()
		if len(created) != 1 {
			t.Errorf("one key on %d entries at once: created %v, want exactly one", n, created)
		}
		// Batches: item i is remembered under "<key>#<i>". Another batch
		// under the key is refused item by item where the entry or the
		// item differs; the same batch replays.
		batch1 := `{"changes":[{"product_id":"P-IDB1","base_price":"1","if_none_match":"*"}]}`
		batch2 := `{"changes":[{"product_id":"P-IDB2","base_price":"1","if_none_match":"*"}]}`
		r1 := f.expect(f.do("POST", "/admin/v1/changes", writeToken, batch1, "Idempotency-Key: b-1"), 200)
		if !strings.Contains(r1.body, `{"status":201,"version":"1"}`) {
			t.Fatalf("first batch: %s", r1.body)
		}
		r2 := f.expect(f.do("POST", "/admin/v1/changes", writeToken, batch2, "Idempotency-Key: b-1"), 200)
		if !strings.Contains(r2.body, `"status":422`) || !strings.Contains(r2.body, detailKeyReused) {
			t.Errorf("another batch under the key: %s", r2.body)
		}
		if _, ok := f.served("P-IDB2"); ok {
			t.Error("P-IDB2 written by a batch with a reused key")
		}
		if r3 := f.expect(f.do("POST", "/admin/v1/changes", writeToken, batch1, "Idempotency-Key: b-1"), 200); r3.body != r1.body {
			t.Errorf("replayed batch %s, want %s", r3.body, r1.body)
		}
	})
}

func TestConcurrentWriters(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		const p = "/admin/v1/products/P-RACE"
		f.expect(f.do("PUT", p, writeToken, `{"base_price":"1"}`, "If-None-Match: *"), 201)
		const writers, rounds = 8, 5
		for round := 1; round <= rounds; round++ {
			statuses := make([]int, writers)
			var wg sync.WaitGroup
			for i := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					body := fmt.Sprintf(`{"base_price":"%d.%02d"}`, round, i)
					statuses[i] = rawDo(t, f.url, "PUT", p, writeToken, body, fmt.Sprintf(`If-Match: "%d"`, round)).status
				}()
			}
			wg.Wait()
			won := 0
			for _, s := range statuses {
				switch s {
				case 200:
					won++
				case 412:
				default:
					t.Errorf("round %d: status %d", round, s)
				}
			}
			if won != 1 {
				t.Fatalf("round %d: %d writers won version %d, want exactly 1 (%v)", round, won, round+1, statuses)
			}
		}
	})
}

func TestAuditAndRevert(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		const p = "/admin/v1/products/P-AUD"
		f.expect(f.do("PUT", p, writeToken, `{"base_price":"1.00"}`, "If-None-Match: *", "X-Request-Id: r-1"), 201)
		for v := 1; v < 5; v++ {
			f.expect(f.do("PUT", p, writeToken, fmt.Sprintf(`{"base_price":"%d.00"}`, v+1), fmt.Sprintf(`If-Match: "%d"`, v)), 200)
		}
		// Revert to version 2 ("2.00") as version 6.
		r := f.expect(f.do("POST", p+"/revert", writeToken, `{"version":"2"}`), 200)
		if m := r.json(t); m["base_price"] != "2.00" || m["version"] != "6" {
			t.Errorf("revert reply %s", r.body)
		}
		if v, _ := f.served("P-AUD"); v != norm("2.00") {
			t.Errorf("served %q after revert", v)
		}
		f.expect(f.do("POST", p+"/revert", writeToken, `{"version":"99"}`), 404)
		f.expect(f.do("POST", p+"/revert", writeToken, `{"version":"2"}`, `If-Match: "5"`), 412)
		f.expect(f.do("POST", p+"/revert", writeToken, `{"version":"x"}`), 422)
		f.expect(f.do("POST", p+"/revert", readToken, `{"version":"2"}`), 403)

		r = f.expect(f.do("GET", "/admin/v1/audit?key=product:P-AUD&limit=4", readToken, ""), 200)
		var page struct {
			Entries []map[string]any `json:"entries"`
			Next    *string          `json:"next_cursor"`
		}
		if err := json.Unmarshal([]byte(r.body), &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Entries) != 4 || page.Next == nil {
			t.Fatalf("first page: %d entries, next %v", len(page.Entries), page.Next)
		}
		top := page.Entries[0]
		if top["kind"] != "revert" || top["before"] != "5.00" || top["after"] != "2.00" || top["version"] != "6" ||
			top["actor"] != "alice" || top["key"] != "product:P-AUD" || top["request_id"] == "" || top["id"] == "" {
			t.Errorf("newest entry %v", top)
		}
		if _, err := time.Parse(time.RFC3339, top["at"].(string)); err != nil {
			t.Errorf("at: %v", err)
		}
		var versions []string
		for _, e := range page.Entries {
			versions = append(versions, e["version"].(string))
		}
		r = f.expect(f.do("GET", "/admin/v1/audit?key=product:P-AUD&limit=4&cursor="+*page.Next, readToken, ""), 200)
		page.Entries, page.Next = nil, nil
		if err := json.Unmarshal([]byte(r.body), &page); err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Entries {
			versions = append(versions, e["version"].(string))
		}
		if strings.Join(versions, ",") != "6,5,4,3,2,1" || page.Next != nil {
			t.Errorf("versions %v next %v, want 6..1 and no more", versions, page.Next)
		}
		last := page.Entries[len(page.Entries)-1]
		if last["kind"] != "create" || last["before"] != nil || last["after"] != "1.00" || last["request_id"] != "r-1" {
			t.Errorf("oldest entry %v", last)
		}
		// A delete's entry has no after; reverting to it is refused.
		f.expect(f.do("DELETE", p, writeToken, "", `If-Match: "6"`), 204)
		r = f.expect(f.do("GET", "/admin/v1/audit?key=product:P-AUD&limit=1", readToken, ""), 200)
		if !strings.Contains(r.body, `"kind":"delete"`) || !strings.Contains(r.body, `"after":null`) {
			t.Errorf("delete entry %s", r.body)
		}
		f.expect(f.do("POST", p+"/revert", writeToken, `{"version":"7"}`), 422)
		// Revert after delete re-creates the entry.
		r = f.expect(f.do("POST", p+"/revert", writeToken, `{"version":"3"}`), 201)
		if r.json(t)["base_price"] != "3.00" {
			t.Errorf("revert after delete %s", r.body)
		}
		// since in the future: nothing.
		r = f.expect(f.do("GET", "/admin/v1/audit?key=product:P-AUD&since="+time.Now().Add(time.Hour).UTC().Format(time.RFC3339), readToken, ""), 200)
		if !strings.Contains(r.body, `"entries":[]`) {
			t.Errorf("future since: %s", r.body)
		}
		for _, q := range []string{"", "?key=nope", "?key=product:P-AUD&limit=0", "?key=product:P-AUD&limit=1001", "?key=product:P-AUD&since=yesterday", "?key=product:P-AUD&cursor=zz"} {
			f.expect(f.do("GET", "/admin/v1/audit"+q, readToken, ""), 422)
		}
	})
}

func TestChanges(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		body := `{"changes":[
			{"product_id":"P-B1","base_price":"10.00","if_none_match":"*"},
			{"product_id":"P-B1","base_price":"11.00","if_match":"1"},
			{"product_id":"P-B1","base_price":"12.00","if_match":"1"},
			{"location":"BOS","multiplier":"1.2","if_none_match":"*"},
			{"product_id":"P-B2","base_price":"x","if_none_match":"*"},
			{"product_id":"P-B3","base_price":"3"},
			{"product_id":"P-B1","delete":true,"if_match":"2"},
			{"product_id":"../x","base_price":"3","if_none_match":"*"},
			{"product_id":"P-B4","base_price":"3","if_none_match":"*","extra":1}
		]}`
		r := f.expect(f.do("POST", "/admin/v1/changes", writeToken, body, "Idempotency-Key: batch-1"), 200)
		var got struct {
			Results []itemResult `json:"results"`
		}
		if err := json.Unmarshal([]byte(r.body), &got); err != nil {
			t.Fatal(err)
		}
		want := []string{"201:1", "200:2", "e412", "201:1", "e422", "e428", "204:3", "e422", "e422"}
		if len(got.Results) != len(want) {
			t.Fatalf("%d results: %s", len(got.Results), r.body)
		}
		for i, res := range got.Results {
			s := strconv.Itoa(res.Status) + ":" + res.Version
			if res.Error != nil {
				s = "e" + strconv.Itoa(res.Error.Status)
			}
			if s != want[i] {
				t.Errorf("item %d: %s, want %s (%s)", i, s, want[i], r.body)
			}
		}
		if _, ok := f.served("P-B1"); ok {
			t.Error("P-B1 served after its delete")
		}
		// The same batch again: the applied items replay, nothing changes.
		r2 := f.expect(f.do("POST", "/admin/v1/changes", writeToken, body, "Idempotency-Key: batch-1"), 200)
		if r2.body != r.body {
			t.Errorf("replayed batch differs:\n%s\n%s", r2.body, r.body)
		}
		rec, _ := f.store.Read(context.Background(), lookup.Ref{Kind: lookup.KindProduct, ID: "P-B1"})
		if rec.Exists || rec.Version != 3 {
			t.Errorf("P-B1 after replay: %+v", rec)
		}
		// Whole-request errors.
		many := `{"changes":[` + strings.TrimSuffix(strings.Repeat(`{"product_id":"P-1","base_price":"1","if_match":"0"},`, MaxChanges+1), ",") + `]}`
		for _, tc := range []struct {
			body   string
			status int
		}{
			{`{"changes":[]}`, 422},
			{`{"changes":{}}`, 422},
			{`{}`, 422},
			{`{"changes":[],"x":1}`, 422},
			{many, 422},
			{`[`, 400},
		} {
			f.expect(f.do("POST", "/admin/v1/changes", writeToken, tc.body), tc.status)
		}
		f.expect(f.do("POST", "/admin/v1/changes", readToken, `{"changes":[]}`), 403)
	})
}

func TestTokenRotation(t *testing.T) {
	f := newFixture(t, backends[0])
	tk, err := LoadTokens(f.tokens)
	if err != nil {
		t.Fatal(err)
	}
	h := New(Config{Store: f.store, Tokens: tk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	reloads := make(chan error, 16)
	go func() {
		defer wg.Done()
		tk.Watch(ctx, 10*time.Millisecond, func(_ int, err error) { reloads <- err })
	}()
	defer func() { cancel(); wg.Wait() }()
	const newToken = "n-0123456789abcdef0123"
	get := func(tok string) int { return rawDo(t, srv.URL, "GET", "/admin/v1/products/P-1", tok, "").status }
	if get(newToken) != 401 || get(writeToken) != 200 {
		t.Fatal("initial tokens")
	}
	// Add the new token: both work.
	f.writeTokens("alice write " + writeToken + "\nalice write " + newToken + "\n")
	if err := <-reloads; err != nil {
		t.Fatal(err)
	}
	if get(newToken) != 200 || get(writeToken) != 200 {
		t.Error("during rotation both tokens must work")
	}
	// A bad file keeps the old set.
	f.writeTokens("alice write short\n")
	if err := <-reloads; err == nil || strings.Contains(err.Error(), "short") {
		t.Errorf("bad file: err %v (must not quote the token)", err)
	}
	if get(newToken) != 200 {
		t.Error("a bad file must keep the previous tokens")
	}
	// Remove the old one (a rename over the file, as editors do).
	testfile.Replace(t, f.tokens, "alice write "+newToken+"\n")
	if err := <-reloads; err != nil {
		t.Fatal(err)
	}
	if get(newToken) != 200 || get(writeToken) != 401 {
		t.Error("after rotation only the new token works")
	}
}

// TestSentinelFailover writes through Sentinel, fails the primary over
// and writes again: the promoted replica holds the values, versions and
// audit (replicated with the script's effects), so If-Match with the
// version read before the failover still wins.
func TestSentinelFailover(t *testing.T) {
	sn := redistest.StartSentinel(t)
	st := openStore(t, sn.URL())
	f := &fixture{t: t, store: st.Writer(redisstore.WriterOptions{})}
	f.tokens = filepath.Join(t.TempDir(), "tokens")
	f.writeTokens("alice write " + writeToken + "\n")
	tk, err := LoadTokens(f.tokens)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Config{Store: f.store, Tokens: tk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	f.url = srv.URL
	const p = "/admin/v1/products/P-SEN"
	f.expect(f.do("PUT", p, writeToken, `{"base_price":"1.00"}`, "If-None-Match: *"), 201)
	f.expect(f.do("PUT", p, writeToken, `{"base_price":"2.00"}`, `If-Match: "1"`), 200)
	sn.WaitReplicated(t)
	sn.Primary.Kill()
	sn.WaitPromoted(t)
	var r reply
	deadline := time.Now().Add(redistest.FailoverTimeout)
	for {
		// 503 while the client follows the promotion; then the write.
		r = f.do("PUT", p, writeToken, `{"base_price":"3.00"}`, `If-Match: "2"`)
		if r.status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			break
		}
	}
	f.expect(r, 200)
	if r.header.Get("ETag") != `"3"` {
		t.Errorf("ETag after failover %q, want \"3\"", r.header.Get("ETag"))
	}
	r = f.expect(f.do("GET", "/admin/v1/audit?key=product:P-SEN", writeToken, ""), 200)
	if n := strings.Count(r.body, `"version":`); n != 3 {
		t.Errorf("%d audit entries after failover, want 3: %s", n, r.body)
	}
	if v, err := sn.Replica.Do("GET", "pricing:product:P-SEN"); err != nil || v != "3.00" {
		t.Errorf("promoted primary holds %q (%v)", v, err)
	}
}

// TestImplicitVersion: an entry that exists but was never written through
// the API has the implicit version 0, which If-Match (and a batch item's
// if_match) can name; a single PUT and a batch item agree on every
// outcome.
func TestImplicitVersion(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		type result struct {
			status  int
			version string
			detail  string
		}
		single := func(id, cond string) result {
			h := `If-Match: "` + cond + `"`
			if cond == "*" {
				h = "If-Match: *"
			}
			r := f.do("PUT", "/admin/v1/products/"+id, writeToken, `{"base_price":"21.00"}`, h)
			res := result{status: r.status}
			if m := r.json(t); r.status < 300 {
				res.version, _ = m["version"].(string)
			} else {
				res.detail = fmt.Sprint(m["detail"])
			}
			return res
		}
		batch := func(id, cond string) result {
			r := f.expect(f.do("POST", "/admin/v1/changes", writeToken, `{"changes":[{"product_id":"`+id+`","base_price":"21.00","if_match":"`+cond+`"}]}`), 200)
			var got struct {
				Results []itemResult `json:"results"`
			}
			if err := json.Unmarshal([]byte(r.body), &got); err != nil || len(got.Results) != 1 {
				t.Fatalf("batch reply %s: %v", r.body, err)
			}
			it := got.Results[0]
			if it.Error != nil {
				return result{status: it.Error.Status, detail: fmt.Sprint(it.Error.Detail)}
			}
			return result{status: it.Status, version: it.Version}
		}
		for _, tc := range []struct {
			name       string
			cond       string
			absent     bool // the absent product instead of the unversioned one
			status     int
			version    string
			detailWant string // {id} stands for the product
		}{
			{"a wrong version", "1", false, 412, "", `precondition failed: product:{id} is at version "0", not "1"`},
			{"the implicit version", "0", false, 200, "1", ""},
			{"0 again, now stale", "0", false, 412, "", `precondition failed: product:{id} is at version "1", not "0"`},
			{"any version", "*", false, 200, "2", ""},
			{"0 on an absent entry", "0", true, 412, "", "precondition failed: product:{id} does not exist"},
			{"* on an absent entry", "*", true, 412, "", "precondition failed: product:{id} does not exist"},
		} {
			for mode, apply := range map[string]func(id, cond string) result{"single": single, "batch": batch} {
				id := unversioned[0]
				if mode == "batch" {
					id = unversioned[1]
				}
				if tc.absent {
					id = "P-ABSENT-" + mode
				}
				got := apply(id, tc.cond)
				want := result{status: tc.status, version: tc.version, detail: strings.ReplaceAll(tc.detailWant, "{id}", id)}
				if got != want {
					t.Errorf("%s, %s: got %+v, want %+v", tc.name, mode, got, want)
				}
			}
		}
		// A batch if_match that is no version is the item's 422.
		for _, bad := range []string{`"-1"`, `"x"`, `1.5`, `null`, `"\"0\""`} {
			r := f.expect(f.do("POST", "/admin/v1/changes", writeToken, `{"changes":[{"product_id":"P-4","base_price":"1","if_match":`+bad+`}]}`), 200)
			if !strings.Contains(r.body, `"status":422`) || !strings.Contains(r.body, `"loc":["body","changes",0,"if_match"]`) {
				t.Errorf("if_match %s: %s", bad, r.body)
			}
		}
	})
}

// TestChangesOrder: a batch whose items chain versions of a few entries,
// interleaved, applies as if item by item (each entry's items in order)
// although items on distinct entries are written concurrently.
func TestChangesOrder(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		const entries, steps = 40, 5
		var items []string
		for step := range steps {
			for e := range entries {
				cond := fmt.Sprintf(`"if_match":"%d"`, step)
				if step == 0 {
					cond = `"if_none_match":"*"`
				}
				items = append(items, fmt.Sprintf(`{"product_id":"P-ORD-%d","base_price":"%d.%02d",%s}`, e, 10+step, e, cond))
			}
		}
		// A last item on the first entry with a stale version: refused.
		items = append(items, `{"product_id":"P-ORD-0","base_price":"99","if_match":"1"}`)
		r := f.expect(f.do("POST", "/admin/v1/changes", writeToken, `{"changes":[`+strings.Join(items, ",")+`]}`), 200)
		var got struct {
			Results []itemResult `json:"results"`
		}
		if err := json.Unmarshal([]byte(r.body), &got); err != nil || len(got.Results) != len(items) {
			t.Fatalf("%d results, %v", len(got.Results), err)
		}
		for i, res := range got.Results[:len(items)-1] {
			step := i / entries
			want := itemResult{Status: 200, Version: strconv.Itoa(step + 1)}
			if step == 0 {
				want.Status = 201
			}
			if res.Status != want.Status || res.Version != want.Version || res.Error != nil {
				t.Fatalf("item %d: %+v, want %+v", i, res, want)
			}
		}
		if last := got.Results[len(items)-1]; last.Error == nil || last.Error.Status != 412 {
			t.Errorf("stale last item: %+v", last)
		}
		for e := range entries {
			id := fmt.Sprintf("P-ORD-%d", e)
			if v, _ := f.served(id); v != norm(fmt.Sprintf("%d.%02d", 10+steps-1, e)) {
				t.Errorf("%s served %q, want the last step's value", id, v)
			}
		}
	})
}
