package loadtest

import (
	"errors"
	"strconv"
	"testing"
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
			r := newRenderer(&w, target{requestURI: "/", hostHeader: "h"}, false)
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
			r := newRenderer(&w, target{requestURI: "/api/v1/price", hostHeader: "127.0.0.1:8000"}, tc.closing)
			got, _ := r.appendRequest(nil, nil, tc.info)
			want := tc.head + "Content-Length: " + strconv.Itoa(len(tc.body)) + "\r\n\r\n" + tc.body
			if string(got) != want {
				t.Fatalf("request\n%q\nwant\n%q", got, want)
			}
		})
	}
}
