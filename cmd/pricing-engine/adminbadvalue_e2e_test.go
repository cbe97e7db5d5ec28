package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/pricing-engine/pricing-engine/internal/redistest"
	"github.com/pricing-engine/pricing-engine/internal/testfile"
)

// TestE2EAdminWrongTypeValue: a value key holding another Redis type (a
// hash where the price's string belongs) answers 502 with the key named,
// on the price path and on every admin request that reads it alike, and a
// raw DEL lets a governed create through again.
func TestE2EAdminWrongTypeValue(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	srv.MustDo("HSET", "pricing:product:P-WT", "base_price", "10")
	srv.MustDo("SET", "pricing:market:NY", "1.10")
	tokens := filepath.Join(t.TempDir(), "tokens")
	testfile.Replace(t, tokens, "ops write "+adminWriteToken+"\n")
	p := &storeProc{proc: startServer(t, append([]string{"--store", srv.URL(), "--admin-tokens-file", tokens}, loopbackArgs...))}
	const detail = "store value for pricing:product:P-WT is invalid"

	code, _, body := p.price("P-WT", "NY")
	if code != 502 || !strings.Contains(body, detail) {
		t.Errorf("price path: %d %s, want 502 naming the key", code, body)
	}
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/admin/v1/products/P-WT", ""},
		{"PUT", "/admin/v1/products/P-WT", `{"base_price":"11"}`},
		{"DELETE", "/admin/v1/products/P-WT", ""},
	} {
		code, h, body := p.adminDo(tc.method, tc.path, adminWriteToken, tc.body, `If-Match: "0"`)
		if code != 502 || !strings.Contains(body, detail) || h.Get("Retry-After") != "" {
			t.Errorf("%s %s: %d (Retry-After %q) %s, want 502 naming the key, no Retry-After", tc.method, tc.path, code, h.Get("Retry-After"), body)
		}
	}
	code, _, body = p.adminDo("POST", "/admin/v1/changes", adminWriteToken, `{"changes":[{"product_id":"P-WT","base_price":"11","if_match":"0"},{"product_id":"P-OK","base_price":"12","if_none_match":"*"}]}`)
	if code != 200 || !strings.Contains(body, `{"error":{"status":502,"detail":"cannot write product:P-WT: `+detail) || !strings.Contains(body, `{"status":201,"version":"1"}`) {
		t.Errorf("batch: %d %s, want 502 for the bad item and 201 for the other", code, body)
	}
	// Fixed outside the API (the value is no price to keep): a governed
	// create works again.
	srv.MustDo("DEL", "pricing:product:P-WT")
	if code, _, body := p.adminDo("PUT", "/admin/v1/products/P-WT", adminWriteToken, `{"base_price":"11"}`, "If-None-Match: *"); code != 201 {
		t.Errorf("create after DEL: %d %s", code, body)
	}
}
