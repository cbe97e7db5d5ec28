package trace

import (
	"encoding/binary"

	"google.golang.org/protobuf/encoding/protowire"
)

// The OTLP trace export request in the protobuf wire format, written by
// hand into one reused buffer: building the generated messages cost about
// 25 allocations per span, and their garbage was collected while the
// loops served. Field numbers are those of opentelemetry-proto
// (collector/trace/v1/trace_service.proto, trace/v1/trace.proto,
// common/v1/common.proto, resource/v1/resource.proto); a test decodes the
// output with the collector's own unmarshaller.
const (
	// ExportTraceServiceRequest
	fRequestResourceSpans protowire.Number = 1
	// ResourceSpans
	fResourceSpansResource   protowire.Number = 1
	fResourceSpansScopeSpans protowire.Number = 2
	// Resource
	fResourceAttributes protowire.Number = 1
	// ScopeSpans
	fScopeSpansScope protowire.Number = 1
	fScopeSpansSpans protowire.Number = 2
	// InstrumentationScope
	fScopeName protowire.Number = 1
	// Span
	fSpanTraceID       protowire.Number = 1
	fSpanSpanID        protowire.Number = 2
	fSpanTraceState    protowire.Number = 3
	fSpanParentSpanID  protowire.Number = 4
	fSpanName          protowire.Number = 5
	fSpanKind          protowire.Number = 6
	fSpanStart         protowire.Number = 7
	fSpanEnd           protowire.Number = 8
	fSpanAttributes    protowire.Number = 9
	fSpanDroppedAttrs  protowire.Number = 10
	fSpanEvents        protowire.Number = 11
	fSpanDroppedEvents protowire.Number = 12
	fSpanLinks         protowire.Number = 13
	fSpanDroppedLinks  protowire.Number = 14
	fSpanStatus        protowire.Number = 15
	fSpanFlags         protowire.Number = 16
	// Span.Event
	fEventTime       protowire.Number = 1
	fEventName       protowire.Number = 2
	fEventAttributes protowire.Number = 3
	// Span.Link
	fLinkTraceID protowire.Number = 1
	fLinkSpanID  protowire.Number = 2
	fLinkFlags   protowire.Number = 6
	// Status
	fStatusCode protowire.Number = 3
	// KeyValue
	fKeyValueKey   protowire.Number = 1
	fKeyValueValue protowire.Number = 2
	// AnyValue (a oneof: a value is always written, even a zero one)
	fAnyString protowire.Number = 1
	fAnyBool   protowire.Number = 2
	fAnyInt    protowire.Number = 3
)

// OTLP SpanFlags bits above the W3C trace flags.
const (
	spanFlagsHasIsRemote uint32 = 0x100
	spanFlagsIsRemote    uint32 = 0x200
)

// encoder writes export requests. It belongs to the exporter goroutine;
// the buffer a call returns is valid until the next call.
type encoder struct {
	buf []byte
	// resource and scope are the encoded Resource and InstrumentationScope,
	// the same in every request.
	resource, scope []byte
}

func newEncoder(resource []kv, scope string) *encoder {
	e := &encoder{}
	for _, a := range resource {
		var at int
		e.resource, at = openField(e.resource, fResourceAttributes)
		e.resource = appendStringKV(e.resource, a.k, a.v)
		e.resource = closeField(e.resource, at)
	}
	e.scope = protowire.AppendTag(e.scope, fScopeName, protowire.BytesType)
	e.scope = protowire.AppendString(e.scope, scope)
	return e
}

// kv is a string attribute of the resource.
type kv struct{ k, v string }

// request encodes one ExportTraceServiceRequest holding spans.
func (e *encoder) request(spans []*Span) []byte {
	b := e.buf[:0]
	b, rs := openField(b, fRequestResourceSpans)
	b = protowire.AppendTag(b, fResourceSpansResource, protowire.BytesType)
	b = protowire.AppendBytes(b, e.resource)
	b, ss := openField(b, fResourceSpansScopeSpans)
	b = protowire.AppendTag(b, fScopeSpansScope, protowire.BytesType)
	b = protowire.AppendBytes(b, e.scope)
	for _, sp := range spans {
		b = appendSpan(b, sp)
	}
	b = closeField(b, ss)
	b = closeField(b, rs)
	e.buf = b
	return b
}

// openField appends the tag of a length-delimited field and one byte for
// its length, and returns where its body starts; closeField writes the
// length once the body is appended.
func openField(b []byte, num protowire.Number) ([]byte, int) {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = append(b, 0)
	return b, len(b)
}

var zeros [binary.MaxVarintLen64]byte

