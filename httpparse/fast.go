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
//	token SP "/" *( tchar-of-target / pct-encoded ) SP "HTTP/1." ( "0" / "1" ) CRLF
//
// lying complete in buf[p.pos:limit], and reports whether it did.
func (p *Parser) fastRequestLine(buf []byte, limit int) bool {
	pos := p.pos
	i := pos
	for i < limit && isToken(buf[i]) {
		i++
	}
	if i == pos || i+1 >= limit || buf[i] != ' ' || buf[i+1] != '/' {
		p.scan = i
		return false
	}
	me := i
	if me-pos == len(http.MethodConnect) && string(buf[pos:me]) == http.MethodConnect {
		p.scan = i
		return false
	}
	ts := me + 1
	q := -1
	i = ts
	for i < limit {
		c := buf[i]
		if isTarget(c) {
			if c == '?' && q < 0 {
				q = i
			}
			i++
			continue
		}
		if c == '%' && i+2 < limit && isHex(buf[i+1]) && isHex(buf[i+2]) {
			i += 3
			continue
		}
		break
	}
	te := i
	// "HTTP/1.x\r\n" follows the space after the target.
	if te-ts > p.lim.MaxTargetBytes || te+11 > limit || buf[te] != ' ' {
		p.scan = te
		return false
	}
	v := buf[te+1 : te+11]
	if string(v[:7]) != "HTTP/1." || (v[7] != '0' && v[7] != '1') || v[8] != '\r' || v[9] != '\n' {
		p.scan = te
		return false
	}
	p.method = span{pos, me}
	p.target = span{ts, te}
	if q < 0 {
		p.path = span{ts, te}
		p.query = span{te, te}
	} else {
		p.path = span{ts, q}
		p.query = span{q + 1, te}
	}
	p.minor = int(v[7] - '0')
	p.pos = te + 11
	p.scan = p.pos
	p.st = stateHeaders
	return true
}

// fastFields parses field lines, and the empty line that ends the head,
// while each is well-formed and complete in buf[:limit]. It returns
// the first error of applying a field or of endHead; it returns nil
// both when the head is done and when a line is left to the general path.
func (p *Parser) fastFields(buf []byte, limit int) *Error {
	head := buf[:limit]
	for p.st == stateHeaders {
		pos := p.pos
		if pos+1 < len(head) && head[pos] == '\r' && head[pos+1] == '\n' {
			p.pos += 2
			p.scan = p.pos
			return p.endHead(buf)
		}
		// field-name = token, then ":" with no whitespace before it.
		i := pos
		for i < len(head) && isToken(head[i]) {
			i++
		}
		if i == pos || i == len(head) || head[i] != ':' {
			p.scan = i
			return nil
		}
		name := span{pos, i}
		i++
		for i < len(head) && (head[i] == ' ' || head[i] == '\t') {
			i++
		}
		vs := i
		// The value runs to the first byte outside classValue, which must
		// be the CR of CRLF. Eight bytes at a time: the lowest byte that
		// controls flags is the first control byte (see controls); only an
		// HTAB there, which a value may hold, sends the rest of the line
		// to the byte-wise loop.
		for i+8 <= len(head) {
			if m := controls(binary.LittleEndian.Uint64(head[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		for i < len(head) && isValue(head[i]) {
			i++
		}
		if i+1 >= len(head) || head[i] != '\r' || head[i+1] != '\n' {
			p.scan = i
			return nil
		}
		ve := i
		for ve > vs && (head[ve-1] == ' ' || head[ve-1] == '\t') {
			ve--
		}
		p.pos = i + 2
		p.scan = p.pos
		if err := p.addField(buf, name, span{vs, ve}); err != nil {
			return err
		}
	}
	return nil
}

// controls is non-zero iff any of the eight bytes in x is below 0x20 or
// equal to 0x7f, and its lowest set bit is the high bit of the first such
// byte (little-endian): (x - 0x20..) & ^x & 0x80.. flags bytes below 0x20,
// the same on x ^ 0x7f.. flags bytes equal to 0x7f. A borrow can flag a
// byte wrongly, but only one above a byte rightly flagged.
func controls(x uint64) uint64 {
	d := x ^ swarDel
	return (x-swarSpace)&^x&swarHighs | (d-swarOnes)&^d&swarHighs
}
