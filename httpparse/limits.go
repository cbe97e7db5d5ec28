package httpparse

// Default limits, used for every zero field of Limits.
const (
	// DefaultMaxHeaderBytes bounds the request line plus the header section,
	// including every CRLF and the empty line that ends it.
	DefaultMaxHeaderBytes = 8 << 10
	// DefaultMaxHeaders bounds the number of header field lines.
	DefaultMaxHeaders = 64
	// DefaultMaxTargetBytes bounds the request-target.
	DefaultMaxTargetBytes = 8 << 10
	// DefaultMaxBodyBytes bounds the body, counted after de-chunking.
	DefaultMaxBodyBytes = 64 << 10
	// DefaultMaxChunkMetaBytes bounds the chunk extensions and trailer
	// section of one chunked body, together.
	DefaultMaxChunkMetaBytes = 4 << 10
)

// maxLimit caps every limit so that offsets into a request always fit an int
// on every platform and sums of limits cannot overflow.
const maxLimit = 1 << 30

// Limits bounds what a request may use. Zero fields mean the default;
// negative fields are treated as zero and values above 1 GiB are capped.
type Limits struct {
	MaxHeaderBytes    int   // request line + header section, default 8 KiB
	MaxHeaders        int   // default 64
	MaxTargetBytes    int   // default 8 KiB
	MaxBodyBytes      int64 // default 64 KiB (after de-chunking)
	MaxChunkMetaBytes int   // chunk extensions + trailers, default 4 KiB
}

// DefaultLimits returns the limits used for zero fields.
func DefaultLimits() Limits {
	return Limits{
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
		MaxHeaders:        DefaultMaxHeaders,
		MaxTargetBytes:    DefaultMaxTargetBytes,
		MaxBodyBytes:      DefaultMaxBodyBytes,
		MaxChunkMetaBytes: DefaultMaxChunkMetaBytes,
	}
}

// withDefaults returns l with zero or negative fields replaced by the
// defaults and every field capped at maxLimit.
func (l Limits) withDefaults() Limits {
	fix := func(v, def int) int {
		if v <= 0 {
			return def
		}
		return min(v, maxLimit)
	}
	l.MaxHeaderBytes = fix(l.MaxHeaderBytes, DefaultMaxHeaderBytes)
	l.MaxHeaders = fix(l.MaxHeaders, DefaultMaxHeaders)
	l.MaxTargetBytes = fix(l.MaxTargetBytes, DefaultMaxTargetBytes)
	l.MaxChunkMetaBytes = fix(l.MaxChunkMetaBytes, DefaultMaxChunkMetaBytes)
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	l.MaxBodyBytes = min(l.MaxBodyBytes, maxLimit)
	return l
}
