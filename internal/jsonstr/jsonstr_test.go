package jsonstr

import (
	"encoding/json"
	"strings"
	"testing"
)

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
		if got := string(Append(nil, tt.in)); got != tt.want {
			t.Errorf("Append(%q) = %s, want %s", tt.in, got, tt.want)
		}
		if got := string(Append(nil, []byte(tt.in))); got != tt.want {
			t.Errorf("Append([]byte %q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("P-1\"\\\x00\xff\u2028")
	f.Fuzz(func(t *testing.T, s string) {
		out := Append(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("Append(%q) = %s: not a JSON string: %v", s, out, err)
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
		if got := string(AppendDetail(nil, []byte(tt.msg))); got != tt.want {
			t.Errorf("AppendDetail([]byte %q) = %s, want %s", tt.msg, got, tt.want)
		}
	}
}
