package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/apidocs/apicheck"
	"github.com/pricing-engine/pricing-engine/internal/redistest"
	"github.com/pricing-engine/pricing-engine/internal/testfile"
)

// quotePoll bounds the waits for a keys file change to be picked up (the
// file is polled every second); every wait ends on a reply that shows it.
const quotePoll = 15 * time.Second

// newQuoteSecret returns a fresh base64 secret of 32 bytes.
func newQuoteSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// quoteReply is a quoted price reply.
type quoteReply struct {
	ProductID string      `json:"product_id"`
	Final     json.Number `json:"final_price"`
	Quote     struct {
		ID        string `json:"id"`
		ExpiresAt string `json:"expires_at"`
		Token     string `json:"token"`
	} `json:"quote"`
}

// priceQuoted asks p's API port for a quoted price of body and checks the
// reply against the OpenAPI document.
func (p *proc) priceQuoted(v *apicheck.Validator, body string) quoteReply {
	p.t.Helper()
	code, hdr, got := p.do("POST", "http://"+p.api+"/api/v1/price", "application/json", body)
	var q quoteReply
	if code != 200 || json.Unmarshal([]byte(got), &q) != nil || q.Quote.Token == "" {
		p.t.Fatalf("quoted price: %d %s", code, got)
	}
	if err := v.ValidateResponse("POST", "/api/v1/price", code, hdr, []byte(got)); err != nil {
		p.t.Errorf("quoted reply not allowed by the OpenAPI document: %v\n%s", err, got)
	}
	return q
}

// verifyQuote posts token to port's /api/v1/quotes/verify and returns the
// status and body, checked against the OpenAPI document.
func (p *proc) verifyQuote(v *apicheck.Validator, port, token string) (int, string) {
	p.t.Helper()
	body, _ := json.Marshal(map[string]string{"token": token})
	code, hdr, got := p.do("POST", "http://"+port+"/api/v1/quotes/verify", "application/json", string(body))
	if err := v.ValidateResponse("POST", "/api/v1/quotes/verify", code, hdr, []byte(got)); err != nil {
		p.t.Errorf("verify reply not allowed by the OpenAPI document: %v\n%d %s", err, code, got)
	}
	return code, got
}

// untilQuotes polls cond until it holds, failing after quotePoll.
func untilQuotes(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(quotePoll)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not seen within %s", what, quotePoll)
		}
		time.Sleep(50 * time.Millisecond) // a poll interval, not a synchronisation
	}
}

