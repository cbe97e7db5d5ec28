package loadtest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/pricing-engine/pricing-engine/lookup"
)

// Placeholders understood in Workload.BodyTemplate.
const (
	placeholderProduct  = "{product}"
	placeholderLocation = "{location}"
	placeholderMember   = "{member}"
)

// ClassicBodyTemplate is the request body of the classic workload.
const ClassicBodyTemplate = `{"product_id":"{product}","user_location":"{location}","is_prime_member":{member}}`

// Workload says what the requests ask for and how replies are checked.
// Each request draws a product number uniformly from [ProductMin,
// ProductMax], a location uniformly from Locations and a member flag that
// is true with probability MemberRatio.
type Workload struct {
	// ProductPrefix precedes the product number in the product id ("P-").
	ProductPrefix string
	// ProductMin and ProductMax bound the product number (inclusive).
	ProductMin, ProductMax int
	// Locations are the market codes to draw from.
	Locations []string
	// MemberRatio is the probability that a request is from a member.
	MemberRatio float64
	// BodyTemplate is the request body with the placeholders {product},
	// {location} and {member} (rendered as true or false). Values are not
	// escaped: product prefixes and locations must be JSON-safe.
	BodyTemplate string
	// ContentType is the Content-Type header of the requests.
	ContentType string
	// Check parses every 200 reply and checks it against the request:
	// product_id echoes the request, source is one of Sources,
	// discount_rate is 0.05 for members and 0 otherwise, and final_price
	// equals round(base_price*market_multiplier*(1-discount_rate), 2)
	// within half a cent.
	Check bool
	// Strict also checks base_price against Catalog and
	// market_multiplier against Markets.
	Strict bool
	// Catalog and Markets are the data the server serves, for Strict
	// (read only); nil means the data built into pricing-engine
	// ([lookup.DefaultCatalog], [lookup.DefaultMarkets]).
	Catalog *lookup.MemoryCatalog
	Markets *lookup.MemoryMarkets
	// Sources are the accepted values of the "source" field.
	Sources []string
	// Batch, when positive, makes every request a batch of this many
	// items, {"items":[...]} (for POST /api/v1/prices), each item rendered
	// from BodyTemplate with its own draw; a 200 reply must hold one
	// result per item, in order, each passing the check above. At most
	// MaxBatch. Zero: single requests.
	Batch int
}

// ClassicWorkload returns the workload of the old service's acceptance
// test: products P-100..P-999, locations NY, LA and MIA, members half of
// the time, every reply checked strictly against the data built into
// pricing-engine.
func ClassicWorkload() Workload {
	return Workload{
		ProductPrefix: "P-",
		ProductMin:    100,
		ProductMax:    999,
		Locations:     []string{"NY", "LA", "MIA"},
		MemberRatio:   0.5,
		BodyTemplate:  ClassicBodyTemplate,
		ContentType:   "application/json",
		Check:         true,
		Strict:        true,
		Sources:       []string{"live"},
	}
}

// Validate checks the workload.
func (w *Workload) Validate() error {
	switch {
	case w.ProductMin < 0 || w.ProductMax < w.ProductMin:
		return fmt.Errorf("product range [%d, %d] is not valid", w.ProductMin, w.ProductMax)
	case len(w.Locations) == 0:
		return errors.New("no locations")
	case w.MemberRatio < 0 || w.MemberRatio > 1:
		return fmt.Errorf("member ratio %g out of range [0, 1]", w.MemberRatio)
	case w.BodyTemplate == "":
		return errors.New("empty body template")
	case strings.ContainsAny(w.ContentType, "\r\n"):
		return fmt.Errorf("content type %q contains a line break", truncate(w.ContentType))
	case w.Batch < 0 || w.Batch > MaxBatch:
		return fmt.Errorf("batch of %d items out of range [0, %d]", w.Batch, MaxBatch)
	case w.Check && len(w.Sources) == 0:
		return errors.New("reply check enabled but no accepted sources")
	}
	for _, l := range w.Locations {
		if l == "" || strings.ContainsAny(l, "\"\\") {
			return fmt.Errorf("location %q is empty or needs JSON escaping", truncate(l))
		}
	}
	if strings.ContainsAny(w.ProductPrefix, "\"\\") {
		return fmt.Errorf("product prefix %q needs JSON escaping", truncate(w.ProductPrefix))
	}
	return nil
}

