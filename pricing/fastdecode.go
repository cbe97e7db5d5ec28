package pricing

// decodeFast decodes the body every client sends without building a JSON
// tree: an object whose members are product_id and user_location (strings
// of MinFieldLen to MaxFieldLen bytes with no escape and no control byte)
// and optionally is_prime_member (the literal true or false), each at most
// once, in any order, with JSON whitespace around any token. On anything
// else it reports false and leaves r untouched, and Decode parses the body
// in full; so the fast path only ever accepts, and what it accepts it
// decodes exactly as the full path would (FuzzDecodeFast holds the two to
// it).
func decodeFast(body []byte, r *Request) bool {
	i := skipWS(body, 0)
	if i >= len(body) || body[i] != '{' {
		return false
	}
	// A string field seen is non-nil (it has at least MinFieldLen bytes).
	var pid, location []byte
	member, memberSeen := false, false
	for i++; ; i++ {
		// Only the three known keys are taken, so a key is matched, with
		// its quotes, against them rather than scanned.
		j := skipWS(body, i)
		if j >= len(body) || body[j] != '"' {
			return false
		}
		var key string
		var dst *[]byte // the string field the key names; nil for is_prime_member
		switch rest := body[j+1:]; {
		case hasPrefix(rest, FieldProductID+`"`):
			key, dst = FieldProductID, &pid
		case hasPrefix(rest, FieldUserLocation+`"`):
			key, dst = FieldUserLocation, &location
		case hasPrefix(rest, FieldIsPrime+`"`):
			key = FieldIsPrime
		default:
			return false
		}
		j = skipWS(body, j+len(key)+2)
		if j >= len(body) || body[j] != ':' {
			return false
		}
		j = skipWS(body, j+1)
		if dst != nil {
			val, next, ok := plainString(body, j)
			if !ok || *dst != nil || len(val) < MinFieldLen || len(val) > MaxFieldLen {
				return false
			}
			*dst, j = val, next
		} else {
			switch {
			case memberSeen:
				return false
			case hasPrefix(body[j:], "true"):
				member, j = true, j+len("true")
			case hasPrefix(body[j:], "false"):
				member, j = false, j+len("false")
			default:
				return false
			}
			memberSeen = true
		}
		i = skipWS(body, j)
		if i < len(body) && body[i] == ',' {
			continue
		}
		if i < len(body) && body[i] == '}' {
			break
		}
		return false
	}
	if skipWS(body, i+1) != len(body) || pid == nil || location == nil {
		return false
	}
	r.ProductID = append(r.ProductID[:0], pid...)
	r.Location = append(r.Location[:0], location...)
	r.Member = member
	return true
}

// skipWS returns the offset of the first byte at or after i that is not
// JSON whitespace (RFC 8259 section 2), or len(b).
func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// plainString reads the JSON string starting at b[i] when it has no escape
// and no control byte, returning its contents and the offset after its
// closing quote.
func plainString(b []byte, i int) (s []byte, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return b[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

func hasPrefix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[:len(s)]) == s
}
