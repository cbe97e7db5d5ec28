package apidocs_test

import (
	"context"
	"fmt"
	"github.com/pricing-engine/pricing-engine/apidocs"
	"github.com/pricing-engine/pricing-engine/apidocs/apicheck"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/pricing-engine/pricing-engine/internal/jsonstr"
	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/pricing"
)

// chromiumPath is where Debian's chromium package installs the browser.
const chromiumPath = "/usr/bin/chromium"

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
	if testing.Short() {
		t.Skip("starts a browser; skipped with -short")
	}
	if _, err := exec.LookPath(chromiumPath); err != nil {
		t.Skipf("%s not found: install Debian's chromium package (CI does)", chromiumPath)
	}

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

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // the test may run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()

	var requested, browserErrors []string
	err = chromedp.Listen(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			requested = append(requested, ev.Request.URL)
		case *runtime.EventExceptionThrown:
			browserErrors = append(browserErrors, (&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error())
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				browserErrors = append(browserErrors, "console.error: "+strings.Join(parts, " "))
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				browserErrors = append(browserErrors, fmt.Sprintf("%s: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		}
	})
	if err != nil {
		t.Fatalf("cannot start %s: %v", chromiumPath, err)
	}

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
	if err := chromedp.Do(bctx, steps...); err != nil {
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("driving Swagger UI: %v (server saw %v; browser errors %v)", err, served, browserErrors)
	}
	status, err := chromedp.Run(bctx, chromedp.Text(css(".live-responses-table tr.response .response-col_status")))
	if err != nil {
		t.Fatal(err)
	}
	body, err := chromedp.Run(bctx, chromedp.Text(css(".live-responses-table .response-col_description pre")))
	if err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(bctx, chromedp.Screenshot(css(""))) // the operation block, as PNG
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(t.TempDir()+"/swagger-ui.png", png, 0o644); err != nil {
		t.Fatal(err)
	}
	if path := os.Getenv(screenshotEnv); path != "" {
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot written to %s", path)
	}

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
	for _, u := range requested {
		if !strings.HasPrefix(u, srv.URL+"/") && !strings.HasPrefix(u, "data:") {
			t.Errorf("the page requested %s, outside the server", u)
		}
	}
	for _, e := range browserErrors {
		t.Errorf("browser error: %s", e)
	}
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