// TestE2EQuotesFleet: two replicas on one Redis share a keys file. A
// quote one replica signs verifies on the other (API and admin ports); a
// tampered or swapped token is refused; the keys rotate without a
// restart: a new first line signs while the old key still verifies,
// then removing the old line refuses its tokens. A bad rewrite keeps the
// keys, and no secret is ever logged.
func TestE2EQuotesFleet(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	if r := runBinary(t, []string{"import", "--store", srv.URL(), "--embedded"}); r.code != 0 {
		t.Fatalf("import: exit %d %s", r.code, r.stderr)
	}
	v, err := apicheck.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(t.TempDir(), "quote-keys")
	s1, s2 := newQuoteSecret(t), newQuoteSecret(t)
	testfile.Replace(t, keys, "# quote keys\nk1 "+s1+"\n")
	args := append([]string{"--store", srv.URL(), "--quote-keys-file", keys, "--drain-delay=0s", "--shutdown-timeout=5s"}, loopbackArgs...)
	a, b := startServer(t, args), startServer(t, args)

	// Signed by a, verified by b on both of its ports.
	qa := a.priceQuoted(v, `{"product_id":"P-42","user_location":"SF","is_prime_member":true,"quote":true}`)
	if !strings.HasPrefix(qa.Quote.Token, "v1.k1.") {
		t.Fatalf("token %s", qa.Quote.Token)
	}
	for _, port := range []string{b.api, b.admin} {
		code, got := b.verifyQuote(v, port, qa.Quote.Token)
		var c map[string]any
		if code != 200 || json.Unmarshal([]byte(got), &c) != nil || c["valid"] != true || c["id"] != qa.Quote.ID ||
			c["product_id"] != "P-42" || c["user_location"] != "SF" || c["is_prime_member"] != true ||
			c["expires_at"] != qa.Quote.ExpiresAt || c["key_id"] != "k1" || !strings.Contains(got, `"final_price":`+qa.Final.String()+`,`) {
			t.Errorf("verify on %s: %d %s (signed %+v)", port, code, got, qa)
		}
	}
	// A batch on b: quoted items verify on a.
	code, hdr, got := b.do("POST", "http://"+b.api+"/api/v1/prices", "application/json",
		`{"quote":true,"items":[{"product_id":"P-1","user_location":"NY"},{"product_id":"P-X","user_location":"NY"},{"product_id":"P-2","user_location":"LA"}]}`)
	if err := v.ValidateResponse("POST", "/api/v1/prices", code, hdr, []byte(got)); err != nil {
		t.Errorf("batch reply: %v", err)
	}
	var batch struct{ Items []json.RawMessage }
	if code != 200 || json.Unmarshal([]byte(got), &batch) != nil || len(batch.Items) != 3 {
		t.Fatalf("batch: %d %s", code, got)
	}
	for i, it := range batch.Items {
		var q quoteReply
		_ = json.Unmarshal(it, &q)
		if i == 1 {
			if q.Quote.Token != "" || !strings.Contains(string(it), `"status":404`) {
				t.Errorf("unknown product item: %s", it)
			}
			continue
		}
		if c, body := a.verifyQuote(v, a.api, q.Quote.Token); c != 200 || !strings.Contains(body, `"product_id":"`+q.ProductID+`"`) {
			t.Errorf("batch item %d verified on a: %d %s", i, c, body)
		}
	}

	// Bad tokens, each refused with its reason.
	other := a.priceQuoted(v, `{"product_id":"P-43","user_location":"SF","quote":true}`).Quote.Token
	f, g := strings.Split(qa.Quote.Token, "."), strings.Split(other, ".")
	for _, tc := range []struct{ name, token, detail string }{
		{"payload swapped", f[0] + "." + f[1] + "." + g[2] + "." + f[3], "tampered token"},
		{"truncated", qa.Quote.Token[:len(qa.Quote.Token)-5], "malformed token"},
		{"unknown key", "v1.k9." + f[2] + "." + f[3], `unknown key id \"k9\"`},
	} {
		if code, got := b.verifyQuote(v, b.api, tc.token); code != 422 || !strings.Contains(got, tc.detail) {
			t.Errorf("%s: %d %s, want 422 with %q", tc.name, code, got, tc.detail)
		}
	}

	// Rotation: k2 first, k1 kept. New quotes are signed with k2 on both
	// replicas; the k1 quote still verifies everywhere.
	testfile.Replace(t, keys, "k2 "+s2+"\nk1 "+s1+"\n")
	var q2 quoteReply
	for _, p := range []*proc{a, b} {
		untilQuotes(t, "k2 signing on "+p.api, func() bool {
			q2 = p.priceQuoted(v, `{"product_id":"P-7","user_location":"NY","quote":true}`)
			return strings.HasPrefix(q2.Quote.Token, "v1.k2.")
		})
	}
	for _, p := range []*proc{a, b} {
		if code, got := p.verifyQuote(v, p.api, qa.Quote.Token); code != 200 {
			t.Errorf("k1 quote during rotation on %s: %d %s", p.api, code, got)
		}
		if code, got := p.verifyQuote(v, p.api, q2.Quote.Token); code != 200 {
			t.Errorf("k2 quote on %s: %d %s", p.api, code, got)
		}
	}
	// A bad rewrite is refused; the keys stay.
	testfile.Replace(t, keys, "k3 c2hvcnQ=\n")
	for _, p := range []*proc{a, b} {
		untilQuotes(t, "refused reload logged on "+p.api, func() bool { return p.hasLog("quote keys reload refused; the previous keys stay in use", "line 1") })
		if code, got := p.verifyQuote(v, p.api, qa.Quote.Token); code != 200 {
			t.Errorf("k1 quote after a bad rewrite on %s: %d %s", p.api, code, got)
		}
	}
	// The old line removed: k1 quotes are refused, k2 quotes verify.
	testfile.Replace(t, keys, "k2 "+s2+"\n")
	for _, p := range []*proc{a, b} {
		untilQuotes(t, "k1 removed on "+p.api, func() bool {
			code, got := p.verifyQuote(v, p.api, qa.Quote.Token)
			return code == 422 && strings.Contains(got, `unknown key id \"k1\"`)
		})
		if code, got := p.verifyQuote(v, p.api, q2.Quote.Token); code != 200 {
			t.Errorf("k2 quote after rotation on %s: %d %s", p.api, code, got)
		}
	}
	// SIGHUP reloads too (the file is the same: nothing changes, and the
	// process keeps serving).
	a.signal(syscall.SIGHUP)
	untilQuotes(t, "SIGHUP reload", func() bool {
		return strings.Count(strings.Join(a.logLines(), "\n"), `"msg":"quote keys reloaded"`) >= 3
	})
	for _, p := range []*proc{a, b} {
		for _, line := range p.logLines() {
			if strings.Contains(line, s1) || strings.Contains(line, s2) {
				t.Errorf("a secret in the log: %s", line)
			}
		}
	}
}

