package money

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// MaxDigits is the largest number of significant digits [Parse] accepts.
// Eighteen decimal digits always fit in an int64 coefficient.
const MaxDigits = 18

// MaxScale is the largest scale (digits after the decimal point) a
// [Decimal] may carry. Results of [Decimal.Mul] and [Decimal.Sub] that
// would need more are reduced by dropping trailing zeros or reported as
// [ErrOverflow].
const MaxScale = 18

// maxQuoted bounds the text quoted back in parse errors.
const maxQuoted = 32

// ErrOverflow is returned (wrapped) when the exact result of an operation
// does not fit a [Decimal].
var ErrOverflow = errors.New("decimal overflow")

// ErrSyntax is returned (wrapped) when text is not a decimal number.
var ErrSyntax = errors.New("invalid decimal syntax")

// pow10 holds 10^0 .. 10^19 (10^19 still fits a uint64). It is a
// read-only table: nothing writes to it after initialisation.
var pow10 = [...]uint64{
	1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
}

// Decimal is an exact decimal number coef / 10^scale.
//
// The zero value is 0. Decimals are immutable values.
type Decimal struct {
	coef  int64
	scale uint8
}

// New returns the decimal coef / 10^scale. It panics if scale exceeds
// [MaxScale]; it is meant for constants written in code.
func New(coef int64, scale uint8) Decimal {
	if scale > MaxScale {
		panic(fmt.Sprintf("money: scale %d exceeds MaxScale %d", scale, MaxScale))
	}
	return Decimal{coef: coef, scale: scale}
}

// Scale returns the number of digits after the decimal point.
func (d Decimal) Scale() uint8 { return d.scale }

// Sign returns -1, 0 or +1 for negative, zero and positive d.
func (d Decimal) Sign() int {
	switch {
	case d.coef < 0:
		return -1
	case d.coef > 0:
		return 1
	}
	return 0
}

// IsZero reports whether d is zero.
func (d Decimal) IsZero() bool { return d.coef == 0 }

// Parse parses a decimal written as an optional '-', one or more digits,
// and optionally '.' followed by one or more digits ("49.99", "1", "-0.5").
// Exponents, a leading '+', a bare "." or missing digits on either side of
// '.' are rejected, as is text with more than [MaxDigits] significant
// digits (leading zeros of the integer part do not count).
func Parse(s string) (Decimal, error) {
	d, ok := parse(s)
	if !ok {
		return Decimal{}, fmt.Errorf("cannot parse decimal %q: %w", quoteTrunc(s), ErrSyntax)
	}
	return d, nil
}

func quoteTrunc(s string) string {
	if len(s) > maxQuoted {
		return s[:maxQuoted] + "..."
	}
	return s
}

func parse(s string) (Decimal, bool) {
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg = true
		s = s[1:]
	}
	if len(s) == 0 {
		return Decimal{}, false
	}
	var coef uint64
	digits, scale := 0, 0
	seenDot := false
	intDigits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if seenDot {
				scale++
			} else {
				intDigits++
			}
			if coef == 0 && c == '0' && !seenDot {
				continue // leading zero of the integer part
			}
			digits++
			if digits > MaxDigits {
				return Decimal{}, false
			}
			coef = coef*10 + uint64(c-'0')
		case c == '.' && !seenDot:
			if intDigits == 0 {
				return Decimal{}, false
			}
			seenDot = true
		default:
			return Decimal{}, false
		}
	}
	if intDigits == 0 || (seenDot && scale == 0) || scale > MaxScale {
		return Decimal{}, false
	}
	c := int64(coef) // < 10^18, cannot overflow
	if neg {
		c = -c
	}
	return Decimal{coef: c, scale: uint8(scale)}, true
}

// abs128 helpers ------------------------------------------------------------

func absU(c int64) uint64 {
	if c < 0 {
		return uint64(-c) // correct for MinInt64 too: two's complement
	}
	return uint64(c)
}

// fromParts builds a decimal from a sign, a 128-bit magnitude hi:lo and a
// scale, dropping trailing zeros while the magnitude does not fit an int64
// or the scale exceeds MaxScale. It reports false if that is impossible.
func fromParts(neg bool, hi, lo uint64, scale int) (Decimal, bool) {
	for hi != 0 || lo > math.MaxInt64 || scale > MaxScale {
		if scale == 0 {
			return Decimal{}, false
		}
		// Divide hi:lo by 10 if the remainder is zero.
		qhi, rhi := bits.Div64(0, hi, 10)
		qlo, r := bits.Div64(rhi, lo, 10)
		if r != 0 {
			return Decimal{}, false
		}
		hi, lo = qhi, qlo
		scale--
	}
	c := int64(lo)
	if neg {
		c = -c
	}
	return Decimal{coef: c, scale: uint8(scale)}, true
}

// Mul returns the exact product d*x. It returns an error wrapping
// [ErrOverflow] when the product needs more than 63 bits of coefficient
// or more than [MaxScale] digits after the point (trailing zeros are
// dropped first).
func (d Decimal) Mul(x Decimal) (Decimal, error) {
	hi, lo := bits.Mul64(absU(d.coef), absU(x.coef))
	r, ok := fromParts((d.coef < 0) != (x.coef < 0), hi, lo, int(d.scale)+int(x.scale))
	if !ok {
		return Decimal{}, fmt.Errorf("cannot multiply %s by %s: %w", d, x, ErrOverflow)
	}
	return r, nil
}

// Sub returns the exact difference d-x, or an error wrapping [ErrOverflow].
func (d Decimal) Sub(x Decimal) (Decimal, error) {
	r, ok := d.add(x.neg())
	if !ok {
		return Decimal{}, fmt.Errorf("cannot subtract %s from %s: %w", x, d, ErrOverflow)
	}
	return r, nil
}

