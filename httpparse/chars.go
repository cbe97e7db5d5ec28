package httpparse

import "encoding/binary"

// Byte classes used by the parser. Each entry of charClass is a bit set of
// the classes below; the table is a constant string so that it cannot be
// modified at run time. chars_test.go checks every entry against the
// grammar it encodes.
const (
	// classToken marks tchar (RFC 9110 §5.6.2).
	classToken = 1 << iota
	// classValue marks bytes allowed in a field value: HTAB, SP, VCHAR and
	// obs-text (RFC 9110 §5.5).
	classValue
	// classTarget marks pchar without pct-encoded, plus "/" and "?"
	// (RFC 3986 §3.3, §3.4, as referenced by RFC 9112 §3.2).
	classTarget
	// classHost marks bytes allowed in a Host value: reg-name and
	// IP-literal characters, ":" and "%" (RFC 3986 §3.2.2, RFC 9110 §7.2).
	classHost
	// classHex marks HEXDIG (RFC 5234 appendix B.1).
	classHex
)

const charClass = "" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x02\x0f\x02\x03\x0f\x0b\x0f\x0f\x0e\x0e\x0f\x0f\x0e\x0f\x0f\x06" +
	"\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x0e\x0e\x02\x0e\x02\x06" +
	"\x06\x1f\x1f\x1f\x1f\x1f\x1f\x0f\x0f\x0f\x0f\x0f\x0f\x0f\x0f\x0f" +
	"\x0f\x0f\x0f\x0f\x0f\x0f\x0f\x0f\x0f\x0f\x0f\x0a\x02\x0a\x03\x0f" +
	"\x03\x1f\x1f\x1f\x1f\x1f\x1f\x0f\x0f\x0f\x0f\x0f\x0f\x0f\x0f\x0f" +
	"\x0f\x0f\x0f\x0f\x0f\x0f\x0f\x0f\x0f\x0f\x0f\x02\x03\x02\x0f\x00" +
	"\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02" +
	"\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02" +
	"\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02" +
	"\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02" +
	"\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02" +
	"\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02" +
	"\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02" +
	"\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02"

func isToken(c byte) bool  { return charClass[c]&classToken != 0 }
func isValue(c byte) bool  { return charClass[c]&classValue != 0 }
func isTarget(c byte) bool { return charClass[c]&classTarget != 0 }
func isHost(c byte) bool   { return charClass[c]&classHost != 0 }
func isHex(c byte) bool    { return charClass[c]&classHex != 0 }

// unhex returns the value of the hexadecimal digit c, which must satisfy isHex.
func unhex(c byte) uint64 {
	switch {
	case c <= '9':
		return uint64(c - '0')
	case c <= 'F':
		return uint64(c-'A') + 10
	default:
		return uint64(c-'a') + 10
	}
}

// lower returns c in lower case if it is an ASCII letter.
func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// equalFold reports whether b equals s ignoring ASCII case; s must be in lower
// case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

// foldEqual is equalFold for b already checked to be a token or a field
// value, and s made of lower-case letters, digits and "-". Under those
// conditions setting bit 0x20 lower-cases exactly the letters and cannot
// turn any other allowed byte into a byte of s, so one OR per byte suffices.
func foldEqual(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if b[i]|0x20 != s[i] {
			return false
		}
	}
	return true
}

// fold8 is foldEqual for the first eight bytes of b and of s, one word at
// a time. It is inlined, and for a constant s the word of s is a constant:
// the header names the parser acts on are matched with two or three of
// these (overlapping) instead of a loop over their bytes.
func fold8(b []byte, s string) bool {
	return binary.LittleEndian.Uint64(b)|swarSpace ==
		uint64(s[0])|uint64(s[1])<<8|uint64(s[2])<<16|uint64(s[3])<<24|
			uint64(s[4])<<32|uint64(s[5])<<40|uint64(s[6])<<48|uint64(s[7])<<56
}

// trimOWS removes optional whitespace (SP and HTAB, RFC 9110 §5.6.3) from both
// ends of b.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// SWAR constants: one byte repeated over a 64-bit word.
const (
	swarOnes   = 0x0101010101010101
	swarHighs  = 0x8080808080808080
	swarLowCtl = 0x6060606060606060
	swarSpace  = 0x2020202020202020
)

// controls flags the bytes of x (little-endian) that are below 0x20 or
// equal to 0x7f, exactly, by setting their high bit: with y the low seven
// bits of each byte, y + 0x60 reaches bit 7 iff y >= 0x20 and y + 0x01
// iff y == 0x7f, and no byte carries into the next; bytes with their own
// high bit set (obs-text) are never flagged.
func controls(x uint64) uint64 {
	y := x &^ swarHighs
	return (^(y + swarLowCtl) | (y + swarOnes)) &^ x & swarHighs
}

// validValue reports whether every byte of v is allowed in a field value
// (classValue). Eight bytes at a time it looks for a control byte; only a
// word holding one (possibly an allowed HTAB) is re-checked byte by byte.
func validValue(v []byte) bool {
	for len(v) >= 8 {
		if controls(binary.LittleEndian.Uint64(v)) != 0 {
			for _, c := range v[:8] {
				if !isValue(c) {
					return false
				}
			}
		}
		v = v[8:]
	}
	for _, c := range v {
		if !isValue(c) {
			return false
		}
	}
	return true
}
