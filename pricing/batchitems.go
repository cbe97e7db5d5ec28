package pricing

// BatchItems returns how many items a batch request body asks for, so
// that admission control can weigh a batch by its items before the body
// is decoded: the elements of the "items" member of the top-level object,
// found by a lenient scan that does not validate the body (DecodeBatch
// does, and refuses what is not a batch). The result is in
// [1, MaxBatchItems]: a body whose items cannot be counted (not a batch,
// or its key spelt with escapes) weighs as one request, and one with more
// items is refused by DecodeBatch anyway. It does not allocate.
func BatchItems(body []byte) int {
	n, depth := 0, 0
	var key []byte                // the last string at depth 1 (a member name)
	inItems, next := false, false // in the items array; expecting an element
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case ',':
			next = inItems && depth == 2
			continue
		case ':':
			continue
		}
		if inItems && depth == 2 && next {
			n++
			next = false
		}
		switch c {
		case '"':
			j := i + 1
			for j < len(body) && body[j] != '"' {
				if body[j] == '\\' {
					j++
				}
				j++
			}
			if depth == 1 {
				key = body[i+1 : min(j, len(body))]
			}
			i = j
		case '{', '[':
			depth++
			if c == '[' && depth == 2 && string(key) == "items" {
				inItems, next, n = true, true, 0
			}
		case '}', ']':
			if depth--; depth < 2 {
				inItems = false
			}
		}
	}
	return min(max(n, 1), MaxBatchItems)
}
