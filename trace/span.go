package trace

// Kind is the span kind (OTLP SpanKind).
type Kind uint8

// Span kinds used here.
const (
	KindInternal Kind = 1
	KindServer   Kind = 2
	KindClient   Kind = 3
)

// Status is the span status (OTLP Status.code).
type Status uint8

// Span statuses.
const (
	StatusUnset Status = 0
	StatusOK    Status = 1
	StatusError Status = 2
)

// Bounds of one span record; what does not fit is dropped and counted in
// the span's OTLP dropped_* fields.
const (
	maxAttrs     = 12
	maxAttrBytes = 256
	maxEvents    = 4
	maxEventAttr = 4
	maxLinks     = 16
)

type attrKind uint8

const (
	attrString attrKind = iota
	attrInt
	attrBool
)

// attr is one attribute; a string value lives in the span's byte arena.
type attr struct {
	key  string
	kind attrKind
	i    int64
	s, e uint16
}

type event struct {
	name   string
	at     int64
	attrs  [maxEventAttr]attr
	nattrs uint8
}

type link struct {
	trace TraceID
	span  SpanID
}

// Span is one recorded span: a fixed-size record filled on an event loop
// and encoded to OTLP by the exporter goroutine. Keys, names and event
// names are strings the caller keeps alive (constants); byte values are
// copied. A Span comes from Loop.Begin or Loop.Child and belongs to that
// loop until Loop.Finish (or Loop.Discard), after which it must not be
// touched: records are reused.
type Span struct {
	TraceID TraceID
	SpanID  SpanID
	Parent  SpanID
	Name    string
	Kind    Kind
	Status  Status
	// Start and End are Unix nanoseconds.
	Start, End int64

	flags         byte
	remote        bool // the parent is another process's span
	traceState    [MaxTraceStateBytes]byte
	traceStateLen uint16

	attrs    [maxAttrs]attr
	nattrs   uint8
	arena    [maxAttrBytes]byte
	narena   uint16
	dropAttr uint16

	events     [maxEvents]event
	nevents    uint8
	dropEvents uint16

	links     [maxLinks]link
	nlinks    uint8
	dropLinks uint16
}

func (s *Span) reset() {
	s.Name = ""
	s.Status = StatusUnset
	s.Start, s.End = 0, 0
	s.flags, s.remote = 0, false
	s.traceStateLen = 0
	s.nattrs, s.narena, s.dropAttr = 0, 0, 0
	s.nevents, s.dropEvents = 0, 0
	s.nlinks, s.dropLinks = 0, 0
}

// TraceState returns the span's tracestate; the view is valid while the
// caller owns the span.
func (s *Span) TraceState() []byte { return s.traceState[:s.traceStateLen] }

func (s *Span) strAttr(key string, v []byte) (attr, bool) {
	n := copy(s.arena[s.narena:], v)
	a := attr{key: key, kind: attrString, s: s.narena, e: s.narena + uint16(n)}
	s.narena += uint16(n)
	return a, n == len(v) || n > 0
}

// SetString records a string attribute; v is copied (cut when the span's
// arena is full).
func (s *Span) SetString(key string, v []byte) {
	if int(s.nattrs) == maxAttrs {
		s.dropAttr++
		return
	}
	a, _ := s.strAttr(key, v)
	s.attrs[s.nattrs] = a
	s.nattrs++
}

// SetConst records a string attribute from a string (a constant, or a
// string the caller keeps); v is copied like SetString's.
func (s *Span) SetConst(key, v string) {
	if int(s.nattrs) == maxAttrs {
		s.dropAttr++
		return
	}
	n := copy(s.arena[s.narena:], v)
	s.attrs[s.nattrs] = attr{key: key, kind: attrString, s: s.narena, e: s.narena + uint16(n)}
	s.narena += uint16(n)
	s.nattrs++
}

// SetInt records an integer attribute.
func (s *Span) SetInt(key string, v int64) {
	if int(s.nattrs) == maxAttrs {
		s.dropAttr++
		return
	}
	s.attrs[s.nattrs] = attr{key: key, kind: attrInt, i: v}
	s.nattrs++
}

// SetBool records a boolean attribute.
func (s *Span) SetBool(key string, v bool) {
	if int(s.nattrs) == maxAttrs {
		s.dropAttr++
		return
	}
	var i int64
	if v {
		i = 1
	}
	s.attrs[s.nattrs] = attr{key: key, kind: attrBool, i: i}
	s.nattrs++
}

// Event is a handle to add attributes to an event just added; the zero
// Event (the span had no room) ignores them.
type Event struct {
	s *Span
	e *event
}

// AddEvent records an event at Unix nanoseconds at.
func (s *Span) AddEvent(name string, at int64) Event {
	if int(s.nevents) == maxEvents {
		s.dropEvents++
		return Event{}
	}
	e := &s.events[s.nevents]
	s.nevents++
	e.name, e.at, e.nattrs = name, at, 0
	return Event{s, e}
}

// SetString records a string attribute on the event; v is copied into
// the span's arena (cut when it is full).
func (ev Event) SetString(key, v string) {
	if ev.e == nil || int(ev.e.nattrs) == maxEventAttr {
		return
	}
	s := ev.s
	n := copy(s.arena[s.narena:], v)
	ev.e.attrs[ev.e.nattrs] = attr{key: key, kind: attrString, s: s.narena, e: s.narena + uint16(n)}
	s.narena += uint16(n)
	ev.e.nattrs++
}

// SetInt records an integer attribute on the event.
func (ev Event) SetInt(key string, v int64) {
	if ev.e == nil || int(ev.e.nattrs) == maxEventAttr {
		return
	}
	ev.e.attrs[ev.e.nattrs] = attr{key: key, kind: attrInt, i: v}
	ev.e.nattrs++
}

// SetBool records a boolean attribute on the event.
func (ev Event) SetBool(key string, v bool) {
	if ev.e == nil || int(ev.e.nattrs) == maxEventAttr {
		return
	}
	var i int64
	if v {
		i = 1
	}
	ev.e.attrs[ev.e.nattrs] = attr{key: key, kind: attrBool, i: i}
	ev.e.nattrs++
}

// AddLink records a link to another span (a request a store round trip
// served).
func (s *Span) AddLink(t TraceID, sp SpanID) {
	if int(s.nlinks) == maxLinks {
		s.dropLinks++
		return
	}
	s.links[s.nlinks] = link{trace: t, span: sp}
	s.nlinks++
}
