// Package pairkey encodes a product x location pair as one key: a length
// byte, the product, the location, so that no two pairs collide. The
// demand counters and the price history key their tables and their
// shared Redis fields with it. It holds no state; everything is safe for
// concurrent use.
package pairkey

const (
	// MaxIDLen bounds a product id or location that can be encoded (the
	// API accepts at most 64 bytes of either).
	MaxIDLen = 64
	// Len is the longest key: a length byte, the product, the location.
	Len = 1 + 2*MaxIDLen
)

// Make encodes product x location into kb and returns the key, a slice of
// kb (valid while kb is). It reports false, and encodes nothing, when the
// product is empty or either id is longer than MaxIDLen bytes. It does
// not allocate.
func Make(kb *[Len]byte, product, location []byte) ([]byte, bool) {
	if len(product) == 0 || len(product) > MaxIDLen || len(location) > MaxIDLen {
		return nil, false
	}
	kb[0] = byte(len(product))
	n := 1 + copy(kb[1:], product)
	n += copy(kb[n:], location)
	return kb[:n], true
}

// Split returns the product and location of a key made by Make, or ok
// false if key is not one (a key read back from a shared store may be
// anything).
func Split(key string) (product, location string, ok bool) {
	if len(key) < 2 || int(key[0]) == 0 || int(key[0]) > len(key)-1 || int(key[0]) > MaxIDLen || len(key)-1-int(key[0]) > MaxIDLen {
		return "", "", false
	}
	n := int(key[0])
	return key[1 : 1+n], key[1+n:], true
}
