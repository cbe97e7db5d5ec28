package admin

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/redistest"
	"github.com/pricing-engine/pricing-engine/internal/testfile"
)

// certFiles are the paths a Certificate serves from, and how a test puts
// another pair there.
type certFiles struct {
	t         *testing.T
	cert, key string
}

func newCertFiles(t *testing.T, from *redistest.Certs) *certFiles {
	f := &certFiles{t: t, cert: filepath.Join(t.TempDir(), "admin.pem"), key: filepath.Join(t.TempDir(), "admin-key.pem")}
	f.put(from.ServerCert, from.ServerKey)
	return f
}

// put replaces the served pair as a rotation tool does: each file written
// aside, then renamed over the old one.
func (f *certFiles) put(certSrc, keySrc string) {
	f.t.Helper()
	if certSrc != "" {
		copyFile(f.t, certSrc, f.cert)
	}
	if keySrc != "" {
		copyFile(f.t, keySrc, f.key)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	testfile.Replace(t, dst, string(b))
}

// reloads records what a Certificate reported.
type reloads struct {
	mu   sync.Mutex
	errs []error // nil entries: a reload that succeeded
}

func (r *reloads) record(_ *x509.Certificate, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

func (r *reloads) list() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

// serveTLS serves an OK handler over TLS with c and returns its address.
func serveTLS(t *testing.T, c *Certificate) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }),
		TLSConfig:         c.TLSConfig(),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // handshakes the tests expect to fail
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeTLS(ln, "", "")
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return ln.Addr().String()
}

// served is the error of a handshake with the server at addr by a client
// trusting only the CA of want (nil: it verified the certificate).
func served(t *testing.T, addr string, want *redistest.Certs) error {
	t.Helper()
	cfg, err := want.ClientConfig(false)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	return conn.Close()
}

func TestCertificateRotation(t *testing.T) {
	a, b := redistest.NewCerts(t), redistest.NewCerts(t)
	files := newCertFiles(t, a)
	var rep reloads
	// A nanosecond interval: every handshake looks at the files.
	c, err := LoadCertificate(files.cert, files.key, CertificateOptions{Interval: time.Nanosecond, OnReload: rep.record})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, c)
	leafA := c.Leaf()

	if err := served(t, addr, a); err != nil {
		t.Fatalf("client trusting the first CA: %v", err)
	}
	if err := served(t, addr, b); err == nil {
		t.Fatal("client trusting only the second CA verified the first certificate")
	}

	// Half a rotation: the new certificate beside the old key. The
	// handshake keeps the old pair and the reload reports why.
	files.put(b.ServerCert, "")
	if err := served(t, addr, a); err != nil {
		t.Fatalf("after a mismatched pair, the old certificate should stay in use: %v", err)
	}
	if errs := rep.list(); len(errs) != 1 || errs[0] == nil || !strings.Contains(errs[0].Error(), "private key does not match") {
		t.Fatalf("reloads %v, want one refusal naming the mismatch", errs)
	}
	if c.Leaf() != leafA {
		t.Fatal("Leaf changed after a refused reload")
	}

	// The rotation completes: the next handshake serves the new pair,
	// which a client trusting only the new CA verifies.
	files.put("", b.ServerKey)
	if err := served(t, addr, b); err != nil {
		t.Fatalf("client trusting the new CA after the rotation: %v", err)
	}
	if err := served(t, addr, a); err == nil {
		t.Fatal("client trusting only the old CA still verifies after the rotation")
	}
	if errs := rep.list(); len(errs) != 2 || errs[1] != nil {
		t.Fatalf("reloads %v, want a refusal then a success", errs)
	}

	// A vanished key file is reported once and changes nothing.
	if err := os.Remove(files.key); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := served(t, addr, b); err != nil {
			t.Fatalf("with the key file gone, the loaded pair should stay in use: %v", err)
		}
	}
	if errs := rep.list(); len(errs) != 3 || !errors.Is(errs[2], os.ErrNotExist) {
		t.Fatalf("reloads %v, want one report of the missing file", errs)
	}
	// The certificate changes while the key is still missing: one more
	// report, not one per handshake.
	files.put(a.ServerCert, "")
	for range 3 {
		if err := served(t, addr, b); err != nil {
			t.Fatalf("with the key file gone, the loaded pair should stay in use: %v", err)
		}
	}
	if errs := rep.list(); len(errs) != 4 || !errors.Is(errs[3], os.ErrNotExist) {
		t.Fatalf("reloads %v, want one more report of the missing file", errs)
	}
	files.put(b.ServerCert, b.ServerKey)
	if err := served(t, addr, b); err != nil {
		t.Fatal(err)
	}
	if errs := rep.list(); len(errs) != 5 || errs[4] != nil {
		t.Fatalf("reloads %v, want a success once the files are back", errs)
	}
}

func TestCertificateCheckInterval(t *testing.T) {
	a, b := redistest.NewCerts(t), redistest.NewCerts(t)
	files := newCertFiles(t, a)
	var rep reloads
	// An hour between looks: only Reload (SIGHUP) picks up the change.
	c, err := LoadCertificate(files.cert, files.key, CertificateOptions{Interval: time.Hour, OnReload: rep.record})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, c)
	files.put(b.ServerCert, b.ServerKey)
	if err := served(t, addr, a); err != nil {
		t.Fatalf("within the interval the loaded certificate should stay: %v", err)
	}
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := served(t, addr, b); err != nil {
		t.Fatalf("after Reload: %v", err)
	}
	if err := c.Reload(); err != nil { // unchanged files: nothing to do
		t.Fatal(err)
	}
	if errs := rep.list(); len(errs) != 1 || errs[0] != nil {
		t.Fatalf("reloads %v, want exactly one success", errs)
	}
}

func TestLoadCertificateErrors(t *testing.T) {
	a, b := redistest.NewCerts(t), redistest.NewCerts(t)
	for _, tc := range []struct {
		name, cert, key, want string
	}{
		{"missing cert", filepath.Join(t.TempDir(), "none.pem"), a.ServerKey, "no such file"},
		{"missing key", a.ServerCert, filepath.Join(t.TempDir(), "none.pem"), "no such file"},
		{"mismatched pair", a.ServerCert, b.ServerKey, "private key does not match"},
		{"key as cert", a.ServerKey, a.ServerKey, "cannot load admin TLS certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadCertificate(tc.cert, tc.key, CertificateOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
