package redistest

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStandalonePasswordTLS(t *testing.T) {
	certs := NewCerts(t)
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"plain", Options{}},
		{"password", Options{Password: "s3cret"}},
		{"tls", Options{TLS: certs, RequireClientCert: true, Password: "pw"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Start(t, tc.opts)
			s.MustDo("SET", "k", "v")
			if got := s.MustDo("GET", "k"); got != "v" {
				t.Fatalf("GET k = %q, want v", got)
			}
			s.Restart()
			if got := s.MustDo("GET", "k"); got != "(nil)" {
				t.Fatalf("after restart GET k = %q, want (nil)", got)
			}
		})
	}
}

func TestCluster(t *testing.T) {
	c := StartCluster(t, 3)
	for _, k := range []string{"a", "b", "c", "pricing:product:P-1"} {
		n := c.Node(t, k)
		n.MustDo("SET", k, "1")
		if got := n.MustDo("GET", k); got != "1" {
			t.Fatalf("GET %s = %q", k, got)
		}
	}
}
