package trace

import (
	"encoding/binary"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	oteltrace "go.opentelemetry.io/otel/trace"
)

func TestSamplerBounds(t *testing.T) {
	for _, r := range []float64{-0.1, 1.1} {
		if _, err := NewSampler(r, false); err == nil {
			t.Fatalf("ratio %v accepted", r)
		}
	}
	g := NewIDGen()
	none, _ := NewSampler(0, false)
	all, _ := NewSampler(1, false)
	for range 1000 {
		id := g.TraceID()
		if none.Sample(id, false, 0) || !all.Sample(id, false, 0) {
			t.Fatal("ratio 0 sampled or ratio 1 did not")
		}
	}
}

// TestSamplerAgreesWithSDK compares the decision with the OpenTelemetry
// SDK's ParentBased(TraceIDRatioBased) for ids on both sides of the bound,
// with and without a remote parent.
func TestSamplerAgreesWithSDK(t *testing.T) {
	g := NewIDGen()
	for _, ratio := range []float64{0.01, 0.25, 0.5, 0.999} {
		sdk := sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))
		untrusted, _ := NewSampler(ratio, false)
		trusted, _ := NewSampler(ratio, true)
		hits := 0
		for i := range 4000 {
			id := g.TraceID()
			if i < 2 {
				// The bound itself and the id just under it.
				bound := uint64(ratio * (1 << 63))
				binary.BigEndian.PutUint64(id[8:], (bound-uint64(i))<<1)
			}
			if untrusted.Sample(id, false, 0) {
				hits++
			}
			for _, parent := range []struct {
				has   bool
				flags byte
			}{{false, 0}, {true, 0}, {true, FlagSampled}} {
				p := sdktrace.SamplingParameters{TraceID: oteltrace.TraceID(id)}
				if parent.has {
					p.ParentContext = oteltrace.ContextWithRemoteSpanContext(t.Context(), oteltrace.NewSpanContext(oteltrace.SpanContextConfig{
						TraceID: oteltrace.TraceID(id), SpanID: oteltrace.SpanID{1}, TraceFlags: oteltrace.TraceFlags(parent.flags), Remote: true,
					}))
				}
				want := sdk.ShouldSample(p).Decision == sdktrace.RecordAndSample
				if got := trusted.Sample(id, parent.has, parent.flags); got != want {
					t.Fatalf("ratio %v id %s parent %+v: %v, SDK %v", ratio, TraceID(id), parent, got, want)
				}
				if !parent.has && untrusted.Sample(id, false, 0) != want {
					t.Fatalf("ratio %v id %s: untrusted disagrees with the SDK", ratio, TraceID(id))
				}
			}
			// Untrusted: the incoming flag does not matter.
			if untrusted.Sample(id, true, FlagSampled) != untrusted.Sample(id, true, 0) {
				t.Fatal("an untrusted parent's flag changed the decision")
			}
		}
		if got := float64(hits) / 4000; got < ratio/2-0.01 || got > ratio*1.5+0.01 {
			t.Fatalf("ratio %v sampled %v", ratio, got)
		}
	}
}

func TestIDGen(t *testing.T) {
	g := NewIDGen()
	seen := map[TraceID]bool{}
	for range 10000 {
		id := g.TraceID()
		if !id.IsValid() || seen[id] {
			t.Fatalf("id %s invalid or repeated", id)
		}
		seen[id] = true
		if !g.SpanID().IsValid() {
			t.Fatal("zero span id")
		}
	}
	if a, b := NewIDGen(), NewIDGen(); a.TraceID() == b.TraceID() {
		t.Fatal("two generators start alike")
	}
}
