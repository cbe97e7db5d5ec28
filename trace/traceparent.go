package trace

// The traceparent and tracestate headers of W3C Trace Context
// (https://www.w3.org/TR/trace-context/, the Recommendation; section
// numbers below are its own).

const (
	// traceparentLen is the length of a version 00 traceparent (§3.2.2):
	// 2 + 1 + 32 + 1 + 16 + 1 + 2.
	traceparentLen = 55
	// MaxTraceStateMembers is the most list-members a tracestate may have
	// (§3.3.1.1); a longer list is discarded whole.
	MaxTraceStateMembers = 32
	// MaxTraceStateBytes is how much of a tracestate a span keeps. The
	// Recommendation asks vendors to propagate at least 512 characters and
	// says how to cut a longer list (§3.3.1.5): members over
	// truncateMemberLen go first, then members from the end.
	MaxTraceStateBytes = 512
	truncateMemberLen  = 128
	// MaxTraceStateFields is how many tracestate header fields are
	// combined (§3.3.1.1 allows several, joined with commas); more make the
	// tracestate malformed.
	MaxTraceStateFields = 4
)

// Incoming collects the trace context header fields of one request: field
// by field (Field) while a server walks the header fields, or from what
// its parser noted (Traceparent, Tracestate). It holds views into the request's
// bytes: use it before those bytes change, then Reset it. The zero value is
// ready. It does not allocate.
type Incoming struct {
	// TraceID, Parent and Flags are the parsed traceparent; meaningful only
	// when Valid.
	TraceID TraceID
	Parent  SpanID
	Flags   byte
	// Valid reports exactly one traceparent field that parsed (§3.2.2: a
	// second one makes the context invalid, §4.3).
	Valid bool

	parents int
	states  [MaxTraceStateFields][]byte
	nstates int
}

// Reset clears in for the next request.
func (in *Incoming) Reset() { *in = Incoming{} }

// Field looks at one header field; any name other than traceparent and
// tracestate (ASCII case-insensitive, RFC 9110 §5.1) is ignored. value is
// the field value with surrounding whitespace removed.
func (in *Incoming) Field(name, value []byte) {
	switch len(name) {
	case len("traceparent"):
		if equalFold(name, "traceparent") {
			in.Traceparent(value, 1)
		}
	case len("tracestate"):
		if equalFold(name, "tracestate") {
			in.Tracestate(value)
		}
	}
}

// Traceparent takes traceparent fields of the request: fields of them, the
// first with value (surrounding whitespace removed), for a server whose
// parser noted them instead of handing over every field. More than one
// traceparent field in all makes the context invalid (§3.2.2, §4.3).
func (in *Incoming) Traceparent(value []byte, fields int) {
	if fields <= 0 {
		return
	}
	in.parents += fields
	if in.parents > 1 {
		in.Valid = false
		return
	}
	in.TraceID, in.Parent, in.Flags, in.Valid = ParseTraceparent(value)
}

// Tracestate takes one tracestate field value of the request (surrounding
// whitespace removed), in the order received. Only the first
// MaxTraceStateFields values are read: more fields make the tracestate
// malformed, so their values may be nil.
func (in *Incoming) Tracestate(value []byte) {
	if in.nstates < MaxTraceStateFields {
		in.states[in.nstates] = value
	}
	in.nstates++
}

// TraceState writes the request's tracestate, validated and normalised
// (members joined by "," without whitespace, cut to MaxTraceStateBytes as
// §3.3.1.5 says), into dst and returns its length; 0 when there is none,
// when traceparent is invalid (§3.3: tracestate is not parsed then) or when
// the list is malformed (§3.3.1.1: it is then ignored).
func (in *Incoming) TraceState(dst *[MaxTraceStateBytes]byte) int {
	if !in.Valid || in.nstates == 0 || in.nstates > MaxTraceStateFields {
		return 0
	}
	return normalizeTraceState(dst, in.states[:in.nstates])
}

// ParseTraceparent parses a traceparent field value (§3.2): version "-"
// trace-id "-" parent-id "-" trace-flags, lowercase hex. Version ff is
// invalid; version 00 must be exactly 55 bytes; a higher version is parsed
// by the fields version 00 defines and may continue after a "-" (§4.3, the
// forward-compatibility rule). All-zero ids are invalid. Only the sampled
// flag is kept: the other bits have no meaning here. ok is false for any
// invalid value.
func ParseTraceparent(v []byte) (id TraceID, parent SpanID, flags byte, ok bool) {
	if len(v) < traceparentLen {
		return id, parent, 0, false
	}
	ver, vok := hexByte(v[0], v[1])
	if !vok || ver == 0xff || v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return id, parent, 0, false
	}
	if ver == 0 && len(v) != traceparentLen {
		return id, parent, 0, false
	}
	if len(v) > traceparentLen && v[traceparentLen] != '-' {
		return id, parent, 0, false
	}
	for i := range id {
		b, bok := hexByte(v[3+2*i], v[4+2*i])
		if !bok {
			return TraceID{}, parent, 0, false
		}
		id[i] = b
	}
	for i := range parent {
		b, bok := hexByte(v[36+2*i], v[37+2*i])
		if !bok {
			return TraceID{}, SpanID{}, 0, false
		}
		parent[i] = b
	}
	f, fok := hexByte(v[53], v[54])
	if !fok || !id.IsValid() || !parent.IsValid() {
		return TraceID{}, SpanID{}, 0, false
	}
	return id, parent, f & FlagSampled, true
}

