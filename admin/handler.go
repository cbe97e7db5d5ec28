package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pricing-engine/pricing-engine/lookup"
)

// Prefix is the path under which the admin API is served.
const Prefix = "/admin/v1/"

// Defaults of [Config].
const (
	// DefaultMaxBodyBytes bounds a request body: a batch of MaxChanges
	// items fits with room to spare.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultStoreTimeout bounds one store operation.
	DefaultStoreTimeout = 5 * time.Second
)

// Details of replies that do not depend on the request.
const (
	// detailDisabled answers every request without a tokens file.
	detailDisabled = "admin API disabled: no --admin-tokens-file"
	// detailKeyReused answers an Idempotency-Key used within 24 h with
	// another request: another body, method or path, or another entry.
	detailKeyReused = "Idempotency-Key was already used with another request (another body, method or entry) within 24 h"
)

// Outcomes counted by [Config.OnWrite] and [Config.OnAuth].
const (
	OutcomeCreated              = "created"
	OutcomeUpdated              = "updated"
	OutcomeDeleted              = "deleted"
	OutcomeReplayed             = "replayed"
	OutcomePreconditionFailed   = "precondition_failed"
	OutcomePreconditionRequired = "precondition_required"
	OutcomeKeyReused            = "idempotency_key_reused"
	OutcomeInvalid              = "invalid"
	OutcomeNotFound             = "not_found"
	OutcomeError                = "error"

	AuthUnauthorized = "unauthorized" // no or unknown token (401)
	AuthForbidden    = "forbidden"    // read token on a write (403)
	AuthDisabled     = "disabled"     // no tokens file (403)
)

// Config configures a [Handler].
type Config struct {
	// Store takes the writes; required.
	Store lookup.Writer
	// Tokens authenticates requests; nil disables the API (every request
	// answers 403).
	Tokens *Tokens
	// Logger receives one line per write (actor, key, status, request
	// id; never a token); slog.Default() when nil.
	Logger *slog.Logger
	// MaxBodyBytes bounds request bodies (DefaultMaxBodyBytes when 0).
	MaxBodyBytes int64
	// StoreTimeout bounds each store operation (DefaultStoreTimeout when
	// 0).
	StoreTimeout time.Duration
	// OnWrite, when set, counts each write (a batch item counts once) by
	// outcome (the Outcome* constants).
	OnWrite func(outcome string)
	// OnAuth, when set, counts each refused request by reason (the Auth*
	// constants).
	OnAuth func(reason string)
}

// Handler serves the admin write API under [Prefix]. It is safe for
// concurrent use.
type Handler struct {
	cfg Config
	log *slog.Logger
}

// New returns the admin API handler.
func New(cfg Config) *Handler {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = DefaultStoreTimeout
	}
	if cfg.OnWrite == nil {
		cfg.OnWrite = func(string) {}
	}
	if cfg.OnAuth == nil {
		cfg.OnAuth = func(string) {}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Handler{cfg: cfg, log: log}
}

