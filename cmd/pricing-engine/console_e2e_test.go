package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pricing-engine/pricing-engine/internal/browsertest"
)

// browser drives one headless Chromium tab for the console test.
type browser struct {
	*browsertest.Browser
	t *testing.T
}

// newBrowser starts headless Chromium; a refused write is an expected 4xx
// that Chromium logs as a network error, so only other sources count.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	return &browser{
		Browser: browsertest.Start(t, browsertest.Options{Width: 1400, Height: 1000, Timeout: 3 * time.Minute, IgnoreNetworkErrors: true}),
		t:       t,
	}
}

// do runs steps, failing the test with what the page showed.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.Ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v (message: %q; browser errors: %v)", what, err, b.message(), b.Errors())
	}
}

// wait polls a JavaScript expression until it is truthy and no action of
// the page is running, and returns its value as a string.
func (b *browser) wait(what, expr string) string {
	b.t.Helper()
	js := `(() => { if (document.body.hasAttribute('data-busy')) return null; const v = (` + expr + `); return v ? String(v) : null; })()`
	v, err := chromedp.Run(b.Ctx, chromedp.Poll[string](js, chromedp.WithPollingTimeout(20*time.Second), chromedp.WithPollingInterval(20*time.Millisecond)))
	if err != nil {
		b.t.Fatalf("waiting for %s: %v (message: %q; browser errors: %v)", what, err, b.message(), b.Errors())
	}
	return v
}

