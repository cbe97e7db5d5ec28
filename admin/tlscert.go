package admin

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultCertCheck is how often, at most, [Certificate] looks at its
// files for a change.
const DefaultCertCheck = time.Second

// Certificate is the admin listener's TLS certificate, read from a PEM
// certificate file (leaf first, then intermediates) and a PEM key file,
// and read again when either file changes: a rotation needs no restart.
//
// The check is lazy: a TLS handshake ([Certificate.GetCertificate]) looks
// at the files' modification time, size and inode at most once per check
// interval, so an idle listener costs nothing. A new pair that cannot be
// loaded (unreadable, a key that does not match, half of a rotation
// written) leaves the previous certificate in use and is reported to the
// reload callback; the next change of either file is tried again.
//
// It is safe for concurrent use.
type Certificate struct {
	certFile, keyFile string
	interval          time.Duration
	onReload          func(leaf *x509.Certificate, err error)

	cert atomic.Pointer[tls.Certificate]

	mu      sync.Mutex // serializes checks and reloads
	checked time.Time  // the last look at the files
	stamps  [2]fileStamp
}

// CertificateOptions configure [LoadCertificate].
type CertificateOptions struct {
	// Interval is the least time between two looks at the files
	// (DefaultCertCheck when <= 0).
	Interval time.Duration
	// OnReload, when set, receives each reload after the first load:
	// err nil means leaf (the new certificate) is in use; otherwise the
	// previous certificate stays in use. It is called on the goroutine of
	// the handshake or Reload that noticed the change, with no lock held.
	OnReload func(leaf *x509.Certificate, err error)
}

// LoadCertificate reads the pair certFile/keyFile. An error (a missing
// file, a key that does not match the certificate) names the files.
func LoadCertificate(certFile, keyFile string, o CertificateOptions) (*Certificate, error) {
	c := &Certificate{certFile: certFile, keyFile: keyFile, interval: o.Interval, onReload: o.OnReload}
	if c.interval <= 0 {
		c.interval = DefaultCertCheck
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.loadLocked(); err != nil {
		return nil, err
	}
	c.checked = time.Now()
	return c, nil
}

// Leaf is the certificate in use, parsed.
func (c *Certificate) Leaf() *x509.Certificate { return c.cert.Load().Leaf }

// TLSConfig returns a server configuration that serves the certificate in
// use (TLS 1.2 or later).
func (c *Certificate) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.GetCertificate}
}

// GetCertificate implements [tls.Config.GetCertificate]: the certificate
// in use, after a reload when a file changed since the last look (at most
// once per interval).
func (c *Certificate) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.check(false)
	return c.cert.Load(), nil
}

// Reload reads the pair again if either file changed (for SIGHUP). On
// error the previous certificate stays in use.
func (c *Certificate) Reload() error {
	return c.check(true)
}

// check reloads the pair when a file changed. Unless now is set, it looks
// at the files at most once per interval.
func (c *Certificate) check(now bool) error {
	c.mu.Lock()
	t := time.Now()
	if !now && t.Sub(c.checked) < c.interval {
		c.mu.Unlock()
		return nil
	}
	c.checked = t
	if !c.changedLocked() {
		c.mu.Unlock()
		return nil
	}
	leaf, err := c.loadLocked()
	c.mu.Unlock()
	if c.onReload != nil {
		c.onReload(leaf, err)
	}
	return err
}

// changedLocked reports whether either file's identity differs from the
// one last read (two stats, no read). A file that cannot be stat'ed counts
// as changed once, so that the reload reports it once, not at every look.
func (c *Certificate) changedLocked() bool {
	for i, path := range [2]string{c.certFile, c.keyFile} {
		fi, err := os.Stat(path)
		if err != nil {
			if c.stamps[i] != (fileStamp{}) {
				return true
			}
			continue
		}
		if stampOf(fi) != c.stamps[i] {
			return true
		}
	}
	return false
}

// loadLocked reads both files and, when they make a valid pair, puts it
// in use. The stamps are taken before reading, so a write that lands
// during the read is seen by the next look.
func (c *Certificate) loadLocked() (*x509.Certificate, error) {
	var statErr error
	for i, path := range [2]string{c.certFile, c.keyFile} {
		fi, err := os.Stat(path)
		if err != nil {
			c.stamps[i] = fileStamp{} // see changedLocked
			statErr = err
			continue
		}
		c.stamps[i] = stampOf(fi)
	}
	if statErr != nil {
		return nil, fmt.Errorf("cannot load admin TLS certificate: %w", statErr)
	}
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return nil, fmt.Errorf("cannot load admin TLS certificate %q with key %q: %w", c.certFile, c.keyFile, err)
	}
	// LoadX509KeyPair fills Leaf since Go 1.23.
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("cannot parse admin TLS certificate %q: %w", c.certFile, err)
		}
	}
	c.cert.Store(&pair)
	return pair.Leaf, nil
}
