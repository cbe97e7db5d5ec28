package redisstore

import (
	"bytes"
	"errors"
	"strconv"
	"testing"
)

func TestParseReply(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		kind replyKind
		data string
		n    int // 0: incomplete
		err  bool
	}{
		{"bulk", "$5\r\n52.99\r\nrest", replyBulk, "52.99", 11, false},
		{"empty bulk", "$0\r\n\r\n", replyBulk, "", 6, false},
		{"bulk holding CRLF", "$4\r\na\r\nb\r\n", replyBulk, "a\r\nb", 10, false},
		{"null bulk", "$-1\r\n", replyNull, "", 5, false},
		{"RESP3 null", "_\r\n", replyNull, "", 3, false},
		{"simple", "+PONG\r\n", replySimple, "PONG", 7, false},
		{"error", "-WRONGTYPE Operation against a key\r\n", replyError, "WRONGTYPE Operation against a key", 36, false},
		{"integer", ":42\r\n", replyInt, "42", 5, false},
		{"negative integer", ":-1\r\n", replyInt, "-1", 5, false},
		{"empty", "", 0, "", 0, false},
		{"head only", "$5\r\n", 0, "", 0, false},
		{"part of the bulk", "$5\r\n52.", 0, "", 0, false},
		{"bulk without its CRLF yet", "$5\r\n52.99\r", 0, "", 0, false},
		{"line without LF yet", "+PON", 0, "", 0, false},
		{"array", "*1\r\n$1\r\na\r\n", 0, "", 0, true},
		{"push", ">2\r\n", 0, "", 0, true},
		{"bare LF", "+OK\n", 0, "", 0, true},
		{"bulk length not a number", "$x\r\n", 0, "", 0, true},
		{"bulk length negative", "$-2\r\n", 0, "", 0, true},
		{"bulk length too long", "$99999999999\r\n", 0, "", 0, true},
		{"bulk past Redis's limit", "$536870913\r\n", 0, "", 0, true},
		{"bulk not ended by CRLF", "$2\r\nabcd\r\n", 0, "", 0, true},
		{"RESP3 null with data", "_x\r\n", 0, "", 0, true},
		{"integer not a number", ":4a\r\n", 0, "", 0, true},
		{"unknown type", "?\r\n", 0, "", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, n, err := parseReply([]byte(tc.in))
			if tc.err {
				if !errors.Is(err, errProtocol) {
					t.Fatalf("err = %v, want errProtocol", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if n != tc.n {
				t.Fatalf("n = %d, want %d", n, tc.n)
			}
			if n > 0 && (r.kind != tc.kind || string(r.data) != tc.data) {
				t.Fatalf("reply = %d %q, want %d %q", r.kind, r.data, tc.kind, tc.data)
			}
		})
	}
}

func TestParseReplyLongLine(t *testing.T) {
	line := append([]byte{'+'}, bytes.Repeat([]byte{'a'}, maxLine+1)...)
	if _, _, err := parseReply(line); !errors.Is(err, errProtocol) {
		t.Fatalf("a first line past %d bytes without its end: err = %v", maxLine, err)
	}
}

func TestAppendCommand(t *testing.T) {
	got := appendCommand(nil, []byte("AUTH"), []byte("user"), []byte(""))
	if want := "*3\r\n$4\r\nAUTH\r\n$4\r\nuser\r\n$0\r\n\r\n"; string(got) != want {
		t.Fatalf("appendCommand = %q, want %q", got, want)
	}
	got = appendGet(nil, "pricing:product:", []byte("P-123"))
	if want := "*2\r\n$3\r\nGET\r\n$21\r\npricing:product:P-123\r\n"; string(got) != want {
		t.Fatalf("appendGet = %q, want %q", got, want)
	}
	for _, n := range []int{0, 7, 10, 1234567890} {
		if got := string(appendInt(nil, n)); got != strconv.Itoa(n) {
			t.Fatalf("appendInt(%d) = %s", n, got)
		}
	}
}

// FuzzParseReply checks that any bytes parse to a reply, a need for more
// or errProtocol, never a panic; that a reply takes no more than it was
// given and parses the same from exactly its own bytes; and that every
// shorter prefix of a reply asks for more (or is refused) rather than
// parsing as something else.
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{"$5\r\n52.99\r\n", "$-1\r\n", "_\r\n", "+OK\r\n", "-ERR x\r\n", ":1\r\n", "*1\r\n", "$3\r\nab"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		r, n, err := parseReply(p)
		if err != nil {
			if !errors.Is(err, errProtocol) || n != 0 {
				t.Fatalf("err %v with n %d", err, n)
			}
			return
		}
		if n == 0 {
			return
		}
		if n > len(p) {
			t.Fatalf("n %d past the input's %d bytes", n, len(p))
		}
		r2, n2, err2 := parseReply(p[:n])
		if err2 != nil || n2 != n || r2.kind != r.kind || !bytes.Equal(r2.data, r.data) {
			t.Fatalf("reparse of its own %d bytes: %v %d %d %q, first %d %q", n, err2, n2, r2.kind, r2.data, r.kind, r.data)
		}
		for i := 0; i < n; i++ {
			if _, m, _ := parseReply(p[:i]); m != 0 {
				t.Fatalf("prefix of %d bytes parsed as a reply of %d", i, m)
			}
		}
	})
}
