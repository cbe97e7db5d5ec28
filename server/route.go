package server

import "bytes"

// route identifies what a request path addresses. The same table serves
// both listeners so that the API port also answers the GET routes (docs/API.md).
type route uint8

const (
	routeUnknown route = iota
	routePrice
	routeMetrics
	routeHealthz
	routeReadyz
	routeDocs
	routeOpenAPI
	routePrices
)

// Route templates, used as the endpoint label of request metrics. Unmatched
// paths are "unknown" so that a scanner cannot blow up label cardinality.
const (
	endpointPrice   = "/api/v1/price"
	endpointMetrics = "/metrics"
	endpointHealthz = "/healthz"
	endpointReadyz  = "/readyz"
	endpointDocs    = "/docs"
	endpointOpenAPI = "/openapi.json"
	endpointPrices  = "/api/v1/prices"
	endpointUnknown = "unknown"
)

func (r route) endpoint() string {
	switch r {
	case routePrice:
		return endpointPrice
	case routeMetrics:
		return endpointMetrics
	case routeHealthz:
		return endpointHealthz
	case routeReadyz:
		return endpointReadyz
	case routeDocs:
		return endpointDocs
	case routeOpenAPI:
		return endpointOpenAPI
	case routePrices:
		return endpointPrices
	}
	return endpointUnknown
}

// allow is the Allow header value for a route's 405 replies.
func (r route) allow() string {
	if r == routePrice || r == routePrices {
		return "POST"
	}
	return "GET, HEAD"
}

// match maps a request path (without query) to its route. Paths match
// exactly; /docs also covers the Swagger UI assets below /docs/.
func match(path []byte) route {
	switch string(path) { // no allocation: the compiler switches on the bytes
	case endpointPrice:
		return routePrice
	case endpointMetrics:
		return routeMetrics
	case endpointHealthz:
		return routeHealthz
	case endpointReadyz:
		return routeReadyz
	case endpointDocs:
		return routeDocs
	case endpointOpenAPI:
		return routeOpenAPI
	case endpointPrices:
		return routePrices
	}
	if bytes.HasPrefix(path, []byte("/docs/")) {
		return routeDocs
	}
	return routeUnknown
}

// methodLabel maps a request method to the method label of request metrics:
// standard methods by name, anything else "other" (bounded cardinality).
func methodLabel(m []byte) string {
	switch string(m) {
	case "GET":
		return "GET"
	case "POST":
		return "POST"
	case "HEAD":
		return "HEAD"
	case "PUT":
		return "PUT"
	case "DELETE":
		return "DELETE"
	case "PATCH":
		return "PATCH"
	case "OPTIONS":
		return "OPTIONS"
	}
	return "other"
}

// isJSONContentType reports whether a Content-Type names JSON:
// application/json or application/*+json, parameters ignored, case-insensitive
// (RFC 9110 section 8.3.1). An absent Content-Type is accepted as JSON, as
// the FastAPI service did.
func isJSONContentType(ct []byte) bool {
	if len(ct) == 0 || string(ct) == "application/json" { // the common cases first
		return true
	}
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = bytes.TrimRight(ct, " \t")
	const app = "application/"
	if len(ct) < len(app) || !bytes.EqualFold(ct[:len(app)], []byte(app)) {
		return false
	}
	sub := ct[len(app):]
	if bytes.EqualFold(sub, []byte("json")) {
		return true
	}
	return len(sub) > 5 && bytes.EqualFold(sub[len(sub)-5:], []byte("+json"))
}
