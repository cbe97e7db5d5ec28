package apidocs_test

import (
	"fmt"
	"github.com/pricing-engine/pricing-engine/apidocs/apicheck"
	"net/http"

	"github.com/pricing-engine/pricing-engine/apidocs"
)

// A server without net/http answers the documentation paths from memory:
// the bytes and headers of one Docs built at start.
func ExampleDocs_File() {
	docs := apidocs.New() // once, at start
	for _, path := range []string{"/docs", "/openapi.json", "/docs/swagger-ui.css", "/docs/missing.js"} {
		f, ok := docs.File([]byte(path))
		if !ok {
			fmt.Println(path, "-> 404")
			continue
		}
		fmt.Println(path, "->", f.ContentType, "|", f.CacheControl, "|", len(f.Body) > 0)
		if f.NotModified([]byte(f.ETag)) {
			fmt.Println("  If-None-Match: <its ETag> -> 304")
		}
	}
	// Output:
	// /docs -> text/html; charset=utf-8 | no-cache | true
	//   If-None-Match: <its ETag> -> 304
	// /openapi.json -> application/json | no-cache | true
	//   If-None-Match: <its ETag> -> 304
	// /docs/swagger-ui.css -> text/css; charset=utf-8 | public, max-age=3600 | true
	//   If-None-Match: <its ETag> -> 304
	// /docs/missing.js -> 404
}

// An end-to-end test checks a live reply against the document.
func Example_validateResponse() {
	v, err := apicheck.NewValidator()
	if err != nil {
		panic(err)
	}
	header := http.Header{"Content-Type": {"application/json"}}
	err = v.ValidateResponse("POST", "/api/v1/price", 404, header, []byte(`{"detail":"unknown product_id \"P-X\""}`))
	fmt.Println(err)
	err = v.ValidateResponse("POST", "/api/v1/price", 503, header, []byte(`{"detail":"overloaded"}`))
	fmt.Println(err != nil) // Retry-After is missing
	// Output:
	// <nil>
	// true
}
