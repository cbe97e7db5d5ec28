package pricing

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestDecodeOK(t *testing.T) {
	tests := []struct {
		body   string
		pid    string
		loc    string
		member bool
	}{
		{`{"product_id":"P-123","user_location":"NY","is_prime_member":true}`, "P-123", "NY", true},
		{`{"product_id":"P-1","user_location":"LA"}`, "P-1", "LA", false},
		{` { "user_location" : "MIA" , "product_id" : "P-9", "extra": [1, {"a": null}] } `, "P-9", "MIA", false},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":false}`, "P-1", "NY", false},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":1}`, "P-1", "NY", true},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":0}`, "P-1", "NY", false},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":1.0}`, "P-1", "NY", true},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":"YES"}`, "P-1", "NY", true},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":"off"}`, "P-1", "NY", false},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":"T"}`, "P-1", "NY", true},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":"n"}`, "P-1", "NY", false},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":"1"}`, "P-1", "NY", true},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":"False"}`, "P-1", "NY", false},
		{`{"product_id":"P-\u00e9\"x","user_location":"N\\Y"}`, "P-\u00e9\"x", `N\Y`, false},
		{`{"product_id":"first","product_id":"last","user_location":"NY"}`, "last", "NY", false},
		{`{"product_id":"` + strings.Repeat("a", 64) + `","user_location":"x"}`, strings.Repeat("a", 64), "x", false},
	}
	var d Decoder
	var r Request
	for _, tt := range tests {
		r.Member = !tt.member // must be overwritten
		if err := d.Decode([]byte(tt.body), &r); err != nil {
			t.Errorf("Decode(%s): %v", tt.body, err)
			continue
		}
		if string(r.ProductID) != tt.pid || string(r.Location) != tt.loc || r.Member != tt.member {
			t.Errorf("Decode(%s) = {%q %q %v}, want {%q %q %v}", tt.body, r.ProductID, r.Location, r.Member, tt.pid, tt.loc, tt.member)
		}
	}
}

func TestDecodeInvalidJSON(t *testing.T) {
	tests := []struct{ body, want string }{
		{``, `{"detail":"invalid JSON: `},
		{`{`, `{"detail":"invalid JSON: `},
		{`{"product_id":"P-1",}`, `{"detail":"invalid JSON: `},
		{`{"product_id":"P-1"} x`, `{"detail":"invalid JSON: `},
		{`[1,2]`, `{"detail":"invalid JSON: expected an object at the top level, got array"}`},
		{`"P-1"`, `{"detail":"invalid JSON: expected an object at the top level, got string"}`},
		{`null`, `{"detail":"invalid JSON: expected an object at the top level, got null"}`},
		{`42`, `{"detail":"invalid JSON: expected an object at the top level, got number"}`},
	}
	var d Decoder
	var r Request
	for _, tt := range tests {
		err := d.Decode([]byte(tt.body), &r)
		var pe *Error
		if !errors.As(err, &pe) || pe.Status != StatusBadRequest || pe.RetryAfter != 0 {
			t.Errorf("Decode(%q) = %v, want a 400 *Error", tt.body, err)
			continue
		}
		got := string(pe.AppendJSON(nil))
		if strings.HasSuffix(tt.want, `"}`) && got != tt.want || !strings.HasPrefix(got, tt.want) {
			t.Errorf("Decode(%q) body = %s, want %s", tt.body, got, tt.want)
		}
		if !strings.HasPrefix(pe.Error(), "invalid JSON: ") {
			t.Errorf("Error() = %q", pe.Error())
		}
	}
}

