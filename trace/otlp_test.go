package trace

import (
	"bytes"
	"fmt"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
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

func testEncoder() *encoder {
	return newEncoder([]kv{{"service.name", "svc"}, {"service.version", "1.2.3"}}, scopeName)
}

// TestEncoderMatchesGeneratedMessages: what the encoder writes decodes,
// with the generated OTLP messages, to the request built from them.
func TestEncoderMatchesGeneratedMessages(t *testing.T) {
	enc := testEncoder()
	for _, n := range []int{0, 1, 3, 300} {
		spans := testSpans(n)
		var got coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(enc.request(spans), &got); err != nil {
			t.Fatalf("%d spans: %v", n, err)
		}
		if want := reference(spans); !proto.Equal(&got, want) {
			t.Fatalf("%d spans: decoded\n%v\nwant\n%v", n, &got, want)
		}
	}
}

// TestEncoderDecodesWithCollector: the OpenTelemetry Collector's own
// unmarshaller (pdata's ptraceotlp) reads every field back.
func TestEncoderDecodesWithCollector(t *testing.T) {
	spans := testSpans(40)
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalProto(testEncoder().request(spans)); err != nil {
		t.Fatal(err)
	}
	rss := req.Traces().ResourceSpans()
	if rss.Len() != 1 || rss.At(0).ScopeSpans().Len() != 1 {
		t.Fatalf("%d resource spans", rss.Len())
	}
	if v, _ := rss.At(0).Resource().Attributes().Get("service.name"); v.Str() != "svc" {
		t.Fatalf("service.name %q", v.Str())
	}
	ss := rss.At(0).ScopeSpans().At(0)
	if ss.Scope().Name() != scopeName || ss.Spans().Len() != len(spans) {
		t.Fatalf("scope %q with %d spans", ss.Scope().Name(), ss.Spans().Len())
	}
	for i, s := range spans {
		p := ss.Spans().At(i)
		if p.TraceID() != pcommon.TraceID(s.TraceID) || p.SpanID() != pcommon.SpanID(s.SpanID) ||
			p.ParentSpanID() != pcommon.SpanID(s.Parent) || p.TraceState().AsRaw() != string(s.TraceState()) ||
			p.Name() != s.Name || p.Kind() != ptrace.SpanKind(s.Kind) || p.Status().Code() != ptrace.StatusCode(s.Status) ||
			p.StartTimestamp() != pcommon.Timestamp(s.Start) || p.EndTimestamp() != pcommon.Timestamp(s.End) ||
			p.Flags() != s.otlpFlags() || p.DroppedAttributesCount() != uint32(s.dropAttr) ||
			p.DroppedEventsCount() != uint32(s.dropEvents) || p.DroppedLinksCount() != uint32(s.dropLinks) {
			t.Fatalf("span %d decoded as %+v", i, p)
		}
		attrs := p.Attributes()
		if attrs.Len() != int(s.nattrs) {
			t.Fatalf("span %d: %d attributes, want %d", i, attrs.Len(), s.nattrs)
		}
		if v, _ := attrs.Get("product_id"); v.Str() != fmt.Sprintf("P-%d", i) {
			t.Fatalf("span %d product_id %q", i, v.Str())
		}
		if v, _ := attrs.Get("negative"); v.Int() != -int64(i)-1 {
			t.Fatalf("span %d negative %d", i, v.Int())
		}
		if v, _ := attrs.Get("flag"); v.Bool() != (i%2 == 0) {
			t.Fatalf("span %d flag %v", i, v.Bool())
		}
		if p.Events().Len() != int(s.nevents) || p.Events().At(0).Name() != "rules" {
			t.Fatalf("span %d events %d", i, p.Events().Len())
		}
		if v, _ := p.Events().At(0).Attributes().Get("rules.steps"); v.Int() != 3 {
			t.Fatalf("span %d event attribute %d", i, v.Int())
		}
		if p.Links().Len() != int(s.nlinks) || p.Links().At(0).TraceID() != pcommon.TraceID(s.links[0].trace) ||
			p.Links().At(0).SpanID() != pcommon.SpanID(s.links[0].span) {
			t.Fatalf("span %d links %d", i, p.Links().Len())
		}
	}
}

func TestEncoderDoesNotAllocate(t *testing.T) {
	enc := testEncoder()
	spans := testSpans(64)
	enc.request(spans)
	if a := testing.AllocsPerRun(100, func() { enc.request(spans) }); a != 0 {
		t.Fatalf("%v allocations per request", a)
	}
}

func BenchmarkEncoder(b *testing.B) {
	enc := testEncoder()
	spans := testSpans(512)
	b.ReportAllocs()
	for b.Loop() {
		b.SetBytes(int64(len(enc.request(spans))))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(spans)), "ns/span")
}
