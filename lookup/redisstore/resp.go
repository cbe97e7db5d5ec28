package redisstore

import (
	"bytes"
	"errors"
)

// The replies a loop connection reads (RESP2, and RESP3's null): the
// connection sends only GET, AUTH, SELECT and PING, so a reply is a bulk
// string, a null, a simple string, an integer or an error. Anything else
// (an array, a push) is a protocol error: the connection is closed.

// replyKind is the type of one reply.
type replyKind uint8

const (
	replyBulk   replyKind = iota + 1 // $<n>\r\n<bytes>\r\n
	replyNull                        // $-1\r\n or _\r\n
	replySimple                      // +<text>\r\n
	replyInt                         // :<n>\r\n
	replyError                       // -<text>\r\n
)

// maxBulk is the largest bulk string accepted: Redis's own limit on a
// string value (proto-max-bulk-len's default, 512 MB).
const maxBulk = 512 << 20

// maxLine bounds a reply's first line (type, length or simple text).
const maxLine = 64 << 10

// errProtocol is matched by a reply that is not one a loop connection
// can receive.
var errProtocol = errors.New("redis protocol error")

// reply is one parsed reply; data is a view into the buffer parsed (the
// bulk's bytes, or the simple, integer or error text).
type reply struct {
	kind replyKind
	data []byte
}

// parseReply parses the reply at the start of p. It returns the reply and
// how many bytes it took; n is 0 (and err nil) when p holds only part of
// it. err matches errProtocol for bytes that are not a reply a loop
// connection accepts. It does not allocate.
func parseReply(p []byte) (r reply, n int, err error) {
	eol := bytes.IndexByte(p, '\n')
	if eol < 0 {
		if len(p) > maxLine {
			return reply{}, 0, errProtocol
		}
		return reply{}, 0, nil
	}
	if eol < 2 || p[eol-1] != '\r' {
		return reply{}, 0, errProtocol
	}
	line := p[1 : eol-1]
	switch p[0] {
	case '+':
		return reply{kind: replySimple, data: line}, eol + 1, nil
	case '-':
		return reply{kind: replyError, data: line}, eol + 1, nil
	case ':':
		if _, ok := atoi(bytes.TrimPrefix(line, []byte{'-'})); !ok {
			return reply{}, 0, errProtocol
		}
		return reply{kind: replyInt, data: line}, eol + 1, nil
	case '_':
		if len(line) != 0 {
			return reply{}, 0, errProtocol
		}
		return reply{kind: replyNull}, eol + 1, nil
	case '$':
		if len(line) == 2 && line[0] == '-' && line[1] == '1' {
			return reply{kind: replyNull}, eol + 1, nil
		}
		size, ok := atoi(line)
		if !ok || size > maxBulk {
			return reply{}, 0, errProtocol
		}
		end := eol + 1 + size
		if len(p) < end+2 {
			return reply{}, 0, nil
		}
		if p[end] != '\r' || p[end+1] != '\n' {
			return reply{}, 0, errProtocol
		}
		return reply{kind: replyBulk, data: p[eol+1 : end]}, end + 2, nil
	}
	return reply{}, 0, errProtocol
}

// atoi parses a non-negative decimal of at most 10 digits.
func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// appendCommand appends a RESP array of bulk strings: one command.
func appendCommand(dst []byte, args ...[]byte) []byte {
	dst = append(dst, '*')
	dst = appendInt(dst, len(args))
	dst = append(dst, '\r', '\n')
	for _, a := range args {
		dst = appendBulkHead(dst, len(a))
		dst = append(dst, a...)
		dst = append(dst, '\r', '\n')
	}
	return dst
}

// appendGet appends GET <prefix><id>, the key given in two parts so that
// it is never built apart.
func appendGet(dst []byte, prefix string, id []byte) []byte {
	dst = append(dst, "*2\r\n$3\r\nGET\r\n"...)
	dst = appendBulkHead(dst, len(prefix)+len(id))
	dst = append(dst, prefix...)
	dst = append(dst, id...)
	return append(dst, '\r', '\n')
}

func appendBulkHead(dst []byte, n int) []byte {
	dst = append(dst, '$')
	dst = appendInt(dst, n)
	return append(dst, '\r', '\n')
}

func appendInt(dst []byte, n int) []byte {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(dst, b[i:]...)
}