// request is one admin request being served.
type request struct {
	w     http.ResponseWriter
	r     *http.Request
	actor string
	id    string // request id
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := &request{w: w, r: r, id: requestID(r.Header.Get("X-Request-Id"))}
	w.Header().Set("X-Request-Id", q.id)
	w.Header().Set("Cache-Control", "no-store")
	if !strings.HasPrefix(r.URL.EscapedPath(), Prefix) {
		q.detail(http.StatusNotFound, "Not Found")
		return
	}
	if h.cfg.Tokens == nil {
		h.cfg.OnAuth(AuthDisabled)
		q.detail(http.StatusForbidden, detailDisabled)
		return
	}
	name, scope, ok := h.authenticate(r)
	if !ok {
		h.cfg.OnAuth(AuthUnauthorized)
		w.Header().Set("WWW-Authenticate", `Bearer realm="pricing-engine admin"`)
		q.detail(http.StatusUnauthorized, "missing or unknown bearer token (Authorization: Bearer <token>)")
		return
	}
	q.actor = name
	rt, ok := route(r.URL)
	if !ok {
		q.detail(http.StatusNotFound, "Not Found")
		return
	}
	if rt.err != "" {
		q.detail(http.StatusBadRequest, rt.err)
		return
	}
	if !allowed(rt.allow, r.Method) {
		w.Header().Set("Allow", rt.allow)
		q.detail(http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && scope < ScopeWrite {
		h.cfg.OnAuth(AuthForbidden)
		q.detail(http.StatusForbidden, fmt.Sprintf("token %q has read scope; this request needs write", name))
		return
	}
	switch rt.kind {
	case routeEntry:
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			h.get(q, rt.ref)
		case http.MethodPut:
			h.put(q, rt.ref)
		case http.MethodDelete:
			h.delete(q, rt.ref)
		}
	case routeRevert:
		h.revert(q, rt.ref)
	case routeChanges:
		h.changes(q)
	case routeAudit:
		h.audit(q)
	}
}

// authenticate reads "Authorization: Bearer <token>" (RFC 6750 section
// 2.1; the scheme is case-insensitive).
func (h *Handler) authenticate(r *http.Request) (string, Scope, bool) {
	auth := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", 0, false
	}
	tok = strings.TrimSpace(tok)
	if tok == "" || len(tok) > MaxTokenLen {
		return "", 0, false
	}
	return h.cfg.Tokens.Authenticate(tok)
}

// Routes under Prefix.
const (
	routeEntry = iota + 1
	routeRevert
	routeChanges
	routeAudit
)

type routed struct {
	kind  int
	ref   lookup.Ref
	allow string
	err   string // a bad id: 400 with this detail
}

// route maps a URL to its route. The path is split on its escaped form,
// so an id holding "%2F" is seen and refused rather than taken as two
// segments; ".", "..", empty and over-long ids are refused too.
func route(u *url.URL) (routed, bool) {
	rest, ok := strings.CutPrefix(u.EscapedPath(), Prefix)
	if !ok {
		return routed{}, false
	}
	seg := strings.Split(rest, "/")
	switch {
	case len(seg) == 1 && seg[0] == "changes":
		return routed{kind: routeChanges, allow: "POST"}, true
	case len(seg) == 1 && seg[0] == "audit":
		return routed{kind: routeAudit, allow: "GET, HEAD"}, true
	case len(seg) < 2 || len(seg) > 3:
		return routed{}, false
	}
	var kind string
	switch seg[0] {
	case "products":
		kind = lookup.KindProduct
	case "markets":
		kind = lookup.KindMarket
	default:
		return routed{}, false
	}
	rt := routed{kind: routeEntry, allow: "GET, HEAD, PUT, DELETE"}
	if len(seg) == 3 {
		if seg[2] != "revert" {
			return routed{}, false
		}
		rt = routed{kind: routeRevert, allow: "POST"}
	}
	id, err := url.PathUnescape(seg[1])
	if err != nil {
		rt.err = fmt.Sprintf("invalid %s id: %v", kind, err)
		return rt, true
	}
	rt.ref = lookup.Ref{Kind: kind, ID: id}
	if err := rt.ref.Check(); err != nil {
		rt.err = fmt.Sprintf("invalid %s id %q: %v", kind, truncate(id), err)
	}
	return rt, true
}

// allowed reports whether method is in the Allow list allow.
func allowed(allow, method string) bool {
	for _, m := range strings.Split(allow, ", ") {
		if m == method {
			return true
		}
	}
	return false
}

