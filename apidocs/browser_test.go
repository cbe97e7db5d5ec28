package apidocs_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/pricing-engine/pricing-engine/apidocs"
	"github.com/pricing-engine/pricing-engine/apidocs/apicheck"
	"github.com/pricing-engine/pricing-engine/internal/browsertest"
	"github.com/pricing-engine/pricing-engine/internal/jsonstr"
	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/pricing"
)

// screenshotEnv names a file the browser test writes its screenshot to, in
// addition to the test's temporary folder (docs/swagger-ui.png is made so).
const screenshotEnv = "APIDOCS_SCREENSHOT"

// priceHandler answers POST /api/v1/price with the real engine on the
// embedded catalog, as the admin listener does.
func priceHandler(t *testing.T) http.Handler {
	t.Helper()
	cat, mk, err := lookup.Default()
	if err != nil {
		t.Fatal(err)
	}
	engine := pricing.NewEngine(&lookup.Memory{Catalog: cat, Markets: mk}, pricing.Config{})
	var mu sync.Mutex // guards dec, which is not safe for concurrent use
	var dec pricing.Decoder
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, "Method Not Allowed")
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			writeError(w, http.StatusBadRequest, "cannot read body")
			return
		}
		var x pricing.Exchange
		mu.Lock()
		engine.ServeWait(&x, &dec, body)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(x.Status)
		_, _ = w.Write(x.Body)
	})
}

// TestSwaggerUITryItOut loads /docs in headless Chromium, runs "Try it out"
// and "Execute" on POST /api/v1/price and checks that the 200 reply is shown,
// that the page requested nothing from another origin, and that the browser
// logged no error (a Content-Security-Policy violation would be one).
func TestSwaggerUITryItOut(t *testing.T) {
	b := browsertest.Start(t, browsertest.Options{})
	validator, err := apicheck.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	docs := apidocs.New()
	mux.Handle(apidocs.OpenAPIPath, docs)
	mux.Handle(apidocs.DocsPath, docs)
	mux.Handle(apidocs.DocsPath+"/", docs)
	mux.Handle("/api/v1/price", priceHandler(t))
	var mu sync.Mutex
	var served []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		if err := validator.ValidateResponse(r.Method, r.URL.RequestURI(), rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
			t.Errorf("reply does not match openapi.json: %v", err)
		}
		mu.Lock()
		served = append(served, r.Method+" "+r.URL.Path)
		mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	defer srv.Close()

	const op = "#operations-pricing-getPrice"
	css := func(sel string) chromedp.CSS { return chromedp.CSS(op + " " + sel) }
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(srv.URL + apidocs.DocsPath),
		chromedp.WaitVisible(css(".opblock-summary-control")),
		chromedp.Click(css(".opblock-summary-control")),
		chromedp.WaitVisible(css(".try-out__btn")),
		chromedp.Click(css(".try-out__btn")),
		chromedp.WaitVisible(css(".execute")),
		chromedp.Click(css(".execute")),
		chromedp.WaitVisible(css(".live-responses-table tr.response .response-col_status")),
		chromedp.ScrollIntoView(css(".live-responses-table")),
	}
	if err := chromedp.Do(b.Ctx, steps...); err != nil {
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("driving Swagger UI: %v (server saw %v; browser errors %v)", err, served, b.Errors())
	}
	status, err := chromedp.Run(b.Ctx, chromedp.Text(css(".live-responses-table tr.response .response-col_status")))
	if err != nil {
		t.Fatal(err)
	}
	body, err := chromedp.Run(b.Ctx, chromedp.Text(css(".live-responses-table .response-col_description pre")))
	if err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(b.Ctx, chromedp.Screenshot(css(""))) // the operation block, as PNG
	if err != nil {
		t.Fatal(err)
	}
	browsertest.SaveScreenshot(t, png, "swagger-ui.png", screenshotEnv)

	if strings.TrimSpace(status) != "200" {
		t.Errorf("Swagger UI shows status %q, want 200", status)
	}
	for _, want := range []string{`"product_id"`, `"final_price"`, `"source"`, `"live"`} {
		if !strings.Contains(body, want) {
			t.Errorf("Swagger UI shows reply body %q, want it to contain %s", body, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !containsString(served, "POST /api/v1/price") || !containsString(served, "GET /openapi.json") {
		t.Errorf("server saw %v, want GET /openapi.json and POST /api/v1/price", served)
	}
	b.CheckSameOrigin(t, strings.TrimPrefix(srv.URL, "http://"))
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// writeError answers a {"detail": msg} JSON error, as the server does.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(jsonstr.AppendDetail(nil, msg))
}