func (b *browser) eval(expr string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

func (b *browser) message() string {
	v, _ := chromedp.Run(b.Ctx, chromedp.Evaluate[string](`(document.getElementById('message')||{}).textContent||''`))
	return v
}

// cell is the JavaScript text of a cell of the prices table.
func cell(location, class string) string {
	return fmt.Sprintf(`(document.querySelector('#prices tr[data-location=%q] .%s')||{}).textContent`, location, class)
}

// TestE2EConsole drives the pricing console in headless Chromium against
// the real binary (memory store, rules on): the analyst types the token,
// finds a product, sees its price in every market with the explanation,
// changes the base price and a multiplier, meets a conflicting change
// (412: If-Match from the page's GET), reverts through the audit trail,
// and every change made in the page is served by the API port. The page
// requests nothing from another origin, logs no error, and keeps the
// token out of the DOM, storage and cookies.
func TestE2EConsole(t *testing.T) {
	const token = "console-e2e-3b1f9c0d7a5e4f21"
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("# test\nanalyst write "+token+"\nviewer read console-e2e-read-0000000000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The example rules and an announced reduction of P-1 in MIA, so
	// that the page shows a prior price.
	example, err := os.ReadFile("../../rules/testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	announced := strings.Replace(string(example), "\nguards:", "\n  - {name: console-sale, products: [\"P-1\"], locations: [\"MIA\"], from: \"00:00\", to: \"23:59\", multiplier: 0.9, announce: true}\n\nguards:", 1)
	if err := os.WriteFile(rulesFile, []byte(announced), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startServer(t, append(loopbackArgs, "--admin-tokens-file", tokens, "--rules", rulesFile))
	b := newBrowser(t)
	admin := "http://" + p.admin

	// price asks the API port (not the admin listener the page uses).
	price := func(product, location string) map[string]any {
		t.Helper()
		code, _, body := p.do("POST", "http://"+p.api+"/api/v1/price", "application/json",
			fmt.Sprintf(`{"product_id":%q,"user_location":%q}`, product, location))
		var m map[string]any
		if code != 200 || json.Unmarshal([]byte(body), &m) != nil {
			t.Fatalf("API port: price of %s/%s = %d %s", product, location, code, body)
		}
		return m
	}
	before := price("P-1", "NY")

	b.do("open the console and find P-1",
		chromedp.Navigate(admin+"/console"),
		chromedp.WaitVisible(chromedp.CSS("body[data-ready]")),
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS("#token-use")),
		chromedp.SetValue(chromedp.CSS("#product"), "P-1"),
		chromedp.SetValue(chromedp.CSS("#markets"), "NY LA MIA"),
		chromedp.Click(chromedp.CSS("#find")),
	)
	shown := b.wait("P-1's base price", `document.getElementById('base-price').textContent`)
	if want := fmt.Sprint(before["base_price"]); shown != want && shown != want+"0" && shown != "50.99" {
		t.Errorf("page shows base price %q, API port %v", shown, before["base_price"])
	}
	finalNY := b.wait("the NY row", cell("NY", "final"))
	if finalNY != fmt.Sprint(before["final_price"]) {
		t.Errorf("page shows NY final price %q, API port %v", finalNY, before["final_price"])
	}
	for _, loc := range []string{"LA", "MIA", "*"} {
		if v := b.eval(cell(loc, "final")); v == "" {
			t.Errorf("no final price shown for %s", loc)
		}
	}
	if ex := b.eval(cell("NY", "explain")); !strings.Contains(ex, "market") {
		t.Errorf("NY explanation = %q, want the factors (rules are on)", ex)
	}
	if list := b.eval(cell("NY", "list")); list != fmt.Sprint(before["list_price"]) {
		t.Errorf("page shows NY list price %q, API port %v", list, before["list_price"])
	}
	if prior := b.eval(cell("NY", "prior")); prior != "" {
		t.Errorf("page shows a prior price %q for NY (no announced reduction)", prior)
	}
	if mia := price("P-1", "MIA"); mia["prior_price"] != nil && time.Now().UTC().Format("15:04") != "23:59" {
		if prior := b.eval(cell("MIA", "prior")); !strings.HasPrefix(prior, fmt.Sprint(mia["prior_price"])) {
			t.Errorf("page shows MIA prior price %q, API port %v", prior, mia["prior_price"])
		}
	} else if time.Now().UTC().Format("15:04") != "23:59" {
		t.Errorf("API port: no prior price for P-1 in MIA under the announced reduction: %v", mia)
	}

	// A base price changed in the page is served by the API port.
	b.do("change P-1's base price",
		chromedp.SetValue(chromedp.CSS("#base-input"), "60.00"),
		chromedp.Click(chromedp.CSS("#base-save")),
	)
	b.wait("the change to be confirmed", `document.getElementById('message').className === 'ok' && document.getElementById('base-price').textContent === '60.00'`)
	if got := price("P-1", "NY"); got["base_price"] != 60.0 {
		t.Errorf("API port serves P-1 base price %v after the page set 60.00", got["base_price"])
	}
	b.wait("the audit entry of the change", `document.querySelector('#audit tr[data-version="1"] .after')?.textContent === '60.00'`)
	if actor := b.eval(`document.querySelector('#audit tr[data-version="1"] .actor').textContent`); actor != "analyst" {
		t.Errorf("audit actor = %q, want the token's name analyst", actor)
	}

	// A multiplier changed in the page is served by the API port.
	b.do("change NY's multiplier",
		chromedp.SetValue(chromedp.CSS(`#prices tr[data-location="NY"] .mult-input`), "1.25"),
		chromedp.Click(chromedp.CSS(`#prices tr[data-location="NY"] .mult-save`)),
	)
	b.wait("NY's new multiplier", cell("NY", "mult")+` === '1.25' && document.getElementById('audit-key').textContent === 'market:NY'`)
	if got := price("P-1", "NY"); got["market_multiplier"] != 1.25 {
		t.Errorf("API port serves NY multiplier %v after the page set 1.25", got["market_multiplier"])
	}

	// Someone else changes P-1 meanwhile: the page's If-Match (from its
	// GET) makes its next save fail with 412 instead of overwriting.
	b.do("show P-1 again", chromedp.Click(chromedp.CSS("#find")))
	b.wait("P-1 at version 1", `document.getElementById('base-version').textContent === '1'`)
	code, _, body := p.doWith("PUT", admin+"/admin/v1/products/P-1", `{"base_price":"61.00"}`,
		map[string]string{"Authorization": "Bearer " + token, "If-Match": `"1"`, "Content-Type": "application/json"})
	if code != 200 {
		t.Fatalf("PUT by another client = %d %s", code, body)
	}
	b.do("save over the other change",
		chromedp.SetValue(chromedp.CSS("#base-input"), "62.00"),
		chromedp.Click(chromedp.CSS("#base-save")),
	)
	msg := b.wait("the conflict", `document.getElementById('message').className === 'error' && document.getElementById('message').textContent`)
	if !strings.Contains(msg, "changed meanwhile") {
		t.Errorf("message after a conflicting save = %q", msg)
	}
	if shown := b.eval(`document.getElementById('base-price').textContent`); shown != "61.00" {
		t.Errorf("after the conflict the page shows %q, want the current 61.00", shown)
	}
	if got := price("P-1", "NY"); got["base_price"] != 61.0 {
		t.Errorf("API port serves base price %v, want 61 (the page's stale save must not apply)", got["base_price"])
	}

	// Revert to version 1 through the audit trail.
	b.do("revert P-1 to version 1", chromedp.Click(chromedp.CSS(`#audit tr[data-version="1"] button.revert`)))
	b.wait("the revert", `document.getElementById('message').className === 'ok' && document.querySelector('#audit tr[data-kind="revert"] .after')?.textContent === '60.00'`)
	if got := price("P-1", "NY"); got["base_price"] != 60.0 {
		t.Errorf("API port serves base price %v after the revert to version 1 (60.00)", got["base_price"])
	}

	// The page as the analyst sees it now (docs/console.png is made with
	// CONSOLE_SCREENSHOT=$PWD/docs/console.png).
	png, err := chromedp.Run(b.Ctx, chromedp.Screenshot(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	browsertest.SaveScreenshot(t, png, "console.png", "CONSOLE_SCREENSHOT")

	// A wrong token is refused with the API's detail, shown in the page.
	b.do("use a wrong token",
		chromedp.SendKeys(chromedp.CSS("#token"), "wrong-token-000000000000"),
		chromedp.Click(chromedp.CSS("#token-use")),
	)
	msg = b.wait("the refusal", `document.getElementById('message').className === 'error' && document.getElementById('message').textContent`)
	if !strings.Contains(msg, "token") {
		t.Errorf("message with a wrong token = %q", msg)
	}

	// The token stays in memory: not in the DOM, storage or cookies.
	for _, expr := range []string{
		`document.documentElement.outerHTML`,
		`JSON.stringify(Object.assign({}, localStorage)) + JSON.stringify(Object.assign({}, sessionStorage)) + document.cookie`,
		`location.href`,
	} {
		if v := b.eval(expr); strings.Contains(v, token) {
			t.Errorf("%s holds the token", expr)
		}
	}
	b.CheckSameOrigin(t, p.admin)
}

// doWith sends one request with the given headers and returns the status,
// headers and body.
func (p *proc) doWith(method, url, body string, headers map[string]string) (int, http.Header, string) {
	p.t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}
