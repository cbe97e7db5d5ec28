// Package apicheck checks replies against the service's OpenAPI document
// (package apidocs) with kin-openapi. It is kept apart from apidocs so that
// the server binary, which embeds the document, does not link the validator;
// tests use it on live replies.
package apicheck

import (
	"context"
	"errors"
	"fmt"
	"github.com/pricing-engine/pricing-engine/apidocs"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// anyRouteResponses names, by status, the components.responses entries that
// any route may answer with although its operation does not list them: the
// server's connection layer sends these before it knows the route.
var anyRouteResponses = map[int]string{
	http.StatusBadRequest:                  "MalformedRequest",
	http.StatusRequestHeaderFieldsTooLarge: "HeaderFieldsTooLarge",
	http.StatusServiceUnavailable:          "Overloaded",
}

// LoadDocument parses the embedded OpenAPI document and validates it against
// the OpenAPI 3.1 rules, examples included.
func LoadDocument(ctx context.Context) (*openapi3.T, error) {
	return loadDocument(ctx, "openapi.json", apidocs.OpenAPI())
}

// LoadAdminDocument is [LoadDocument] for the admin API's document
// (/admin/openapi.json).
func LoadAdminDocument(ctx context.Context) (*openapi3.T, error) {
	return loadDocument(ctx, "admin-openapi.json", apidocs.AdminOpenAPI())
}

func loadDocument(ctx context.Context, name string, data []byte) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("cannot load %s: %w", name, err)
	}
	if err := doc.Validate(ctx, openapi3.EnableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("cannot validate %s: %w", name, err)
	}
	return doc, nil
}

// Validator checks replies against an embedded OpenAPI document. Build it
// with [NewValidator] or [NewAdminValidator]; it is safe for concurrent use.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
}

// NewValidator loads and validates the embedded document and prepares its
// routes.
func NewValidator() (*Validator, error) {
	doc, err := LoadDocument(context.Background())
	if err != nil {
		return nil, err
	}
	return newValidator(doc)
}

// NewAdminValidator is [NewValidator] for the admin API's document: it
// checks replies of /admin/v1/, /admin/openapi.json and /console.
func NewAdminValidator() (*Validator, error) {
	doc, err := LoadAdminDocument(context.Background())
	if err != nil {
		return nil, err
	}
	return newValidator(doc)
}

func newValidator(doc *openapi3.T) (*Validator, error) {
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("cannot build router from %s: %w", doc.Info.Title, err)
	}
	return &Validator{doc: doc, router: router}, nil
}

// ValidateResponse reports whether a reply to method and target (a path,
// optionally with a query) is one the document allows: the status must be
// documented for the route, required headers (Retry-After, Allow) present and
// well formed, the Content-Type one of the documented media types, and a JSON
// or text/plain body must match its schema. Bodies of other media types (HTML,
// CSS, scripts, images, OpenMetrics, protobuf) are checked by media type only.
//
// Undocumented paths must answer 404 and known paths with an undocumented
// method 405, both in the shape of components.responses. A 400 (malformed
// HTTP), 431 or 503 (overloaded) reply is accepted from any route in the shape
// of the matching components.responses entry.
//
// HEAD replies are not checked.
func (v *Validator) ValidateResponse(method, target string, status int, header http.Header, body []byte) error {
	req := httptest.NewRequest(method, target, nil)
	route, params, err := v.router.FindRoute(req)
	switch {
	case isRouteError(err, routers.ErrPathNotFound):
		route, err = v.syntheticRoute(method, target, status, "NotFound", http.StatusNotFound)
	case isRouteError(err, routers.ErrMethodNotAllowed):
		route, err = v.syntheticRoute(method, target, status, "MethodNotAllowed", http.StatusMethodNotAllowed)
	case err != nil:
		err = fmt.Errorf("cannot find route for %s %q: %w", method, target, err)
	case route.Operation.Responses.Status(status) == nil:
		if name, ok := anyRouteResponses[status]; ok {
			route, err = v.syntheticRoute(method, target, status, name, status)
		}
	}
	if err != nil {
		return err
	}
	if header == nil {
		header = http.Header{}
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	if ref := route.Operation.Responses.Status(status); ref != nil && ref.Value != nil && !bodyChecked(header.Get("Content-Type")) {
		// kin-openapi decodes only some media types; for the others check
		// that the type is documented and leave the body alone.
		opts.ExcludeResponseBody = true
		if content := ref.Value.Content; len(content) > 0 {
			ct := header.Get("Content-Type")
			if ct == "" || content.Get(ct) == nil {
				return fmt.Errorf("%s %s: status %d: Content-Type %q is not documented", method, target, status, ct)
			}
		}
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    req,
			PathParams: params,
			Route:      route,
		},
		Status:  status,
		Header:  header,
		Options: opts,
	}
	input.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		return fmt.Errorf("%s %s: status %d: %w", method, target, status, err)
	}
	return nil
}

// isRouteError reports whether err is a *routers.RouteError with the reason
// of sentinel. The routers build new values, so errors.Is does not match.
func isRouteError(err, sentinel error) bool {
	var re *routers.RouteError
	return errors.As(err, &re) && re.Reason == sentinel.Error()
}

// syntheticRoute returns a route whose only documented reply is the
// components.responses entry name under status want. It fails if the reply's
// status is not want.
func (v *Validator) syntheticRoute(method, target string, status int, name string, want int) (*routers.Route, error) {
	if status != want {
		return nil, fmt.Errorf("%s %s: status %d: want %d (%s)", method, target, status, want, name)
	}
	ref := v.doc.Components.Responses[name]
	if ref == nil {
		return nil, fmt.Errorf("%s: the document has no components.responses.%s", v.doc.Info.Title, name)
	}
	responses := openapi3.NewResponses()
	responses.Delete("default")
	responses.Set(strconv.Itoa(want), ref)
	return &routers.Route{
		Spec:      v.doc,
		Path:      target,
		Method:    method,
		Operation: &openapi3.Operation{Responses: responses},
	}, nil
}

// bodyChecked reports whether kin-openapi can decode a body of this media
// type, so that ValidateResponse checks it against its schema.
func bodyChecked(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return true // let kin-openapi report the bad Content-Type
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "text/plain"
}

// ValidateResponse is [Validator.ValidateResponse] on a validator built for
// this call. It loads the document every time; tests that check many replies
// should build one [Validator].
func ValidateResponse(method, target string, status int, header http.Header, body []byte) error {
	v, err := NewValidator()
	if err != nil {
		return err
	}
	return v.ValidateResponse(method, target, status, header, body)
}
