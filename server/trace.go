package server

import (
	"net"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pricing-engine/pricing-engine/httpparse"
	"github.com/pricing-engine/pricing-engine/metrics"
	"github.com/pricing-engine/pricing-engine/pricer"
	"github.com/pricing-engine/pricing-engine/trace"
)

// Span attribute keys: the OpenTelemetry HTTP and database semantic
// conventions, and the pricing engine's own under "pricing.".
const (
	attrMethod       = "http.request.method"
	attrRoute        = "http.route"
	attrStatus       = "http.response.status_code"
	attrProduct      = "pricing.product_id"
	attrLocation     = "pricing.location"
	attrSource       = "pricing.source"
	attrTrips        = "pricing.store.round_trips"
	attrRulesVersion = "pricing.rules.version"
	attrDBSystem     = "db.system.name"
	attrDBOperation  = "db.operation.name"
	attrTripKeys     = "pricing.store.keys"
	attrTripCalls    = "pricing.store.requests"

	spanStoreTrip = "store round trip"
	eventRules    = "rules"
	// sourceCached is the source of a live answer that no round trip
	// served: the store's client-side cache.
	sourceCached = "cached"
)

// repliedObs is a reply's duration observer and, for a sampled request,
// the trace id its observation carries as an exemplar.
type repliedObs struct {
	o       *metrics.LoopObserver
	id      trace.TraceID
	sampled bool
}

// exemplarEvery is the least time between two exemplars a loop records.
// An exemplar costs about ten allocations in client_golang (labels, the
// exemplar message, its timestamp) and a bucket keeps only its latest one,
// which a scrape every few seconds reads: recording one per sampled
// request cost more than the rest of tracing (docs/BENCHMARKS.md).
const exemplarEvery = 100 * time.Millisecond

// observe records the duration d of n requests on o. When sampled (one
// of them is a sampled request, of trace id id) and the loop's last
// exemplar is exemplarEvery old, that request's observation carries its
// trace id as the exemplar (OpenMetrics scrapes show it).
func (lp *loop) observe(o *metrics.LoopObserver, d float64, n uint64, id trace.TraceID, sampled bool) {
	if sampled {
		if now := lp.now.UnixNano(); now-lp.exemplarAt >= int64(exemplarEvery) {
			lp.exemplarAt = now
			o.ObserveWithExemplar(d, prometheus.Labels{"trace_id": id.String()})
			n--
		}
	}
	if n > 0 {
		o.ObserveN(d, n)
	}
}

// The parser must keep every tracestate value the trace context reads:
// this constant does not compile when it keeps fewer.
const _ = uint(httpparse.MaxTracestateFields - trace.MaxTraceStateFields)

// beginTrace reads the request's trace context and returns its identity:
// the incoming trace id or a new one, and its span when sampled. The
// parser noted the traceparent and tracestate fields while it parsed the
// head, so no second walk over the fields is needed.
func (lp *loop) beginTrace(rep *reply, req *httpparse.Request) {
	var in trace.Incoming
	in.Traceparent(req.Traceparent())
	for i := range req.Tracestates() {
		in.Tracestate(req.Tracestate(i))
	}
	c := lp.tl.Begin(&in, "http request", lp.now.UnixNano())
	rep.id, rep.span = c.TraceID, c.Span
	lp.reqID = c.TraceID
}

// wantNotes reports whether the pricing engine should note what it did
// for the request of rep: for its span when sampled, for its access log
// line's source when logged.
func (lp *loop) wantNotes(rep *reply) bool {
	return rep.span != nil || (lp.al != nil && lp.al.Sampled(rep.id))
}

