package trace

import (
	"crypto/rand"
	"encoding/binary"
	"math/bits"
)

// IDGen makes trace and span ids for one event loop: wyrand, seeded from
// crypto/rand, so that ids are unique across loops and processes without a
// shared lock or a system call per id. It is not safe for concurrent use;
// give each loop its own. Ids are unpredictable enough to serve as request
// ids, not as secrets.
type IDGen struct{ s uint64 }

// NewIDGen returns a generator seeded from crypto/rand.
func NewIDGen() IDGen {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail (Go 1.24+)
	return IDGen{s: binary.LittleEndian.Uint64(b[:])}
}

// Uint64 returns the next pseudo-random value.
func (g *IDGen) Uint64() uint64 {
	g.s += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(g.s, g.s^0xe7037ed1a0b428db)
	return hi ^ lo
}

// TraceID returns a new valid trace id, random in all 16 bytes (the ratio
// sampler reads the last eight).
func (g *IDGen) TraceID() TraceID {
	var t TraceID
	for !t.IsValid() {
		binary.BigEndian.PutUint64(t[:8], g.Uint64())
		binary.BigEndian.PutUint64(t[8:], g.Uint64())
	}
	return t
}

// SpanID returns a new valid span id.
func (g *IDGen) SpanID() SpanID {
	var s SpanID
	for !s.IsValid() {
		binary.BigEndian.PutUint64(s[:], g.Uint64())
	}
	return s
}
