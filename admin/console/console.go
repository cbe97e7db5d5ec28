package console

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"strings"
)

// assets is the page and its script and style sheet. embed.FS is
// read-only.
//
//go:embed assets
var assets embed.FS

// Path is where the page is served; its files live under Path+"/".
const Path = "/console"

// csp lets the page load its own script and style sheet and talk to its
// own origin, nothing else: no inline script, no other origin, no
// framing, no form posts.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// file is one served file, built once by New and never modified.
type file struct {
	body        []byte
	contentType string
	etag        string
}

// Handler serves the console's files. It is immutable after New and safe
// for concurrent use.
type Handler struct {
	files map[string]*file // by request path
}

// New returns the console handler. Register it for "GET /console" and
// "GET /console/" (see Routes).
func New() *Handler {
	h := &Handler{files: map[string]*file{}}
	for _, f := range []struct{ name, path, contentType string }{
		{"index.html", Path, "text/html; charset=utf-8"},
		{"console.js", Path + "/console.js", "text/javascript; charset=utf-8"},
		{"console.css", Path + "/console.css", "text/css; charset=utf-8"},
	} {
		body, err := assets.ReadFile("assets/" + f.name)
		if err != nil {
			panic("console: " + f.name + " is not embedded: " + err.Error())
		}
		sum := sha256.Sum256(body)
		h.files[f.path] = &file{body: body, contentType: f.contentType, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	h.files[Path+"/"] = h.files[Path]
	return h
}

// Routes are the admin listener's patterns of the console (http.ServeMux
// syntax), all served by h.
func (h *Handler) Routes() map[string]http.Handler {
	return map[string]http.Handler{"GET " + Path: h, "GET " + Path + "/": h}
}

// ServeHTTP serves GET and HEAD of the page and its files; other paths
// under /console/ answer 404 {"detail":"Not Found"}.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f := h.files[r.URL.Path]
	if f == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"detail":"Not Found"}`))
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", f.contentType)
	hd.Set("ETag", f.etag)
	// The files change with the binary: revalidate (cheap with the ETag).
	hd.Set("Cache-Control", "no-cache")
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(f.body)
}

// etagMatches reports whether the If-None-Match field value names etag
// under the weak comparison of RFC 9110 section 8.8.3.2, or is "*".
func etagMatches(field, etag string) bool {
	for m := range strings.SplitSeq(field, ",") {
		m = strings.TrimPrefix(strings.TrimSpace(m), "W/")
		if m == "*" || m == etag {
			return true
		}
	}
	return false
}
