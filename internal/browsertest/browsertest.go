// Package browsertest drives a real headless Chromium for tests of the pages
// the engine serves (the API docs, the admin console): it starts the
// browser with the flags every such test needs, records every URL a page
// requests and every error it logs, and keeps screenshots.
//
// It is for tests only; a Browser lives as long as the test that started it.
package browsertest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian's chromium package installs the browser.
const ChromiumPath = "/usr/bin/chromium"

// Options tune one browser.
type Options struct {
	// Width and Height size the window (default 1280 x 1000).
	Width, Height int
	// Timeout bounds everything the browser does (default 90 s).
	Timeout time.Duration
	// IgnoreNetworkErrors leaves out the errors Chromium logs for replies
	// with an error status: a page that meets an expected 4xx on purpose
	// (a refused write) sets it; only other sources then count.
	IgnoreNetworkErrors bool
}

// Browser is one headless Chromium tab. Ctx is the tab's context for
// chromedp calls. Requested and Errors are safe to call while the page runs.
type Browser struct {
	Ctx context.Context

	mu        sync.Mutex
	requested []string
	errors    []string
}

// Start starts headless Chromium and stops it when the test ends. It skips
// the test when Chromium is not installed or the test runs with -short.
func Start(t testing.TB, opt Options) *Browser {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a browser; skipped with -short")
	}
	if _, err := exec.LookPath(ChromiumPath); err != nil {
		t.Skipf("%s not found: install Debian's chromium package (CI does)", ChromiumPath)
	}
	if opt.Width == 0 {
		opt.Width, opt.Height = 1280, 1000
	}
	if opt.Timeout == 0 {
		opt.Timeout = 90 * time.Second
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath),
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
		chromedp.WindowSize(opt.Width, opt.Height),
	}
	ctx, cancel := context.WithTimeout(context.Background(), opt.Timeout)
	t.Cleanup(cancel)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	b := &Browser{Ctx: bctx}
	err := chromedp.Listen(bctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			b.requested = append(b.requested, ev.Request.URL)
		case *runtime.EventExceptionThrown:
			b.errors = append(b.errors, (&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error())
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				b.errors = append(b.errors, "console.error: "+strings.Join(parts, " "))
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level != cdplog.EntryLevelError {
				return
			}
			if opt.IgnoreNetworkErrors && ev.Entry.Source == cdplog.EntrySourceNetwork {
				return
			}
			b.errors = append(b.errors, fmt.Sprintf("%s: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	})
	if err != nil {
		t.Fatalf("cannot start %s: %v", ChromiumPath, err)
	}
	return b
}

// Requested returns a copy of the URLs the page requested so far.
func (b *Browser) Requested() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.requested...)
}

// Errors returns a copy of the errors the page logged so far: exceptions,
// console.error calls and log entries of level error.
func (b *Browser) Errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// CheckSameOrigin fails the test for every URL the page requested outside
// host (host:port) other than data: URLs, and for every error it logged.
func (b *Browser) CheckSameOrigin(t testing.TB, host string) {
	t.Helper()
	for _, u := range b.Requested() {
		pu, err := url.Parse(u)
		if err == nil && pu.Scheme == "data" {
			continue
		}
		if err != nil || pu.Host != host {
			t.Errorf("the page requested %s, outside its origin %s", u, host)
		}
	}
	for _, e := range b.Errors() {
		t.Errorf("browser error: %s", e)
	}
}

// SaveScreenshot writes png into the test's temporary folder as name and,
// when the environment variable env names a file, there too (the docs'
// screenshots are made so).
func SaveScreenshot(t testing.TB, png []byte, name, env string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(t.TempDir(), name), png, 0o644); err != nil {
		t.Fatal(err)
	}
	if path := os.Getenv(env); path != "" {
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot written to %s", path)
	}
}
