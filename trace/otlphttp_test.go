package trace

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestReadExportEnv(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    exportEnv
		wantErr string
	}{
		{name: "none"},
		{name: "base endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"},
			want: exportEnv{endpoint: "http://c:4318/v1/traces"}},
		{name: "base endpoint with a path", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://c/otlp/"},
			want: exportEnv{endpoint: "https://c/otlp/v1/traces"}},
		{name: "traces endpoint as given", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318",
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:9/x"}, want: exportEnv{endpoint: "http://b:9/x"}},
		{name: "timeout and compression", env: map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
			"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "gzip", "OTEL_EXPORTER_OTLP_COMPRESSION": "none"},
			want: exportEnv{timeout: 2500 * time.Millisecond, gzip: true}},
		{name: "bad endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "c:4318"}, wantErr: "cannot use OTLP endpoint"},
		{name: "bad timeout", env: map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "1s"}, wantErr: "OTEL_EXPORTER_OTLP_TIMEOUT"},
		{name: "bad compression", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "zstd"}, wantErr: "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"},
		{name: "bad headers", env: map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "novalue"}, wantErr: "OTEL_EXPORTER_OTLP_HEADERS"},
		{name: "missing certificate", env: map[string]string{"OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent/ca.pem"}, wantErr: "cannot read OTEL_EXPORTER_OTLP_CERTIFICATE"},
		{name: "half a client pair", env: map[string]string{"OTEL_EXPORTER_OTLP_CLIENT_KEY": "/k.pem"}, wantErr: "set both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readExportEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.endpoint != tc.want.endpoint || got.timeout != tc.want.timeout || got.gzip != tc.want.gzip {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseHeaders(t *testing.T) {
	h, err := parseHeaders("api-key=s%20cret, X-Tenant = a=b ,,x-tenant=c")
	if err != nil {
		t.Fatal(err)
	}
	if h.Get("Api-Key") != "s cret" || strings.Join(h.Values("X-Tenant"), "|") != "a=b|c" {
		t.Fatalf("headers %v", h)
	}
	for _, bad := range []string{"=v", "k", "k=%zz"} {
		if _, err := parseHeaders(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestSenderRetries: 503 (with Retry-After 0) and 429 are retried until
// the collector accepts; a 400 is not; headers from the environment and
// gzip reach the collector.
func TestSenderRetries(t *testing.T) {
	var calls atomic.Int32
	var status atomic.Int32
	status.Store(503)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, "not gzip", 400)
			return
		}
		body, _ := io.ReadAll(zr)
		if string(body) != "payload" || r.Header.Get("Api-Key") != "k" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "bad request", 400)
			return
		}
		if s := int(status.Load()); s != 200 && n < 3 {
			w.WriteHeader(s)
			return
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	env := exportEnv{gzip: true, headers: http.Header{"Api-Key": {"k"}}}
	s := newSender(srv.URL, env, nil)
	defer s.close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, st := range []int32{503, 429} {
		calls.Store(0)
		status.Store(st)
		if err := s.send(ctx, []byte("payload")); err != nil {
			t.Fatalf("%d: %v", st, err)
		}
		if n := calls.Load(); n != 3 {
			t.Fatalf("%d: %d attempts, want 3", st, n)
		}
	}
	calls.Store(0)
	status.Store(400)
	if err := s.send(ctx, []byte("other")); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("a 400 gave %v", err)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("a 400 was tried %d times", n)
	}
}

// FuzzParseHeaders: any OTEL_EXPORTER_OTLP_HEADERS value is parsed or
// refused with an error, never a panic; what parses has non-empty keys.
func FuzzParseHeaders(f *testing.F) {
	for _, s := range []string{"api-key=secret", "a=1,b=2", "k=%20v", "=", ",,", "k=%zz", "k==v", " a = b "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parseHeaders(s)
		if err != nil {
			return
		}
		for k := range h {
			if k == "" {
				t.Fatalf("%q gave an empty header name", s)
			}
		}
	})
}
