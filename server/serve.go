package server

import (
	"github.com/pricing-engine/pricing-engine/httpparse"
	"github.com/pricing-engine/pricing-engine/metrics"
)

// serve answers one complete request: inline when the answer is at hand;
// a price or batch request whose lookups are pending waits for their
// completion (complete.go), a metrics request runs on the pool.
func (cn *conn) serve(out []byte, req *httpparse.Request) []byte {
	lp := cn.lp
	s := lp.srv
	rt := match(req.Path)
	method := methodLabel(req.Method)
	rep := reply{
		status:      200,
		contentType: contentJSON,
		close:       !req.KeepAlive || s.closingConns.Load(),
		keepAlive10: req.KeepAlive && req.Major == 1 && req.Minor == 0,
		headOnly:    method == "HEAD",
	}
	lp.beginTrace(&rep, req)
	lp.path = req.Path
	defer func() { lp.path = nil }()
	body := lp.body[:0]
	if !req.KeepAlive {
		cn.peerClose = true
	}

	switch rt {
	case routePrice, routePrices:
		if !rt.allows(method) {
			return cn.answerMethodNotAllowed(out, &rep, rt, method)
		}
		if !isJSONContentType(req.ContentType) {
			return cn.answerCanned(out, &rep, cannedUnsupportedMedia, method, rt.endpoint())
		}
		if !lp.pl.Instant() {
			if !lp.admit(rt, req.Body) {
				return cn.answerCanned(out, &rep, cannedOverloaded, method, rt.endpoint())
			}
			return cn.dispatchPrice(out, &rep, req, method, rt)
		}
		// In memory: the whole price path runs here, inline.
		lp.inlineTrace.On = lp.wantNotes(&rep)
		if lp.inlineTrace.On {
			rep.notes = lp.inlineTrace
		}
		if rt == routePrices {
			lp.pl.ServeBatch(lp.inline, req.Body, lp.now)
		} else {
			lp.pl.Serve(lp.inline, req.Body, lp.now)
		}
		x := lp.inline.Result()
		rep.status, rep.retryAfter = x.Status, x.RetryAfter
		return cn.answer(out, &rep, x.Body, method, rt.endpoint())

	case routeVerify:
		if !rt.allows(method) {
			return cn.answerMethodNotAllowed(out, &rep, rt, method)
		}
		if !isJSONContentType(req.ContentType) {
			return cn.answerCanned(out, &rep, cannedUnsupportedMedia, method, rt.endpoint())
		}
		// No lookup: a MAC and a decode, inline whatever the store.
		s.engine.VerifyQuote(lp.inline, req.Body)
		x := lp.inline.Result()
		rep.status, rep.retryAfter = x.Status, x.RetryAfter
		return cn.answer(out, &rep, x.Body, method, rt.endpoint())

	case routeHealthz, routeReadyz, routeDocs, routeOpenAPI, routeMetrics:
		if !rt.allows(method) {
			return cn.answerMethodNotAllowed(out, &rep, rt, method)
		}
		switch rt {
		case routeHealthz:
			rep.contentType = contentText
			body = append(body, bodyHealthy...)
		case routeReadyz:
			rep.contentType = contentText
			rep.status, rep.retryAfter, body = s.readyz(body)
		case routeMetrics:
			return cn.dispatchMetrics(out, &rep, method, req)
		default:
			return cn.answerDocs(out, &rep, req, method, rt)
		}

	default:
		return cn.answerCanned(out, &rep, cannedNotFound, method, rt.endpoint())
	}
	lp.body = body
	return cn.answer(out, &rep, body, method, rt.endpoint())
}

func (cn *conn) answerMethodNotAllowed(out []byte, rep *reply, rt route, method string) []byte {
	rep.allow = rt.allow()
	return cn.answerCanned(out, rep, cannedMethodNotAllowed, method, rt.endpoint())
}

// dispatchMetrics gathers the metrics exposition on the pool: it takes
// milliseconds, far too long for an event loop.
func (cn *conn) dispatchMetrics(out []byte, rep *reply, method string, req *httpparse.Request) []byte {
	j := cn.lp.getJob()
	j.kind = routeMetrics
	if a, ok := req.Header("Accept"); ok {
		j.accept = append(j.accept[:0], a...)
	}
	return cn.submit(out, j, rep, method)
}

// submit queues a metrics job on the pool, or answers 503 when the pool
// is full.
func (cn *conn) submit(out []byte, j *job, rep *reply, method string) []byte {
	lp := cn.lp
	s := lp.srv
	j.gc = cn.gc
	j.rep = *rep
	j.method = method
	j.start = lp.now
	j.close = rep.close
	if rep.close {
		cn.closing = true
	}
	s.metrics.PoolTaskQueued()
	s.jobsWG.Add(1)
	if err := s.pool.Submit(j.run); err != nil {
		s.metrics.PoolTaskRefused()
		s.jobsWG.Done()
		kind := j.kind
		lp.releaseJob(j)
		s.metrics.Rejected(metrics.RejectPoolFull).Inc()
		return cn.answerCanned(out, rep, cannedOverloaded, method, kind.endpoint())
	}
	cn.pending = append(cn.pending, j)
	return out
}
