package apicheck

import (
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pricing-engine/pricing-engine/apidocs"
)

func TestDocumentLoadsAndValidates(t *testing.T) {
	doc, err := LoadDocument(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := doc.OpenAPI; got != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", got)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/" {
		t.Errorf("servers = %v, want one relative server \"/\"", doc.Servers)
	}
	for _, p := range []string{"/api/v1/price", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/{asset}", "/debug/pprof/"} {
		if doc.Paths.Value(p) == nil {
			t.Errorf("path %s is not documented", p)
		}
	}
	price := doc.Paths.Value("/api/v1/price").Post
	if price == nil {
		t.Fatal("POST /api/v1/price is not documented")
	}
	for _, status := range []int{200, 400, 404, 413, 415, 422, 431, 503} {
		if price.Responses.Status(status) == nil {
			t.Errorf("POST /api/v1/price: status %d is not documented", status)
		}
	}
}

// TestPriceResponseFieldOrder checks that the schema lists the members in the
// order docs/API.md writes them, which Swagger UI shows.
func TestPriceResponseFieldOrder(t *testing.T) {
	var raw struct {
		Components struct {
			Schemas struct {
				PriceResponse struct {
					Properties json.RawMessage `json:"properties"`
				} `json:"PriceResponse"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(apidocs.OpenAPI(), &raw); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw.Components.Schemas.PriceResponse.Properties)))
	var keys []string
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch tok := tok.(type) {
		case json.Delim:
			if tok == '{' || tok == '[' {
				depth++
			} else {
				depth--
			}
		case string:
			if depth == 1 {
				keys = append(keys, tok)
				// Skip the member's value.
				var v json.RawMessage
				if err := dec.Decode(&v); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	want := "product_id,final_price,base_price,market_multiplier,discount_rate,source,list_price,ruleset_version,prior_price,prior_price_since,explanation,quote"
	if got := strings.Join(keys, ","); got != want {
		t.Errorf("PriceResponse properties = %s, want %s", got, want)
	}
}

func TestValidateResponse(t *testing.T) {
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	jsonCT := http.Header{"Content-Type": {"application/json"}}
	with := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	const price = "/api/v1/price"
	tests := []struct {
		name    string
		method  string
		target  string
		status  int
		header  http.Header
		body    string
		wantErr string // substring; "" means valid
	}{
		// Replies written in docs/API.md.
		{"quote", "POST", price, 200, jsonCT,
			`{"product_id":"P-123","final_price":45.12,"base_price":49.99,"market_multiplier":0.95,"discount_rate":0.05,"source":"live"}`, ""},
		{"quote shortest numbers", "POST", price, 200, with("Content-Type", "application/json; charset=utf-8"),
			`{"product_id":"P-105","final_price":50,"base_price":54.99,"market_multiplier":1,"discount_rate":0,"source":"stale"}`, ""},
		{"quote from no known source", "POST", price, 200, jsonCT,
			`{"product_id":"P-105","final_price":50,"base_price":54.99,"market_multiplier":1,"discount_rate":0,"source":"cache"}`, "source"},
		{"invalid JSON", "POST", price, 400, jsonCT, `{"detail":"invalid JSON: unexpected end of input at offset 15"}`, ""},
		{"missing field", "POST", price, 422, jsonCT,
			`{"detail":[{"type":"missing","loc":["body","product_id"],"msg":"Field required"}]}`, ""},
		{"two bad fields", "POST", price, 422, jsonCT,
			`{"detail":[{"type":"missing","loc":["body","product_id"],"msg":"Field required","input":{"user_location":"NY"}},` +
				`{"type":"string_too_long","loc":["body","user_location"],"msg":"String should have at most 64 characters","input":"x","ctx":{"max_length":64}}]}`, ""},
		{"unknown product", "POST", price, 404, jsonCT, `{"detail":"unknown product_id \"P-X\""}`, ""},
		{"unknown path", "GET", "/nope", 404, jsonCT, `{"detail":"Not Found"}`, ""},
		{"unknown path on POST", "POST", "/api/v2/price", 404, jsonCT, `{"detail":"Not Found"}`, ""},
		{"wrong method", "GET", price, 405, with("Content-Type", "application/json", "Allow", "POST"), `{"detail":"Method Not Allowed"}`, ""},
		{"body too large", "POST", price, 413, jsonCT, `{"detail":"request body larger than 65536 bytes"}`, ""},
		{"headers too large", "POST", price, 431, jsonCT, `{"detail":"request header fields too large"}`, ""},
		{"headers too large on GET", "GET", "/metrics", 431, jsonCT, `{"detail":"too many header fields"}`, ""},
		{"not JSON content type", "POST", price, 415, jsonCT, `{"detail":"unsupported Content-Type \"text/plain\""}`, ""},
		{"lookup timed out", "POST", price, 503, with("Content-Type", "application/json", "Retry-After", "1"), `{"detail":"catalog lookup timed out"}`, ""},
		{"overloaded on GET", "GET", "/healthz", 503, with("Content-Type", "application/json", "Retry-After", "2"), `{"detail":"server overloaded"}`, ""},
		{"malformed HTTP", "GET", "/metrics", 400, jsonCT, `{"detail":"malformed HTTP request"}`, ""},
		{"healthz", "GET", "/healthz", 200, with("Content-Type", "text/plain; charset=utf-8"), "ok\n", ""},
		{"readyz", "GET", "/readyz", 200, with("Content-Type", "text/plain; charset=utf-8"), "ready\n", ""},
		{"readyz draining", "GET", "/readyz", 503, with("Content-Type", "text/plain; charset=utf-8"), "draining\n", ""},
		{"metrics", "GET", "/metrics", 200, with("Content-Type", "text/plain; version=0.0.4; charset=utf-8"), "# TYPE up gauge\nup 1\n", ""},
		{"metrics openmetrics", "GET", "/metrics", 200, with("Content-Type", "application/openmetrics-text; version=1.0.0; charset=utf-8"), "# EOF\n", ""},
		{"openapi", "GET", "/openapi.json", 200, jsonCT, string(apidocs.OpenAPI()), ""},
		{"docs", "GET", "/docs", 200, with("Content-Type", "text/html; charset=utf-8"), "<!DOCTYPE html>", ""},
		{"docs asset", "GET", "/docs/swagger-ui.css", 200, with("Content-Type", "text/css; charset=utf-8"), "body{}", ""},
		{"docs asset with query", "GET", "/docs/swagger-ui.css?v=1", 200, with("Content-Type", "text/css; charset=utf-8"), "body{}", ""},
		{"docs missing asset", "GET", "/docs/nope.js", 404, jsonCT, `{"detail":"Not Found"}`, ""},
		{"pprof", "GET", "/debug/pprof/", 200, with("Content-Type", "text/html; charset=utf-8"), "<html>", ""},

		// Replies the document must refuse.
		{"quote missing member", "POST", price, 200, jsonCT,
			`{"product_id":"P-123","final_price":45.12,"base_price":49.99,"market_multiplier":0.95,"discount_rate":0.05}`, "source"},
		{"quote bad source", "POST", price, 200, jsonCT,
			`{"product_id":"P-123","final_price":45.12,"base_price":49.99,"market_multiplier":0.95,"discount_rate":0.05,"source":"guess"}`, "source"},
		{"quote as text", "POST", price, 200, with("Content-Type", "text/plain"), `{}`, "Content-Type"},
		{"quote not JSON", "POST", price, 200, jsonCT, `{"product_id":`, "decode"},
		{"error without detail", "POST", price, 404, jsonCT, `{"error":"unknown product"}`, "detail"},
		{"422 with string detail", "POST", price, 422, jsonCT, `{"detail":"bad"}`, "detail"},
		{"422 entry without loc", "POST", price, 422, jsonCT, `{"detail":[{"type":"missing","msg":"Field required"}]}`, "loc"},
		{"503 without Retry-After", "POST", price, 503, jsonCT, `{"detail":"overloaded"}`, "Retry-After"},
		{"503 with date Retry-After", "POST", price, 503, with("Content-Type", "application/json", "Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"), `{"detail":"x"}`, "Retry-After"},
		{"405 without Allow", "GET", price, 405, jsonCT, `{"detail":"Method Not Allowed"}`, "Allow"},
		{"unknown path with 200", "GET", "/nope", 200, jsonCT, `{}`, "want 404"},
		{"wrong method with 404", "DELETE", "/metrics", 404, jsonCT, `{"detail":"Not Found"}`, "want 405"},
		{"undocumented status", "POST", price, 418, jsonCT, `{"detail":"teapot"}`, "status"},
		{"docs as JSON", "GET", "/docs", 200, jsonCT, `{}`, "Content-Type"},
		{"docs without Content-Type", "GET", "/docs", 200, http.Header{}, `<html>`, "Content-Type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.ValidateResponse(tt.method, tt.target, tt.status, tt.header, []byte(tt.body))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("ValidateResponse: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("ValidateResponse accepted the reply, want an error mentioning %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("ValidateResponse error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestValidateResponseFunc(t *testing.T) {
	err := ValidateResponse("POST", "/api/v1/price", 200, http.Header{"Content-Type": {"application/json"}},
		[]byte(`{"product_id":"P-123","final_price":45.12,"base_price":49.99,"market_multiplier":0.95,"discount_rate":0.05,"source":"live"}`))
	if err != nil {
		t.Fatal(err)
	}
}

// TestSourceEnum checks that the "source" enum of PriceResponse lists
// exactly the values of the pricing package's Source* constants (read from
// its source files, so a new constant without a line in the document
// fails here).
func TestSourceEnum(t *testing.T) {
	var raw struct {
		Components struct {
			Schemas struct {
				PriceResponse struct {
					Properties struct {
						Source struct {
							Enum []string `json:"enum"`
						} `json:"source"`
					} `json:"properties"`
				} `json:"PriceResponse"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(apidocs.OpenAPI(), &raw); err != nil {
		t.Fatal(err)
	}
	enum := raw.Components.Schemas.PriceResponse.Properties.Source.Enum

	files, err := filepath.Glob("../../pricing/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no pricing sources: %v", err)
	}
	var consts []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if !strings.HasPrefix(id.Name, "Source") || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("pricing.%s is not a string literal", id.Name)
					}
					v, _ := strconv.Unquote(lit.Value)
					consts = append(consts, v)
				}
			}
		}
	}
	slices.Sort(enum)
	slices.Sort(consts)
	if len(consts) < 2 || !slices.Equal(enum, consts) {
		t.Errorf("openapi.json source enum %q, pricing's Source* constants %q", enum, consts)
	}
}

