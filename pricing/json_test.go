package pricing

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pricing-engine/pricing-engine/money"
)

func validJSON(b []byte) bool { return json.Valid(b) }

func TestAppendString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"P-123", `"P-123"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"\n\r\t\x00\x1f\x7f", `"\n\r\t\u0000\u001f` + "\x7f" + `"`},
		{"<&>", `"<&>"`},
		{"é€😀", `"é€😀"`},
		{"a\xffb", `"a\ufffdb"`},
		{"\xe2\x82", `"\ufffd\ufffd"`},
		{"\u2028\u2029", `"\u2028\u2029"`},
		{"", `""`},
	}
	for _, tt := range tests {
		if got := string(appendString(nil, tt.in)); got != tt.want {
			t.Errorf("appendString(%q) = %s, want %s", tt.in, got, tt.want)
		}
		if got := string(appendString(nil, []byte(tt.in))); got != tt.want {
			t.Errorf("appendString([]byte %q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("P-1\"\\\x00\xff\u2028")
	f.Fuzz(func(t *testing.T, s string) {
		out := appendString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("appendString(%q) = %s: not a JSON string: %v", s, out, err)
		}
		// encoding/json turns invalid UTF-8 into U+FFFD too.
		if want := strings.ToValidUTF8(s, "\uFFFD"); back != want && !invalidRuns(s) {
			t.Fatalf("round trip of %q = %q", s, back)
		}
	})
}

// invalidRuns reports whether s has adjacent invalid bytes, which
// strings.ToValidUTF8 collapses into one replacement but we (like
// encoding/json) replace byte by byte.
func invalidRuns(s string) bool { return strings.ToValidUTF8(s, "") != strings.ToValidUTF8(s, "x") }

func TestAppendQuote(t *testing.T) {
	tests := []struct {
		q    Quote
		want string
	}{
		{Quote{ProductID: []byte("P-123"), Final: money.New(4512, 2), Base: money.New(4999, 2), Multiplier: money.New(95, 2), Discount: money.New(5, 2), Source: SourceLive},
			`{"product_id":"P-123","final_price":45.12,"base_price":49.99,"market_multiplier":0.95,"discount_rate":0.05,"source":"live"}`},
		{Quote{ProductID: []byte("P-1"), Final: money.New(5000, 2), Base: money.New(5000, 2), Multiplier: money.New(100, 2), Source: SourceStale},
			`{"product_id":"P-1","final_price":50,"base_price":50,"market_multiplier":1,"discount_rate":0,"source":"stale"}`},
		{Quote{ProductID: []byte("a\"\n\xff"), Final: money.New(451, 1), Base: money.New(1, 0), Multiplier: money.New(110, 2), Source: SourceLive},
			`{"product_id":"a\"\n\ufffd","final_price":45.1,"base_price":1,"market_multiplier":1.1,"discount_rate":0,"source":"live"}`},
	}
	for _, tt := range tests {
		got := AppendQuote([]byte("prefix"), &tt.q)
		if string(got) != "prefix"+tt.want {
			t.Errorf("AppendQuote =\n %s\nwant\n %s", got, tt.want)
		}
		if !validJSON(got[len("prefix"):]) {
			t.Errorf("AppendQuote output is not JSON: %s", got)
		}
	}
}

func TestAppendDetail(t *testing.T) {
	tests := []struct{ msg, want string }{
		{"Not Found", `{"detail":"Not Found"}`},
		{`unknown product_id "P-X"`, `{"detail":"unknown product_id \"P-X\""}`},
		{"", `{"detail":""}`},
	}
	for _, tt := range tests {
		if got := string(AppendDetail(nil, tt.msg)); got != tt.want {
			t.Errorf("AppendDetail(%q) = %s, want %s", tt.msg, got, tt.want)
		}
	}
}
