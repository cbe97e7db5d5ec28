package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/redistest"
	"github.com/pricing-engine/pricing-engine/internal/testfile"
)

// The admin write API end to end: the real binary, its admin port, and
// the price path on the API port seeing the writes.

const (
	adminWriteToken = "e2e-write-0123456789abcdef"
	adminNewToken   = "e2e-new-0123456789abcdef01"
)

// adminDo sends one admin request with a bearer token and extra headers.
func (p *proc) adminDo(method, path, token, body string, headers ...string) (int, http.Header, string) {
	p.t.Helper()
	req, err := http.NewRequest(method, "http://"+p.admin+path, strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func TestE2EAdminAPI(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	if imp := runBinary(t, []string{"import", "--store", srv.URL(), "--embedded"}); imp.code != 0 {
		t.Fatalf("import: exit %d\n%s", imp.code, imp.stderr)
	}
	tokens := filepath.Join(t.TempDir(), "tokens")
	testfile.Replace(t, tokens, "# e2e\nops write "+adminWriteToken+"\n")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"memory", nil},
		{"redis", []string{"--store", srv.URL()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &storeProc{proc: startServer(t, append(append([]string{"--admin-tokens-file", tokens}, tc.args...), loopbackArgs...))}
			// The API port never serves /admin/.
			if code, _, body := p.do("GET", "http://"+p.api+"/admin/v1/products/P-1", "", ""); code != 404 || body != `{"detail":"Not Found"}` {
				t.Errorf("API port /admin/: %d %s", code, body)
			}
			// GET /rules needs a token once a tokens file is set (here:
			// no --rules, so 404 with one).
			if code, h, _ := p.adminDo("GET", "/rules", "", ""); code != 401 || h.Get("WWW-Authenticate") == "" {
				t.Errorf("/rules without a token: %d", code)
			}
			if code, _, _ := p.adminDo("GET", "/rules", adminWriteToken, ""); code != 404 {
				t.Errorf("/rules with a token: %d, want 404 (no --rules)", code)
			}
			code, h, body := p.adminDo("GET", "/admin/v1/products/P-7", adminWriteToken, "")
			if code != 200 || h.Get("ETag") == "" {
				t.Fatalf("GET: %d %s", code, body)
			}
			etag := h.Get("ETag")
			code, _, body = p.adminDo("PUT", "/admin/v1/products/P-7", adminWriteToken, `{"base_price":"70.00"}`, "If-Match: "+etag)
			if code != 200 {
				t.Fatalf("PUT: %d %s", code, body)
			}
			// The write is on the price path (Redis: through the
			// invalidation, well within the 100 ms promise here).
			start := time.Now()
			waitFor(t, 2*time.Second, "the written price on the API port", func() bool {
				_, _, b := p.price("P-7", "NY")
				return strings.Contains(b, `"base_price":70`)
			})
			t.Logf("served %s after the PUT returned", time.Since(start))
			if code, _, _ := p.adminDo("PUT", "/admin/v1/products/P-7", adminWriteToken, `{"base_price":"71"}`, "If-Match: "+etag); code != 412 {
				t.Errorf("stale If-Match: %d", code)
			}
			if p.metric(`pricing_admin_writes_total{outcome="updated"}`) != 1 || p.metric(`pricing_admin_writes_total{outcome="precondition_failed"}`) != 1 {
				t.Error("writes not counted by outcome")
			}
			// Rotation without restart: add the new token, then drop the
			// old one and say so with SIGHUP (the file is also polled).
			if code, _, _ := p.adminDo("GET", "/admin/v1/products/P-7", adminNewToken, ""); code != 401 {
				t.Fatalf("unknown token: %d", code)
			}
			testfile.Replace(t, tokens, "ops write "+adminWriteToken+"\nops write "+adminNewToken+"\n")
			p.signal(syscall.SIGHUP)
			waitFor(t, 3*time.Second, "the new token", func() bool {
				code, _, _ := p.adminDo("GET", "/admin/v1/products/P-7", adminNewToken, "")
				return code == 200
			})
			testfile.Replace(t, tokens, "ops write "+adminNewToken+"\n")
			waitFor(t, 3*time.Second, "the old token refused", func() bool {
				code, h, _ := p.adminDo("GET", "/admin/v1/products/P-7", adminWriteToken, "")
				return code == 401 && h.Get("WWW-Authenticate") != ""
			})
			if code, _, body := p.adminDo("GET", "/admin/v1/audit?key=product:P-7", adminNewToken, ""); code != 200 || !strings.Contains(body, `"actor":"ops"`) || !strings.Contains(body, `"after":"70.00"`) {
				t.Errorf("audit: %d %s", code, body)
			}
			// Tokens never reach the logs.
			for _, line := range p.logLines() {
				if strings.Contains(line, adminWriteToken) || strings.Contains(line, adminNewToken) {
					t.Fatalf("a token is logged: %s", line)
				}
			}
			testfile.Replace(t, tokens, "# e2e\nops write "+adminWriteToken+"\n")
		})
	}
	t.Run("disabled", func(t *testing.T) {
		p := startServer(t, loopbackArgs)
		code, _, body := p.adminDo("PUT", "/admin/v1/products/P-1", adminWriteToken, `{"base_price":"1"}`, `If-Match: "0"`)
		if code != 403 || body != `{"detail":"admin API disabled: no --admin-tokens-file"}`+"\n" {
			t.Errorf("without tokens: %d %q", code, body)
		}
	})
	t.Run("bad tokens file", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "tokens")
		if err := os.WriteFile(bad, []byte("ops write short-secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := runBinary(t, append([]string{"--admin-tokens-file", bad}, loopbackArgs...))
		if r.code == 0 || !strings.Contains(r.stderr, "line 1") || strings.Contains(r.stderr, "short-secret") {
			t.Errorf("exit %d, stderr %q: want a refusal naming the line, not the token", r.code, r.stderr)
		}
	})
}
