package trace

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Sampler is ParentBased(TraceIDRatio) as the OpenTelemetry SDK defines it,
// as a pure function of the trace id and the incoming flags: a request is
// sampled when the last eight bytes of its trace id, read big-endian and
// shifted right by one, fall under ratio x 2^63 (so every service that
// samples by the same ratio keeps the same traces). With TrustParent an
// incoming valid traceparent decides by its sampled flag instead; without it
// an incoming sampled flag does not force sampling (a client cannot make
// the server record every request). The zero Sampler samples nothing.
type Sampler struct {
	bound       uint64
	all         bool
	TrustParent bool
}

// NewSampler returns a sampler for ratio in [0, 1].
func NewSampler(ratio float64, trustParent bool) (Sampler, error) {
	if math.IsNaN(ratio) || ratio < 0 || ratio > 1 {
		return Sampler{}, fmt.Errorf("cannot use sample ratio %v: want a number in [0, 1]", ratio)
	}
	s := Sampler{TrustParent: trustParent}
	if ratio >= 1 {
		s.all = true
	} else {
		s.bound = uint64(ratio * (1 << 63))
	}
	return s, nil
}

// Sample decides for a request with trace id id; hasParent and flags
// describe its valid incoming traceparent, if any.
func (s Sampler) Sample(id TraceID, hasParent bool, flags byte) bool {
	if hasParent && s.TrustParent {
		return flags&FlagSampled != 0
	}
	return s.Ratio(id)
}

// Ratio is the TraceIDRatio half alone.
func (s Sampler) Ratio(id TraceID) bool {
	return s.all || binary.BigEndian.Uint64(id[8:])>>1 < s.bound
}