// tmplPart is a piece of a compiled body template: a literal or a field.
type tmplPart struct {
	lit   string
	field int // fieldNone, fieldProduct, fieldLocation, fieldMember
}

const (
	fieldNone = iota
	fieldProduct
	fieldLocation
	fieldMember
)

// compileTemplate splits a body template at its placeholders.
func compileTemplate(t string) []tmplPart {
	var parts []tmplPart
	for len(t) > 0 {
		i := strings.IndexByte(t, '{')
		if i < 0 {
			parts = append(parts, tmplPart{lit: t})
			break
		}
		f, n := fieldNone, 0
		switch rest := t[i:]; {
		case strings.HasPrefix(rest, placeholderProduct):
			f, n = fieldProduct, len(placeholderProduct)
		case strings.HasPrefix(rest, placeholderLocation):
			f, n = fieldLocation, len(placeholderLocation)
		case strings.HasPrefix(rest, placeholderMember):
			f, n = fieldMember, len(placeholderMember)
		}
		if f == fieldNone {
			parts = append(parts, tmplPart{lit: t[:i+1]})
			t = t[i+1:]
			continue
		}
		if i > 0 {
			parts = append(parts, tmplPart{lit: t[:i]})
		}
		parts = append(parts, tmplPart{field: f})
		t = t[i+n:]
	}
	return parts
}

// reqInfo is what a reply is checked against.
type reqInfo struct {
	product  int
	location int
	member   bool
}

// renderer renders requests of a workload. It is immutable after
// newRenderer and safe for concurrent use.
type renderer struct {
	w       *Workload
	parts   []tmplPart
	header  string // request line and fixed headers, ending before Content-Length
	closing bool
	want    *expected // nil unless w.Strict
}

// newRenderer prepares the requests of w and, for a strict check, reads
// the data it compares replies with.
func newRenderer(w *Workload, t target, closing bool) (*renderer, error) {
	var b strings.Builder
	b.WriteString("POST ")
	b.WriteString(t.requestURI)
	b.WriteString(" HTTP/1.1\r\nHost: ")
	b.WriteString(t.hostHeader)
	b.WriteString("\r\nUser-Agent: pricing-engine-loadtest\r\n")
	if w.ContentType != "" {
		b.WriteString("Content-Type: ")
		b.WriteString(w.ContentType)
		b.WriteString("\r\n")
	}
	if closing {
		b.WriteString("Connection: close\r\n")
	}
	b.WriteString("Content-Length: ")
	r := &renderer{w: w, parts: compileTemplate(w.BodyTemplate), header: b.String(), closing: closing}
	if w.Strict {
		var err error
		if r.want, err = newExpected(w); err != nil {
			return nil, fmt.Errorf("cannot read the strict check's data: %w", err)
		}
	}
	return r, nil
}

// draw picks the parameters of the next request.
func (r *renderer) draw(rng *rand.Rand) reqInfo {
	w := r.w
	return reqInfo{
		product:  w.ProductMin + rng.IntN(w.ProductMax-w.ProductMin+1),
		location: rng.IntN(len(w.Locations)),
		member:   rng.Float64() < w.MemberRatio,
	}
}

// appendRequest appends the full request for info to dst, using scratch
// to render the body first. It returns dst and scratch for reuse.
func (r *renderer) appendRequest(dst, scratch []byte, info reqInfo) ([]byte, []byte) {
	body := r.appendBody(scratch[:0], info)
	return r.appendHead(dst, body), body
}

// appendBody appends the body template rendered for info to dst.
func (r *renderer) appendBody(dst []byte, info reqInfo) []byte {
	for _, p := range r.parts {
		switch p.field {
		case fieldNone:
			dst = append(dst, p.lit...)
		case fieldProduct:
			dst = append(dst, r.w.ProductPrefix...)
			dst = strconv.AppendInt(dst, int64(info.product), 10)
		case fieldLocation:
			dst = append(dst, r.w.Locations[info.location]...)
		case fieldMember:
			dst = strconv.AppendBool(dst, info.member)
		}
	}
	return dst
}

// appendHead appends the request line and headers for body, then body.
func (r *renderer) appendHead(dst, body []byte) []byte {
	dst = append(dst, r.header...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n\r\n"...)
	return append(dst, body...)
}