// TestE2EQuotesExpire: a quote is refused with 410 once its TTL passed.
func TestE2EQuotesExpire(t *testing.T) {
	v, err := apicheck.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(t.TempDir(), "quote-keys")
	testfile.Replace(t, keys, "k1 "+newQuoteSecret(t)+"\n")
	p := startServer(t, append([]string{"--quote-keys-file", keys, "--quote-ttl", "1s"}, loopbackArgs...))
	q := p.priceQuoted(v, `{"product_id":"P-1","user_location":"NY","quote":true}`)
	untilQuotes(t, "410 for an expired quote", func() bool {
		code, got := p.verifyQuote(v, p.api, q.Quote.Token)
		if code != 200 && code != 410 {
			t.Fatalf("verify: %d %s", code, got)
		}
		return code == 410 && got == `{"detail":"quote expired at `+q.Quote.ExpiresAt+`"}`
	})
}

// TestE2EQuotesBadKeysFile: a keys file that cannot be used stops the
// start with exit 2 and a message naming the file and the line, never
// the secret.
func TestE2EQuotesBadKeysFile(t *testing.T) {
	dir := t.TempDir()
	short := base64.StdEncoding.EncodeToString([]byte("only sixteen byt"))
	for _, tc := range []struct{ name, content, want string }{
		{"short secret", "k1 " + short + "\n", `line 1: the secret of key "k1" has 16 bytes, want 32..512`},
		{"no keys", "# nothing yet\n", "no keys"},
		{"missing", "", "cannot read quote keys file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			if tc.content != "" {
				testfile.Replace(t, path, tc.content)
			}
			r := runBinary(t, append([]string{"--quote-keys-file", path}, loopbackArgs...))
			if r.code != 2 || !strings.Contains(r.stderr, "invalid --quote-keys-file") || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 with %q", r.code, r.stderr, tc.want)
			}
			if strings.Contains(r.stderr, short) {
				t.Errorf("the secret is in the message: %s", r.stderr)
			}
		})
	}
	if r := runBinary(t, append([]string{"--quote-ttl", "1500ms"}, loopbackArgs...)); r.code != 2 || !strings.Contains(r.stderr, "invalid --quote-ttl 1.5s: want whole seconds") {
		t.Errorf("--quote-ttl 1500ms: exit %d %s", r.code, r.stderr)
	}
}

// quotesDocBlock returns the first fenced block of kind in docs/QUOTES.md
// after the heading.
func quotesDocBlock(t *testing.T, heading, kind string) string {
	t.Helper()
	text, err := os.ReadFile("../../docs/QUOTES.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(text), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("docs/QUOTES.md has no heading %q", heading)
	}
	m := regexp.MustCompile("(?s)\n```" + kind + "\n(.*?)\n```\n").FindStringSubmatch(after)
	if m == nil {
		t.Fatalf("docs/QUOTES.md: no ```%s block after %q", kind, heading)
	}
	return m[1] + "\n"
}

