// Package apidocs holds the service's OpenAPI 3.1 document and the Swagger UI
// page that renders it, both embedded in the binary so that no request leaves
// the machine.
//
// The net/http admin listener mounts [Handler]. The gnet API listener, which
// does not use net/http, answers the same paths with [Docs.Lookup] (or the
// package-level [Lookup]) and writes the returned bytes itself.
//
// Served paths:
//
//	/openapi.json                  the OpenAPI document (application/json)
//	/docs, /docs/, /docs/index.html the Swagger UI page (text/html)
//	/docs/<asset>                  style sheet, script, icons, licence texts
//
// Package apicheck (apidocs/apicheck) checks a reply (status, headers, body) against the document; the
// server's end-to-end tests use it on live replies.
//
// The Swagger UI files come unchanged from the npm package swagger-ui-dist; the
// version is in assets/VERSION, the licence in assets/LICENSE and assets/NOTICE.
// index.html and swagger-initializer.js are the project's own.
package apidocs
