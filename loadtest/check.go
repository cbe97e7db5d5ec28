package loadtest

import (
	"bytes"
	"errors"
	"math"
	"strconv"

	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/money"
)

// Reasons a 200 reply body is refused. They are constants so that the
// check allocates nothing, even when it fails.
var (
	errBodySyntax     = errors.New("body is not a flat JSON object")
	errBodyMissing    = errors.New("body lacks a quote field")
	errBodyNumber     = errors.New("quote field is not a number")
	errBodyProduct    = errors.New("product_id does not echo the request")
	errBodySource     = errors.New("source is not an accepted value")
	errBodyDiscount   = errors.New("discount_rate does not match the member flag")
	errBodyFinal      = errors.New("final_price is not round(base*multiplier*(1-discount), 2)")
	errBodyBase       = errors.New("base_price does not match the catalog")
	errBodyMultiplier = errors.New("market_multiplier does not match the markets")
)

// quoteFields holds raw views into a reply body. String values exclude
// their quotes; escapes are not decoded.
type quoteFields struct {
	productID, source                              []byte
	finalPrice, basePrice, multiplier, discountRat []byte
}

// scanQuote fills q from a flat JSON object. Unknown keys are skipped;
// nested values are skipped by bracket depth.
func scanQuote(b []byte, q *quoteFields) error {
	*q = quoteFields{}
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errBodySyntax
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return errBodyMissing
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return errBodySyntax
		}
		kEnd := stringEnd(b, i+1)
		if kEnd < 0 {
			return errBodySyntax
		}
		key := b[i+1 : kEnd]
		i = skipSpace(b, kEnd+1)
		if i >= len(b) || b[i] != ':' {
			return errBodySyntax
		}
		i = skipSpace(b, i+1)
		vStart, vEnd, next := scanValue(b, i)
		if next < 0 {
			return errBodySyntax
		}
		v := b[vStart:vEnd]
		isString := b[i] == '"'
		switch string(key) {
		case "product_id":
			if !isString {
				return errBodyProduct
			}
			q.productID = v
		case "source":
			if !isString {
				return errBodySource
			}
			q.source = v
		case "final_price":
			q.finalPrice = v
		case "base_price":
			q.basePrice = v
		case "market_multiplier":
			q.multiplier = v
		case "discount_rate":
			q.discountRat = v
		}
		if isString && (string(key) == "final_price" || string(key) == "base_price" ||
			string(key) == "market_multiplier" || string(key) == "discount_rate") {
			return errBodyNumber
		}
		i = skipSpace(b, next)
		if i >= len(b) {
			return errBodySyntax
		}
		if b[i] == '}' {
			if skipSpace(b, i+1) != len(b) {
				return errBodySyntax
			}
			return nil
		}
		if b[i] != ',' {
			return errBodySyntax
		}
		i = skipSpace(b, i+1)
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index of the closing quote of a string whose
// content starts at i, or -1.
func stringEnd(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case '\\':
			i += 2
			continue
		case '"':
			return i
		}
		i++
	}
	return -1
}

// scanValue scans the JSON value at i. It returns the bounds of its view
// (strings without quotes) and the index after it, or next < 0.
func scanValue(b []byte, i int) (start, end, next int) {
	if i >= len(b) {
		return 0, 0, -1
	}
	switch b[i] {
	case '"':
		e := stringEnd(b, i+1)
		if e < 0 {
			return 0, 0, -1
		}
		return i + 1, e, e + 1
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e := stringEnd(b, j+1)
				if e < 0 {
					return 0, 0, -1
				}
				j = e
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i, j + 1, j + 1
				}
			}
		}
		return 0, 0, -1
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ' ' && b[j] != '\n' && b[j] != '\r' && b[j] != '\t' {
			j++
		}
		if j == i {
			return 0, 0, -1
		}
		return i, j, j
	}
}

// parseNumber parses a JSON number view.
func parseNumber(v []byte) (float64, error) {
	if len(v) == 0 || len(v) > 32 {
		return 0, errBodyNumber
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, errBodyNumber
	}
	return f, nil
}

// memberDiscount is the discount rate of members in the pricing contract.
const memberDiscount = 0.05

// expected is what the strict check compares replies with: the catalog
// and the multiplier of each of the workload's locations. It is immutable
// and safe for concurrent use.
type expected struct {
	catalog *lookup.MemoryCatalog
	mult    []float64 // by location index
}

// newExpected reads the strict check's data from w: its Catalog and
// Markets, or the data built into pricing-engine for those left nil.
func newExpected(w *Workload) (*expected, error) {
	cat, mk := w.Catalog, w.Markets
	var err error
	if cat == nil {
		if cat, err = lookup.DefaultCatalog(); err != nil {
			return nil, err
		}
	}
	if mk == nil {
		if mk, err = lookup.DefaultMarkets(); err != nil {
			return nil, err
		}
	}
	e := &expected{catalog: cat, mult: make([]float64, len(w.Locations))}
	for i, loc := range w.Locations {
		e.mult[i] = decimalFloat(mk.MultiplierNow([]byte(loc)))
	}
	return e, nil
}

// base returns the catalog's base price of productID, or false.
func (e *expected) base(productID []byte) (float64, bool) {
	d, ok := e.catalog.BasePriceNow(productID)
	if !ok {
		return 0, false
	}
	return decimalFloat(d), true
}

// decimalFloat is d as the nearest float64, the form replies are compared
// in. It does not allocate.
func decimalFloat(d money.Decimal) float64 {
	var buf [32]byte
	f, _ := strconv.ParseFloat(string(d.Append(buf[:0])), 64)
	return f
}

// checkQuote checks a 200 reply body against the request it answers.
func (r *renderer) checkQuote(body []byte, info reqInfo) error {
	var q quoteFields
	if err := scanQuote(body, &q); err != nil {
		return err
	}
	if q.productID == nil || q.source == nil || q.finalPrice == nil || q.basePrice == nil ||
		q.multiplier == nil || q.discountRat == nil {
		return errBodyMissing
	}
	w := r.w
	// product_id: prefix followed by the decimal product number.
	var num [20]byte
	want := strconv.AppendInt(num[:0], int64(info.product), 10)
	if len(q.productID) != len(w.ProductPrefix)+len(want) ||
		string(q.productID[:len(w.ProductPrefix)]) != w.ProductPrefix ||
		!bytes.Equal(q.productID[len(w.ProductPrefix):], want) {
		return errBodyProduct
	}
	sourceOK := false
	for _, s := range w.Sources {
		if string(q.source) == s {
			sourceOK = true
			break
		}
	}
	if !sourceOK {
		return errBodySource
	}
	final, err := parseNumber(q.finalPrice)
	if err != nil {
		return err
	}
	base, err := parseNumber(q.basePrice)
	if err != nil {
		return err
	}
	mult, err := parseNumber(q.multiplier)
	if err != nil {
		return err
	}
	disc, err := parseNumber(q.discountRat)
	if err != nil {
		return err
	}
	const eps = 1e-9
	wantDisc := 0.0
	if info.member {
		wantDisc = memberDiscount
	}
	if math.Abs(disc-wantDisc) > eps {
		return errBodyDiscount
	}
	if math.Abs(final-base*mult*(1-disc)) > 0.005+eps {
		return errBodyFinal
	}
	if r.want != nil {
		if wantBase, ok := r.want.base(q.productID); !ok || math.Abs(base-wantBase) > eps*100 {
			return errBodyBase
		}
		if math.Abs(mult-r.want.mult[info.location]) > eps {
			return errBodyMultiplier
		}
	}
	return nil
}
