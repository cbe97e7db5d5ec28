package pricing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
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

// TestDecodeFullEdges pins what the full path makes of the corners of
// JSON text that the decoder has always read its own way: a surrogate
// escape with no \u escape after it is kept as written, two surrogates
// that are not a pair make U+FFFD, a number with an exponent is read as
// fastfloat reads it, and the input of an error is the value without
// whitespace, its strings unescaped and written again.
func TestDecodeFullEdges(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{"product_id":"\ud800","user_location":"NY"}`, `ok "\\ud800" "NY" false`},
		{`{"product_id":"\ud800\u0041x","user_location":"\ud83d\ude00"}`, "ok \"\ufffdx\" \"😀\" false"},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":0.14e4}`,
			`{"detail":[{"type":"bool_type","loc":["body","is_prime_member"],"msg":"Input should be a valid boolean","input":0.14e4}]}`},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":14E2}`,
			`{"detail":[{"type":"bool_parsing","loc":["body","is_prime_member"],"msg":"Input should be a valid boolean, unable to interpret input","input":14E2}]}`},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":10E-1,"explain":-0.0}`, `ok "P-1" "NY" true`},
		{` { "x" : [ 1 , "\u0041\/" ] , "\u0070roduct_id" : 5 } `, `{"detail":[` +
			`{"type":"string_type","loc":["body","product_id"],"msg":"Input should be a valid string","input":5},` +
			`{"type":"missing","loc":["body","user_location"],"msg":"Field required","input":{"x":[1,"A/"],"product_id":5}}]}`},
	}
	var d Decoder
	var r Request
	for _, tt := range tests {
		var got string
		if err := d.Decode([]byte(tt.body), &r); err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Decode(%s) = %v", tt.body, err)
			}
			got = string(pe.AppendJSON(nil))
		} else {
			got = fmt.Sprintf("ok %q %q %v", r.ProductID, r.Location, r.Member)
		}
		if got != tt.want {
			t.Errorf("Decode(%s)\n got %s\nwant %s", tt.body, got, tt.want)
		}
	}
}

// isJSONNumber reports whether checkNumber takes all of b: whether b is a
// number per RFC 8259 section 6.
func isJSONNumber(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	n, why := checkNumber(b, 0)
	return why == "" && n == len(b)
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
// accepts, the full path accepts too, with the same fields.
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
		`{"product_id":"P-1","user_location":"NY","is_prime_member":"Yes","explain":1,"x":{"a":[1,2,3]}}`,
		`{"product_id":"P-1","user_location":"NY","is_prime_member":1.0,"explain":"off"}`,
		`{"product_id":"P-1","user_location":"NY","quote":true}`,
		`{"quote":"yes","product_id":"P-1","user_location":"NY","quote":0}`,
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
		if err := d.decodeFull(body, 0, &full); err != nil {
			t.Fatalf("fast path accepted %q, full path: %v", body, err)
		}
		if !bytes.Equal(fast.ProductID, full.ProductID) || !bytes.Equal(fast.Location, full.Location) ||
			fast.Member != full.Member || fast.Explain != full.Explain || fast.Quote != full.Quote {
			t.Fatalf("%q: fast %q %q %v %v %v, full %q %q %v %v %v", body, fast.ProductID, fast.Location, fast.Member, fast.Explain, fast.Quote,
				full.ProductID, full.Location, full.Member, full.Explain, full.Quote)
		}
	})
}

