package quote

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseKeys(t *testing.T) {
	a := base64.StdEncoding.EncodeToString(secretA)
	b := base64.RawURLEncoding.EncodeToString(secretB)
	short := base64.StdEncoding.EncodeToString(secretA[:31])
	for _, tc := range []struct {
		name, file string
		ids        []string // when valid
		err        string   // a substring of the error, when not
	}{
		{"one", "k1 " + a + "\n", []string{"k1"}, ""},
		{"comments, blanks, two alphabets", "# keys\n\n  # indented\nk2 " + b + "\nk1 " + a, []string{"k2", "k1"}, ""},
		{"empty", "", nil, "no keys"},
		{"only comments", "# nothing\n", nil, "no keys"},
		{"one field", "k1\n", nil, "line 1: want"},
		{"three fields", "k1 " + a + " x\n", nil, "got 3 fields"},
		{"not base64", "k1 !!notbase64!!\n", nil, `line 1: the secret of key "k1" is not base64`},
		{"short secret", "# c\nk1 " + short + "\n", nil, `line 2: the secret of key "k1" has 31 bytes, want 32..512`},
		{"dot in key id", "k.1 " + a + "\n", nil, "only letters, digits"},
		{"long key id", strings.Repeat("k", 33) + " " + a + "\n", nil, "longer than 32 bytes"},
		{"repeated key id", "k1 " + a + "\nk1 " + b + "\n", nil, `line 2: key id "k1" repeats`},
		{"too many", strings.Repeat("x", 0) + manyKeys(a, MaxKeys+1), nil, "65 keys, want at most 64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := ParseKeys([]byte(tc.file))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				for _, secret := range []string{a, b, short} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error quotes a secret: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, k := range keys {
				ids = append(ids, k.ID)
			}
			if strings.Join(ids, ",") != strings.Join(tc.ids, ",") {
				t.Errorf("ids %v, want %v", ids, tc.ids)
			}
		})
	}
}

func manyKeys(secret string, n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("k" + strings.Repeat("x", i%30) + string(rune('a'+i%26)) + string(rune('a'+i/26)) + " " + secret + "\n")
	}
	return b.String()
}

func TestOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	if _, err := Open(path, 0); err == nil || !strings.Contains(err.Error(), "cannot read quote keys file") {
		t.Errorf("missing file: %v", err)
	}
	if err := os.WriteFile(path, []byte("k1 c2hvcnQ=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, 0); err == nil || !strings.Contains(err.Error(), `invalid quote keys file "`+path+`": line 1`) {
		t.Errorf("bad file: %v", err)
	}
	a := base64.StdEncoding.EncodeToString(secretA)
	if err := os.WriteFile(path, []byte("k1 "+a+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.TTL() != DefaultTTL || r.Path() != path || strings.Join(r.KeyIDs(), ",") != "k1" {
		t.Errorf("ttl %v path %q ids %v", r.TTL(), r.Path(), r.KeyIDs())
	}
	// A bad rewrite keeps the keys; a good one replaces them.
	if err := os.WriteFile(path, []byte("k2 short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); err == nil || strings.Join(r.KeyIDs(), ",") != "k1" {
		t.Errorf("bad reload: %v, ids %v", err, r.KeyIDs())
	}
	b := base64.StdEncoding.EncodeToString(secretB)
	if err := os.WriteFile(path, []byte("k2 "+b+"\nk1 "+a+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); err != nil || strings.Join(r.KeyIDs(), ",") != "k2,k1" {
		t.Errorf("good reload: %v, ids %v", err, r.KeyIDs())
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		keys []Key
		err  string
	}{
		{nil, "no keys"},
		{[]Key{{"k1", secretA[:8]}}, "has 8 bytes"},
		{[]Key{{"k.1", secretA}}, "only letters"},
		{[]Key{{"k1", secretA}}, ""},
	} {
		_, err := New(tc.keys, time.Minute)
		if (tc.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("New(%d keys): %v, want %q", len(tc.keys), err, tc.err)
		}
	}
}
