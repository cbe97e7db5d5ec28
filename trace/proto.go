package trace

import (
	"unsafe"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// slabChunk is how many values a slab allocates at once.
const slabChunk = 64

// slab hands out values of T that keep their address for the slab's life:
// chunks are added as needed and never moved, so pointers wired into
// messages stay valid while the slab grows. reset makes every value
// available again; a value handed out keeps what its last user wrote, so
// the caller sets every field it uses.
type slab[T any] struct {
	chunks [][]T
	n      int
}

func (s *slab[T]) next() *T {
	c, i := s.n/slabChunk, s.n%slabChunk
	if c == len(s.chunks) {
		s.chunks = append(s.chunks, make([]T, slabChunk))
	}
	s.n++
	return &s.chunks[c][i]
}

func (s *slab[T]) reset() { s.n = 0 }

// keyValue is one attribute's messages: the KeyValue, its AnyValue and
// the oneof wrappers it points to, so that setting a value of any kind
// takes no allocation.
type keyValue struct {
	kv  commonpb.KeyValue
	val commonpb.AnyValue
	str commonpb.AnyValue_StringValue
	i   commonpb.AnyValue_IntValue
	b   commonpb.AnyValue_BoolValue
}

// spanMsg is one span's message and its status.
type spanMsg struct {
	span   tracepb.Span
	status tracepb.Status
}

// protoBatch builds the generated OTLP messages of one export from span
// records. The messages are reused from one export to the next (the
// client marshals them before UploadTraces returns): building fresh ones
// cost about 22 allocations per span, garbage collected while the loops
// serve. It belongs to the exporter goroutine.
//
// The messages alias the records: ids are slices of their arrays, string
// values and tracestate are strings over their bytes (no copy). What
// request returns is valid until the records are given back or request
// is called again, whichever comes first.
type protoBatch struct {
	rs    []*tracepb.ResourceSpans
	scope *tracepb.ScopeSpans

	spans  slab[spanMsg]
	attrs  slab[keyValue]
	events slab[tracepb.Span_Event]
	links  slab[tracepb.Span_Link]
}

func newProtoBatch(resource *resourcepb.Resource, scope string) *protoBatch {
	ss := &tracepb.ScopeSpans{Scope: &commonpb.InstrumentationScope{Name: scope}}
	return &protoBatch{
		rs:    []*tracepb.ResourceSpans{{Resource: resource, ScopeSpans: []*tracepb.ScopeSpans{ss}}},
		scope: ss,
	}
}

// request returns the resource spans of one export holding spans.
func (b *protoBatch) request(spans []*Span) []*tracepb.ResourceSpans {
	b.spans.reset()
	b.attrs.reset()
	b.events.reset()
	b.links.reset()
	out := b.scope.Spans[:0]
	for _, s := range spans {
		out = append(out, b.span(s))
	}
	// The tail past len still points at earlier messages; they are
	// overwritten before they are used again.
	b.scope.Spans = out
	return b.rs
}

func (b *protoBatch) span(s *Span) *tracepb.Span {
	m := b.spans.next()
	p := &m.span
	p.TraceId = s.TraceID[:]
	p.SpanId = s.SpanID[:]
	p.TraceState = aliasString(s.TraceState())
	p.ParentSpanId = nil
	if s.Parent.IsValid() {
		p.ParentSpanId = s.Parent[:]
	}
	p.Flags = s.otlpFlags()
	p.Name = s.Name
	p.Kind = tracepb.Span_SpanKind(s.Kind)
	p.StartTimeUnixNano = uint64(s.Start)
	p.EndTimeUnixNano = uint64(s.End)

	p.Attributes = p.Attributes[:0]
	for i := range s.attrs[:s.nattrs] {
		p.Attributes = append(p.Attributes, b.attr(s, &s.attrs[i]))
	}
	p.DroppedAttributesCount = uint32(s.dropAttr)

	p.Events = p.Events[:0]
	for i := range s.events[:s.nevents] {
		ev := &s.events[i]
		pe := b.events.next()
		pe.TimeUnixNano = uint64(ev.at)
		pe.Name = ev.name
		pe.Attributes = pe.Attributes[:0]
		for j := range ev.attrs[:ev.nattrs] {
			pe.Attributes = append(pe.Attributes, b.attr(s, &ev.attrs[j]))
		}
		pe.DroppedAttributesCount = 0
		p.Events = append(p.Events, pe)
	}
	p.DroppedEventsCount = uint32(s.dropEvents)

	p.Links = p.Links[:0]
	for i := range s.links[:s.nlinks] {
		l := &s.links[i]
		pl := b.links.next()
		pl.TraceId = l.trace[:]
		pl.SpanId = l.span[:]
		pl.TraceState = ""
		pl.Attributes = pl.Attributes[:0]
		pl.DroppedAttributesCount = 0
		pl.Flags = uint32(FlagSampled)
		p.Links = append(p.Links, pl)
	}
	p.DroppedLinksCount = uint32(s.dropLinks)

	m.status.Code = tracepb.Status_StatusCode(s.Status)
	m.status.Message = ""
	p.Status = &m.status
	return p
}

// attr returns a as a KeyValue whose string value aliases s's arena.
func (b *protoBatch) attr(s *Span, a *attr) *commonpb.KeyValue {
	k := b.attrs.next()
	k.kv.Key = a.key
	k.kv.Value = &k.val
	switch a.kind {
	case attrInt:
		k.i.IntValue = a.i
		k.val.Value = &k.i
	case attrBool:
		k.b.BoolValue = a.i != 0
		k.val.Value = &k.b
	default:
		k.str.StringValue = aliasString(s.arena[a.s:a.e])
		k.val.Value = &k.str
	}
	return &k.kv
}

// aliasString returns b's bytes as a string without copying them. The
// string is valid only while b is not written: here, while the span
// record it belongs to is held by the exporter.
func aliasString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// otlpFlags are the W3C flags plus whether the parent is remote (OTLP
// SpanFlags).
func (s *Span) otlpFlags() uint32 {
	f := uint32(s.flags) | uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK)
	if s.remote {
		f |= uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK)
	}
	return f
}

func strKV(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}
