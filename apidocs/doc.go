// Package apidocs holds the service's OpenAPI 3.1 document and the Swagger UI
// page that renders it, both embedded in the binary so that no request leaves
// the machine.
//
// A server builds one [Docs] with [New] at start and serves both of its
// listeners from it: the net/http admin listener mounts it as an
// [http.Handler]; the gnet API listener, which does not use net/http, takes
// the shared bytes and headers of [Docs.File] and writes them itself. The files
// are read once; a request allocates nothing and reads no file; every reply carries an ETag and
// Cache-Control, and an If-None-Match naming the ETag is answered 304.
//
// Served paths:
//
//	/openapi.json                  the OpenAPI document (application/json)
//	/admin/openapi.json            the admin API's document (admin listener only)
//	/docs, /docs/, /docs/index.html the Swagger UI page (text/html)
//	/docs/<asset>                  style sheet, script, icons, licence texts
//
// Package apicheck (apidocs/apicheck) checks a reply (status, headers, body) against the document
// (or the admin API's: [apicheck.NewAdminValidator]); the server's end-to-end tests use it on live
// replies.
//
// The Swagger UI files come unchanged from the npm package swagger-ui-dist; the
// version is in assets/VERSION, the licence in assets/LICENSE and assets/NOTICE.
// index.html and swagger-initializer.js are the project's own.
package apidocs
