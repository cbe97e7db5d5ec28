package main

import (
	"bufio"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/apidocs/apicheck"
	"github.com/pricing-engine/pricing-engine/internal/redistest"
	"github.com/pricing-engine/pricing-engine/internal/testwait"
)

// The store's end-to-end tests: the real binary against real redis-server
// processes. Every wait ends on evidence (a reply, a metric); the bounds
// only turn a hang into a failure.

const storeSecret = "e2e-Secret-pw-7f3a9" // grepped for in every output

// storeProc is a server started with --store, and what it said.
type storeProc struct {
	*proc
	bodies []string // every reply body and /metrics page seen
}

func (p *storeProc) price(product, location string) (int, http.Header, string) {
	p.t.Helper()
	body := `{"product_id":"` + product + `","user_location":"` + location + `","is_prime_member":false}`
	code, h, b := p.do("POST", "http://"+p.api+"/api/v1/price", "application/json", body)
	p.bodies = append(p.bodies, b)
	return code, h, b
}

func (p *storeProc) metric(series string) float64 {
	p.t.Helper()
	_, _, body := p.do("GET", "http://"+p.admin+"/metrics", "", "")
	p.bodies = append(p.bodies, body)
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				p.t.Fatalf("metric %s: %v", series, err)
			}
			return f
		}
	}
	p.t.Fatalf("no metric %s in /metrics", series)
	return 0
}

// waitFor polls cond (bounded): for state that only shows by asking.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, timeout, what, cond)
}

// noSecret fails if the password shows in any of the texts.
func noSecret(t *testing.T, where string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, storeSecret) {
			t.Fatalf("the store password appears in %s: %q", where, s)
		}
	}
}