// requestID returns the incoming X-Request-Id when it is short printable
// ASCII, else a fresh random one.
func requestID(in string) string {
	if in != "" && len(in) <= lookup.MaxRequestIDLen {
		ok := true
		for i := 0; i < len(in); i++ {
			if in[i] <= 0x20 || in[i] >= 0x7f {
				ok = false
				break
			}
		}
		if ok {
			return in
		}
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// reply writes a JSON reply.
func (q *request) reply(status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"detail":"cannot encode the reply"}`)
	}
	q.w.Header().Set("Content-Type", "application/json")
	q.w.WriteHeader(status)
	if q.r.Method != http.MethodHead {
		_, _ = q.w.Write(append(b, '\n'))
	}
}

// detail writes {"detail": d}.
func (q *request) detail(status int, d any) {
	q.reply(status, map[string]any{"detail": d})
}

// etag is the entity tag of a version (RFC 9110 section 8.8.3).
func etag(v uint64) string { return `"` + strconv.FormatUint(v, 10) + `"` }

// entryJSON is the body of an entry: {"product_id","base_price","version",
// "updated_at","updated_by"} (markets: "location", "multiplier").
func entryJSON(ref lookup.Ref, rec lookup.Record) json.RawMessage {
	var updatedAt, updatedBy any
	if !rec.UpdatedAt.IsZero() {
		updatedAt = rec.UpdatedAt.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	if rec.UpdatedBy != "" {
		updatedBy = rec.UpdatedBy
	}
	var b []byte
	b = append(b, '{')
	b = appendMember(b, idField(ref.Kind), ref.ID)
	b = append(b, ',')
	b = appendMember(b, valueField(ref.Kind), rec.Value)
	b = append(b, ',')
	b = appendMember(b, "version", strconv.FormatUint(rec.Version, 10))
	b = append(b, ',')
	b = appendMember(b, "updated_at", updatedAt)
	b = append(b, ',')
	b = appendMember(b, "updated_by", updatedBy)
	return append(b, '}')
}

func appendMember(b []byte, name string, v any) []byte {
	n, _ := json.Marshal(name)
	x, _ := json.Marshal(v)
	return append(append(append(b, n...), ':'), x...)
}

// storeCtx bounds one store operation.
func (h *Handler) storeCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), h.cfg.StoreTimeout)
}

// refuse answers a write that is not applied: it counts outcome and
// replies status with {"detail": d}.
func (h *Handler) refuse(q *request, status int, outcome string, d any) {
	h.cfg.OnWrite(outcome)
	q.detail(status, d)
}

// storeFailed answers a store error (see storeError), counting it as a
// failed write when write is set.
func (h *Handler) storeFailed(q *request, write bool, what string, err error) {
	status, d := h.storeError(q.id, what, err)
	if status == http.StatusServiceUnavailable {
		q.w.Header().Set("Retry-After", "1")
	}
	if write {
		h.cfg.OnWrite(OutcomeError)
	}
	q.detail(status, d)
}

// storeError maps a store error to its status and detail, as the price
// path does: a value the store holds in a form that is no price (a Redis
// hash where a string belongs) is 502, which a retry does not mend; any
// other failure is 503, to retry. The cause is logged.
func (h *Handler) storeError(requestID, what string, err error) (int, string) {
	var bad *lookup.InvalidValueError
	if errors.As(err, &bad) {
		h.log.Error("admin: store value is invalid", "op", what, "key", bad.Key, "request_id", requestID, "err", err)
		return http.StatusBadGateway, "cannot " + what + ": " + bad.Error() + " (not a string); fix or delete the key in the store"
	}
	h.log.Warn("admin: store operation failed", "op", what, "request_id", requestID, "err", err)
	return http.StatusServiceUnavailable, "cannot " + what + ": the store did not answer; retry later"
}

// get serves GET/HEAD of an entry.
func (h *Handler) get(q *request, ref lookup.Ref) {
	ctx, cancel := h.storeCtx(q.r)
	defer cancel()
	rec, err := h.cfg.Store.Read(ctx, ref)
	if err != nil {
		h.storeFailed(q, false, "read "+ref.String(), err)
		return
	}
	if !rec.Exists {
		q.detail(http.StatusNotFound, fmt.Sprintf("unknown %s %q", ref.Kind, ref.ID))
		return
	}
	q.w.Header().Set("ETag", etag(rec.Version))
	q.reply(http.StatusOK, entryJSON(ref, rec))
}

// readBody reads a JSON request body within the bound; on failure it has
// answered (415, 413, 400).
func (h *Handler) readBody(q *request) ([]byte, bool) {
	if ct := q.r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			q.detail(http.StatusUnsupportedMediaType, "unsupported Content-Type: expected application/json")
			return nil, false
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(q.w, q.r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			q.detail(http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", h.cfg.MaxBodyBytes))
			return nil, false
		}
		q.detail(http.StatusBadRequest, "cannot read request body")
		return nil, false
	}
	return body, true
}

// decodeFailed answers a decoding problem: 400 for a body that is not a
// JSON object, 422 with the field errors otherwise.
func (h *Handler) decodeFailed(q *request, err error, errs []fieldError) {
	if err != nil {
		h.refuse(q, http.StatusBadRequest, OutcomeInvalid, err.Error())
		return
	}
	h.refuse(q, http.StatusUnprocessableEntity, OutcomeInvalid, errs)
}

// conditions reads If-Match / If-None-Match (RFC 9110 section 13.1). One
// strong entity tag or "*" is accepted in If-Match, only "*" in
// If-None-Match. need says which a missing header means: 428.
func conditions(r *http.Request) (lookup.Cond, uint64, string) {
	im, inm := r.Header.Values("If-Match"), r.Header.Values("If-None-Match")
	switch {
	case len(im) > 0 && len(inm) > 0:
		return 0, 0, "give If-Match or If-None-Match, not both"
	case len(inm) > 0:
		if len(inm) != 1 || strings.TrimSpace(inm[0]) != "*" {
			return 0, 0, `If-None-Match: only "*" (create) is supported`
		}
		return lookup.CondAbsent, 0, ""
	case len(im) > 0:
		v := strings.TrimSpace(im[0])
		if len(im) != 1 {
			return 0, 0, `If-Match: give one entity tag`
		}
		if v == "*" {
			return lookup.CondExists, 0, ""
		}
		n, ok := parseETag(v)
		if !ok {
			return 0, 0, fmt.Sprintf(`If-Match: want one strong entity tag such as "3" or *, got %q`, truncate(v))
		}
		return lookup.CondVersion, n, ""
	}
	return lookup.CondNone, 0, ""
}

// parseETag reads a strong entity tag holding a version, "3". Weak tags
// never match in If-Match (strong comparison, RFC 9110 section 8.8.3.2).
func parseETag(s string) (uint64, bool) {
	if len(s) < 3 || s[0] != '"' || s[len(s)-1] != '"' {
		return 0, false
	}
	n, err := strconv.ParseUint(s[1:len(s)-1], 10, 64)
	return n, err == nil
}

// idempotency reads the Idempotency-Key header: 1..MaxIdempotencyKeyLen
// bytes of visible ASCII.
func idempotency(r *http.Request) (string, string) {
	k := r.Header.Get("Idempotency-Key")
	if k == "" {
		return "", ""
	}
	if len(k) > lookup.MaxIdempotencyKeyLen {
		return "", fmt.Sprintf("Idempotency-Key longer than %d bytes", lookup.MaxIdempotencyKeyLen)
	}
	for i := 0; i < len(k); i++ {
		if k[i] <= 0x20 || k[i] >= 0x7f {
			return "", "Idempotency-Key must be visible ASCII"
		}
	}
	return k, ""
}

// fingerprint digests what must repeat for an idempotent replay: the
// method, the path and the body.
func fingerprint(method, path string, body []byte) string {
	h := sha256.New()
	_, _ = io.WriteString(h, method+" "+path+"\n")
	_, _ = h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// put serves PUT of an entry.
func (h *Handler) put(q *request, ref lookup.Ref) {
	body, ok := h.readBody(q)
	if !ok {
		return
	}
	val, errs, err := decodeValue(ref.Kind, body)
	if err != nil || len(errs) > 0 {
		h.decodeFailed(q, err, errs)
		return
	}
	cond, ver, bad := conditions(q.r)
	if bad != "" {
		h.refuse(q, http.StatusBadRequest, OutcomeInvalid, bad)
		return
	}
	if cond == lookup.CondNone {
		h.refuse(q, http.StatusPreconditionRequired, OutcomePreconditionRequired, `this write needs If-Match: "<version>" (update) or If-None-Match: * (create)`)
		return
	}
	h.write(q, &lookup.Write{Ref: ref, Op: lookup.OpPut, Value: val, Cond: cond, Version: ver}, body)
}

// delete serves DELETE of an entry.
func (h *Handler) delete(q *request, ref lookup.Ref) {
	cond, ver, bad := conditions(q.r)
	switch {
	case bad != "":
		h.refuse(q, http.StatusBadRequest, OutcomeInvalid, bad)
		return
	case cond == lookup.CondAbsent:
		h.refuse(q, http.StatusBadRequest, OutcomeInvalid, "If-None-Match: * cannot apply to a delete")
		return
	case cond == lookup.CondNone:
		h.refuse(q, http.StatusPreconditionRequired, OutcomePreconditionRequired, `a delete needs If-Match: "<version>"`)
		return
	}
	h.write(q, &lookup.Write{Ref: ref, Op: lookup.OpDelete, Cond: cond, Version: ver}, nil)
}

// revert serves POST .../revert {"version":"5"}: version 5's value
// written as a new version. If-Match is optional.
func (h *Handler) revert(q *request, ref lookup.Ref) {
	body, ok := h.readBody(q)
	if !ok {
		return
	}
	v, errs, err := decodeVersion(body)
	if err != nil || len(errs) > 0 {
		h.decodeFailed(q, err, errs)
		return
	}
	cond, ver, bad := conditions(q.r)
	if bad != "" {
		h.refuse(q, http.StatusBadRequest, OutcomeInvalid, bad)
		return
	}
	ctx, cancel := h.storeCtx(q.r)
	e, found, err := h.cfg.Store.AuditVersion(ctx, ref, v)
	cancel()
	if err != nil {
		h.storeFailed(q, true, "read the audit of "+ref.String(), err)
		return
	}
	if !found {
		h.refuse(q, http.StatusNotFound, OutcomeNotFound, fmt.Sprintf("version %d of %s is not in its audit trail", v, ref))
		return
	}
	if e.After == nil {
		h.refuse(q, http.StatusUnprocessableEntity, OutcomeInvalid, fmt.Sprintf("version %d of %s is a delete: there is no value to revert to", v, ref))
		return
	}
	h.write(q, &lookup.Write{Ref: ref, Op: lookup.OpPut, Value: *e.After, Cond: cond, Version: ver, AuditKind: "revert"}, body)
}

// write applies w (with the request's actor, id and idempotency key) and
// answers.
func (h *Handler) write(q *request, w *lookup.Write, body []byte) {
	key, bad := idempotency(q.r)
	if bad != "" {
		h.refuse(q, http.StatusBadRequest, OutcomeInvalid, bad)
		return
	}
	w.Actor, w.RequestID, w.IdempotencyKey = q.actor, q.id, key
	if key != "" {
		w.Fingerprint = fingerprint(q.r.Method, q.r.URL.EscapedPath(), body)
	}
	ctx, cancel := h.storeCtx(q.r)
	out, err := h.cfg.Store.Write(ctx, w)
	cancel()
	if err != nil {
		h.storeFailed(q, true, "write "+w.Ref.String(), err)
		return
	}
	status, res := h.outcome(w, out)
	h.log.Info("admin write", "actor", q.actor, "key", w.Ref.String(), "status", status,
		"version", out.Record.Version, "replayed", out.Replayed, "request_id", q.id)
	if out.Replayed {
		q.w.Header().Set("Idempotent-Replayed", "true")
	}
	switch status {
	case http.StatusOK, http.StatusCreated:
		q.w.Header().Set("ETag", etag(out.Record.Version))
		if status == http.StatusCreated {
			q.w.Header().Set("Location", q.r.URL.EscapedPath())
		}
		q.reply(status, entryJSON(w.Ref, out.Record))
	case http.StatusNoContent:
		q.w.WriteHeader(status)
	case http.StatusPreconditionFailed:
		if out.Record.Exists {
			q.w.Header().Set("ETag", etag(out.Record.Version))
		}
		q.detail(status, res.Error.Detail)
	default:
		q.detail(status, res.Error.Detail)
	}
}

// itemResult is one element of a batch reply.
type itemResult struct {
	Status  int        `json:"status,omitempty"`
	Version string     `json:"version,omitempty"`
	Error   *itemError `json:"error,omitempty"`
}

type itemError struct {
	Status int `json:"status"`
	Detail any `json:"detail"`
}

// refuseItem is refuse for a batch item: it counts outcome and returns
// the item's error result.
func (h *Handler) refuseItem(status int, outcome string, d any) itemResult {
	h.cfg.OnWrite(outcome)
	return itemResult{Error: &itemError{Status: status, Detail: d}}
}

// outcome maps a store outcome to its status and batch item result, and
// counts it.
func (h *Handler) outcome(w *lookup.Write, out lookup.Outcome) (int, itemResult) {
	fail := func(status int, outcome string, detail string) (int, itemResult) {
		return status, h.refuseItem(status, outcome, detail)
	}
	ok := func(status int, outcome string) (int, itemResult) {
		if out.Replayed {
			outcome = OutcomeReplayed
		}
		h.cfg.OnWrite(outcome)
		return status, itemResult{Status: status, Version: strconv.FormatUint(out.Record.Version, 10)}
	}
	switch out.Status {
	case lookup.WriteCreated:
		return ok(http.StatusCreated, OutcomeCreated)
	case lookup.WriteUpdated:
		return ok(http.StatusOK, OutcomeUpdated)
	case lookup.WriteDeleted:
		return ok(http.StatusNoContent, OutcomeDeleted)
	case lookup.WriteConflict:
		cur := out.Record
		var d string
		switch {
		case w.Cond == lookup.CondAbsent:
			d = fmt.Sprintf("%s already exists at version %q", w.Ref, strconv.FormatUint(cur.Version, 10))
		case !cur.Exists:
			d = fmt.Sprintf("%s does not exist", w.Ref)
		default:
			d = fmt.Sprintf("%s is at version %q, not %q", w.Ref, strconv.FormatUint(cur.Version, 10), strconv.FormatUint(w.Version, 10))
		}
		return fail(http.StatusPreconditionFailed, OutcomePreconditionFailed, "precondition failed: "+d)
	case lookup.WriteNotFound:
		return fail(http.StatusNotFound, OutcomeNotFound, fmt.Sprintf("unknown %s %q", w.Ref.Kind, w.Ref.ID))
	case lookup.WriteKeyReused:
		return fail(http.StatusUnprocessableEntity, OutcomeKeyReused, detailKeyReused)
	}
	return fail(http.StatusInternalServerError, OutcomeError, "unexpected write outcome")
}

// maxParallelItems bounds the items of one batch written at once.
const maxParallelItems = 32

// changes serves POST /admin/v1/changes: each item applied on its own,
// as if one after the other in request order (a later item may depend on
// an earlier one's version). Items are taken in waves: the longest run of
// items, in order, that touch distinct entries; a wave's writes run
// concurrently (the store pipelines them), and the next wave starts once
// they all ended. Two items on one entry are thus never in flight
// together, and each sees the effect of every earlier item on its entry;
// items on distinct entries do not affect each other, so the results are
// those of applying the items one by one.
func (h *Handler) changes(q *request) {
	body, ok := h.readBody(q)
	if !ok {
		return
	}
	items, errs, err := decodeChanges(body)
	if err != nil || len(errs) > 0 {
		h.decodeFailed(q, err, errs)
		return
	}
	key, bad := idempotency(q.r)
	if bad != "" {
		h.refuse(q, http.StatusBadRequest, OutcomeInvalid, bad)
		return
	}
	results := make([]itemResult, len(items))
	for start := 0; start < len(items); {
		end := waveEnd(items, start)
		h.applyWave(q, items[start:end], results[start:end], start, key)
		start = end
	}
	q.reply(http.StatusOK, map[string]any{"results": results})
}

// waveEnd returns the end of the wave that starts at items[start]: the
// first later item on an entry the wave already touches, or len(items).
// Refused items (decoding errors) touch no entry.
func waveEnd(items []change, start int) int {
	seen := make(map[lookup.Ref]struct{}, min(len(items)-start, MaxChanges))
	for i := start; i < len(items); i++ {
		if len(items[i].errs) > 0 {
			continue
		}
		if _, dup := seen[items[i].ref]; dup {
			return i
		}
		seen[items[i].ref] = struct{}{}
	}
	return len(items)
}

// applyWave applies the items of one wave (first is the index of the
// first in the batch), at most maxParallelItems at a time, and returns
// once every one has its result.
func (h *Handler) applyWave(q *request, wave []change, results []itemResult, first int, key string) {
	if len(wave) == 1 {
		results[0] = h.change(q, first, &wave[0], key)
		return
	}
	sem := make(chan struct{}, maxParallelItems)
	var wg sync.WaitGroup
	for i := range wave {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			// The server's recover path covers the handler's goroutine
			// only: a panic here answers the item, not the process.
			defer func() {
				if v := recover(); v != nil {
					h.log.Error("admin: panic applying a batch item", "item", first+i, "request_id", q.id, "panic", fmt.Sprint(v))
					results[i] = h.refuseItem(http.StatusInternalServerError, OutcomeError, "internal error applying this item")
				}
			}()
			results[i] = h.change(q, first+i, &wave[i], key)
		}()
	}
	wg.Wait()
}

// change applies one batch item. With an Idempotency-Key the item uses
// "<key>#<index>" and the item's own JSON as its fingerprint, so a
// repeated batch replays item by item.
func (h *Handler) change(q *request, i int, c *change, key string) itemResult {
	if len(c.errs) > 0 {
		return h.refuseItem(http.StatusUnprocessableEntity, OutcomeInvalid, c.errs)
	}
	if c.cond == lookup.CondNone {
		return h.refuseItem(http.StatusPreconditionRequired, OutcomePreconditionRequired, `this change needs "if_match": "<version>" (update, delete) or "if_none_match": "*" (create)`)
	}
	w := &lookup.Write{Ref: c.ref, Value: c.value, Cond: c.cond, Version: c.version, Actor: q.actor, RequestID: q.id}
	if c.delete {
		w.Op = lookup.OpDelete
	}
	if key != "" {
		w.IdempotencyKey = key + "#" + strconv.Itoa(i)
		w.Fingerprint = fingerprint("CHANGE", "", c.raw)
	}
	ctx, cancel := h.storeCtx(q.r)
	out, err := h.cfg.Store.Write(ctx, w)
	cancel()
	if err != nil {
		status, d := h.storeError(q.id, "write "+c.ref.String(), err)
		return h.refuseItem(status, OutcomeError, d)
	}
	status, res := h.outcome(w, out)
	h.log.Info("admin write", "actor", q.actor, "key", c.ref.String(), "status", status,
		"version", out.Record.Version, "replayed", out.Replayed, "request_id", q.id, "item", i)
	return res
}

// auditEntryJSON is one audit entry in a reply.
type auditEntryJSON struct {
	ID        string  `json:"id"`
	At        string  `json:"at"`
	Actor     string  `json:"actor"`
	Kind      string  `json:"kind"`
	Key       string  `json:"key"`
	Before    *string `json:"before"`
	After     *string `json:"after"`
	Version   string  `json:"version"`
	RequestID string  `json:"request_id"`
}

// audit serves GET /admin/v1/audit?key=product:P-1&since=RFC3339&limit=100&cursor=...
func (h *Handler) audit(q *request) {
	qs := q.r.URL.Query()
	var errs []fieldError
	aq := lookup.AuditQuery{Limit: 100, Cursor: qs.Get("cursor")}
	if k := qs.Get("key"); k == "" {
		errs = append(errs, fieldError{Type: "missing", Loc: []any{"query", "key"}, Msg: "Field required (product:<id> or market:<location>)"})
	} else if ref, err := lookup.ParseRef(k); err != nil {
		errs = append(errs, fieldError{Type: "value_error", Loc: []any{"query", "key"}, Msg: "Value error, " + err.Error(), Input: truncate(k)})
	} else {
		aq.Ref = ref
	}
	if s := qs.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			errs = append(errs, fieldError{Type: "datetime_parsing", Loc: []any{"query", "since"}, Msg: "Input should be a valid RFC 3339 datetime", Input: truncate(s)})
		}
		aq.Since = t
	}
	if s := qs.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > lookup.MaxAuditLimit {
			errs = append(errs, fieldError{Type: "int_parsing", Loc: []any{"query", "limit"}, Msg: fmt.Sprintf("Input should be an integer from 1 to %d", lookup.MaxAuditLimit), Input: truncate(s)})
		}
		aq.Limit = n
	}
	if len(errs) > 0 {
		q.detail(http.StatusUnprocessableEntity, errs)
		return
	}
	ctx, cancel := h.storeCtx(q.r)
	entries, next, err := h.cfg.Store.Audit(ctx, aq)
	cancel()
	if errors.Is(err, lookup.ErrBadCursor) {
		q.detail(http.StatusUnprocessableEntity, []fieldError{{Type: "value_error", Loc: []any{"query", "cursor"}, Msg: "Value error, not a cursor returned by this API", Input: truncate(aq.Cursor)}})
		return
	}
	if err != nil {
		h.storeFailed(q, false, "read the audit of "+aq.Ref.String(), err)
		return
	}
	out := make([]auditEntryJSON, len(entries))
	for i, e := range entries {
		out[i] = auditEntryJSON{
			ID: e.ID, At: e.At.UTC().Format("2006-01-02T15:04:05.000Z07:00"), Actor: e.Actor, Kind: e.Kind,
			Key: e.Key, Before: e.Before, After: e.After, Version: strconv.FormatUint(e.Version, 10), RequestID: e.RequestID,
		}
	}
	var nextCursor any
	if next != "" {
		nextCursor = next
	}
	q.reply(http.StatusOK, map[string]any{"entries": out, "next_cursor": nextCursor})
}

// RequireRead wraps an admin-port handler outside the API (GET /rules)
// so that, when a tokens file is set, it needs a read (or write) token:
// 401 + WWW-Authenticate otherwise. Without a tokens file next is served
// as is.
func (h *Handler) RequireRead(next http.Handler) http.Handler {
	if h.cfg.Tokens == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := h.authenticate(r); !ok {
			h.cfg.OnAuth(AuthUnauthorized)
			q := &request{w: w, r: r}
			w.Header().Set("WWW-Authenticate", `Bearer realm="pricing-engine admin"`)
			w.Header().Set("Cache-Control", "no-store")
			q.detail(http.StatusUnauthorized, "missing or unknown bearer token (Authorization: Bearer <token>)")
			return
		}
		next.ServeHTTP(w, r)
	})
}
