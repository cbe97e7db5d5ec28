package redisstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/redis/rueidis"
)

// TLSFiles name the PEM files of a TLS connection to Redis. All are
// optional: without CA the system roots are trusted; Cert and Key go
// together and are sent when the server asks for a client certificate.
type TLSFiles struct {
	CA, Cert, Key string
}

// Config builds the tls.Config.
func (f *TLSFiles) Config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CA != "" {
		pem, err := os.ReadFile(f.CA)
		if err != nil {
			return nil, fmt.Errorf("cannot read store TLS CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("cannot use store TLS CA file %q: no PEM certificate in it", f.CA)
		}
		cfg.RootCAs = pool
	}
	if (f.Cert == "") != (f.Key == "") {
		return nil, errors.New("cannot use store TLS client certificate: give both the certificate and the key file")
	}
	if f.Cert != "" {
		kp, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, fmt.Errorf("cannot load store TLS client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{kp}
	}
	return cfg, nil
}

// Redact returns the URL without its password, for logs and errors. A
// URL that does not parse is replaced by a placeholder.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable store URL>"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	return u.String()
}

// ParseURL checks a store URL (redis:// or rediss://) and returns its
// rueidis options. Errors never contain the password.
func ParseURL(raw string) (rueidis.ClientOption, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the whole URL, password included
		}
		return rueidis.ClientOption{}, fmt.Errorf("cannot parse store URL: %v", err)
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return rueidis.ClientOption{}, fmt.Errorf("cannot use store URL scheme %q: want redis:// or rediss://", u.Scheme)
	}
	if u.Host == "" {
		return rueidis.ClientOption{}, errors.New("cannot use store URL: no host:port")
	}
	opt, err := rueidis.ParseURL(raw)
	if err != nil {
		return rueidis.ClientOption{}, fmt.Errorf("cannot parse store URL %s: %v", Redact(raw), redactErr(err, u))
	}
	return opt, nil
}

// redactErr hides the password should an error quote it.
func redactErr(err error, u *url.URL) string {
	msg := err.Error()
	if u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return msg
}

// clientOption builds the rueidis options of o, and the redacted URL.
func clientOption(o Options) (rueidis.ClientOption, string, error) {
	opt, err := ParseURL(o.URL)
	if err != nil {
		return opt, "", err
	}
	redacted := Redact(o.URL)
	if o.Password != "" {
		opt.Password = o.Password
	}
	if o.TLS != nil {
		if opt.TLSConfig == nil {
			return opt, "", fmt.Errorf("cannot use store TLS files with %s: the URL must be rediss://", redacted)
		}
		cfg, err := o.TLS.Config()
		if err != nil {
			return opt, "", err
		}
		cfg.ServerName = opt.TLSConfig.ServerName
		opt.TLSConfig = cfg
	}
	opt.DisableRetry = true // a failed read is answered (stale or 503), not retried past its deadline
	opt.Dialer.Timeout = 2 * time.Second
	opt.ConnWriteTimeout = 2 * time.Second
	return opt, redacted, nil
}

// Dial connects a plain client (no client-side cache, no tracking) with
// the connection settings of o (URL, Password, TLS): for writers such as
// the import command. The caller closes it. Errors never carry the
// password.
func Dial(ctx context.Context, o Options) (rueidis.Client, error) {
	copt, redacted, err := clientOption(o)
	if err != nil {
		return nil, err
	}
	copt.DisableCache = true
	copt.ConnWriteTimeout = 10 * time.Second
	return connect(ctx, copt, redacted)
}

// connect builds a client from copt and checks with a PING (at most 5 s)
// that the store answers; on error nothing is left open. redacted is the
// URL without password, for the errors.
func connect(ctx context.Context, copt rueidis.ClientOption, redacted string) (rueidis.Client, error) {
	client, err := rueidis.NewClient(copt)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to store %s: %w", redacted, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.Do(pctx, client.B().Ping().Build()).Error(); err != nil {
		client.Close()
		return nil, fmt.Errorf("cannot reach store %s: %w", redacted, err)
	}
	return client, nil
}
