package httpparse

import (
	"encoding/binary"
	"math/bits"
	"net/http"
)

// The fast path. Most heads are well-formed and arrive whole, and for them
// the general path does each line in three passes: find the LF, check the
// name, check the value. The functions below do a line in one pass instead,
// and accept only what the general path accepts. They never decide an
// error: on anything unusual (a byte outside the common grammar, a line not
// yet complete, a limit in sight) they stop and leave the line to the
// general path, recording in p.scan how far the line is known to hold no
// LF, so that no byte is searched for LF twice and total work stays linear.

// fastRequestLine parses a request line of the common shape
//
//	token SP "/" *( pchar / "/" / "?" ) SP "HTTP/1." ( "0" / "1" ) CRLF
//
// lying complete in buf[p.pos:limit], and reports whether it did.
func (p *Parser) fastRequestLine(buf []byte, limit int) bool {
	pos := p.pos
	line := buf[pos:limit] // indices below are relative to pos
	// Byte by byte, not tokenRun: the call costs more than a method's few
	// bytes (BenchmarkVersusReadRequest; docs/BENCHMARKS.md, "Design
	// measurements") and a method never fills tokenRun's eight-byte step.
	m := 0
	for m < len(line) && isToken(line[m]) {
		m++
	}
	if m == 0 || m+1 >= len(line) || line[m] != ' ' || line[m+1] != '/' ||
		string(line[:m]) == http.MethodConnect {
		p.scan = pos + m
		return false
	}
	// The target: targetRun's loop, written out here because Go does not
	// inline targetRun (over its budget) and the call shows on this path
	// (BenchmarkVersusReadRequest; docs/BENCHMARKS.md, "Design
	// measurements"). Keep the two in step.
	ts := m + 1
	q := -1
	i := ts
	for i < len(line) {
		c := line[i]
		if isTarget(c) {
			if c == '?' && q < 0 {
				q = i - ts
			}
			i++
			continue
		}
		if c == '%' && i+2 < len(line) && isHex(line[i+1]) && isHex(line[i+2]) {
			i += 3
			continue
		}
		break
	}
	te := i
	// " HTTP/1.x\r\n" follows the target.
	if te-ts > p.lim.MaxTargetBytes || te+11 > len(line) {
		p.scan = pos + te
		return false
	}
	v := line[te : te+11]
	if string(v[:8]) != " HTTP/1." || (v[8] != '0' && v[8] != '1') || v[9] != '\r' || v[10] != '\n' {
		p.scan = pos + te
		return false
	}
	p.method = span{pos, pos + m}
	p.target = span{pos + ts, pos + te}
	p.setPathQuery(pos+ts, pos+te, q)
	p.minor = int(v[8] - '0')
	p.pos = pos + te + 11
	p.scan = p.pos
	p.st = stateHeaders
	return true
}

// fastFields parses field lines, and the empty line that ends the head,
// while each is well-formed and complete in buf[:limit]. It returns
// the first error of applying a field or of endHead; it returns nil
// both when the head is done and when a line is left to the general path.
func (p *Parser) fastFields(buf []byte, limit int) *Error {
	for p.st == stateHeaders {
		pos := p.pos
		line := buf[pos:limit] // indices below are relative to pos
		if len(line) >= 2 && line[0] == '\r' && line[1] == '\n' {
			p.pos += 2
			p.scan = p.pos
			return p.endHead(buf)
		}
		// field-name = token, then ":" with no whitespace before it.
		i := tokenRun(line)
		if i == 0 || i == len(line) || line[i] != ':' {
			p.scan = pos + i
			return nil
		}
		name := span{pos, pos + i}
		i++
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		vs := i
		// The value runs to the first control byte other than HTAB, which
		// must be the CR of CRLF: every other byte is SP, VCHAR or
		// obs-text (classValue). Eight bytes at a time.
		for {
			if i+8 > len(line) {
				for i < len(line) && isValue(line[i]) {
					i++
				}
				break
			}
			m := controls(binary.LittleEndian.Uint64(line[i:]))
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) >> 3
			if line[i] != '\t' {
				break
			}
			i++
		}
		if i+1 >= len(line) || line[i] != '\r' || line[i+1] != '\n' {
			p.scan = pos + i
			return nil
		}
		p.pos = pos + i + 2
		p.scan = p.pos
		if err := p.addField(buf, name, owsTrimmed(buf, pos+vs, pos+i)); err != nil {
			return err
		}
	}
	return nil
}

// tokenRun returns the length of the run of tchar at the start of b. It
// looks up eight bytes' classes at a time and branches once per eight.
func tokenRun(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := b[i : i+8 : i+8]
		if charClass[w[0]]&charClass[w[1]]&charClass[w[2]]&charClass[w[3]]&
			charClass[w[4]]&charClass[w[5]]&charClass[w[6]]&charClass[w[7]]&classToken == 0 {
			break
		}
	}
	for i < len(b) && isToken(b[i]) {
		i++
	}
	return i
}