// record ends the request's span (sampled requests) and writes its access
// log line (when the log samples it). path is the request's path, a view
// read now; start is when the request's bytes were read.
func (lp *loop) record(cn *conn, rep *reply, method, endpoint string, path []byte, bodyLen int, start time.Time) {
	notes := rep.notes
	rep.notes = nil
	if sp := rep.span; sp != nil {
		rep.span = nil
		sp.Name = endpoint
		sp.SetString(attrMethod, []byte(method))
		sp.SetString(attrRoute, []byte(endpoint))
		sp.SetInt(attrStatus, int64(rep.status))
		if rep.status >= 500 {
			sp.Status = trace.StatusError
		}
		if notes != nil {
			lp.notePricing(sp, rep.id, notes)
		}
		lp.tl.Finish(sp, time.Now().UnixNano())
	}
	if rep.status >= 500 && lp.debug {
		lp.logFailed(cn, rep, method, endpoint, path)
	}
	if lp.al == nil || !lp.al.Sampled(rep.id) {
		return
	}
	if path == nil {
		path = []byte(endpoint)
	}
	source := ""
	if notes != nil {
		source = sourceOf(notes)
	}
	now := time.Now()
	lp.al.Log(&trace.Entry{
		Time:     now,
		ID:       rep.id,
		Method:   []byte(method),
		Path:     path,
		Status:   rep.status,
		Duration: now.Sub(start),
		Bytes:    bodyLen,
		Source:   source,
		Remote:   cn.remote(),
	})
}

// logFailed writes a debug line about a request answered 5xx (a lookup
// that failed or timed out, an overload, a panic's 500), with its request
// id: the line an operator finds from the X-Request-Id a client reports.
func (lp *loop) logFailed(cn *conn, rep *reply, method, endpoint string, path []byte) {
	if path == nil {
		path = []byte(endpoint)
	}
	lp.srv.log.Debug("request failed", "request_id", rep.id.String(), "method", method, "path", string(path),
		"status", rep.status, "remote", cn.remote().String())
}

// notePricing adds what the pricing engine noted about a sampled request
// to its span sp: its inputs and source, the rules evaluation as an event,
// and one span per store round trip that served it, linked to every
// sampled request it served.
func (lp *loop) notePricing(sp *trace.Span, id trace.TraceID, t *pricer.Trace) {
	if len(t.ProductID) > 0 {
		sp.SetString(attrProduct, t.ProductID)
	}
	if len(t.Location) > 0 {
		sp.SetString(attrLocation, t.Location)
	}
	if src := sourceOf(t); src != "" {
		sp.SetConst(attrSource, src)
	}
	if t.RulesAt != 0 {
		ev := sp.AddEvent(eventRules, t.RulesAt)
		ev.SetString(attrRulesVersion, t.RulesVersion)
	}
	if n := t.NTrips + t.TripsDropped; n > 0 {
		sp.SetInt(attrTrips, int64(n))
	}
	c := trace.Context{TraceID: id, Span: sp}
	for _, trip := range t.Trips[:t.NTrips] {
		st, fresh := lp.tl.Shared(&c, trip.ID, spanStoreTrip, trace.KindClient, trip.Start, trip.End)
		if fresh {
			st.SetConst(attrDBSystem, "redis")
			st.SetConst(attrDBOperation, "GET")
			st.SetInt(attrTripKeys, int64(trip.Keys))
			st.SetInt(attrTripCalls, int64(trip.Calls))
		}
	}
}

// flushLoops hands over what the loops recorded and did not hand over
// yet: access log lines in a loop's chunk, store round trip spans still
// open. It runs once the loops have stopped (gnet.Run returned), so their
// state is no longer touched by them; the access log and the tracer are
// closed after Shutdown and write it.
func (s *Server) flushLoops() {
	s.loops.Range(func(_, v any) bool {
		lp := v.(*loop)
		lp.tl.EndShared()
		if lp.al != nil {
			lp.al.Flush()
		}
		return true
	})
}

// sourceOf is where a price request's answer came from: its reply's
// source, or "cached" for a live answer from a store's client-side cache
// that no round trip served; "" without a quote.
func sourceOf(t *pricer.Trace) string {
	if t.Cached && t.NTrips == 0 && t.Source == "live" {
		return sourceCached
	}
	return t.Source
}

// remote returns the client's address without allocating (after the first
// call per connection).
func (cn *conn) remote() netip.AddrPort {
	if !cn.remoteSet {
		cn.remoteSet = true
		if a, ok := cn.gc.RemoteAddr().(*net.TCPAddr); ok {
			cn.remoteAddr = a.AddrPort()
		}
	}
	return cn.remoteAddr
}