// Add returns the exact sum d+x, or an error wrapping [ErrOverflow].
func (d Decimal) Add(x Decimal) (Decimal, error) {
	r, ok := d.add(x)
	if !ok {
		return Decimal{}, fmt.Errorf("cannot add %s to %s: %w", x, d, ErrOverflow)
	}
	return r, nil
}

func (d Decimal) neg() Decimal { return Decimal{coef: -d.coef, scale: d.scale} }

func (d Decimal) add(x Decimal) (Decimal, bool) {
	if d.coef == math.MinInt64 || x.coef == math.MinInt64 {
		return Decimal{}, false
	}
	a, b := d, x
	if a.scale < b.scale {
		a, b = b, a
	}
	// Bring b to a's scale.
	hi, lo := bits.Mul64(absU(b.coef), pow10[a.scale-b.scale])
	if hi != 0 || lo > math.MaxInt64 {
		return Decimal{}, false
	}
	bc := int64(lo)
	if b.coef < 0 {
		bc = -bc
	}
	sum, overflow := addInt64(a.coef, bc)
	if overflow {
		return Decimal{}, false
	}
	return Decimal{coef: sum, scale: a.scale}, true
}

func addInt64(a, b int64) (int64, bool) {
	s := a + b
	return s, (a > 0 && b > 0 && s < 0) || (a < 0 && b < 0 && s >= 0)
}

// Round returns d rounded to at most places digits after the point, ties
// to even (banker's rounding): 0.125 -> 0.12, 0.135 -> 0.14. If d already
// has places digits or fewer it is returned unchanged.
func (d Decimal) Round(places uint8) Decimal {
	if d.scale <= places {
		return d
	}
	div := pow10[d.scale-places]
	m := absU(d.coef)
	q, r := m/div, m%div
	switch {
	case r > div-r: // r > div/2 without overflow
		q++
	case r == div-r && q%2 == 1:
		q++
	}
	c := int64(q)
	if d.coef < 0 {
		c = -c
	}
	return Decimal{coef: c, scale: places}
}

// Cmp compares d and x numerically and returns -1, 0 or +1.
func (d Decimal) Cmp(x Decimal) int {
	if d.scale == x.scale {
		return cmpInt(d.coef, x.coef)
	}
	ds, xs := d.Sign(), x.Sign()
	if ds != xs {
		return cmpInt(int64(ds), int64(xs))
	}
	if ds == 0 {
		return 0
	}
	// Same sign: compare magnitudes at a common scale with 128-bit math.
	a, b := d, x
	flip := 1
	if a.scale < b.scale {
		a, b = b, a
		flip = -1
	}
	hi, lo := bits.Mul64(absU(b.coef), pow10[a.scale-b.scale])
	am := absU(a.coef)
	var c int
	switch {
	case hi != 0 || lo > am:
		c = -1
	case lo < am:
		c = 1
	}
	if ds < 0 {
		c = -c
	}
	return c * flip
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Append appends the shortest decimal text of d to dst and returns the
// extended slice: trailing fractional zeros and a bare point are dropped
// ("50", "45.1", "45.12", "0.05", "-1"). The output is valid JSON number
// syntax. It writes straight into dst, two digits per division, and does
// not allocate when dst has room: it runs for every number of every reply.
func (d Decimal) Append(dst []byte) []byte {
	m := absU(d.coef)
	scale := int(d.scale)
	for scale > 0 && m%10 == 0 {
		m /= 10
		scale--
	}
	neg := d.coef < 0 && m != 0
	width := max(decimalDigits(m), scale+1) // at least "0" before the point
	if scale > 0 {
		width++ // '.'
	}
	if neg {
		width++
	}
	n := len(dst)
	if cap(dst)-n < width {
		dst = slices.Grow(dst, width)
	}
	dst = dst[:n+width]
	b := dst[n:]
	// The fraction and the integer part each take their own pair loop,
	// written out: one helper for both (putDigits(b, m) filling a
	// sub-slice) is just over the compiler's inlining budget, and the call
	// makes BenchmarkAppend slower (docs/BENCHMARKS.md, "Design
	// measurements"). Keep the two loops in step.
	i := width
	for f := scale; f > 0; {
		if f == 1 {
			q := m / 10
			i--
			b[i] = byte('0' + m - q*10)
			m = q
			break
		}
		q := m / 100
		r := 2 * (m - q*100)
		i -= 2
		b[i], b[i+1] = digitPairs[r], digitPairs[r+1]
		m = q
		f -= 2
	}
	if scale > 0 {
		i--
		b[i] = '.'
	}
	for m >= 100 {
		q := m / 100
		r := 2 * (m - q*100)
		i -= 2
		b[i], b[i+1] = digitPairs[r], digitPairs[r+1]
		m = q
	}
	if m >= 10 {
		i -= 2
		b[i], b[i+1] = digitPairs[2*m], digitPairs[2*m+1]
	} else {
		i--
		b[i] = byte('0' + m)
	}
	if neg {
		b[0] = '-'
	}
	return dst
}

// digitPairs holds "00" .. "99": the two digits of n at 2n, 2n+1.
const digitPairs = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

// decimalDigits returns the number of decimal digits of m (1 for 0).
func decimalDigits(m uint64) int {
	// log10(2) ~ 1233/4096: t is the digit count or one less.
	t := bits.Len64(m|1) * 1233 >> 12
	if m >= pow10[t] {
		t++
	}
	return t
}

// String returns the shortest decimal text of d, as [Decimal.Append].
func (d Decimal) String() string {
	var b [24]byte
	return string(d.Append(b[:0]))
}