// closeField writes the length of the field whose body starts at start,
// moving the body when its length takes more than the byte reserved.
func closeField(b []byte, start int) []byte {
	n := len(b) - start
	k := protowire.SizeVarint(uint64(n))
	if k > 1 {
		b = append(b, zeros[:k-1]...)
		copy(b[start+k-1:], b[start:start+n])
	}
	protowire.AppendVarint(b[:start-1], uint64(n))
	return b
}

func appendSpan(b []byte, s *Span) []byte {
	b, at := openField(b, fScopeSpansSpans)
	b = appendBytesField(b, fSpanTraceID, s.TraceID[:])
	b = appendBytesField(b, fSpanSpanID, s.SpanID[:])
	if s.traceStateLen > 0 {
		b = appendBytesField(b, fSpanTraceState, s.TraceState())
	}
	if s.Parent.IsValid() {
		b = appendBytesField(b, fSpanParentSpanID, s.Parent[:])
	}
	b = protowire.AppendTag(b, fSpanName, protowire.BytesType)
	b = protowire.AppendString(b, s.Name)
	if s.Kind != 0 {
		b = protowire.AppendTag(b, fSpanKind, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(s.Kind))
	}
	b = protowire.AppendTag(b, fSpanStart, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, uint64(s.Start))
	b = protowire.AppendTag(b, fSpanEnd, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, uint64(s.End))
	for i := range s.attrs[:s.nattrs] {
		b = s.appendAttr(b, fSpanAttributes, &s.attrs[i])
	}
	b = appendCount(b, fSpanDroppedAttrs, s.dropAttr)
	for i := range s.events[:s.nevents] {
		ev := &s.events[i]
		var et int
		b, et = openField(b, fSpanEvents)
		b = protowire.AppendTag(b, fEventTime, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, uint64(ev.at))
		b = protowire.AppendTag(b, fEventName, protowire.BytesType)
		b = protowire.AppendString(b, ev.name)
		for j := range ev.attrs[:ev.nattrs] {
			b = s.appendAttr(b, fEventAttributes, &ev.attrs[j])
		}
		b = closeField(b, et)
	}
	b = appendCount(b, fSpanDroppedEvents, s.dropEvents)
	for i := range s.links[:s.nlinks] {
		l := &s.links[i]
		var lt int
		b, lt = openField(b, fSpanLinks)
		b = appendBytesField(b, fLinkTraceID, l.trace[:])
		b = appendBytesField(b, fLinkSpanID, l.span[:])
		b = protowire.AppendTag(b, fLinkFlags, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, uint32(FlagSampled))
		b = closeField(b, lt)
	}
	b = appendCount(b, fSpanDroppedLinks, s.dropLinks)
	var st int
	b, st = openField(b, fSpanStatus)
	if s.Status != StatusUnset {
		b = protowire.AppendTag(b, fStatusCode, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(s.Status))
	}
	b = closeField(b, st)
	b = protowire.AppendTag(b, fSpanFlags, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, s.otlpFlags())
	return closeField(b, at)
}

// otlpFlags are the W3C flags plus whether the parent is remote (OTLP
// SpanFlags).
func (s *Span) otlpFlags() uint32 {
	f := uint32(s.flags) | spanFlagsHasIsRemote
	if s.remote {
		f |= spanFlagsIsRemote
	}
	return f
}

func appendBytesField(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendCount(b []byte, num protowire.Number, n uint16) []byte {
	if n == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(n))
}

// appendAttr appends a as a KeyValue field num.
func (s *Span) appendAttr(b []byte, num protowire.Number, a *attr) []byte {
	b, at := openField(b, num)
	b = protowire.AppendTag(b, fKeyValueKey, protowire.BytesType)
	b = protowire.AppendString(b, a.key)
	var vt int
	b, vt = openField(b, fKeyValueValue)
	switch a.kind {
	case attrInt:
		b = protowire.AppendTag(b, fAnyInt, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(a.i))
	case attrBool:
		b = protowire.AppendTag(b, fAnyBool, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeBool(a.i != 0))
	default:
		b = appendBytesField(b, fAnyString, s.arena[a.s:a.e])
	}
	b = closeField(b, vt)
	return closeField(b, at)
}

// appendStringKV appends the body of a KeyValue with a string value.
func appendStringKV(b []byte, k, v string) []byte {
	b = protowire.AppendTag(b, fKeyValueKey, protowire.BytesType)
	b = protowire.AppendString(b, k)
	b, vt := openField(b, fKeyValueValue)
	b = protowire.AppendTag(b, fAnyString, protowire.BytesType)
	b = protowire.AppendString(b, v)
	return closeField(b, vt)
}