// TestDecodeFastTakes pins which bodies take the fast path: the common
// shapes, unknown fields, duplicates and lax booleans do; everything
// needing the full parser (escapes where they matter, numbers other than
// 0 and 1 for a boolean, any error) does not.
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
		{`{"product_id":"first","product_id":"last","user_location":"NY"}`, true},
		{`{"product_id":"first","product_id":"","user_location":"NY"}`, false},
		{`{"product_id":"P-1","user_location":"NY","extra":1}`, true},
		{`{"product_id":"P-1","user_location":"NY","extra":{"a":["\u00e9",-1.5e3,null]}}`, true},
		{`{"product_id":"P-1","user_location":"NY","extra":01}`, false},
		{`{"product_id":"P-1","user_location":"NY","ex\u0074ra":1}`, false},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":"yes"}`, true},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":"maybe"}`, false},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":"y\u0065s"}`, false},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":1}`, true},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":0}`, true},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":1.0}`, false},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":1e0}`, false},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":-0}`, false},
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":2}`, false},
		{`{"product_id":"P-1","user_location":"NY","explain":true}`, true},
		{`{"product_id":"P-1","user_location":"NY","explain":null}`, false},
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

// TestDecodeStrictJSON is the table of bodies that a strict RFC 8259 parser
// (the old service's) refuses and a lenient one lets through. Each is 400
// invalid JSON, with where and why.
func TestDecodeStrictJSON(t *testing.T) {
	const pre = `{"product_id":"P-1","user_location":`
	tests := []struct{ name, body, want string }{
		{"raw TAB in a string", pre + "\"N\tY\"}", `raw control character byte 0x09 in a string (escape it) at offset 38`},
		{"raw NUL in a string", pre + "\"N\x00Y\"}", `raw control character byte 0x00 in a string (escape it) at offset 38`},
		{"raw LF in a string", pre + "\"N\nY\"}", `raw control character byte 0x0a in a string (escape it) at offset 38`},
		{"raw control byte in a key", "{\"a\x01\":1," + pre[1:] + `"NY"}`, `raw control character byte 0x01 in a string (escape it) at offset 3`},
		{"invalid escape", pre + `"N\xY"}`, `invalid escape \x in a string at offset 38`},
		{"short unicode escape", pre + `"N\u12Y"}`, `invalid \u escape: 'Y' is not a hex digit at offset 42`},
		{"escape at the end", pre + `"N\`, `unexpected end of input in a string escape at offset 39`},
		{"invalid UTF-8", pre + "\"N\xffY\"}", `invalid UTF-8 in a string at offset 38`},
		{"truncated UTF-8", pre + "\"N\xc3\"}", `invalid UTF-8 in a string at offset 38`},
		{"UTF-16 surrogate in UTF-8", pre + "\"\xed\xa0\x80\"}", `invalid UTF-8 in a string at offset 37`},
		{"invalid UTF-8 in an ignored field", `{"x":"` + "\xc0\xaf" + `",` + pre[1:] + `"NY"}`, `invalid UTF-8 in a string at offset 6`},
		{"member 01", pre + `"NY","is_prime_member":01}`, `invalid number: leading zero at offset 59`},
		{"member 00", pre + `"NY","is_prime_member":00}`, `invalid number: leading zero at offset 59`},
		{"member 1.", pre + `"NY","is_prime_member":1.}`, `invalid number: expected a digit after '.' at offset 59`},
		{"member -", pre + `"NY","is_prime_member":-}`, `invalid number: expected a digit at offset 59`},
		{"member 1e", pre + `"NY","is_prime_member":1e}`, `invalid number: expected a digit in the exponent at offset 59`},
		{"member +1", pre + `"NY","is_prime_member":+1}`, `unexpected '+': not a JSON value (NaN, Infinity, '+' and a bare '.' are not JSON numbers) at offset 59`},
		{"member .5", pre + `"NY","is_prime_member":.5}`, `unexpected '.': not a JSON value (NaN, Infinity, '+' and a bare '.' are not JSON numbers) at offset 59`},
		{"member NaN", pre + `"NY","is_prime_member":NaN}`, `unexpected 'N': not a JSON value (NaN, Infinity, '+' and a bare '.' are not JSON numbers) at offset 59`},
		{"member nan", pre + `"NY","is_prime_member":nan}`, `invalid literal, expected null at offset 59`},
		{"member Infinity", pre + `"NY","is_prime_member":Infinity}`, `unexpected 'I': not a JSON value (NaN, Infinity, '+' and a bare '.' are not JSON numbers) at offset 59`},
		{"member -Infinity", pre + `"NY","is_prime_member":-Infinity}`, `invalid number: expected a digit at offset 59`},
		{"member 1.5.5", pre + `"NY","is_prime_member":1.5.5}`, `unexpected '.', expected ',' or '}' in an object at offset 62`},
		{"member tru", pre + `"NY","is_prime_member":tru}`, `invalid literal, expected true at offset 59`},
		{"explain yes unquoted", pre + `"NY","explain":yes}`, `unexpected 'y', expected a value at offset 51`},
		{"single quotes", `{'product_id':'P-1'}`, `unexpected ''', expected a string key at offset 1`},
		{"trailing comma", pre + `"NY",}`, `unexpected '}', expected a string key at offset 41`},
		{"trailing comma in an array", pre + `"NY","x":[1,]}`, `unexpected ']', expected a value at offset 48`},
		{"comment", pre + `"NY"} // hi`, `unexpected '/' after the top-level value at offset 42`},
		{"two BOMs", "\xef\xbb\xbf\xef\xbb\xbf{}", `unexpected byte 0xef, expected a value at offset 3`},
		{"BOM after whitespace", " \xef\xbb\xbf{}", `unexpected byte 0xef, expected a value at offset 1`},
		{"empty", ``, `unexpected end of input, expected a value at offset 0`},
		{"BOM only", "\xef\xbb\xbf", `unexpected end of input, expected a value at offset 3`},
		{"too deep", `{"x":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}`,
			`value nested deeper than 300 levels at offset 304`},
	}
	var d Decoder
	var r Request
	for _, tt := range tests {
		if json.Valid([]byte(strings.TrimPrefix(tt.body, "\xef\xbb\xbf"))) && !strings.Contains(tt.name, "UTF-8") && !strings.Contains(tt.name, "deep") {
			t.Errorf("%s: the standard library accepts %q: not a case of invalid JSON", tt.name, tt.body)
		}
		err := d.Decode([]byte(tt.body), &r)
		var pe *Error
		if !errors.As(err, &pe) || pe.Status != StatusBadRequest {
			t.Errorf("%s: Decode(%q) = %v, want 400", tt.name, tt.body, err)
			continue
		}
		if got := pe.Detail; got != "invalid JSON: "+tt.want {
			t.Errorf("%s: detail\n got %q\nwant %q", tt.name, got, "invalid JSON: "+tt.want)
		}
	}
}

// TestDecodeStrictJSONAccepts pins what stays accepted: the legal JSON
// leniencies of the contract, a byte-order mark, escapes, deep nesting up
// to MaxDepth, and what json.Valid accepts in an ignored field.
func TestDecodeStrictJSONAccepts(t *testing.T) {
	const pre = `{"product_id":"P-1","user_location":"NY"`
	tests := []struct {
		name, body   string
		loc          string
		member, expl bool
		fast         bool
	}{
		{"BOM", "\xef\xbb\xbf" + pre + `}`, "NY", false, false, true},
		{"BOM, full path", "\xef\xbb\xbf" + pre + `,"is_prime_member":1.0}`, "NY", true, false, false},
		{"member 1", pre + `,"is_prime_member":1}`, "NY", true, false, true},
		{"member 0", pre + `,"is_prime_member":0}`, "NY", false, false, true},
		{"member -0", pre + `,"is_prime_member":-0}`, "NY", false, false, false},
		{"member 1.0", pre + `,"is_prime_member":1.0}`, "NY", true, false, false},
		{"member 1e0", pre + `,"is_prime_member":1e0}`, "NY", true, false, false},
		{"member 10E-1", pre + `,"is_prime_member":10E-1}`, "NY", true, false, false},
		{"member on", pre + `,"is_prime_member":"On"}`, "NY", true, false, true},
		{"explain true", pre + `,"explain":true}`, "NY", false, true, true},
		{"explain yes", pre + `,"explain":"yes"}`, "NY", false, true, true},
		{"explain 0", pre + `,"explain":0}`, "NY", false, false, true},
		{"explain 1.0", pre + `,"explain":1.0}`, "NY", false, true, false},
		{"escapes", `{"product_id":"P-1","user_location":"N\u0059\/\"\\\b\f\n\r\t"}`, "NY/\"\\\b\f\n\r\t", false, false, false},
		{"surrogate escape", `{"product_id":"P-1","user_location":"\ud83d\ude00"}`, "😀", false, false, false},
		{"UTF-8 (full path)", `{"product_id":"P-1","user_location":"Zürich 😀"}`, "Zürich 😀", false, false, false},
		{"deep ignored field", pre + `,"x":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + `}`, "NY", false, false, true},
		{"odd ignored field", pre + `,"x":[-0.0e+00,1E9,null,{},"\u0000"]}`, "NY", false, false, true},
		{"escaped ignored key", pre + `,"\u0078":1}`, "NY", false, false, false},
		{"all JSON whitespace", " \t\r\n" + pre + " \t\r\n}\n", "NY", false, false, true},
	}
	var d Decoder
	for _, tt := range tests {
		var r Request
		if err := d.Decode([]byte(tt.body), &r); err != nil {
			t.Errorf("%s: Decode(%q): %v", tt.name, tt.body, err)
			continue
		}
		if string(r.ProductID) != "P-1" || string(r.Location) != tt.loc || r.Member != tt.member || r.Explain != tt.expl {
			t.Errorf("%s: Decode = {%q %q %v %v}, want {P-1 %q %v %v}", tt.name, r.ProductID, r.Location, r.Member, r.Explain, tt.loc, tt.member, tt.expl)
		}
		body := []byte(tt.body)
		if got := decodeFast(body[bomLen(body):], &r); got != tt.fast {
			t.Errorf("%s: decodeFast = %v, want %v", tt.name, got, tt.fast)
		}
	}
}

// TestDecodeExplainInvalid: a non-boolean explain is a 422 entry shaped as
// FastAPI renders a bool field's error.
func TestDecodeExplainInvalid(t *testing.T) {
	const pre = `{"product_id":"P-1","user_location":"NY","explain":`
	tests := []struct{ body, want string }{
		{pre + `"maybe"}`, `{"detail":[{"type":"bool_parsing","loc":["body","explain"],"msg":"Input should be a valid boolean, unable to interpret input","input":"maybe"}]}`},
		{pre + `2}`, `{"detail":[{"type":"bool_parsing","loc":["body","explain"],"msg":"Input should be a valid boolean, unable to interpret input","input":2}]}`},
		{pre + `null}`, `{"detail":[{"type":"bool_type","loc":["body","explain"],"msg":"Input should be a valid boolean","input":null}]}`},
		{pre + `{"a":true}}`, `{"detail":[{"type":"bool_type","loc":["body","explain"],"msg":"Input should be a valid boolean","input":{"a":true}}]}`},
		{`{"user_location":"NY","explain":[]}`, `{"detail":[` +
			`{"type":"missing","loc":["body","product_id"],"msg":"Field required","input":{"user_location":"NY","explain":[]}},` +
			`{"type":"bool_type","loc":["body","explain"],"msg":"Input should be a valid boolean","input":[]}]}`},
	}
	var d Decoder
	var r Request
	for _, tt := range tests {
		err := d.Decode([]byte(tt.body), &r)
		var pe *Error
		if !errors.As(err, &pe) || pe.Status != StatusUnprocessableEntity {
			t.Errorf("Decode(%s) = %v, want 422", tt.body, err)
			continue
		}
		if got := string(pe.AppendJSON(nil)); got != tt.want {
			t.Errorf("Decode(%s)\n got %s\nwant %s", tt.body, got, tt.want)
		}
	}
}

// refInvalid is the reference for a 400: what encoding/json.Valid rejects
// after one optional byte-order mark, plus the two documented ways this
// decoder is stricter (invalid UTF-8, which json.Valid lets through and
// the old service refused; nesting deeper than MaxDepth), plus a top
// level that is not an object.
func refInvalid(body []byte) bool {
	b := bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	if !json.Valid(b) || !utf8.Valid(b) || refDepth(b) > MaxDepth {
		return true
	}
	b = bytes.TrimLeft(b, " \t\r\n")
	return b[0] != '{'
}

// refDepth is the depth of the deepest value of the valid JSON text b,
// the top-level value being at depth 1 (a scalar or a key inside n open
// containers is at depth n+1).
func refDepth(b []byte) int {
	open, deepest := 0, 0
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '[', '{':
			open++
			deepest = max(deepest, open)
		case ']', '}':
			open--
		case ' ', '\t', '\r', '\n', ',', ':':
		default:
			inString = c == '"'
			deepest = max(deepest, open+1)
		}
	}
	return deepest
}

// FuzzDecodeJSONValid is the differential test of the strict scanner:
// Decode answers 400 exactly when refInvalid says so (so whatever
// encoding/json.Valid rejects, Decode rejects, the byte-order mark being
// the one exception), on both paths: the fast decoder never accepts a body
// the reference calls invalid, and the full path (decodeFull) alone draws
// the same line as Decode.
func FuzzDecodeJSONValid(f *testing.F) {
	const pre = `{"product_id":"P-1","user_location":`
	for _, s := range []string{
		pre + `"NY"}`,
		"\xef\xbb\xbf" + pre + `"NY"}`,
		pre + "\"N\tY\"}",
		pre + "\"N\x00Y\"}",
		pre + `"N\xY"}`,
		pre + `"N\u12Y"}`,
		pre + `"N\u0059"}`,
		pre + "\"N\xffY\"}",
		pre + `"NY","is_prime_member":01}`,
		pre + `"NY","is_prime_member":1.}`,
		pre + `"NY","is_prime_member":00}`,
		pre + `"NY","is_prime_member":NaN}`,
		pre + `"NY","is_prime_member":Infinity}`,
		pre + `"NY","is_prime_member":-1.5e+3}`,
		pre + `"NY","explain":"on","x":[true,false,null,{"a":[]}]}`,
		`{"x":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + `}`,
		`{"x":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}`,
		`[1]`, `"s"`, ` {} `, `{"a":1}x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		want := refInvalid(body)
		var d Decoder
		var r Request
		err := d.Decode(body, &r)
		var pe *Error
		got := errors.As(err, &pe) && pe.Status == StatusBadRequest
		if got != want {
			t.Fatalf("Decode(%q) = %v; want 400: %v", body, err, want)
		}
		if got && !strings.HasPrefix(pe.Detail, "invalid JSON: ") {
			t.Fatalf("Decode(%q) detail %q", body, pe.Detail)
		}
		skip := bomLen(body)
		if decodeFast(body[skip:], &r) && want {
			t.Fatalf("the fast path accepted %q, which is not JSON", body)
		}
		err = d.decodeFull(body, skip, &r)
		if full := errors.As(err, &pe) && pe.Status == StatusBadRequest; full != want {
			t.Fatalf("decodeFull(%q) = %v; want 400: %v", body, err, want)
		}
	})
}

// BenchmarkDecodeFull decodes a body only the full path takes (an escape
// in a field): the strict check, then decoding the noted values.
func BenchmarkDecodeFull(b *testing.B) {
	body := []byte(`{"product_id":"P-\u0031\u0032\u0033","user_location":"NY","is_prime_member":1.0,"extra":{"a":[1,2,3]}}`)
	var d Decoder
	var r Request
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Decode(body, &r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeInvalid refuses a body with a trailing comma (an error
// path: it allocates the *Error).
func BenchmarkDecodeInvalid(b *testing.B) {
	body := []byte(`{"product_id":"P-1","user_location":"NY",}`)
	var d Decoder
	var r Request
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Decode(body, &r); err == nil {
			b.Fatal("accepted")
		}
	}
}
