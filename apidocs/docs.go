package apidocs

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// content is the embedded document and Swagger UI assets. embed.FS is
// read-only.
//
//go:embed openapi.json assets
var content embed.FS

// Route paths served by this package.
const (
	// OpenAPIPath is where the OpenAPI document is served.
	OpenAPIPath = "/openapi.json"
	// DocsPath is the Swagger UI page. DocsPath+"/" and DocsPath+"/index.html"
	// serve the same page; assets live under DocsPath+"/".
	DocsPath = "/docs"
)

// Content types of the files this package serves.
const (
	contentTypeJSON = "application/json"
	contentTypeHTML = "text/html; charset=utf-8"
	contentTypeCSS  = "text/css; charset=utf-8"
	contentTypeJS   = "text/javascript; charset=utf-8"
	contentTypePNG  = "image/png"
	contentTypeText = "text/plain; charset=utf-8"
)

// resolve maps a request path to the embedded file name and its content type.
// It accepts only paths this package serves; a query string is ignored.
func resolve(p string) (name, contentType string, ok bool) {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	switch p {
	case OpenAPIPath:
		return "openapi.json", contentTypeJSON, true
	case DocsPath, DocsPath + "/", DocsPath + "/index.html":
		return "assets/index.html", contentTypeHTML, true
	}
	base, found := strings.CutPrefix(p, DocsPath+"/")
	// Only plain file names directly under /docs/: no sub-folders, no dot
	// segments, nothing that path.Clean would rewrite.
	if !found || base == "" || strings.ContainsAny(base, "/\\") || base[0] == '.' {
		return "", "", false
	}
	name = "assets/" + base
	if _, err := fs.Stat(content, name); err != nil {
		return "", "", false
	}
	switch path.Ext(base) {
	case ".css":
		contentType = contentTypeCSS
	case ".js":
		contentType = contentTypeJS
	case ".png":
		contentType = contentTypePNG
	case ".html":
		contentType = contentTypeHTML
	default: // LICENSE, NOTICE, VERSION, *.txt
		contentType = contentTypeText
	}
	return name, contentType, true
}

// Lookup returns the embedded file served at the request path p (for example
// "/openapi.json", "/docs" or "/docs/swagger-ui.css"; a query string is
// ignored) and its Content-Type. ok is false for any other path, for which the
// caller should answer 404.
//
// Lookup reads the file anew on every call and the caller owns the returned
// slice. A server that answers often should build one [Docs] with [New] and use
// [Docs.Lookup], which does not copy.
func Lookup(p string) (body []byte, contentType string, ok bool) {
	name, contentType, ok := resolve(p)
	if !ok {
		return nil, "", false
	}
	body, err := content.ReadFile(name)
	if err != nil { // cannot happen: resolve checked the file exists
		return nil, "", false
	}
	return body, contentType, true
}

// OpenAPI returns the OpenAPI 3.1 document served at /openapi.json. The
// caller owns the returned slice.
func OpenAPI() []byte {
	body, err := content.ReadFile("openapi.json")
	if err != nil {
		panic("apidocs: openapi.json is not embedded: " + err.Error())
	}
	return body
}

// file is one servable file, read once.
type file struct {
	body        []byte
	contentType string
	etag        string
}

// Docs serves the OpenAPI document and the Swagger UI page from memory. Build
// it with [New]; it is immutable afterwards and safe for concurrent use.
type Docs struct {
	files map[string]file // by request path
}

// New reads every embedded file once and returns a [Docs] that answers
// without further copying.
func New() *Docs {
	d := &Docs{files: make(map[string]file)}
	paths := []string{OpenAPIPath, DocsPath, DocsPath + "/", DocsPath + "/index.html"}
	entries, err := content.ReadDir("assets")
	if err != nil {
		panic("apidocs: assets are not embedded: " + err.Error())
	}
	for _, e := range entries {
		if !e.IsDir() && e.Name() != "index.html" {
			paths = append(paths, DocsPath+"/"+e.Name())
		}
	}
	for _, p := range paths {
		body, contentType, ok := Lookup(p)
		if !ok {
			panic("apidocs: embedded file for " + p + " is missing")
		}
		sum := sha256.Sum256(body)
		d.files[p] = file{
			body:        body,
			contentType: contentType,
			etag:        `"` + hex.EncodeToString(sum[:8]) + `"`,
		}
	}
	return d
}

// Lookup is like the package-level [Lookup] but returns a slice shared by all
// callers: it stays valid for the life of d and must not be modified (it may be
// handed to a writer that only reads it, such as gnet's AsyncWrite).
func (d *Docs) Lookup(p string) (body []byte, contentType string, ok bool) {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	f, ok := d.files[p]
	return f.body, f.contentType, ok
}

// ETag returns the strong entity tag of the file served at p, or "" if p is
// not served. A server without net/http can use it to answer If-None-Match.
func (d *Docs) ETag(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return d.files[p].etag
}

// Handler returns an http.Handler serving /openapi.json, /docs and /docs/*
// from the binary. It is the same as New().
func Handler() http.Handler {
	return New()
}

// ServeHTTP answers GET and HEAD for the paths listed in the package comment,
// with ETag and conditional requests. Any other path gets 404 and any other
// method 405 with an Allow header, both with a JSON {"detail": ...} body as
// the rest of the API.
func (d *Docs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, ok := d.files[r.URL.Path]
	if !ok {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("ETag", f.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	// The page and the document change with the binary: revalidate (cheap,
	// thanks to the ETag). Swagger UI's files change only with its version.
	if f.contentType == contentTypeHTML || f.contentType == contentTypeJSON {
		h.Set("Cache-Control", "no-cache")
	} else {
		h.Set("Cache-Control", "public, max-age=3600")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

// writeError writes {"detail": msg} with the given status. msg must not need
// JSON escaping.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", contentTypeJSON)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"detail":"` + msg + `"}`))
}
