package apidocs

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"path"
	"time"
)

// content is the embedded document and Swagger UI assets. embed.FS is
// read-only.
//
//go:embed openapi.json admin-openapi.json assets
var content embed.FS

// Route paths served by this package.
const (
	// OpenAPIPath is where the OpenAPI document is served.
	OpenAPIPath = "/openapi.json"
	// AdminOpenAPIPath is where the admin API's OpenAPI document is served
	// (on the admin listener).
	AdminOpenAPIPath = "/admin/openapi.json"
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

// OpenAPI returns the OpenAPI 3.1 document served at /openapi.json. The
// caller owns the returned slice.
func OpenAPI() []byte {
	body, err := content.ReadFile("openapi.json")
	if err != nil {
		panic("apidocs: openapi.json is not embedded: " + err.Error())
	}
	return body
}

// AdminOpenAPI returns the OpenAPI 3.1 document of the admin API (package
// admin, /admin/v1/ and /console on the admin listener), served at
// /admin/openapi.json. The caller owns the returned slice.
func AdminOpenAPI() []byte {
	body, err := content.ReadFile("admin-openapi.json")
	if err != nil {
		panic("apidocs: admin-openapi.json is not embedded: " + err.Error())
	}
	return body
}

// File is one served file and the headers that describe it. [New] builds
// every File once; they are never modified afterwards, and Body is shared by
// every caller: read it (or hand it to a writer that only reads it), never
// change it.
type File struct {
	Body        []byte
	ContentType string
	// ETag is the strong entity tag of Body, quoted: "<16 hex digits>".
	ETag string
	// CacheControl: the page and the document change with the binary, so
	// clients revalidate them ("no-cache", cheap thanks to the ETag);
	// Swagger UI's assets change only with its version and may be reused
	// for an hour.
	CacheControl string
}

// NotModified reports whether an If-None-Match field value names f's
// entity tag, so that a GET or HEAD may be answered 304 without a body:
// "*", or a comma-separated list with a member equal to ETag under the
// weak comparison of RFC 9110 section 8.8.3.2 (a W/ prefix is ignored).
func (f *File) NotModified(ifNoneMatch []byte) bool {
	for len(ifNoneMatch) > 0 {
		var member []byte
		if i := bytes.IndexByte(ifNoneMatch, ','); i >= 0 {
			member, ifNoneMatch = ifNoneMatch[:i], ifNoneMatch[i+1:]
		} else {
			member, ifNoneMatch = ifNoneMatch, nil
		}
		member = bytes.TrimSpace(member)
		member = bytes.TrimPrefix(member, []byte("W/"))
		if string(member) == "*" || string(member) == f.ETag {
			return true
		}
	}
	return false
}

// Docs serves the OpenAPI document and the Swagger UI page from memory. Build
// it once with [New]; it is immutable afterwards and safe for concurrent use.
// It is an [http.Handler] for net/http listeners; a server without net/http
// answers with [Docs.File].
type Docs struct {
	files map[string]*File // by request path
}

// New reads every embedded file once and returns a [Docs] that answers
// without further reading or copying.
func New() *Docs {
	d := &Docs{files: make(map[string]*File)}
	entries, err := content.ReadDir("assets")
	if err != nil {
		panic("apidocs: assets are not embedded: " + err.Error())
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		paths := []string{DocsPath + "/" + e.Name()}
		if e.Name() == "index.html" {
			paths = append(paths, DocsPath, DocsPath+"/")
		}
		d.add("assets/"+e.Name(), paths...)
	}
	d.add("openapi.json", OpenAPIPath)
	d.add("admin-openapi.json", AdminOpenAPIPath)
	return d
}

// add reads the embedded file name once and serves it at paths.
func (d *Docs) add(name string, paths ...string) {
	body, err := content.ReadFile(name)
	if err != nil {
		panic("apidocs: " + name + " is not embedded: " + err.Error())
	}
	sum := sha256.Sum256(body)
	f := &File{
		Body:         body,
		ContentType:  contentType(name),
		ETag:         `"` + hex.EncodeToString(sum[:8]) + `"`,
		CacheControl: "public, max-age=3600",
	}
	if f.ContentType == contentTypeHTML || f.ContentType == contentTypeJSON {
		f.CacheControl = "no-cache"
	}
	for _, p := range paths {
		d.files[p] = f
	}
}

// contentType is the Content-Type of an embedded file, by its extension.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".json":
		return contentTypeJSON
	case ".css":
		return contentTypeCSS
	case ".js":
		return contentTypeJS
	case ".png":
		return contentTypePNG
	case ".html":
		return contentTypeHTML
	}
	return contentTypeText // LICENSE, NOTICE, VERSION, *.txt
}

// File returns the file served at the request path p (without the query:
// "/openapi.json", "/docs", "/docs/swagger-ui.css"); ok is false for any
// other path, which the caller answers 404. It neither allocates nor copies.
func (d *Docs) File(p []byte) (f *File, ok bool) {
	f, ok = d.files[string(p)] // no allocation: the compiler indexes with the bytes
	return f, ok
}

// ServeHTTP answers GET and HEAD for the paths listed in the package comment,
// with ETag, Cache-Control and conditional requests (304). Any other path
// gets 404 and any other method 405 with an Allow header, both with a JSON
// {"detail": ...} body as the rest of the API.
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
	h.Set("Content-Type", f.ContentType)
	h.Set("ETag", f.ETag)
	h.Set("Cache-Control", f.CacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.Body))
}

// writeError writes {"detail": msg} with the given status. msg must not need
// JSON escaping.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", contentTypeJSON)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"detail":"` + msg + `"}`))
}
