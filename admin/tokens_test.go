package admin

import (
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
