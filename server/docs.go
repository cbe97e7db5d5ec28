package server

import "github.com/pricing-engine/pricing-engine/httpparse"

// answerDocs answers a GET or HEAD of /openapi.json or /docs[/...] on the
// event loop from the bytes apidocs read once at start (shared, never
// modified; appendReply copies them into the connection's output like any
// body): 200 with the file's ETag and Cache-Control, 304 without a body when
// If-None-Match names the ETag, 404 for a path that serves no file.
func (cn *conn) answerDocs(out []byte, rep *reply, req *httpparse.Request, method string, rt route) []byte {
	lp := cn.lp
	if lp.srv.docs == nil {
		return cn.answerNotFound(out, rep, method, rt)
	}
	f, ok := lp.srv.docs.File(req.Path)
	if !ok {
		return cn.answerNotFound(out, rep, method, rt)
	}
	rep.contentType = f.ContentType
	rep.etag = f.ETag
	rep.cacheControl = f.CacheControl
	if inm, ok := req.Header("If-None-Match"); ok && f.NotModified(inm) {
		// RFC 9110 section 15.4.5: no content; the Content-Length that
		// appendReply writes is the 200's, which section 8.6 allows.
		rep.status = 304
		rep.headOnly = true
	}
	return cn.answer(out, rep, f.Body, method, rt.endpoint())
}

func (cn *conn) answerNotFound(out []byte, rep *reply, method string, rt route) []byte {
	return cn.answerCanned(out, rep, cannedNotFound, method, rt.endpoint())
}