func TestDecodeValidation(t *testing.T) {
	long := strings.Repeat("a", 65)
	tests := []struct{ body, want string }{
		{`{}`, `{"detail":[` +
			`{"type":"missing","loc":["body","product_id"],"msg":"Field required","input":{}},` +
			`{"type":"missing","loc":["body","user_location"],"msg":"Field required","input":{}}]}`},
		{`{"user_location":"NY"}`,
			`{"detail":[{"type":"missing","loc":["body","product_id"],"msg":"Field required","input":{"user_location":"NY"}}]}`},
		{`{"product_id":123,"user_location":null}`, `{"detail":[` +
			`{"type":"string_type","loc":["body","product_id"],"msg":"Input should be a valid string","input":123},` +
			`{"type":"string_type","loc":["body","user_location"],"msg":"Input should be a valid string","input":null}]}`},
		{`{"product_id":"","user_location":"NY"}`,
			`{"detail":[{"type":"string_too_short","loc":["body","product_id"],"msg":"String should have at least 1 character","input":"","ctx":{"min_length":1}}]}`},
		{`{"product_id":"P-1","user_location":"` + long + `"}`,
			`{"detail":[{"type":"string_too_long","loc":["body","user_location"],"msg":"String should have at most 64 characters","input":"` + long + `","ctx":{"max_length":64}}]}`},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":"maybe"}`,
			`{"detail":[{"type":"bool_parsing","loc":["body","is_prime_member"],"msg":"Input should be a valid boolean, unable to interpret input","input":"maybe"}]}`},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":2}`,
			`{"detail":[{"type":"bool_parsing","loc":["body","is_prime_member"],"msg":"Input should be a valid boolean, unable to interpret input","input":2}]}`},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":" true"}`,
			`{"detail":[{"type":"bool_parsing","loc":["body","is_prime_member"],"msg":"Input should be a valid boolean, unable to interpret input","input":" true"}]}`},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":0.5}`,
			`{"detail":[{"type":"bool_type","loc":["body","is_prime_member"],"msg":"Input should be a valid boolean","input":0.5}]}`},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":null}`,
			`{"detail":[{"type":"bool_type","loc":["body","is_prime_member"],"msg":"Input should be a valid boolean","input":null}]}`},
		{`{"product_id":["P-1"],"user_location":{"a":1},"is_prime_member":[]}`, `{"detail":[` +
			`{"type":"string_type","loc":["body","product_id"],"msg":"Input should be a valid string","input":["P-1"]},` +
			`{"type":"string_type","loc":["body","user_location"],"msg":"Input should be a valid string","input":{"a":1}},` +
			`{"type":"bool_type","loc":["body","is_prime_member"],"msg":"Input should be a valid boolean","input":[]}]}`},
		{`{"product_id":true,"other":"N\"Y\u0001é"}`, `{"detail":[` +
			`{"type":"string_type","loc":["body","product_id"],"msg":"Input should be a valid string","input":true},` +
			`{"type":"missing","loc":["body","user_location"],"msg":"Field required","input":{"product_id":true,"other":"N\"Y\u0001é"}}]}`},
	}
	var d Decoder
	var r Request
	for _, tt := range tests {
		err := d.Decode([]byte(tt.body), &r)
		var pe *Error
		if !errors.As(err, &pe) || pe.Status != StatusUnprocessableEntity {
			t.Errorf("Decode(%s) = %v, want a 422 *Error", tt.body, err)
			continue
		}
		if got := string(pe.AppendJSON(nil)); got != tt.want {
			t.Errorf("Decode(%s) body\n got %s\nwant %s", tt.body, got, tt.want)
		}
	}
}

