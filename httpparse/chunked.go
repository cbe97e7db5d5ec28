package httpparse

import "math"

// chunkSize parses a chunk-size line (RFC 9112 §7.1):
//
//	chunk-size = 1*HEXDIG
//	chunk-ext  = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//
// Sizes take at most 16 hex digits and no sign or whitespace; extensions
// are checked and skipped, and count towards MaxChunkMetaBytes.
func (p *Parser) chunkSize(buf []byte) (bool, *Error) {
	window := p.pos + maxChunkSizeDigits + (p.lim.MaxChunkMetaBytes - p.meta) + 2
	s, e, ok, more, err := p.findLine(buf, window)
	if err != nil {
		return false, err
	}
	if !ok {
		if more {
			return false, nil
		}
		// Judge only by the bytes within the window (split invariance).
		i := p.pos
		for i < len(buf) && i-p.pos <= maxChunkSizeDigits && isHex(buf[i]) {
			i++
		}
		if i-p.pos > maxChunkSizeDigits {
			return false, errBad("chunk size too long")
		}
		return false, errBad("chunk extensions too long")
	}
	var size uint64
	i := s
	for i < e && isHex(buf[i]) {
		if i-s == maxChunkSizeDigits {
			return false, errBad("chunk size too long")
		}
		size = size<<4 | unhex(buf[i])
		i++
	}
	if i == s {
		return false, errBad("invalid chunk size")
	}
	if size > math.MaxInt64 {
		return false, errBad("chunk size overflows")
	}
	if i < e {
		if !validChunkExt(buf[i:e]) {
			return false, errBad("invalid chunk extension")
		}
		p.meta += e - i
		if p.meta > p.lim.MaxChunkMetaBytes {
			return false, errBad("chunk extensions too long")
		}
	}
	if size == 0 {
		p.st = stateTrailers
		return true, nil
	}
	// The body limit applies to the de-chunked size.
	if int64(size) > p.lim.MaxBodyBytes-int64(len(p.body)) {
		return false, errTooLarge("request body too large")
	}
	p.remain = int64(size)
	p.st = stateChunkData
	return true, nil
}

// chunkData copies the current chunk's bytes at hand into the body.
func (p *Parser) chunkData(buf []byte) bool {
	take := int(min(int64(len(buf)-p.pos), p.remain))
	p.appendBody(buf[p.pos : p.pos+take])
	p.pos += take
	p.remain -= int64(take)
	if p.remain > 0 {
		return false
	}
	p.st = stateChunkEnd
	return true
}

// chunkEnd checks the CRLF that ends chunk data (RFC 9112 §7.1:
// chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF).
func (p *Parser) chunkEnd(buf []byte) (bool, *Error) {
	if len(buf) <= p.pos {
		return false, nil
	}
	if buf[p.pos] != '\r' {
		return false, errBad("missing crlf after chunk data")
	}
	if len(buf) <= p.pos+1 {
		return false, nil
	}
	if buf[p.pos+1] != '\n' {
		return false, errBad("missing crlf after chunk data")
	}
	p.pos += 2
	p.scan = p.pos
	p.st = stateChunkSize
	return true, nil
}

// trailerLine parses one line of the trailer section (RFC 9112 §7.1.2):
// field lines are checked like header lines, counted towards
// MaxChunkMetaBytes, and dropped; the empty line completes the request.
func (p *Parser) trailerLine(buf []byte) (bool, *Error) {
	window := p.pos + (p.lim.MaxChunkMetaBytes - p.meta) + 2
	s, e, ok, more, err := p.findLine(buf, window)
	if err != nil {
		return false, err
	}
	if !ok {
		if more {
			return false, nil
		}
		return false, errHeaderTooLarge("trailer section too large")
	}
	if s == e {
		p.st = stateDone
		return true, nil
	}
	if _, _, err := fieldLine(buf, s, e); err != nil {
		return false, err
	}
	p.meta += e - s + 2
	if p.meta > p.lim.MaxChunkMetaBytes {
		return false, errHeaderTooLarge("trailer section too large")
	}
	return true, nil
}

// appendBody appends b to the de-chunk buffer, growing it to at most
// MaxBodyBytes (the caller has checked the total against that bound).
func (p *Parser) appendBody(b []byte) {
	need := len(p.body) + len(b)
	if need > cap(p.body) {
		c := max(need, 2*cap(p.body), 512)
		c = int(min(int64(c), p.lim.MaxBodyBytes))
		nb := make([]byte, len(p.body), c)
		copy(nb, p.body)
		p.body = nb
	}
	p.body = append(p.body, b...)
}

// validChunkExt reports whether ext is a sequence of chunk extensions
// (RFC 9112 §7.1.1):
//
//	chunk-ext     = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//	chunk-ext-val = token / quoted-string
//
// Whitespace is allowed only where the grammar has BWS, so a chunk size
// followed by whitespace alone is invalid.
func validChunkExt(ext []byte) bool {
	n := len(ext)
	i := 0
	ws := func(i int) int {
		for i < n && (ext[i] == ' ' || ext[i] == '\t') {
			i++
		}
		return i
	}
	token := func(i int) int {
		for i < n && isToken(ext[i]) {
			i++
		}
		return i
	}
	for i < n {
		i = ws(i)
		if i == n || ext[i] != ';' {
			return false
		}
		i = ws(i + 1)
		j := token(i)
		if j == i {
			return false
		}
		i = j
		k := ws(i)
		if k == n || ext[k] != '=' {
			continue
		}
		i = ws(k + 1)
		if i < n && ext[i] == '"' {
			// RFC 9110 §5.6.4: quoted-string with quoted-pair.
			i++
			closed := false
			for i < n {
				c := ext[i]
				if c == '"' {
					i++
					closed = true
					break
				}
				if c == '\\' {
					if i+1 == n || !isValue(ext[i+1]) {
						return false
					}
					i += 2
					continue
				}
				if !isValue(c) {
					return false
				}
				i++
			}
			if !closed {
				return false
			}
			continue
		}
		j = token(i)
		if j == i {
			return false
		}
		i = j
	}
	return true
}