func TestE2EStoreRedis(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Password: storeSecret})
	pwFile := filepath.Join(t.TempDir(), "redis-password")
	if err := os.WriteFile(pwFile, []byte(storeSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Import with the password in the URL (the worst case for leaks).
	imp := runBinary(t, []string{"import", "--store", srv.URL(), "--embedded"})
	if imp.code != 0 || !strings.Contains(imp.stdout, "wrote 10006 keys") {
		t.Fatalf("import: exit %d\n%s\n%s", imp.code, imp.stdout, imp.stderr)
	}
	noSecret(t, "import output", imp.stdout, imp.stderr)

	args := append([]string{"--store", srv.URLNoPassword(), "--store-password-file", pwFile,
		"--lookup-deadline", "300ms", "--stale-for", "1m"}, loopbackArgs...)
	p := &storeProc{proc: startServer(t, args)}

	// Served from Redis, and a hit the second time.
	for i := 0; i < 2; i++ {
		code, _, body := p.price("P-1", "NY")
		if code != 200 || !strings.Contains(body, `"base_price":50.99`) || !strings.Contains(body, `"source":"live"`) {
			t.Fatalf("P-1: %d %s", code, body)
		}
	}
	if p.metric("pricing_store_cache_hits_total") < 1 || p.metric("pricing_store_up") != 1 {
		t.Fatal("no cache hit counted, or the store not up")
	}
	// Unknown product 404, unknown location the default market.
	if code, _, body := p.price("NOPE", "NY"); code != 404 {
		t.Fatalf("unknown product: %d %s", code, body)
	}
	if code, _, body := p.price("P-2", "Atlantis"); code != 200 || !strings.Contains(body, `"market_multiplier":1`) {
		t.Fatalf("unknown location: %d %s", code, body)
	}

	t.Run("a change is live", func(t *testing.T) {
		srv.MustDo("SET", "pricing:product:P-1", "60.00")
		start := time.Now()
		waitFor(t, 2*time.Second, "the new price", func() bool {
			_, _, body := p.price("P-1", "NY")
			return strings.Contains(body, `"base_price":60`)
		})
		t.Logf("served %s after the SET returned", time.Since(start))
		if p.metric("pricing_store_cache_invalidations_total") < 1 {
			t.Fatal("no invalidation counted")
		}
	})

	t.Run("a garbage value is 502 for its key only", func(t *testing.T) {
		srv.MustDo("SET", "pricing:product:P-3", "12,50")
		waitFor(t, 2*time.Second, "the 502", func() bool {
			code, _, body := p.price("P-3", "NY")
			return code == 502 && body == `{"detail":"store value for pricing:product:P-3 is invalid"}`
		})
		if code, _, _ := p.price("P-4", "NY"); code != 200 {
			t.Fatalf("a good key next to a bad one: %d", code)
		}
		if p.metric("pricing_store_invalid_values_total") < 1 {
			t.Fatal("invalid value not counted")
		}
	})

	t.Run("Redis full", func(t *testing.T) {
		srv.MustDo("CONFIG", "SET", "maxmemory", "1")
		defer srv.MustDo("CONFIG", "SET", "maxmemory", "0")
		if code, _, body := p.price("P-5", "LA"); code != 200 {
			t.Fatalf("reads while Redis is full: %d %s", code, body)
		}
		r := runBinary(t, []string{"import", "--store", srv.URLNoPassword(), "--store-password-file", pwFile, "--embedded"})
		if r.code != 1 || !strings.Contains(r.stderr, "OOM") {
			t.Fatalf("import into a full Redis: exit %d %s", r.code, r.stderr)
		}
	})

	t.Run("stalled", func(t *testing.T) {
		p.price("P-6", "NY") // seen
		srv.Pause()
		defer srv.Resume()
		start := time.Now()
		code, h, body := p.price("P-7", "NY") // never seen
		if took := time.Since(start); code != 503 || h.Get("Retry-After") == "" || took > 2*time.Second {
			t.Fatalf("unseen key while Redis is stopped: %d %q %s after %s", code, h.Get("Retry-After"), body, took)
		}
		if code, _, body := p.price("P-6", "NY"); code != 200 {
			t.Fatalf("seen key while Redis is stopped: %d %s", code, body)
		}
		srv.Resume()
		waitFor(t, 10*time.Second, "P-7 after SIGCONT", func() bool {
			code, _, body := p.price("P-7", "NY")
			return code == 200 && strings.Contains(body, `"source":"live"`)
		})
	})

	t.Run("slow", func(t *testing.T) {
		c, err := srv.Dial()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Send("DEBUG", "SLEEP", "2"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, time.Second, "DEBUG SLEEP in effect", func() bool { return srv.Stalled(50 * time.Millisecond) })
		start := time.Now()
		code, h, _ := p.price("P-8", "NY")
		if took := time.Since(start); code != 503 || h.Get("Retry-After") == "" || took > 1500*time.Millisecond {
			t.Fatalf("unseen key while Redis sleeps: %d after %s", code, took)
		}
		waitFor(t, 10*time.Second, "P-8 after the sleep", func() bool {
			code, _, _ := p.price("P-8", "NY")
			return code == 200
		})
	})

	t.Run("killed and restarted", func(t *testing.T) {
		// Seen: answered 200 (right after the slow Redis, admission
		// control may still shed a request or two).
		waitFor(t, 5*time.Second, "P-9 answered before the kill", func() bool {
			code, _, _ := p.price("P-9", "SF")
			return code == 200
		})
		srv.Kill()
		var staleHdr http.Header
		var staleBody string
		waitFor(t, 5*time.Second, "a stale answer", func() bool {
			code, h, body := p.price("P-9", "SF")
			staleHdr, staleBody = h, body
			return code == 200 && strings.Contains(body, `"source":"stale"`)
		})
		// The document lists every source the server sends.
		if err := apicheck.ValidateResponse("POST", "/api/v1/price", 200, staleHdr, []byte(staleBody)); err != nil {
			t.Errorf("stale answer against openapi.json: %v", err)
		}
		start := time.Now()
		code, h, body := p.price("P-10", "SF")
		if took := time.Since(start); code != 503 || h.Get("Retry-After") == "" || took > time.Second {
			t.Fatalf("unseen key while Redis is dead: %d %q %s after %s", code, h.Get("Retry-After"), body, took)
		}
		if want := `{"detail":`; !strings.HasPrefix(body, want) {
			t.Fatalf("503 body %q", body)
		}
		waitFor(t, 5*time.Second, "store down in the metrics", func() bool {
			return p.metric("pricing_store_up") == 0 && p.metric("pricing_store_breaker_open") == 1
		})
		if code, _, _ := p.do("GET", "http://"+p.admin+"/readyz", "", ""); code != 200 {
			t.Fatalf("/readyz %d while the engine answers stale", code)
		}
		if p.metric("pricing_store_stale_answers_total") < 1 {
			t.Fatal("stale answers not counted")
		}
		srv.Restart()
		r := runBinary(t, []string{"import", "--store", srv.URLNoPassword(), "--store-password-file", pwFile, "--embedded"})
		if r.code != 0 {
			t.Fatalf("re-import: %d %s", r.code, r.stderr)
		}
		waitFor(t, 10*time.Second, "fresh answers after the restart", func() bool {
			code, _, body := p.price("P-9", "SF")
			return code == 200 && strings.Contains(body, `"source":"live"`)
		})
		waitFor(t, 5*time.Second, "store up in the metrics", func() bool {
			return p.metric("pricing_store_up") == 1 && p.metric("pricing_store_breaker_open") == 0
		})
	})

	// The password never shows: logs, replies, metrics, --help.
	help := runBinary(t, []string{"--help"}, "PRICING_STORE="+srv.URL())
	noSecret(t, "--help", help.stdout, help.stderr)
	bad := runBinary(t, []string{"--store", srv.URL() + "/notadb"})
	if bad.code != 2 {
		t.Fatalf("bad store URL: exit %d", bad.code)
	}
	noSecret(t, "a refused configuration", bad.stdout, bad.stderr)
	noSecret(t, "replies and metrics", p.bodies...)
	noSecret(t, "the server log", p.logLines()...)
}

func TestE2EStoreClusterAndTLS(t *testing.T) {
	t.Run("cluster", func(t *testing.T) {
		c := redistest.StartCluster(t, 3)
		if r := runBinary(t, []string{"import", "--store", c.SeedURL(), "--embedded"}); r.code != 0 {
			t.Fatalf("import: %d %s", r.code, r.stderr)
		}
		p := &storeProc{proc: startServer(t, append([]string{"--store", c.SeedURL()}, loopbackArgs...))}
		for _, id := range []string{"P-1", "P-2", "P-3", "P-9999"} {
			if code, _, body := p.price(id, "NY"); code != 200 {
				t.Fatalf("%s: %d %s", id, code, body)
			}
		}
		c.Node(t, "pricing:product:P-2").MustDo("SET", "pricing:product:P-2", "7")
		waitFor(t, 2*time.Second, "a change on a cluster node", func() bool {
			_, _, body := p.price("P-2", "NY")
			return strings.Contains(body, `"base_price":7`)
		})
		// Reads on a cluster go through the shared connections (one
		// pipeline per node): no loop connection.
		if n := p.metric("pricing_store_loop_connections") + p.metric("pricing_store_loop_round_trips_total"); n != 0 {
			t.Fatalf("on a cluster: loop connections and their round trips sum to %v", n)
		}
	})
	t.Run("tls with client certificate", func(t *testing.T) {
		certs := redistest.NewCerts(t)
		srv := redistest.Start(t, redistest.Options{TLS: certs, RequireClientCert: true, Password: storeSecret})
		pwFile := filepath.Join(t.TempDir(), "pw")
		if err := os.WriteFile(pwFile, []byte(storeSecret), 0o600); err != nil {
			t.Fatal(err)
		}
		tlsArgs := []string{"--store-tls-ca-file", certs.CA, "--store-tls-cert-file", certs.ClientCert, "--store-tls-key-file", certs.ClientKey,
			"--store-password-file", pwFile}
		if r := runBinary(t, append([]string{"import", "--store", srv.URLNoPassword(), "--embedded"}, tlsArgs...)); r.code != 0 {
			t.Fatalf("import: %d %s", r.code, r.stderr)
		}
		p := &storeProc{proc: startServer(t, append(append([]string{"--store", srv.URLNoPassword()}, tlsArgs...), loopbackArgs...))}
		if code, _, body := p.price("P-1", "NY"); code != 200 {
			t.Fatalf("over TLS: %d %s", code, body)
		}
		if n := p.metric("pricing_store_loop_connections") + p.metric("pricing_store_loop_round_trips_total"); n != 0 {
			t.Fatalf("over TLS: loop connections and their round trips sum to %v", n)
		}
		// Without the CA the server refuses to start, naming no secret.
		r := runBinary(t, append([]string{"--store", srv.URL()}, loopbackArgs...))
		if r.code != 1 || !strings.Contains(r.stderr, "cannot") {
			t.Fatalf("untrusted TLS: exit %d %s", r.code, r.stderr)
		}
		noSecret(t, "a failed start", r.stdout, r.stderr)
		noSecret(t, "the server log", p.logLines()...)
	})
}