// TestAdminDocumentLoads validates the admin API's document (OpenAPI 3.1
// rules, examples included) and checks replies of each kind against it.
func TestAdminDocumentLoads(t *testing.T) {
	v, err := NewAdminValidator()
	if err != nil {
		t.Fatal(err)
	}
	entry := `{"product_id":"P-1","base_price":"52.99","version":"3","updated_at":"2026-12-07T06:40:00.000Z","updated_by":"alice"}`
	etag := http.Header{"Content-Type": {"application/json"}, "Etag": {`"3"`}}
	for _, tc := range []struct {
		name, method, target string
		status               int
		header               http.Header
		body                 string
		ok                   bool
	}{
		{"entry", "GET", "/admin/v1/products/P-1", 200, etag, entry, true},
		{"entry without version", "GET", "/admin/v1/products/P-1", 200, etag, `{"product_id":"P-1","base_price":"52.99"}`, false},
		{"market", "GET", "/admin/v1/markets/NY", 200, etag, `{"location":"NY","multiplier":"1.10","version":"0","updated_at":null,"updated_by":null}`, true},
		{"number version", "GET", "/admin/v1/markets/NY", 200, etag, `{"location":"NY","multiplier":"1.10","version":0,"updated_at":null,"updated_by":null}`, false},
		{"unauthorized", "GET", "/admin/v1/products/P-1", 401, http.Header{"Content-Type": {"application/json"}, "Www-Authenticate": {`Bearer realm="x"`}}, `{"detail":"missing"}`, true},
		{"unauthorized without challenge", "GET", "/admin/v1/products/P-1", 401, http.Header{"Content-Type": {"application/json"}}, `{"detail":"missing"}`, false},
		{"conflict", "PUT", "/admin/v1/products/P-1", 412, etag, `{"detail":"precondition failed"}`, true},
		{"validation", "PUT", "/admin/v1/products/P-1", 422, http.Header{"Content-Type": {"application/json"}}, `{"detail":[{"type":"missing","loc":["body","base_price"],"msg":"Field required"}]}`, true},
		{"changes", "POST", "/admin/v1/changes", 200, http.Header{"Content-Type": {"application/json"}}, `{"results":[{"status":200,"version":"4"},{"error":{"status":412,"detail":"x"}}]}`, true},
		{"audit", "GET", "/admin/v1/audit?key=product:P-1", 200, http.Header{"Content-Type": {"application/json"}},
			`{"entries":[{"id":"1-0","at":"2026-12-07T06:40:00.000Z","actor":"alice","kind":"update","key":"product:P-1","before":"50.99","after":"52.99","version":"1","request_id":"r"}],"next_cursor":null}`, true},
		{"audit bad kind", "GET", "/admin/v1/audit?key=product:P-1", 200, http.Header{"Content-Type": {"application/json"}},
			`{"entries":[{"id":"1-0","at":"2026-12-07T06:40:00.000Z","actor":"alice","kind":"edit","key":"product:P-1","before":null,"after":"52.99","version":"1","request_id":"r"}],"next_cursor":null}`, false},
		{"console", "GET", "/console", 200, http.Header{"Content-Type": {"text/html; charset=utf-8"}}, "<!doctype html>", true},
		{"unknown path", "GET", "/admin/v1/nothing", 404, http.Header{"Content-Type": {"application/json"}}, `{"detail":"Not Found"}`, true},
	} {
		err := v.ValidateResponse(tc.method, tc.target, tc.status, tc.header, []byte(tc.body))
		if (err == nil) != tc.ok {
			t.Errorf("%s: ValidateResponse = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}
