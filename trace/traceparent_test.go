package trace

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseTraceparent(t *testing.T) {
	const (
		id     = "4bf92f3577b34da6a3ce929d0e0e4736"
		parent = "00f067aa0ba902b7"
	)
	tests := []struct {
		name    string
		in      string
		ok      bool
		sampled bool
	}{
		// The Recommendation's examples (§3.2.2.5.1, §3.2.4).
		{"example sampled", "00-" + id + "-" + parent + "-01", true, true},
		{"example not sampled", "00-" + id + "-" + parent + "-00", true, false},
		{"other flags ignored", "00-" + id + "-" + parent + "-fe", true, false},
		{"other flags with sampled", "00-" + id + "-" + parent + "-03", true, true},
		// §3.2.2.1 and §4.3: versions.
		{"version ff", "ff-" + id + "-" + parent + "-01", false, false},
		{"future version, same length", "01-" + id + "-" + parent + "-01", true, true},
		{"future version, more fields", "cc-" + id + "-" + parent + "-01-what-the-future-will-be-like", true, true},
		{"future version, no dash after flags", "cc-" + id + "-" + parent + "-01.what", false, false},
		{"version 00 longer", "00-" + id + "-" + parent + "-01-x", false, false},
		{"version uppercase", "0A-" + id + "-" + parent + "-01", false, false},
		{"version not hex", "0g-" + id + "-" + parent + "-01", false, false},
		// §3.2.2.3, §3.2.2.4: ids.
		{"trace id all zero", "00-00000000000000000000000000000000-" + parent + "-01", false, false},
		{"parent id all zero", "00-" + id + "-0000000000000000-01", false, false},
		{"trace id uppercase", "00-" + strings.ToUpper(id) + "-" + parent + "-01", false, false},
		{"parent id uppercase", "00-" + id + "-00F067AA0BA902B7-01", false, false},
		{"trace id short", "00-" + id[:31] + "-" + parent + "-01x", false, false},
		{"flags not hex", "00-" + id + "-" + parent + "-0x", false, false},
		{"flags uppercase", "00-" + id + "-" + parent + "-0A", false, false},
		{"wrong separator", "00_" + id + "-" + parent + "-01", false, false},
		{"short", "00-" + id + "-" + parent + "-1", false, false},
		{"empty", "", false, false},
		{"trailing space", "00-" + id + "-" + parent + "-01 ", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tid, pid, flags, ok := ParseTraceparent([]byte(tt.in))
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				if tid.IsValid() || pid.IsValid() || flags != 0 {
					t.Fatalf("invalid value left ids %v %v %x", tid, pid, flags)
				}
				return
			}
			if tid.String() != id || pid.String() != parent {
				t.Fatalf("ids %s %s, want %s %s", tid, pid, id, parent)
			}
			if got := flags&FlagSampled != 0; got != tt.sampled {
				t.Fatalf("sampled = %v, want %v", got, tt.sampled)
			}
		})
	}
}

func TestIncomingFields(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	type field struct{ name, value string }
	tests := []struct {
		name   string
		fields []field
		valid  bool
		state  string
	}{
		{"none", nil, false, ""},
		{"name any case", []field{{"TraceParent", tp}}, true, ""},
		{"example tracestate", []field{{"traceparent", tp}, {"tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"}}, true, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"},
		{"tracestate before traceparent", []field{{"tracestate", "congo=t61rcWkgMzE"}, {"traceparent", tp}}, true, "congo=t61rcWkgMzE"},
		{"whitespace and empty members", []field{{"traceparent", tp}, {"tracestate", "rojo=1 ,\t, congo=2,"}}, true, "rojo=1,congo=2"},
		{"two tracestate fields joined", []field{{"traceparent", tp}, {"tracestate", "rojo=1"}, {"tracestate", "congo=2"}}, true, "rojo=1,congo=2"},
		{"multi-tenant key", []field{{"traceparent", tp}, {"tracestate", "fw529a3039@dt=FWZKbJ8yeiZ8,rojo=1"}}, true, "fw529a3039@dt=FWZKbJ8yeiZ8,rojo=1"},
		{"value with inner space", []field{{"traceparent", tp}, {"tracestate", "a=b c"}}, true, "a=b c"},
		{"duplicate key ignored", []field{{"traceparent", tp}, {"tracestate", "rojo=1,rojo=2"}}, true, ""},
		{"uppercase key ignored", []field{{"traceparent", tp}, {"tracestate", "Rojo=1"}}, true, ""},
		{"key starting with digit ignored", []field{{"traceparent", tp}, {"tracestate", "1rojo=1"}}, true, ""},
		{"empty value ignored", []field{{"traceparent", tp}, {"tracestate", "rojo="}}, true, ""},
		{"no equals ignored", []field{{"traceparent", tp}, {"tracestate", "rojo"}}, true, ""},
		{"equals in value ignored", []field{{"traceparent", tp}, {"tracestate", "rojo=a=b"}}, true, ""},
		{"system id too long ignored", []field{{"traceparent", tp}, {"tracestate", "t@abcdefghijklmno=1"}}, true, ""},
		{"two at signs ignored", []field{{"traceparent", tp}, {"tracestate", "t@a@b=1"}}, true, ""},
		{"32 members kept", []field{{"traceparent", tp}, {"tracestate", members(32)}}, true, members(32)},
		{"33 members ignored", []field{{"traceparent", tp}, {"tracestate", members(33)}}, true, ""},
		{"invalid traceparent drops tracestate", []field{{"traceparent", "00-x"}, {"tracestate", "rojo=1"}}, false, ""},
		{"two traceparents invalid", []field{{"traceparent", tp}, {"traceparent", tp}, {"tracestate", "rojo=1"}}, false, ""},
		{"five tracestate fields ignored", []field{{"traceparent", tp}, {"tracestate", "a=1"}, {"tracestate", "b=1"}, {"tracestate", "c=1"}, {"tracestate", "d=1"}, {"tracestate", "e=1"}}, true, ""},
		{"other fields ignored", []field{{"x-traceparent", tp}, {"traceparents", tp}}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Field by field, as a server walking the fields; and
			// through Traceparent and Tracestate, as a server whose
			// parser noted the first traceparent, the count and the
			// tracestate values.
			var walked, noted Incoming
			var first []byte
			parents := 0
			for _, f := range tt.fields {
				walked.Field([]byte(f.name), []byte(f.value))
				switch f.name {
				case "traceparent", "TraceParent":
					if parents == 0 {
						first = []byte(f.value)
					}
					parents++
				case "tracestate":
					noted.Tracestate([]byte(f.value))
				}
			}
			noted.Traceparent(first, parents)
			for name, in := range map[string]*Incoming{"walked": &walked, "noted": &noted} {
				if in.Valid != tt.valid {
					t.Fatalf("%s: Valid = %v, want %v", name, in.Valid, tt.valid)
				}
				var buf [MaxTraceStateBytes]byte
				if got := string(buf[:in.TraceState(&buf)]); got != tt.state {
					t.Fatalf("%s: tracestate %q, want %q", name, got, tt.state)
				}
			}
		})
	}
}

