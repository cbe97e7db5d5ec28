// Package money implements an exact decimal number for prices and factors.
//
// A [Decimal] is a signed 64-bit coefficient and a decimal scale: the value
// is coef / 10^scale. Arithmetic never goes through binary floating point,
// so 49.99 x 0.95 x 0.95 is exactly 45.115975 and rounds to 45.12.
//
// Every operation is a pure function of its operands; Decimal values are
// small, comparable by [Decimal.Cmp] (not by ==, since 1.0 and 1 differ in
// scale) and safe to copy and share between goroutines. Nothing in this
// package allocates except [Decimal.String] and error construction.
package money
