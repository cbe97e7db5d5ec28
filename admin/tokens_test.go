package admin

import (
	"os"
	"strings"
	"testing"
)

func TestParseTokens(t *testing.T) {
	const tok = "0123456789abcdef-secret"
	for _, tc := range []struct {
		name, file string
		want       int    // tokens, when valid
		err        string // a substring of the error, when not
	}{
		{"empty", "", 0, ""},
		{"comments and blanks", "# a comment\n\n  # indented\nalice write " + tok + "\n", 1, ""},
		{"two scopes", "alice write " + tok + "\nbob read " + tok + "x\n", 2, ""},
		{"same name twice (rotation)", "alice write " + tok + "\nalice write " + tok + "y\n", 2, ""},
		{"bad scope", "alice admin " + tok + "\n", 0, "line 1: scope"},
		{"short token", "alice write short\n", 0, "line 1: token of \"alice\" has 5 bytes"},
		{"too few fields", "alice write\n", 0, "line 1: want"},
		{"too many fields", "alice write " + tok + " extra\n", 0, "got 4 fields"},
		{"bad name", "al/ice write " + tok + "\n", 0, "only letters"},
		{"repeated token", "alice write " + tok + "\nbob read " + tok + "\n", 0, "line 2: the token of \"bob\" repeats line 1's"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, err := parseTokens([]byte(tc.file))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				if strings.Contains(err.Error(), tok) || strings.Contains(err.Error(), "short\"") {
					t.Errorf("error quotes a token: %v", err)
				}
				return
			}
			if err != nil || len(set) != tc.want {
				t.Fatalf("%d tokens, err %v; want %d", len(set), err, tc.want)
			}
		})
	}
}

func TestAuthenticate(t *testing.T) {
	tk := tokensFile(t, "alice write "+writeToken+"\nbob read "+readToken+"\n")
	for _, tc := range []struct {
		presented string
		name      string
		scope     Scope
		ok        bool
	}{
		{writeToken, "alice", ScopeWrite, true},
		{readToken, "bob", ScopeRead, true},
		{writeToken[:len(writeToken)-1], "", 0, false},
		{writeToken + "x", "", 0, false},
		{"", "", 0, false},
	} {
		name, scope, ok := tk.Authenticate(tc.presented)
		if name != tc.name || scope != tc.scope || ok != tc.ok {
			t.Errorf("Authenticate(%.6s...) = %q %v %v, want %q %v %v", tc.presented, name, scope, ok, tc.name, tc.scope, tc.ok)
		}
	}
	if _, err := LoadTokens(t.TempDir() + "/missing"); err == nil {
		t.Error("LoadTokens of a missing file succeeded")
	}
}

// TestReloadTruncatedFile: a file caught between truncation and write (an
// editor writing in place) keeps the previous tokens; a comment-only file
// revokes them.
func TestReloadTruncatedFile(t *testing.T) {
	tk := tokensFile(t, "alice write "+writeToken+"\n")
	for _, tc := range []struct {
		name, content string
		reloaded      bool
		tokens        int
	}{
		{"empty", "", false, 1},
		{"comment only", "# every token revoked\n", true, 0},
		{"empty again", "", false, 0},
		{"back", "bob read " + readToken + "\n", true, 1},
	} {
		if err := os.WriteFile(tk.Path(), []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		ok, err := tk.Reload()
		if ok != tc.reloaded || (err == nil) != tc.reloaded || tk.Len() != tc.tokens {
			t.Errorf("%s: reloaded %v err %v tokens %d; want reloaded %v, %d tokens", tc.name, ok, err, tk.Len(), tc.reloaded, tc.tokens)
		}
	}
	// An empty file at start is a file without tokens.
	if tk := tokensFile(t, ""); tk.Len() != 0 {
		t.Errorf("empty file at start: %d tokens", tk.Len())
	}
}
