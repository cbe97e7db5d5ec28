package trace

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// The OTLP/HTTP transport (https://opentelemetry.io/docs/specs/otlp/#otlphttp):
// one POST of a protobuf ExportTraceServiceRequest per batch, retried on
// the statuses the specification calls retryable, configured by the
// OTEL_EXPORTER_OTLP_* variables of the exporter specification
// (https://opentelemetry.io/docs/specs/otel/protocol/exporter/).

// Bounds of one export's retries and of the reply read.
const (
	retryFirst    = 100 * time.Millisecond
	retryMax      = time.Second
	maxReplyBytes = 64 << 10
	userAgent     = "pricing-engine-otlp/1"
)

// exportEnv is the OTLP exporter configuration the environment gives. The
// traces-specific variable wins over the generic one.
type exportEnv struct {
	endpoint string // the traces URL, "" when neither variable is set
	headers  http.Header
	timeout  time.Duration // 0: not set
	gzip     bool
	tls      *tls.Config // nil: the system roots, no client certificate
}

// readExportEnv reads the OTEL_EXPORTER_OTLP_* variables through getenv.
func readExportEnv(getenv func(string) string) (exportEnv, error) {
	var env exportEnv
	get := func(name string) (string, string) {
		if v := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_" + name)); v != "" {
			return v, "OTEL_EXPORTER_OTLP_TRACES_" + name
		}
		return strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_" + name)), "OTEL_EXPORTER_OTLP_" + name
	}
	// A traces endpoint is the URL itself; a generic one is a base URL
	// that gets v1/traces appended to its path.
	if v := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")); v != "" {
		env.endpoint = v
	} else if v := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT")); v != "" {
		env.endpoint = strings.TrimSuffix(v, "/") + tracesPath
	}
	if env.endpoint != "" {
		if u, err := url.Parse(env.endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return env, fmt.Errorf("cannot use OTLP endpoint %q from the environment: want http(s)://host:port[/path]", env.endpoint)
		}
	}
	if v, name := get("HEADERS"); v != "" {
		h, err := parseHeaders(v)
		if err != nil {
			return env, fmt.Errorf("cannot parse %s: %w", name, err)
		}
		env.headers = h
	}
	if v, name := get("TIMEOUT"); v != "" {
		ms, err := strconv.ParseUint(v, 10, 31)
		if err != nil || ms == 0 {
			return env, fmt.Errorf("cannot parse %s %q: want milliseconds > 0", name, v)
		}
		env.timeout = time.Duration(ms) * time.Millisecond
	}
	if v, name := get("COMPRESSION"); v != "" {
		switch v {
		case "gzip":
			env.gzip = true
		case "none":
		default:
			return env, fmt.Errorf("cannot use %s %q: want gzip or none", name, v)
		}
	}
	ca, caName := get("CERTIFICATE")
	cert, certName := get("CLIENT_CERTIFICATE")
	key, keyName := get("CLIENT_KEY")
	if ca != "" || cert != "" || key != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if ca != "" {
			pem, err := os.ReadFile(ca)
			if err != nil {
				return env, fmt.Errorf("cannot read %s: %w", caName, err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return env, fmt.Errorf("cannot use %s %q: no PEM certificate in it", caName, ca)
			}
		}
		if (cert == "") != (key == "") {
			return env, fmt.Errorf("cannot use a client certificate: set both %s and %s", certName, keyName)
		}
		if cert != "" {
			c, err := tls.LoadX509KeyPair(cert, key)
			if err != nil {
				return env, fmt.Errorf("cannot load the client certificate %s/%s: %w", certName, keyName, err)
			}
			cfg.Certificates = []tls.Certificate{c}
		}
		env.tls = cfg
	}
	return env, nil
}

// parseHeaders parses "key1=value1,key2=value2" with percent-encoded
// values (the W3C Baggage format the exporter specification names).
func parseHeaders(s string) (http.Header, error) {
	h := http.Header{}
	for item := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(item) == "" {
			continue
		}
		k, v, ok := strings.Cut(item, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("want key=value, got %q", item)
		}
		dv, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("cannot decode the value of %q: %w", k, err)
		}
		h.Add(k, dv)
	}
	return h, nil
}

// sender posts export requests. It belongs to the exporter goroutine.
type sender struct {
	url     string
	client  *http.Client
	own     bool // client made here: Close closes its idle connections
	headers http.Header
	gzip    bool
	zbuf    bytes.Buffer
	zw      *gzip.Writer
	body    bytes.Reader
}

func newSender(endpoint string, env exportEnv, client *http.Client) *sender {
	s := &sender{url: endpoint, client: client, headers: env.headers, gzip: env.gzip}
	if s.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if env.tls != nil {
			tr.TLSClientConfig = env.tls
		}
		s.client, s.own = &http.Client{Transport: tr}, true
	}
	if s.gzip {
		s.zw = gzip.NewWriter(&s.zbuf)
	}
	return s
}

// close releases the sender's idle connections.
func (s *sender) close() {
	if s.own {
		s.client.CloseIdleConnections()
	}
}

// retryableError is a failure worth another attempt; after, when not
// zero, is the collector's Retry-After.
type retryableError struct {
	err   error
	after time.Duration
}

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

// send posts body, retrying a retryable failure with backoff (or the
// collector's Retry-After) until ctx ends.
func (s *sender) send(ctx context.Context, body []byte) error {
	if s.gzip {
		s.zbuf.Reset()
		s.zw.Reset(&s.zbuf)
		if _, err := s.zw.Write(body); err != nil {
			return fmt.Errorf("cannot compress spans: %w", err)
		}
		if err := s.zw.Close(); err != nil {
			return fmt.Errorf("cannot compress spans: %w", err)
		}
		body = s.zbuf.Bytes()
	}
	wait := retryFirst
	for {
		err := s.post(ctx, body)
		var re *retryableError
		if err == nil || !errors.As(err, &re) {
			return err
		}
		d := wait
		if re.after > 0 {
			d = re.after
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
			return err
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, retryMax)
	}
}

// post makes one attempt.
func (s *sender) post(ctx context.Context, body []byte) error {
	s.body.Reset(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, &s.body)
	if err != nil {
		return fmt.Errorf("cannot make export request: %w", err)
	}
	req.ContentLength = int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	for k, vs := range s.headers {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", userAgent)
	if s.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		// The specification retries transient network failures too.
		return &retryableError{err: fmt.Errorf("cannot post spans to %s: %w", s.url, err)}
	}
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
	_ = resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("cannot export spans: collector answered %s: %q", resp.Status, truncateReply(reply))
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		re := &retryableError{err: err}
		if secs, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && secs > 0 {
			re.after = time.Duration(secs) * time.Second
		}
		return re
	}
	return err
}

func truncateReply(b []byte) []byte {
	const max = 200
	if len(b) > max {
		return b[:max]
	}
	return b
}