// TestE2EQuotesOffline runs the offline verification recipes of
// docs/QUOTES.md (the Go program and the openssl script) against a token
// from the binary: they accept it and refuse it tampered.
func TestE2EQuotesOffline(t *testing.T) {
	v, err := apicheck.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keys := filepath.Join(dir, "quote-keys")
	secret := newQuoteSecret(t)
	testfile.Replace(t, keys, "k1 "+secret+"\n")
	p := startServer(t, append([]string{"--quote-keys-file", keys}, loopbackArgs...))
	q := p.priceQuoted(v, `{"product_id":"P-1","user_location":"Z\u00fcrich \"1\"","is_prime_member":"yes","quote":true}`)
	f := strings.Split(q.Quote.Token, ".")
	// The price changed and signed again with a guessed secret.
	payload, _ := base64.RawURLEncoding.DecodeString(f[2])
	cheaper := base64.RawURLEncoding.EncodeToString(bytes.Replace(payload, []byte(`"final_price":`), []byte(`"final_price":0`), 1))
	tampered := f[0] + "." + f[1] + "." + cheaper + "." + f[3]

	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("cannot find the go command: %v", err)
	}
	prog := filepath.Join(dir, "verifyquote.go")
	if err := os.WriteFile(prog, []byte(quotesDocBlock(t, "### In Go (standard library only)", "go")), 0o600); err != nil {
		t.Fatal(err)
	}
	script := quotesDocBlock(t, "### With openssl (a POSIX shell, base64, od, tr)", "sh")
	for _, tc := range []struct {
		name string
		cmd  func(token string) *exec.Cmd
		ok   string // in the output of an accepted token
	}{
		{"go", func(token string) *exec.Cmd {
			c := exec.Command(goBin, "run", prog, "k1", secret, token)
			c.Dir = dir // outside the module: a standalone program
			c.Env = append(os.Environ(), "GOFLAGS=", "GO111MODULE=on")
			return c
		}, "valid quote " + q.Quote.ID + `: P-1 in Zürich "1" (member true) at ` + q.Final.String() + " until " + q.Quote.ExpiresAt},
		{"openssl", func(token string) *exec.Cmd {
			c := exec.Command("sh", "-c", script)
			c.Env = append(os.Environ(), "SECRET="+secret, "TOKEN="+token)
			return c
		}, `valid: {"id":"` + q.Quote.ID + `","issued_at":`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := tc.cmd(q.Quote.Token).CombinedOutput()
			if err != nil || !strings.Contains(string(out), tc.ok) {
				t.Errorf("genuine token: %v\n%s\nwant %q", err, out, tc.ok)
			}
			out, err = tc.cmd(tampered).CombinedOutput()
			if exitCode(err) != 1 || !strings.Contains(string(out), "tampered: the MAC does not match") {
				t.Errorf("tampered token: %v\n%s", err, out)
			}
		})
	}
}

// TestE2EQuotesRules: with a rules file the token also signs the list
// price and the ruleset version, and verification answers them as the
// price reply gave them.
func TestE2EQuotesRules(t *testing.T) {
	v, err := apicheck.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keys, rulesFile := filepath.Join(dir, "quote-keys"), filepath.Join(dir, "rules.yaml")
	testfile.Replace(t, keys, "k1 "+newQuoteSecret(t)+"\n")
	writeRules(t, rulesFile, "version: \"quotes.1\"\nmember_discount: 0.10\nschedules:\n  - {name: sale, products: [\"P-1*\"], multiplier: 0.9}\nending: \"0.99\"\n")
	p := startServer(t, append([]string{"--quote-keys-file", keys, "--rules", rulesFile}, loopbackArgs...))
	code, hdr, got := p.do("POST", "http://"+p.api+"/api/v1/price", "application/json", `{"product_id":"P-12","user_location":"SF","is_prime_member":true,"quote":true,"explain":true}`)
	if err := v.ValidateResponse("POST", "/api/v1/price", code, hdr, []byte(got)); err != nil {
		t.Errorf("reply not allowed by the OpenAPI document: %v", err)
	}
	var r struct {
		Final   json.Number `json:"final_price"`
		List    json.Number `json:"list_price"`
		Version string      `json:"ruleset_version"`
		Quote   struct{ Token string }
	}
	if code != 200 || json.Unmarshal([]byte(got), &r) != nil || r.Version != "quotes.1" || r.List == "" || r.Quote.Token == "" {
		t.Fatalf("price: %d %s", code, got)
	}
	code, body := p.verifyQuote(v, p.api, r.Quote.Token)
	want := `"final_price":` + r.Final.String() + `,"list_price":` + r.List.String() + `,"ruleset_version":"quotes.1","issued_at":`
	if code != 200 || !strings.Contains(body, want) || !strings.Contains(body, `"user_location":"SF","is_prime_member":true`) {
		t.Errorf("verify: %d %s\nwant it to contain %s", code, body, want)
	}
}
