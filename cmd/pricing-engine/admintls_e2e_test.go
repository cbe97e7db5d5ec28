package main

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/redistest"
	"github.com/pricing-engine/pricing-engine/internal/testfile"
)

// HTTPS on the admin listener: the real binary with --admin-tls-*, a
// certificate made in the test, and a rotation without restart.

// rotationTimeout bounds the wait for a rotated certificate to be served
// (it is picked up within about a second).
const rotationTimeout = 10 * time.Second

// httpsClient trusts only the CA of certs.
func httpsClient(t *testing.T, certs *redistest.Certs) *http.Client {
	t.Helper()
	cfg, err := certs.ClientConfig(false)
	if err != nil {
		t.Fatal(err)
	}
	// A fresh connection per request, so each one shows the certificate
	// served now.
	tr := &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Timeout: httpTimeout, Transport: tr}
}

func getWith(c *http.Client, url, token string) (int, string, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// putPair copies a certificate and key over the served files (each
// written aside and renamed, as rotation tools do).
func putPair(t *testing.T, certSrc, keySrc, certDst, keyDst string) {
	t.Helper()
	for _, f := range [][2]string{{certSrc, certDst}, {keySrc, keyDst}} {
		b, err := os.ReadFile(f[0])
		if err != nil {
			t.Fatal(err)
		}
		testfile.Replace(t, f[1], string(b))
	}
}

func TestE2EAdminTLS(t *testing.T) {
	a, b := redistest.NewCerts(t), redistest.NewCerts(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "admin.pem"), filepath.Join(dir, "admin-key.pem")
	putPair(t, a.ServerCert, a.ServerKey, certFile, keyFile)
	tokens := filepath.Join(dir, "tokens")
	testfile.Replace(t, tokens, "ops write "+adminWriteToken+"\n")

	// The key file from its variable, the certificate from its flag.
	p := startServer(t, append([]string{"--admin-tokens-file", tokens, "--admin-tls-cert-file", certFile}, loopbackArgs...),
		"PRICING_ADMIN_TLS_KEY_FILE="+keyFile)
	if rec, ok := p.logRecord("serving"); !ok || rec["admin_tls"] != true {
		t.Errorf(`"serving" line %v, want admin_tls true`, rec)
	}
	oldCA, newCA := httpsClient(t, a), httpsClient(t, b)
	base := "https://" + p.admin

	if code, body, err := getWith(oldCA, base+"/healthz", ""); err != nil || code != 200 {
		t.Fatalf("https /healthz: %d %q %v", code, body, err)
	}
	if code, body, err := getWith(oldCA, base+"/admin/v1/products/P-7", adminWriteToken); err != nil || code != 200 || !strings.Contains(body, `"product_id":"P-7"`) {
		t.Fatalf("https admin GET: %d %q %v", code, body, err)
	}
	if _, _, err := getWith(newCA, base+"/healthz", ""); err == nil {
		t.Fatal("a client trusting only the next CA verified the first certificate")
	}
	if got, want := tlsMetric(t, oldCA, base, "pricing_admin_tls_cert_expiry_timestamp_seconds"), notAfter(t, a.ServerCert); got != want {
		t.Errorf("expiry metric %v, want the certificate's NotAfter %v", got, want)
	}
	// Plain HTTP on the admin port is refused; the API port stays plain.
	if code, _, err := getWith(p.client, "http://"+p.admin+"/healthz", ""); err == nil && code == 200 {
		t.Fatal("plain HTTP answered 200 on the TLS admin listener")
	}
	if code, _, body := p.do("POST", "http://"+p.api+"/api/v1/price", "application/json", `{"product_id":"P-7","user_location":"NY"}`); code != 200 {
		t.Fatalf("API port price: %d %s", code, body)
	}
	// The container health check speaks HTTPS with the same flags.
	if r := runBinary(t, []string{"healthcheck", "--admin-addr", p.admin, "--admin-tls-cert-file", certFile, "--admin-tls-key-file", keyFile}); r.code != 0 {
		t.Fatalf("healthcheck over TLS: exit %d\n%s", r.code, r.stderr)
	}
	if r := runBinary(t, []string{"healthcheck", "--admin-addr", p.admin}); r.code == 0 {
		t.Fatal("a plain-HTTP healthcheck passed against the TLS listener")
	}

	// Half a rotation (the new certificate, the old key) is refused and
	// logged; the old certificate keeps serving.
	putPair(t, b.ServerCert, a.ServerKey, certFile, keyFile)
	deadline := time.Now().Add(rotationTimeout)
	for !p.logged("admin TLS certificate reload refused") {
		if time.Now().After(deadline) {
			t.Fatal("no log of the refused reload")
		}
		if code, body, err := getWith(oldCA, base+"/healthz", ""); err != nil || code != 200 {
			t.Fatalf("during a half-written rotation the old certificate must serve: %d %q %v", code, body, err)
		}
		time.Sleep(50 * time.Millisecond) // poll pacing, not synchronisation
	}

	// The rotation completes: without a restart, a client trusting only
	// the new CA gets through, one trusting only the old CA no longer.
	putPair(t, b.ServerCert, b.ServerKey, certFile, keyFile)
	for {
		code, _, err := getWith(newCA, base+"/admin/v1/products/P-7", adminWriteToken)
		if err == nil && code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new certificate was not served within %s: %d %v", rotationTimeout, code, err)
		}
		time.Sleep(50 * time.Millisecond) // poll pacing, not synchronisation
	}
	if _, _, err := getWith(oldCA, base+"/healthz", ""); err == nil {
		t.Fatal("the old certificate is still served after the rotation")
	}
	if !p.logged("admin TLS certificate reloaded") {
		t.Error("no log of the reload")
	}
	// The metrics follow: the expiry of the certificate in use, and the
	// one refused reload.
	if got, want := tlsMetric(t, newCA, base, "pricing_admin_tls_cert_expiry_timestamp_seconds"), notAfter(t, b.ServerCert); got != want {
		t.Errorf("expiry metric %v, want the new certificate's NotAfter %v", got, want)
	}
	if got := tlsMetric(t, newCA, base, "pricing_admin_tls_reload_errors_total"); got != 1 {
		t.Errorf("reload errors metric %v, want 1", got)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(exitTimeout); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// tlsMetric reads one unlabelled series from the admin port's /metrics.
func tlsMetric(t *testing.T, c *http.Client, base, name string) float64 {
	t.Helper()
	code, body, err := getWith(c, base+"/metrics", "")
	if err != nil || code != 200 {
		t.Fatalf("/metrics: %d %v", code, err)
	}
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}

// notAfter is the expiry of the PEM certificate in path, in Unix seconds.
func notAfter(t *testing.T, path string) float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return float64(c.NotAfter.Unix())
}

// logged reports whether a JSON log line's message starts with msg.
func (p *proc) logged(msg string) bool {
	for _, line := range p.logLines() {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil {
			if m, _ := rec["msg"].(string); strings.HasPrefix(m, msg) {
				return true
			}
		}
	}
	return false
}

func TestE2EAdminTLSStartErrors(t *testing.T) {
	a, b := redistest.NewCerts(t), redistest.NewCerts(t)
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		code int
		want string
	}{
		{"cert without key", []string{"--admin-tls-cert-file", a.ServerCert}, nil, 2,
			"give both --admin-tls-cert-file and --admin-tls-key-file, or neither"},
		{"key from env without cert", nil, []string{"PRICING_ADMIN_TLS_KEY_FILE=" + a.ServerKey}, 2,
			"give both --admin-tls-cert-file and --admin-tls-key-file, or neither"},
		{"no admin listener", []string{"--admin-tls-cert-file", a.ServerCert, "--admin-tls-key-file", a.ServerKey, "--admin-addr", ""}, nil, 2,
			"--admin-tls-cert-file needs the admin listener"},
		{"mismatched pair", []string{"--admin-tls-cert-file", a.ServerCert, "--admin-tls-key-file", b.ServerKey}, nil, 1,
			"private key does not match public key"},
		{"missing file", []string{"--admin-tls-cert-file", filepath.Join(t.TempDir(), "none.pem"), "--admin-tls-key-file", a.ServerKey}, nil, 1,
			"no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"}, tc.args...)
			r := runBinary(t, args, tc.env...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d (want %d), stderr lacks %q:\n%s", r.code, tc.code, tc.want, r.stderr)
			}
		})
	}
}
