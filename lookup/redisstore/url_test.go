package redisstore

import (
	"net/url"
	"strings"
	"testing"
)

func TestParseURLAndRedact(t *testing.T) {
	for _, tc := range []struct {
		raw, redacted string
		addrs         int
		tls, wantErr  bool
	}{
		{"redis://127.0.0.1:6379", "redis://127.0.0.1:6379", 1, false, false},
		{"redis://:s3cret@127.0.0.1:6379/2", "redis://@127.0.0.1:6379/2", 1, false, false},
		{"redis://app:s3cret@h:1?addr=h2:2&addr=h3:3", "redis://app@h:1?addr=h2:2&addr=h3:3", 3, false, false},
		{"rediss://h:6380", "rediss://h:6380", 1, true, false},
		{"http://h:1", "", 0, false, true},
		{"redis://", "", 0, false, true},
		{"redis://:s3cret@h:1/notadb", "", 0, false, true},
		{"redis://:s3cret@[::1", "", 0, false, true},
	} {
		opt, err := ParseURL(tc.raw)
		if tc.wantErr {
			if err == nil {
				t.Errorf("%s: no error", tc.raw)
			} else if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("%s: error carries the password: %v", tc.raw, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.raw, err)
			continue
		}
		if len(opt.InitAddress) != tc.addrs || (opt.TLSConfig != nil) != tc.tls {
			t.Errorf("%s: addresses %v, TLS %v", tc.raw, opt.InitAddress, opt.TLSConfig != nil)
		}
		if got := Redact(tc.raw); got != tc.redacted {
			t.Errorf("Redact(%s) = %s, want %s", tc.raw, got, tc.redacted)
		}
	}
}

// FuzzParseURL: no URL makes ParseURL panic, and neither its error nor
// Redact ever repeats the password.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"redis://:pw@h:1", "rediss://u:pw@h:1/0?addr=x:2", "redis://:pw@[::1", "redis://:pw@h:x", "redis://:p%zzw@h:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		_, err := ParseURL(raw)
		u, perr := url.Parse(raw)
		if perr != nil || u.User == nil {
			return
		}
		pw, ok := u.User.Password()
		if !ok || len(pw) < 4 || strings.Contains("redis://rediss:/?addr=", pw) {
			return
		}
		if err != nil && strings.Contains(err.Error(), pw) {
			t.Fatalf("error %q carries the password %q", err, pw)
		}
		if r := Redact(raw); strings.Contains(r, pw) && !strings.Contains(strings.Replace(raw, pw, "", 1), pw) {
			t.Fatalf("Redact(%q) = %q carries the password", raw, r)
		}
	})
}
