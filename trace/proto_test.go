package trace

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// testSpans returns spans covering every field the encoder writes: a
// remote parent with tracestate, attributes of each kind (one cut by the
// arena, some dropped), events with attributes, links (some dropped),
// each status; n of them, so that lengths take several bytes.
func testSpans(n int) []*Span {
	spans := make([]*Span, n)
	for i := range spans {
		s := new(Span)
		s.reset()
		s.TraceID = TraceID{0x4b, 0xf9, byte(i), byte(i >> 8), 1}
		s.SpanID = SpanID{0, 0xf0, byte(i), 7}
		s.Name = fmt.Sprintf("span %d", i)
		s.Kind = Kind(i%3 + 1)
		s.Status = Status(i % 3)
		s.Start, s.End = 1_700_000_000_000_000_000+int64(i), 1_700_000_000_000_500_000+int64(i)
		s.flags = FlagSampled
		if i%2 == 0 {
			s.Parent = SpanID{1, 2, 3, 4, 5, 6, 7, byte(i)}
			s.remote = true
			s.traceStateLen = uint16(copy(s.traceState[:], "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"))
		}
		s.SetString("http.route", []byte("/api/v1/price"))
		s.SetInt("http.response.status_code", int64(200+i))
		s.SetInt("negative", -int64(i)-1)
		s.SetBool("flag", i%2 == 0)
		s.SetString("product_id", []byte(fmt.Sprintf("P-%d", i)))
		if i%5 == 0 {
			s.SetString("long", bytes.Repeat([]byte("x"), 400)) // cut by the arena
			for range maxAttrs {
				s.SetInt("more", 1) // past the bound: dropped
			}
		}
		ev := s.AddEvent("rules", s.Start+10)
		ev.SetBool("rules.applied", true)
		ev.SetInt("rules.steps", 3)
		if i%7 == 0 {
			for range maxEvents + 2 {
				s.AddEvent("e", s.Start+20)
			}
			for j := range maxLinks + 3 {
				s.AddLink(TraceID{9, byte(j)}, SpanID{8, byte(j)})
			}
		} else {
			s.AddLink(TraceID{9}, SpanID{7})
		}
		spans[i] = s
	}
	return spans
}

// reference builds the request with the generated messages, field by
// field from the OTLP definitions, independently of the encoder.
func reference(spans []*Span) *coltracepb.ExportTraceServiceRequest {
	str := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	attr := func(s *Span, a *attr) *commonpb.KeyValue {
		switch a.kind {
		case attrInt:
			return &commonpb.KeyValue{Key: a.key, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: a.i}}}
		case attrBool:
			return &commonpb.KeyValue{Key: a.key, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: a.i != 0}}}
		}
		return str(a.key, string(s.arena[a.s:a.e]))
	}
	var out []*tracepb.Span
	for _, s := range spans {
		p := &tracepb.Span{
			TraceId:                bytes.Clone(s.TraceID[:]),
			SpanId:                 bytes.Clone(s.SpanID[:]),
			TraceState:             string(s.TraceState()),
			Flags:                  uint32(s.flags) | uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK),
			Name:                   s.Name,
			Kind:                   tracepb.Span_SpanKind(s.Kind),
			StartTimeUnixNano:      uint64(s.Start),
			EndTimeUnixNano:        uint64(s.End),
			DroppedAttributesCount: uint32(s.dropAttr),
			DroppedEventsCount:     uint32(s.dropEvents),
			DroppedLinksCount:      uint32(s.dropLinks),
			Status:                 &tracepb.Status{Code: tracepb.Status_StatusCode(s.Status)},
		}
		if s.remote {
			p.Flags |= uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK)
		}
		if s.Parent.IsValid() {
			p.ParentSpanId = bytes.Clone(s.Parent[:])
		}
		for i := range s.attrs[:s.nattrs] {
			p.Attributes = append(p.Attributes, attr(s, &s.attrs[i]))
		}
		for i := range s.events[:s.nevents] {
			ev := &s.events[i]
			pe := &tracepb.Span_Event{Name: ev.name, TimeUnixNano: uint64(ev.at)}
			for j := range ev.attrs[:ev.nattrs] {
				pe.Attributes = append(pe.Attributes, attr(s, &ev.attrs[j]))
			}
			p.Events = append(p.Events, pe)
		}
		for _, l := range s.links[:s.nlinks] {
			p.Links = append(p.Links, &tracepb.Span_Link{TraceId: bytes.Clone(l.trace[:]), SpanId: bytes.Clone(l.span[:]), Flags: uint32(FlagSampled)})
		}
		out = append(out, p)
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "svc"), str("service.version", "1.2.3")}},
		ScopeSpans: []*tracepb.ScopeSpans{{
			Scope: &commonpb.InstrumentationScope{Name: scopeName},
			Spans: out,
		}},
	}}}
}

func testResource() *resourcepb.Resource {
	return &resourcepb.Resource{Attributes: []*commonpb.KeyValue{strKV("service.name", "svc"), strKV("service.version", "1.2.3")}}
}

// TestProtoBatchMatchesReference: the reused messages equal, field by
// field, the request built fresh from the OTLP definitions, also when a
// batch follows larger and differently shaped ones (nothing stale from
// the messages' previous use), and survive the wire format.
func TestProtoBatchMatchesReference(t *testing.T) {
	b := newProtoBatch(testResource(), scopeName)
	big := testSpans(300)
	reversed := slices.Clone(big)
	slices.Reverse(reversed)
	for _, tc := range []struct {
		name  string
		spans []*Span
	}{
		{"empty", nil},
		{"one", testSpans(1)},
		{"three", testSpans(3)},
		{"300", big},
		{"300 reversed", reversed},
		{"two after 300", big[1:3]},
		{"300 again", big},
	} {
		want := reference(tc.spans)
		got := &coltracepb.ExportTraceServiceRequest{ResourceSpans: b.request(tc.spans)}
		if !proto.Equal(got, want) {
			t.Fatalf("%s: built\n%v\nwant\n%v", tc.name, got, want)
		}
		wire, err := proto.Marshal(got)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var back coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(wire, &back); err != nil || !proto.Equal(&back, want) {
			t.Fatalf("%s: decoded %v (%v)", tc.name, &back, err)
		}
	}
}

// TestProtoBatchDoesNotAllocate: once the messages have grown to a full
// batch, building the next batch's allocates nothing.
func TestProtoBatchDoesNotAllocate(t *testing.T) {
	b := newProtoBatch(testResource(), scopeName)
	spans := testSpans(DefaultBatchSize)
	b.request(spans)
	if a := testing.AllocsPerRun(100, func() { b.request(spans) }); a != 0 {
		t.Fatalf("%v allocations per batch of %d spans", a, len(spans))
	}
}

// BenchmarkExport is the exporter goroutine's work for a full batch of
// spans heavier than a request's: building the messages (convert), and
// that plus the protobuf marshalling the client does (marshal); per span.
func BenchmarkExport(b *testing.B) {
	spans := testSpans(DefaultBatchSize)
	for _, marshal := range []bool{false, true} {
		name := "convert"
		if marshal {
			name = "marshal"
		}
		b.Run(name, func(b *testing.B) {
			pb := newProtoBatch(testResource(), scopeName)
			pb.request(spans)
			var req coltracepb.ExportTraceServiceRequest
			b.ReportAllocs()
			for b.Loop() {
				req.ResourceSpans = pb.request(spans)
				if marshal {
					wire, err := proto.Marshal(&req)
					if err != nil {
						b.Fatal(err)
					}
					b.SetBytes(int64(len(wire)))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(spans)), "ns/span")
		})
	}
}
