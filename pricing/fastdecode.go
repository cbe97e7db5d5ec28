package pricing

import "unicode/utf8"

// decodeFast decodes the body every client sends without building a JSON
// tree: an object (scanObject) and nothing after it but JSON whitespace.
// On anything else it reports false, and Decode parses the body in full;
// so the fast path only ever accepts, and what it accepts it decodes
// exactly as the full path would (FuzzDecodeFast holds the two to it).
// On false r may have been written to.
func decodeFast(body []byte, r *Request) bool {
	next, ok := scanObject(body, skipWS(body, 0), 1, r)
	return ok && skipWS(body, next) == len(body)
}

// scanObject decodes the request object starting at body[i], at the given
// nesting depth (1 for the top level), without building a tree, checking
// it as strictly as checkJSON does. It takes the members product_id and
// user_location as strings of MinFieldLen to MaxFieldLen bytes of
// printable ASCII without escape, is_prime_member and explain as true,
// false, 0, 1 or a lax boolean string (parseLaxBool) of printable ASCII
// without escape, and skips (checking) any other member whose key is
// printable ASCII without escape; of duplicate keys the last wins. On
// success it fills r and returns the offset after the closing brace.
// Anything else (a field error, an escape or non-ASCII text where it
// matters, invalid JSON) reports false and leaves r untouched, for the
// tree path to decode or explain.
func scanObject(body []byte, i, depth int, r *Request) (next int, ok bool) {
	if i >= len(body) || body[i] != '{' {
		return 0, false
	}
	var pid, location []byte // nil until seen
	member, explain := false, false
	for i++; ; i++ {
		// The known keys are matched, with their quotes, rather than
		// scanned: the common body never reaches the default case.
		j := skipWS(body, i)
		if j >= len(body) || body[j] != '"' {
			return 0, false
		}
		var dst *[]byte // the string field the key names
		var flag *bool  // the boolean field the key names
		switch rest := body[j+1:]; {
		case hasPrefix(rest, FieldProductID+`"`):
			dst, j = &pid, j+len(FieldProductID)+2
		case hasPrefix(rest, FieldUserLocation+`"`):
			dst, j = &location, j+len(FieldUserLocation)+2
		case hasPrefix(rest, FieldIsPrime+`"`):
			flag, j = &member, j+len(FieldIsPrime)+2
		case hasPrefix(rest, FieldExplain+`"`):
			flag, j = &explain, j+len(FieldExplain)+2
		default:
			// Another key: skip its member, unless the key has an
			// escape (it could spell a known one).
			_, after, ok := plainString(body, j)
			if !ok {
				return 0, false
			}
			j = after
		}
		j = skipWS(body, j)
		if j >= len(body) || body[j] != ':' {
			return 0, false
		}
		j = skipWS(body, j+1)
		switch {
		case dst != nil:
			val, after, ok := plainString(body, j)
			if !ok || len(val) < MinFieldLen || len(val) > MaxFieldLen {
				return 0, false
			}
			*dst, j = val, after
		case flag != nil:
			// The literals inline; scanBool for the rest.
			switch {
			case hasPrefix(body[j:], "true"):
				*flag, j = true, j+len("true")
			case hasPrefix(body[j:], "false"):
				*flag, j = false, j+len("false")
			default:
				if j, ok = scanBool(body, j, flag); !ok {
					return 0, false
				}
			}
		default:
			var why string
			if j, why = checkValue(body, j, depth+1); why != "" {
				return 0, false
			}
		}
		i = skipWS(body, j)
		if i < len(body) && body[i] == ',' {
			continue
		}
		if i < len(body) && body[i] == '}' {
			break
		}
		return 0, false
	}
	if pid == nil || location == nil {
		return 0, false
	}
	r.ProductID = append(r.ProductID[:0], pid...)
	r.Location = append(r.Location[:0], location...)
	r.Member = member
	r.Explain = explain
	return i + 1, true
}

// scanBool reads the boolean value at b[i] into *v when the fast path can
// take it: true, false, the numbers 0 and 1, or a string without escape
// that parseLaxBool accepts. It returns the offset after the value.
func scanBool(b []byte, i int, v *bool) (next int, ok bool) {
	switch {
	case hasPrefix(b[i:], "true"):
		*v = true
		return i + len("true"), true
	case hasPrefix(b[i:], "false"):
		*v = false
		return i + len("false"), true
	case i >= len(b):
		return 0, false
	case b[i] == '0' || b[i] == '1':
		// Only the one-digit number: the tree path reads 1.0 or 1e0.
		if i+1 < len(b) && (isDigit(b[i+1]) || b[i+1] == '.' || b[i+1] == 'e' || b[i+1] == 'E') {
			return 0, false
		}
		*v = b[i] == '1'
		return i + 1, true
	case b[i] == '"':
		s, after, ok := plainString(b, i)
		if !ok {
			return 0, false
		}
		if *v, ok = parseLaxBool(s); !ok {
			return 0, false
		}
		return after, true
	}
	return 0, false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// skipWS returns the offset of the first byte at or after i that is not
// JSON whitespace (RFC 8259 section 2), or len(b).
func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// plainString reads the JSON string starting at b[i] when it is printable
// ASCII with no escape, returning its contents and the offset after its
// closing quote. (Checking UTF-8 here cost the common body 5 %, measured;
// ids are ASCII.)
func plainString(b []byte, i int) (s []byte, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return b[i+1 : j], j + 1, true
		case c == '\\' || c-0x20 >= utf8.RuneSelf-0x20:
			// An escape, a control byte, or a byte of a multi-byte
			// UTF-8 sequence: the tree path checks and decodes those.
			return nil, 0, false
		}
	}
	return nil, 0, false
}

func hasPrefix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[:len(s)]) == s
}