func members(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("k")
		b.WriteByte(byte('a' + i%26))
		b.WriteByte(byte('a' + i/26))
		b.WriteString("=v")
	}
	return b.String()
}

// TestTraceStateTruncation follows §3.3.1.5: a list over the limit loses
// its members over 128 characters first, then members from the end.
func TestTraceStateTruncation(t *testing.T) {
	long := "big=" + strings.Repeat("x", 200)
	var parts []string
	for i := range 20 {
		parts = append(parts, "k"+string(rune('a'+i))+"="+strings.Repeat("v", 30))
	}
	in := Incoming{Valid: true}
	in.Field([]byte("tracestate"), []byte(long+","+strings.Join(parts, ",")))
	var buf [MaxTraceStateBytes]byte
	got := string(buf[:in.TraceState(&buf)])
	if strings.Contains(got, "big=") {
		t.Fatalf("the long member survived: %q", got)
	}
	// Each member is 33 bytes plus a comma: 15 fit in 512.
	want := strings.Join(parts[:15], ",")
	if got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	// Under the limit, a long member stays.
	in = Incoming{Valid: true}
	in.Field([]byte("tracestate"), []byte(long+",a=1"))
	if got := string(buf[:in.TraceState(&buf)]); got != long+",a=1" {
		t.Fatalf("got %q", got)
	}
}

func TestIncomingDoesNotAllocate(t *testing.T) {
	name, tp := []byte("traceparent"), []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	sn, sv := []byte("tracestate"), []byte("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
	var buf [MaxTraceStateBytes]byte
	allocs := testing.AllocsPerRun(100, func() {
		var in Incoming
		in.Field(name, tp)
		in.Field(sn, sv)
		in.Field([]byte("host"), tp)
		if !in.Valid || in.TraceState(&buf) == 0 {
			t.Fatal("not parsed")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per request", allocs)
	}
}

func FuzzParseTraceparent(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Add("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future")
	f.Add("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Add("00-00000000000000000000000000000000-00f067aa0ba902b7-01")
	f.Fuzz(func(t *testing.T, s string) {
		id, parent, flags, ok := ParseTraceparent([]byte(s))
		if !ok {
			return
		}
		// A valid value is its own parts, re-formatted.
		re := s[:3] + id.String() + "-" + parent.String() + "-"
		if !strings.HasPrefix(s, re) || !id.IsValid() || !parent.IsValid() || flags&^FlagSampled != 0 {
			t.Fatalf("%q parsed as %s %s %x", s, id, parent, flags)
		}
		if s[:2] == "ff" || (s[:2] == "00" && len(s) != 55) {
			t.Fatalf("%q accepted", s)
		}
	})
}

func FuzzTraceState(f *testing.F) {
	f.Add("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", "")
	f.Add("a=1 , ,b=2", "c@d=3")
	f.Add(members(33), "")
	f.Fuzz(func(t *testing.T, a, b string) {
		in := Incoming{Valid: true}
		in.Field([]byte("tracestate"), []byte(a))
		in.Field([]byte("tracestate"), []byte(b))
		var buf [MaxTraceStateBytes]byte
		out := buf[:in.TraceState(&buf)]
		if len(out) == 0 {
			return
		}
		// The normalised list is valid, at most 32 members, and stable.
		again := Incoming{Valid: true}
		again.Field([]byte("tracestate"), out)
		var buf2 [MaxTraceStateBytes]byte
		if got := buf2[:again.TraceState(&buf2)]; !bytes.Equal(got, out) {
			t.Fatalf("%q normalised to %q, then to %q", a+","+b, out, got)
		}
		if n := bytes.Count(out, []byte(",")) + 1; n > MaxTraceStateMembers {
			t.Fatalf("%d members", n)
		}
	})
}
