package httpparse

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// TestCharClass checks every entry of the constant class table against the
// grammar it encodes, written out independently here.
func TestCharClass(t *testing.T) {
	alpha := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	digit := func(c byte) bool { return c >= '0' && c <= '9' }
	in := func(c byte, set string) bool { return strings.IndexByte(set, c) >= 0 }
	unreserved := func(c byte) bool { return alpha(c) || digit(c) || in(c, "-._~") }
	subDelim := func(c byte) bool { return in(c, "!$&'()*+,;=") }
	tests := []struct {
		name string
		got  func(byte) bool
		want func(byte) bool
	}{
		{"token", isToken, func(c byte) bool { return alpha(c) || digit(c) || in(c, "!#$%&'*+-.^_`|~") }},
		{"value", isValue, func(c byte) bool { return c == '\t' || c >= 0x20 && c != 0x7f }},
		{"target", isTarget, func(c byte) bool { return unreserved(c) || subDelim(c) || in(c, ":@/?") }},
		{"host", isHost, func(c byte) bool { return unreserved(c) || subDelim(c) || in(c, ":[]%") }},
		{"hex", isHex, func(c byte) bool { return digit(c) || in(c, "abcdefABCDEF") }},
	}
	for _, tc := range tests {
		for i := 0; i < 256; i++ {
			if c := byte(i); tc.got(c) != tc.want(c) {
				t.Errorf("%s(%#x) = %v", tc.name, c, tc.got(c))
			}
		}
	}
}

func TestValidValue(t *testing.T) {
	for i := 0; i < 256; i++ {
		for pos := 0; pos < 19; pos++ {
			v := []byte(strings.Repeat("a", 19))
			v[pos] = byte(i)
			if got, want := validValue(v), isValue(byte(i)); got != want {
				t.Fatalf("byte %#x at %d: %v, want %v", i, pos, got, want)
			}
		}
	}
}

// TestControls checks controls against the byte classes: for every byte
// value at every position of a word of allowed bytes, exactly that byte's
// high bit is flagged iff it is a control (not classValue, or HTAB).
func TestControls(t *testing.T) {
	for i := 0; i < 256; i++ {
		c := byte(i)
		isCtl := c < 0x20 || c == 0x7f
		if isCtl != (!isValue(c) || c == '\t') {
			t.Fatalf("byte %#x: classValue disagrees with the control range", c)
		}
		for pos := range 8 {
			for _, fill := range []byte{'a', ' ', 0x80, 0xff, '~'} {
				w := bytes.Repeat([]byte{fill}, 8)
				w[pos] = c
				var want uint64
				if isCtl {
					want = 0x80 << (8 * pos)
				}
				if got := controls(binary.LittleEndian.Uint64(w)); got != want {
					t.Fatalf("byte %#x at %d among %#x: %#x, want %#x", c, pos, fill, got, want)
				}
			}
		}
	}
	// Several controls in one word are all flagged (no borrow or carry).
	if got := controls(binary.LittleEndian.Uint64([]byte{0, 0x1f, 0x7f, 0x20, 0x80, '\t', '\r', '\n'})); got != 0x8080800000808080 {
		t.Fatalf("mixed word: %#x", got)
	}
}

// TestFoldEqual checks the fast case-insensitive matchers against
// equalFold, with every allowed byte at every position of each constant
// they are used with.
func TestFoldEqual(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fold    func([]byte, string) bool
		allowed func(byte) bool
		consts  []string
	}{
		// foldEqual is called on checked names and values.
		{"foldEqual", foldEqual, isValue, []string{"te", "host", "close", "expect", "chunked",
			"keep-alive", "content-type", "100-continue", "content-length", "transfer-encoding"}},
		// fold8 is called on header names only.
		{"fold8", fold8, isToken, []string{"connecti", "nnection", "content-", "ent-type",
			"t-length", "transfer", "-encodin", "encoding"}},
	} {
		for _, s := range tc.consts {
			for i := 0; i < 256; i++ {
				if !tc.allowed(byte(i)) {
					continue
				}
				for pos := range len(s) {
					b := []byte(s)
					b[pos] = byte(i)
					if got, want := tc.fold(b, s), equalFold(b, s); got != want {
						t.Fatalf("%s(%q, %q) = %v, equalFold %v", tc.name, b, s, got, want)
					}
				}
			}
		}
	}
}