func TestIsJSONNumber(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"0", true}, {"-0", true}, {"12", true}, {"1.5", true}, {"-1.5e10", true}, {"1E+2", true}, {"0.0e-0", true},
		{"", false}, {"-", false}, {"01", false}, {"1.", false}, {".5", false}, {"1e", false}, {"+1", false},
		{"inf", false}, {"NaN", false}, {"1e+", false}, {"1.5.5", false}, {"0x1", false},
	}
	for _, tt := range tests {
		if got := isJSONNumber([]byte(tt.in)); got != tt.want {
			t.Errorf("isJSONNumber(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseLaxBool(t *testing.T) {
	tests := []struct {
		in      string
		val, ok bool
	}{
		{"0", false, true}, {"1", true, true},
		{"f", false, true}, {"F", false, true}, {"t", true, true}, {"T", true, true},
		{"n", false, true}, {"y", true, true}, {"No", false, true}, {"yEs", true, true},
		{"OFF", false, true}, {"oN", true, true}, {"FALSE", false, true}, {"True", true, true},
		{"", false, false}, {"2", false, false}, {"truee", false, false}, {"tru", false, false},
		{"00", false, false}, {"yes ", false, false}, {"falsey", false, false},
	}
	for _, tt := range tests {
		val, ok := parseLaxBool([]byte(tt.in))
		if val != tt.val || ok != tt.ok {
			t.Errorf("parseLaxBool(%q) = %v, %v; want %v, %v", tt.in, val, ok, tt.val, tt.ok)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"product_id":"P-1","user_location":"NY","is_prime_member":"yes"}`))
	f.Add([]byte(`{"product_id":1}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var d Decoder
		var r Request
		err := d.Decode(body, &r)
		if err == nil {
			if n := len(r.ProductID); n < MinFieldLen || n > MaxFieldLen {
				t.Fatalf("accepted product_id of %d bytes", n)
			}
			if n := len(r.Location); n < MinFieldLen || n > MaxFieldLen {
				t.Fatalf("accepted user_location of %d bytes", n)
			}
			return
		}
		var pe *Error
		if !errors.As(err, &pe) || (pe.Status != StatusBadRequest && pe.Status != StatusUnprocessableEntity) {
			t.Fatalf("Decode error %v is not a 400/422 *Error", err)
		}
		if !validJSON(pe.AppendJSON(nil)) {
			t.Fatalf("error body is not valid JSON: %s", pe.AppendJSON(nil))
		}
	})
}

// FuzzDecodeFast holds the fast path to the full one: whatever decodeFast
// accepts, the JSON tree path accepts too, with the same fields.
func FuzzDecodeFast(f *testing.F) {
	for _, s := range []string{
		`{"product_id":"P-123","user_location":"NY","is_prime_member":true}`,
		` {"user_location" : "LA",` + "\n\t" + `"product_id":"P-1"} `,
		`{"product_id":"P-1","user_location":"NY","is_prime_member":false,"product_id":"P-2"}`,
		`{"product_id":"P-\u00e9","user_location":"NY"}`,
		`{"product_id":"P-1","user_location":"NY","is_prime_member":truex}`,
		`{"product_id":"","user_location":"NY"}`,
		`{"product_id":"P-1","user_location":"NY"}}`,
		"{\"product_id\":\"P-\x011\",\"user_location\":\"NY\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast Request
		if !decodeFast(body, &fast) {
			return
		}
		var d Decoder
		var full Request
		if err := d.decodeTree(body, &full); err != nil {
			t.Fatalf("fast path accepted %q, full path: %v", body, err)
		}
		if !bytes.Equal(fast.ProductID, full.ProductID) || !bytes.Equal(fast.Location, full.Location) || fast.Member != full.Member {
			t.Fatalf("%q: fast %q %q %v, full %q %q %v", body,
				fast.ProductID, fast.Location, fast.Member, full.ProductID, full.Location, full.Member)
		}
	})
}

// TestDecodeFastTakes pins which bodies take the fast path: the common
// shapes do, and everything needing the full parser (escapes, duplicates,
// unknown fields, lax booleans, errors) does not.
func TestDecodeFastTakes(t *testing.T) {
	for _, tt := range []struct {
		body string
		fast bool
	}{
		{`{"product_id":"P-123","user_location":"NY","is_prime_member":true}`, true},
		{` { "user_location" : "MIA" , "product_id" : "P-9" } ` + "\r\n", true},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":false}`, true},
		{`{"product_id":"` + strings.Repeat("a", 64) + `","user_location":"x"}`, true},
		{`{"product_id":"` + strings.Repeat("a", 65) + `","user_location":"x"}`, false},
		{`{"product_id":"","user_location":"x"}`, false},
		{`{"product_id":"P-\u00e9","user_location":"NY"}`, false},
		{`{"product_id":"first","product_id":"last","user_location":"NY"}`, false},
		{`{"product_id":"P-1","user_location":"NY","extra":1}`, false},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":"yes"}`, false},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":1}`, false},
		{`{"product_id":"P-1"}`, false},
		{`{"product_id":"P-1","user_location":"NY",}`, false},
		{`{"product_id":"P-1","user_location":"NY"} x`, false},
		{`{}`, false},
		{``, false},
	} {
		var r Request
		if got := decodeFast([]byte(tt.body), &r); got != tt.fast {
			t.Errorf("decodeFast(%q) = %v, want %v", tt.body, got, tt.fast)
		}
	}
}