// hexByte decodes two lowercase hex digits (§3.2.2: HEXDIGLC; uppercase is
// invalid).
func hexByte(hi, lo byte) (byte, bool) {
	h, hok := unhex(hi)
	l, lok := unhex(lo)
	return h<<4 | l, hok && lok
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func equalFold(b []byte, lower string) bool {
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// member is one tracestate list-member: its bytes (key "=" value, no
// surrounding whitespace) and the length of its key.
type member struct {
	b      []byte
	keyLen int
}

// visitMembers calls fn for every non-empty list-member of the fields, in
// order, and reports false as soon as one is malformed or fn returns false.
// Empty and whitespace-only members are allowed and skipped (§3.3.1.1).
func visitMembers(fields [][]byte, fn func(m member) bool) bool {
	for _, f := range fields {
		for len(f) > 0 {
			end := 0
			for end < len(f) && f[end] != ',' {
				end++
			}
			m := trimOWS(f[:end])
			if end < len(f) {
				end++ // the comma
			}
			f = f[end:]
			if len(m) == 0 {
				continue
			}
			k, ok := parseMember(m)
			if !ok || !fn(member{b: m, keyLen: k}) {
				return false
			}
		}
	}
	return true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// parseMember checks key "=" value (§3.3.1.3) and returns the key length.
//
//	key              = simple-key / multi-tenant-key
//	simple-key       = lcalpha 0*255( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
//	multi-tenant-key = tenant-id "@" system-id
//	tenant-id        = ( lcalpha / DIGIT ) 0*240( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
//	system-id        = lcalpha 0*13( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
//	value            = 0*255(chr) nblk-chr
//	nblk-chr         = %x21-2B / %x2D-3C / %x3E-7E
//	chr              = %x20 / nblk-chr
func parseMember(m []byte) (int, bool) {
	eq := -1
	at := -1
	for i, c := range m {
		if c == '=' {
			eq = i
			break
		}
		if c == '@' {
			if at >= 0 {
				return 0, false
			}
			at = i
			continue
		}
		if !isKeyChar(c) {
			return 0, false
		}
	}
	if eq <= 0 {
		return 0, false
	}
	key := m[:eq]
	if at < 0 {
		if len(key) > 256 || !isLCAlpha(key[0]) {
			return 0, false
		}
	} else {
		tenant, system := key[:at], key[at+1:]
		if len(tenant) == 0 || len(tenant) > 241 || !(isLCAlpha(tenant[0]) || isDigit(tenant[0])) ||
			len(system) == 0 || len(system) > 14 || !isLCAlpha(system[0]) {
			return 0, false
		}
	}
	val := m[eq+1:]
	if len(val) == 0 || len(val) > 256 {
		return 0, false
	}
	for _, c := range val {
		if c != ' ' && !isNblk(c) {
			return 0, false
		}
	}
	if val[len(val)-1] == ' ' {
		return 0, false
	}
	return eq, true
}

func isLCAlpha(c byte) bool { return 'a' <= c && c <= 'z' }
func isDigit(c byte) bool   { return '0' <= c && c <= '9' }
func isKeyChar(c byte) bool {
	return isLCAlpha(c) || isDigit(c) || c == '_' || c == '-' || c == '*' || c == '/'
}
func isNblk(c byte) bool { return c >= 0x21 && c <= 0x7e && c != ',' && c != '=' }

// normalizeTraceState validates the list (at most MaxTraceStateMembers
// members, unique keys) and writes it to dst, cut per §3.3.1.5 when it does
// not fit.
func normalizeTraceState(dst *[MaxTraceStateBytes]byte, fields [][]byte) int {
	var keys [MaxTraceStateMembers][]byte
	n, total := 0, 0
	ok := visitMembers(fields, func(m member) bool {
		if n == MaxTraceStateMembers {
			return false
		}
		k := m.b[:m.keyLen]
		for _, prev := range keys[:n] {
			if string(prev) == string(k) {
				return false // §3.3.1.2: keys are unique
			}
		}
		keys[n] = k
		n++
		total += len(m.b)
		return true
	})
	if !ok || n == 0 {
		return 0
	}
	total += n - 1 // the commas
	dropLong := total > MaxTraceStateBytes
	w := 0
	visitMembers(fields, func(m member) bool {
		if dropLong && len(m.b) > truncateMemberLen {
			return true
		}
		need := len(m.b)
		if w > 0 {
			need++
		}
		if w+need > MaxTraceStateBytes {
			return false // from here on, members are dropped from the end
		}
		if w > 0 {
			dst[w] = ','
			w++
		}
		w += copy(dst[w:], m.b)
		return true
	})
	return w
}
