package loadtest

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/pricing-engine/pricing-engine/lookup"
)

func TestCheckQuote(t *testing.T) {
	const good = `{"product_id":"P-123","final_price":45.12,"base_price":52.99,"market_multiplier":0.95,"discount_rate":0.05,"source":"live"}`
	// P-123 at MIA for a member: 52.99 * 0.95 * 0.95 = 47.823475 -> 47.82.
	const right = `{"product_id":"P-123","final_price":47.82,"base_price":52.99,"market_multiplier":0.95,"discount_rate":0.05,"source":"live"}`
	mia := reqInfo{product: 123, location: 2, member: true}
	tests := []struct {
		name   string
		body   string
		info   reqInfo
		strict bool
		want   error
	}{
		{"correct", right, mia, true, nil},
		{"correct with spaces", ` { "product_id" : "P-123" , "final_price" : 47.82 , "base_price" : 52.99 , "market_multiplier" : 0.95 , "discount_rate" : 0.05 , "source" : "live" } `, mia, true, nil},
		{"extra fields skipped", `{"x":{"a":[1,"}"]},"product_id":"P-123","final_price":47.82,"base_price":52.99,"market_multiplier":0.95,"discount_rate":0.05,"source":"live","y":null}`, mia, true, nil},
		{"final price wrong", good, mia, true, errBodyFinal},
		{"product echo wrong", right, reqInfo{product: 124, location: 2, member: true}, false, errBodyProduct},
		{"product prefix of another", `{"product_id":"P-1234","final_price":47.82,"base_price":52.99,"market_multiplier":0.95,"discount_rate":0.05,"source":"live"}`, mia, false, errBodyProduct},
		{"non-member given discount", right, reqInfo{product: 123, location: 2}, false, errBodyDiscount},
		{"source cache refused", `{"product_id":"P-123","final_price":47.82,"base_price":52.99,"market_multiplier":0.95,"discount_rate":0.05,"source":"cache"}`, mia, true, errBodySource},
		{"strict base", `{"product_id":"P-123","final_price":47.5,"base_price":52.63,"market_multiplier":0.95,"discount_rate":0.05,"source":"live"}`, mia, true, errBodyBase},
		{"lenient base", `{"product_id":"P-123","final_price":47.5,"base_price":52.63,"market_multiplier":0.95,"discount_rate":0.05,"source":"live"}`, mia, false, nil},
		{"strict multiplier", `{"product_id":"P-123","final_price":55.37,"base_price":52.99,"market_multiplier":1.1,"discount_rate":0.05,"source":"live"}`, mia, true, errBodyMultiplier},
		{"missing field", `{"product_id":"P-123","final_price":47.82}`, mia, true, errBodyMissing},
		{"not a number", `{"product_id":"P-123","final_price":"47.82","base_price":52.99,"market_multiplier":0.95,"discount_rate":0.05,"source":"live"}`, mia, true, errBodyNumber},
		{"not json", `<html>`, mia, true, errBodySyntax},
		{"truncated", right[:40], mia, true, errBodySyntax},
		{"trailing garbage", right + "x", mia, true, errBodySyntax},
		{"empty object", `{}`, mia, true, errBodyMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := ClassicWorkload()
			w.Strict = tc.strict
			r := mustRenderer(t, &w, target{requestURI: "/", hostHeader: "h"}, false)
			if err := r.checkQuote([]byte(tc.body), tc.info); !errors.Is(err, tc.want) {
				t.Fatalf("checkQuote = %v, want %v", err, tc.want)
			}
		})
	}
}

// mustRenderer is newRenderer for tests.
func mustRenderer(t testing.TB, w *Workload, tgt target, closing bool) *renderer {
	t.Helper()
	r, err := newRenderer(w, tgt, closing)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestCheckQuoteOtherData: the strict check reads the data it is given,
// not the built-in data: a reply right for these files passes, and the
// built-in figures are refused.
func TestCheckQuoteOtherData(t *testing.T) {
	cat, err := lookup.LoadCatalog(strings.NewReader("product_id,base_price\nP-123,10.00\nP-124,20.50\n"), "catalog.csv")
	if err != nil {
		t.Fatal(err)
	}
	mk, err := lookup.LoadMarkets(strings.NewReader("location,multiplier\nNY,2\n*,1.5\n"), "markets.csv")
	if err != nil {
		t.Fatal(err)
	}
	w := ClassicWorkload()
	w.Locations = []string{"NY", "ZZ"}
	w.Catalog, w.Markets = cat, mk
	r := mustRenderer(t, &w, target{requestURI: "/", hostHeader: "h"}, false)
	tests := []struct {
		name string
		body string
		info reqInfo
		want error
	}{
		// 10 * 2 = 20; 20.50 * 1.5 * 0.95 = 29.2125 -> 29.21 (the default market).
		{"NY from the file", `{"product_id":"P-123","final_price":20,"base_price":10.0,"market_multiplier":2,"discount_rate":0,"source":"live"}`, reqInfo{product: 123}, nil},
		{"default market from the file", `{"product_id":"P-124","final_price":29.21,"base_price":20.5,"market_multiplier":1.5,"discount_rate":0.05,"source":"live"}`, reqInfo{product: 124, location: 1, member: true}, nil},
		{"built-in base refused", `{"product_id":"P-123","final_price":58.29,"base_price":52.99,"market_multiplier":1.1,"discount_rate":0,"source":"live"}`, reqInfo{product: 123}, errBodyBase},
		{"built-in multiplier refused", `{"product_id":"P-123","final_price":11,"base_price":10,"market_multiplier":1.1,"discount_rate":0,"source":"live"}`, reqInfo{product: 123}, errBodyMultiplier},
		{"product not in the catalog", `{"product_id":"P-125","final_price":20,"base_price":10,"market_multiplier":2,"discount_rate":0,"source":"live"}`, reqInfo{product: 125}, errBodyBase},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := r.checkQuote([]byte(tc.body), tc.info); !errors.Is(err, tc.want) {
				t.Fatalf("checkQuote = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestAppendRequest(t *testing.T) {
	tests := []struct {
		name     string
		template string
		info     reqInfo
		closing  bool
		head     string
		body     string
	}{
		{"classic", ClassicBodyTemplate, reqInfo{product: 100, location: 1, member: true}, false,
			"POST /api/v1/price HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: pricing-engine-loadtest\r\nContent-Type: application/json\r\n",
			`{"product_id":"P-100","user_location":"LA","is_prime_member":true}`},
		{"custom with braces and close", `{"p":"{product}","n":{x},"m":{member}}`, reqInfo{product: 7, location: 0}, true,
			"POST /api/v1/price HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: pricing-engine-loadtest\r\nContent-Type: application/json\r\nConnection: close\r\n",
			`{"p":"P-7","n":{x},"m":false}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := ClassicWorkload()
			w.BodyTemplate = tc.template
			r := mustRenderer(t, &w, target{requestURI: "/api/v1/price", hostHeader: "127.0.0.1:8000"}, tc.closing)
			got, _ := r.appendRequest(nil, nil, tc.info)
			want := tc.head + "Content-Length: " + strconv.Itoa(len(tc.body)) + "\r\n\r\n" + tc.body
			if string(got) != want {
				t.Fatalf("request\n%q\nwant\n%q", got, want)
			}
		})
	}
}
