package rules

import (
	"errors"
	"fmt"
	"strings"
)

// The glob syntax of schedules' products and locations:
//
//	*    any run of bytes, including none
//	?    exactly one byte
//	\c   the byte c itself (to match a literal *, ?, [, ] or \)
//	c    any other byte matches itself (case-sensitive)
//
// Character classes ([a-z]) are not supported: an unescaped [ or ] is an
// error, so that a pattern written for path.Match does not silently mean
// something else. A pattern is 1..MaxGlobLen bytes of printable ASCII.

// checkGlob reports why p is not a valid pattern, or nil.
func checkGlob(p string) error {
	if p == "" {
		return errors.New("empty pattern")
	}
	if len(p) > MaxGlobLen {
		return fmt.Errorf("pattern longer than %d bytes", MaxGlobLen)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c < 0x21 || c > 0x7e:
			return fmt.Errorf("pattern %q: byte %d is not printable ASCII", p, i)
		case c == '\\':
			if i+1 == len(p) {
				return fmt.Errorf("pattern %q ends in a lone backslash", p)
			}
			i++
		case c == '[' || c == ']':
			return fmt.Errorf("pattern %q: character classes are not supported (escape %c as \\%c)", p, c, c)
		}
	}
	return nil
}

// MatchGlob reports whether s matches the pattern p (see the syntax
// above). p must have passed validation; MatchGlob does not allocate.
func MatchGlob(p string, s []byte) bool {
	// Iterative matcher with one backtrack point (the last *): linear in
	// practice and never exponential.
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch c := p[pi]; c {
			case '*':
				starP, starS = pi, si
				pi++
				continue
			case '?':
				pi++
				si++
				continue
			case '\\':
				if pi+1 < len(p) && p[pi+1] == s[si] {
					pi += 2
					si++
					continue
				}
			default:
				if c == s[si] {
					pi++
					si++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starS++
		pi, si = starP+1, starS
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// glob is a validated pattern, with the two common shapes (a literal, a
// literal followed by one *) answered without the general matcher.
type glob struct {
	pat  string
	lit  string // the literal, or the prefix before the final *
	kind uint8
}

const (
	globGeneral = iota
	globLiteral
	globPrefix
)

func compileGlob(p string) glob {
	g := glob{pat: p}
	body, star := p, false
	if strings.HasSuffix(p, "*") && !strings.HasSuffix(p, `\*`) {
		body, star = p[:len(p)-1], true
	}
	if strings.ContainsAny(body, `*?\`) {
		return g
	}
	g.lit = body
	if star {
		g.kind = globPrefix
	} else {
		g.kind = globLiteral
	}
	return g
}

func (g *glob) match(s []byte) bool {
	switch g.kind {
	case globLiteral:
		return string(s) == g.lit
	case globPrefix:
		return len(s) >= len(g.lit) && string(s[:len(g.lit)]) == g.lit
	}
	return MatchGlob(g.pat, s)
}

// matchAny reports whether s matches one of the patterns; an empty list
// matches everything. compiled, when not nil, holds ps compiled.
func matchAny(ps []string, compiled []glob, s []byte) bool {
	if len(ps) == 0 {
		return true
	}
	if len(compiled) == len(ps) {
		for i := range compiled {
			if compiled[i].match(s) {
				return true
			}
		}
		return false
	}
	for _, p := range ps {
		if MatchGlob(p, s) {
			return true
		}
	}
	return false
}
