package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/pricing-engine/pricing-engine/pricing"
)

// startAdmin binds the admin listener and serves it in the background.
func (s *Server) startAdmin() error {
	ln, err := net.Listen("tcp", s.cfg.AdminAddr)
	if err != nil {
		return fmt.Errorf("cannot listen on admin address %q: %w", s.cfg.AdminAddr, err)
	}
	s.adminLn = ln
	s.admin = &http.Server{
		Handler:           s.adminMux(),
		ReadHeaderTimeout: s.cfg.HeaderTimeout,
		ReadTimeout:       s.cfg.HeaderTimeout + s.cfg.BodyTimeout,
		WriteTimeout:      30 * time.Second, // pprof profiles run for seconds
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.Limits.MaxHeaderBytes,
	}
	s.adminDone = make(chan error, 1)
	go func() {
		err := s.admin.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.adminDone <- err
	}()
	return nil
}

func (s *Server) stopAdmin(ctx context.Context) {
	if s.admin == nil {
		return
	}
	if err := s.admin.Shutdown(ctx); err != nil {
		s.log.Warn("stopping admin listener", "err", err)
	}
	if err := <-s.adminDone; err != nil {
		s.log.Warn("admin listener", "err", err)
	}
	s.admin = nil
}

// adminMux routes the admin listener. It also answers POST /api/v1/price so
// that Swagger UI's "Try it out", served from this port, works.
func (s *Server) adminMux() http.Handler {
	mux := http.NewServeMux()
	observe := func(endpoint string, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
			h.ServeHTTP(sw, r)
			s.metrics.Request(methodLabel([]byte(r.Method)), endpoint, sw.code).Observe(time.Since(start).Seconds())
		})
	}
	mux.Handle("GET /metrics", s.metricsHandler)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, bodyHealthy)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ok, why := s.readiness(); !ok {
			w.Header().Set("Retry-After", "1")
			writeText(w, http.StatusServiceUnavailable, why)
			return
		}
		if s.deps.ReadyDetail != nil {
			writeText(w, http.StatusOK, bodyReady+s.deps.ReadyDetail())
			return
		}
		writeText(w, http.StatusOK, bodyReady)
	})
	for pattern, h := range s.deps.Admin {
		mux.Handle(pattern, h)
	}
	if s.docs != nil {
		mux.Handle("GET /docs", s.docs)
		mux.Handle("GET /docs/", s.docs)
		mux.Handle("GET /openapi.json", s.docs)
	}
	if s.cfg.Pprof {
		mountPprof(mux)
	}
	mux.Handle("POST /api/v1/price", observe(endpointPrice, http.HandlerFunc(s.adminPrice)))
	mux.Handle("/api/v1/price", observe(endpointPrice, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", "POST")
		writeJSON(w, http.StatusMethodNotAllowed, appendDetailBody(nil, "Method Not Allowed"))
	})))
	mux.Handle("POST /api/v1/prices", observe(endpointPrices, http.HandlerFunc(s.adminPrices)))
	mux.Handle("/api/v1/prices", observe(endpointPrices, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", "POST")
		writeJSON(w, http.StatusMethodNotAllowed, appendDetailBody(nil, "Method Not Allowed"))
	})))
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, appendDetailBody(nil, "Not Found"))
	})
	return mux
}

// decoderPool pools pricing decoders for the admin listener's goroutines.
type decoderPool struct{ p sync.Pool }

func (d *decoderPool) get() *pricing.Decoder {
	if v := d.p.Get(); v != nil {
		return v.(*pricing.Decoder)
	}
	return new(pricing.Decoder)
}

func (d *decoderPool) put(dec *pricing.Decoder) { d.p.Put(dec) }

// adminPrice is the net/http twin of the event-loop price route.
func (s *Server) adminPrice(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readAdminJSON(w, r)
	if !ok {
		return
	}
	dec := s.decoders.get()
	defer s.decoders.put(dec)
	// The same price path as the event loops: this goroutine waits for
	// the lookups (through its own Batcher) instead of registering a
	// completion.
	var x pricing.Exchange
	s.engine.ServeWait(&x, dec, body)
	if x.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(x.RetryAfter))
	}
	writeJSON(w, x.Status, x.Body)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", contentJSON)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", contentText)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// statusWriter remembers the status code a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// readAdminJSON reads the JSON body of an admin-port POST, bounded by the
// body limit. When the Content-Type is not JSON (415), the body is too
// large (413) or cannot be read (400), it writes that error reply and
// returns false.
func (s *Server) readAdminJSON(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if !isJSONContentType([]byte(r.Header.Get("Content-Type"))) {
		writeJSON(w, http.StatusUnsupportedMediaType, appendDetailBody(nil, "unsupported Content-Type: expected application/json"))
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.Limits.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeJSON(w, http.StatusRequestEntityTooLarge, appendDetailBody(nil, "request body too large"))
			return nil, false
		}
		writeJSON(w, http.StatusBadRequest, appendDetailBody(nil, "cannot read request body"))
		return nil, false
	}
	return body, true
}
