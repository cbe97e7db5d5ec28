package server

import (
	"bytes"
	"strings"
)

// route identifies what a request path addresses: a row of [routes].
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
	routeVerify
	routeCount // the number of rows of routes
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
	endpointVerify  = "/api/v1/quotes/verify"
	endpointUnknown = "unknown"
)

// Allow header values: the methods a route accepts, as a 405 lists them.
const (
	allowPost    = "POST"
	allowGetHead = "GET, HEAD"
)

// handlerKind says what answers a route. Each listener has one handler per
// kind: the event loops in serve, the admin listener in adminRoute.
type handlerKind uint8

const (
	kindNotFound handlerKind = iota // 404 {"detail":"Not Found"}
	kindPrice                       // POST /api/v1/price: one price
	kindPrices                      // POST /api/v1/prices: a batch
	kindMetrics                     // the Prometheus exposition
	kindHealthz                     // alive
	kindReadyz                      // ready, or draining (readyz)
	kindDocs                        // a file of the API docs
	kindVerify                      // POST /api/v1/quotes/verify: a quote token checked
)

// priced reports whether the kind is the API's traffic (prices, and the
// verification of the quotes they gave): the admin listener counts its
// requests in the request metrics too, and not its scrapes and probes.
func (k handlerKind) priced() bool { return k == kindPrice || k == kindPrices || k == kindVerify }

// readyz is the reply of /readyz on both listeners, its body appended to
// dst: 200 "ready\n" followed by [Deps.ReadyDetail]'s text while ready, 503
// with Retry-After 1 and "draining\n" once draining began, or
// "not ready: <reason>\n" while [Deps.NotReady] gives one.
func (s *Server) readyz(dst []byte) (status, retryAfter int, body []byte) {
	if ok, why := s.readiness(); !ok {
		return 503, 1, append(dst, why...)
	}
	dst = append(dst, bodyReady...)
	if s.deps.ReadyDetail != nil {
		dst = append(dst, s.deps.ReadyDetail()...)
	}
	return 200, 0, dst
}

// routeSpec is one row of the route table.
type routeSpec struct {
	path     string // the exact path matched
	subtree  bool   // also every path below path + "/"
	allow    string // the methods accepted, as the Allow header of a 405 lists them
	endpoint string // the endpoint label of request metrics
	kind     handlerKind
}

// routes is the one route table of both listeners (docs/API.md: the API
// port also answers the GET routes): paths, methods, metric labels and
// handler kinds. A method outside allow is answered 405 with that Allow
// header on either listener. The admin listener adds routes of its own
// (the admin API, pprof) in adminMux.
var routes = [routeCount]routeSpec{
	routeUnknown: {endpoint: endpointUnknown, kind: kindNotFound},
	routePrice:   {path: endpointPrice, allow: allowPost, endpoint: endpointPrice, kind: kindPrice},
	routeMetrics: {path: endpointMetrics, allow: allowGetHead, endpoint: endpointMetrics, kind: kindMetrics},
	routeHealthz: {path: endpointHealthz, allow: allowGetHead, endpoint: endpointHealthz, kind: kindHealthz},
	routeReadyz:  {path: endpointReadyz, allow: allowGetHead, endpoint: endpointReadyz, kind: kindReadyz},
	routeDocs:    {path: endpointDocs, subtree: true, allow: allowGetHead, endpoint: endpointDocs, kind: kindDocs},
	routeOpenAPI: {path: endpointOpenAPI, allow: allowGetHead, endpoint: endpointOpenAPI, kind: kindDocs},
	routePrices:  {path: endpointPrices, allow: allowPost, endpoint: endpointPrices, kind: kindPrices},
	routeVerify:  {path: endpointVerify, allow: allowPost, endpoint: endpointVerify, kind: kindVerify},
}

func (r route) endpoint() string { return routes[r].endpoint }

// allow is the Allow header value for a route's 405 replies.
func (r route) allow() string { return routes[r].allow }

// allows reports whether the route accepts method (an exact, case-sensitive
// name: RFC 9110 section 9.1). It does not allocate.
func (r route) allows(method string) bool {
	a := routes[r].allow
	for a != "" {
		m, rest, _ := strings.Cut(a, ", ")
		if m == method {
			return true
		}
		a = rest
	}
	return false
}

// match maps a request path (without query) to its route: an exact path of
// the table, or a path below a subtree row's (/docs/ holds the Swagger UI
// assets). It does not allocate.
func match(path []byte) route {
	for r := routeUnknown + 1; r < routeCount; r++ {
		if string(path) == routes[r].path {
			return r
		}
	}
	for r := routeUnknown + 1; r < routeCount; r++ {
		p := routes[r].path
		if routes[r].subtree && len(path) > len(p) && path[len(p)] == '/' && string(path[:len(p)]) == p {
			return r
		}
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
