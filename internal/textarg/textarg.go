// Package textarg parses the small text forms the commands take in flags:
// comma-separated lists and "LO-HI" ranges. It holds no state.
package textarg

import (
	"cmp"
	"fmt"
	"strings"
)

// SplitList splits a comma-separated list, trimming spaces around each
// element and dropping empty ones: " a, ,b " is ["a" "b"]; "" is nil.
func SplitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// ParseRange parses "LO-HI", or a single value V meaning V-V, converting
// each bound (spaces trimmed) with parse. It splits at the first "-", so
// bounds cannot be negative. Errors name s: a bound parse refused (wrapped),
// an empty bound, or HI below LO ("maximum below minimum").
func ParseRange[T cmp.Ordered](s string, parse func(string) (T, error)) (lo, hi T, err error) {
	a, b, isRange := strings.Cut(s, "-")
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if a == "" || (isRange && b == "") {
		return lo, hi, fmt.Errorf("bad range %q: want V or LO-HI", s)
	}
	if lo, err = parse(a); err != nil {
		return lo, hi, fmt.Errorf("bad range %q: %w", s, err)
	}
	if !isRange {
		return lo, lo, nil
	}
	if hi, err = parse(b); err != nil {
		return lo, hi, fmt.Errorf("bad range %q: %w", s, err)
	}
	if hi < lo {
		return lo, hi, fmt.Errorf("bad range %q: maximum below minimum", s)
	}
	return lo, hi, nil
}
