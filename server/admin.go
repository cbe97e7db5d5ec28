package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pricing-engine/pricing-engine/apidocs"
	"github.com/pricing-engine/pricing-engine/pricer"
)

// startAdmin binds the admin listener and serves it in the background.
func (s *Server) startAdmin() error {
	ln, err := net.Listen("tcp", s.cfg.AdminAddr)
	if err != nil {
		return fmt.Errorf("cannot listen on admin address %q: %w", s.cfg.AdminAddr, err)
	}
	s.adminLn = ln
	ln = newLimitListener(ln, adminMaxConns())
	s.admin = &http.Server{
		Handler:           s.recoverAdmin(s.adminRoot()),
		ReadHeaderTimeout: s.cfg.HeaderTimeout,
		ReadTimeout:       s.cfg.HeaderTimeout + s.cfg.BodyTimeout,
		WriteTimeout:      30 * time.Second, // pprof profiles run for seconds
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.Limits.MaxHeaderBytes,
		// net/http's own reports (a failed TLS handshake, an accept
		// error) go to the service's log, in its format.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelInfo),
	}
	if s.deps.AdminTLS != nil {
		// ServeTLS with no files: the certificate comes from the
		// configuration (GetCertificate), which may rotate it.
		s.admin.TLSConfig = s.deps.AdminTLS.Clone()
	}
	s.adminDone = make(chan error, 1)
	go func() {
		var err error
		if s.admin.TLSConfig != nil {
			err = s.admin.ServeTLS(ln, "", "")
		} else {
			err = s.admin.Serve(ln)
		}
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

// adminRoot sends /admin/ paths to Deps.AdminAPI and the rest to the
// route table.
func (s *Server) adminRoot() http.Handler {
	mux := s.adminMux()
	api := s.deps.AdminAPI
	if api == nil {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The admin API's OpenAPI document is open, like /openapi.json.
		if r.URL.Path != apidocs.AdminOpenAPIPath && (strings.HasPrefix(r.URL.Path, "/admin/") || strings.HasPrefix(r.URL.EscapedPath(), "/admin/")) {
			api.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// adminMux routes the admin listener: every row of the route table (the
// same paths, methods, 405s and endpoint labels as the event loops; the
// price routes let Swagger UI's "Try it out", served from this port, work),
// then the admin-only routes: Deps.Admin and, with Config.Pprof, pprof.
func (s *Server) adminMux() http.Handler {
	mux := http.NewServeMux()
	for r := routeUnknown + 1; r < routeCount; r++ {
		h := s.adminRoute(r)
		mux.Handle(routes[r].path, h)
		if routes[r].subtree {
			mux.Handle(routes[r].path+"/", h)
		}
	}
	for pattern, h := range s.deps.Admin {
		mux.Handle(pattern, h)
	}
	if s.docs != nil {
		mux.Handle(apidocs.AdminOpenAPIPath, s.docs) // GET and HEAD; 405 otherwise
	}
	if s.cfg.Pprof {
		mountPprof(mux)
	}
	mux.Handle("/", s.adminRoute(routeUnknown))
	return mux
}

// adminRoute is the admin listener's handler of one route: the method
// check of the table, then the handler of its kind. Requests of the price
// kinds are counted in the request metrics, as on the event loops.
func (s *Server) adminRoute(r route) http.Handler {
	spec := &routes[r]
	var h http.Handler
	switch spec.kind {
	case kindPrice:
		h = s.adminExchange(s.engine.Price)
	case kindPrices:
		h = s.adminExchange(s.engine.PriceBatch)
	case kindVerify:
		h = s.adminExchange(s.engine.VerifyQuote)
	case kindMetrics:
		h = s.metricsHandler
	case kindHealthz:
		h = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeText(w, http.StatusOK, bodyHealthy)
		})
	case kindReadyz:
		h = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			status, retryAfter, body := s.readyz(nil)
			if retryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
			}
			writeText(w, status, string(body))
		})
	case kindDocs:
		if s.docs != nil {
			h = s.docs
		}
	}
	if h == nil { // kindNotFound, or no docs
		h = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeCanned(w, cannedNotFound)
		})
	}
	if spec.allow != "" {
		h = checkMethod(r, h)
	}
	if spec.kind.priced() {
		h = s.observeAdmin(spec.endpoint, h)
	}
	return h
}

// checkMethod answers a method that route r does not accept 405, with the
// Allow header of the table, before h sees the request.
func checkMethod(r route, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !r.allows(req.Method) {
			w.Header().Set("Allow", r.allow())
			writeCanned(w, cannedMethodNotAllowed)
			return
		}
		h.ServeHTTP(w, req)
	})
}

// observeAdmin records the duration of h's requests in the request
// metrics under endpoint.
func (s *Server) observeAdmin(endpoint string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		s.metrics.Request(methodLabel([]byte(r.Method)), endpoint, sw.code).Observe(time.Since(start).Seconds())
	})
}

// adminExchange is the net/http twin of an event-loop route answered by
// the pricing engine (price, batch, quote verification): serve is the
// engine's method for it. The price path is the event loops' own; this
// goroutine waits for the lookups instead of registering a completion.
func (s *Server) adminExchange(serve func(x pricer.Exchange, body []byte)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := s.readAdminJSON(w, r)
		if !ok {
			return
		}
		x := s.engine.NewExchange(nil)
		serve(x, body)
		writeExchange(w, x.Result())
	})
}

// writeExchange writes the reply of a priced Exchange.
func writeExchange(w http.ResponseWriter, x *pricer.Reply) {
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
		writeCanned(w, cannedUnsupportedMedia)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.Limits.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeCanned(w, cannedBodyTooLarge)
			return nil, false
		}
		writeCanned(w, cannedBodyUnreadable)
		return nil, false
	}
	return body, true
}

// adminMaxConns bounds the admin listener's open connections: its share
// of the descriptor headroom (fdlimit.go), at least 16.
func adminMaxConns() int {
	soft, _, err := FDLimit()
	if err != nil {
		return 64
	}
	return max(fdShare(soft), 16)
}

// limitListener accepts at most n connections at a time: past that,
// Accept waits until one closes, and the next clients wait in the
// kernel's accept queue. The admin listener's descriptors are then
// bounded, which the event loops' own accept relies on (loopaccept.go).
type limitListener struct {
	net.Listener
	slots     chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n), done: make(chan struct{})}
}

// Accept waits for a free slot, then accepts.
func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
}

// Close closes the listener and wakes an Accept waiting for a slot.
func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitConn gives its slot back once, at the first Close.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
