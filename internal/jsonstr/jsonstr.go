// Package jsonstr writes JSON string literals, and the {"detail":...}
// error bodies of the API, for every package that builds JSON by hand
// (pricing's replies, the server's own replies): one escaping for all.
package jsonstr

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// Append appends s as a JSON string literal (RFC 8259 section 7).
// '"', '\\' and control characters are escaped, invalid UTF-8 becomes
// \ufffd, and U+2028/U+2029 are escaped so the output is also valid
// JavaScript. '<', '>' and '&' are not escaped: bodies are served as
// application/json, never embedded in HTML. It does not allocate beyond
// growing dst.
func Append[S ~string | ~[]byte](dst []byte, s S) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		// A string conversion of at most UTFMax bytes that does not escape
		// uses a stack buffer: no allocation for []byte input.
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendDetail appends the error body {"detail":<msg>} to dst, msg
// escaped as a JSON string.
func AppendDetail[S ~string | ~[]byte](dst []byte, msg S) []byte {
	dst = append(dst, `{"detail":`...)
	dst = Append(dst, msg)
	return append(dst, '}')
}
