package main

import (
	"encoding/json"
	"flag"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// specRequest is the contract's example request (a member in Miami).
const specRequest = `{"product_id":"P-123","user_location":"MIA","is_prime_member":true}`

// TestE2EServe prices through the binary and reads every route of both
// listeners.
func TestE2EServe(t *testing.T) {
	p := startServer(t, loopbackArgs)
	api, admin := "http://"+p.api, "http://"+p.admin

	prices := []struct {
		name, body, want string
	}{
		{"member MIA", specRequest,
			`{"product_id":"P-123","final_price":47.82,"base_price":52.99,"market_multiplier":0.95,"discount_rate":0.05,"source":"live"}`},
		{"non-member NY", `{"product_id":"P-120","user_location":"NY"}`,
			`{"product_id":"P-120","final_price":54.99,"base_price":49.99,"market_multiplier":1.1,"discount_rate":0,"source":"live"}`},
		{"unknown market uses the default row", `{"product_id":"P-9999","user_location":"ZZ","is_prime_member":"no"}`,
			`{"product_id":"P-9999","final_price":58.99,"base_price":58.99,"market_multiplier":1,"discount_rate":0,"source":"live"}`},
	}
	for _, tc := range prices {
		t.Run("price/"+tc.name, func(t *testing.T) {
			code, h, body := p.do("POST", api+"/api/v1/price", "application/json", tc.body)
			if code != 200 || body != tc.want {
				t.Errorf("POST %s = %d %s\nwant 200 %s", tc.body, code, body, tc.want)
			}
			if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
		})
	}
	t.Run("price/unknown product", func(t *testing.T) {
		code, _, body := p.do("POST", api+"/api/v1/price", "application/json", `{"product_id":"P-X","user_location":"NY"}`)
		if want := `{"detail":"unknown product_id \"P-X\""}`; code != 404 || body != want {
			t.Errorf("= %d %s, want 404 %s", code, body, want)
		}
	})

	routes := []struct {
		base, path string
		code       int
		ctype      string   // prefix of Content-Type
		contains   []string // substrings of the body
	}{
		{api, "/metrics", 200, "text/plain", []string{"# TYPE http_request_duration_seconds histogram", `http_request_duration_seconds_count{code="200",endpoint="/api/v1/price",method="POST"}`}},
		{admin, "/metrics", 200, "text/plain", []string{"# TYPE http_request_duration_seconds histogram", `http_request_duration_seconds_count{code="200",endpoint="/api/v1/price",method="POST"}`, "go_goroutines"}},
		{api, "/healthz", 200, "text/plain", nil},
		{admin, "/healthz", 200, "text/plain", nil},
		{api, "/readyz", 200, "text/plain", nil},
		{admin, "/readyz", 200, "text/plain", nil},
		{admin, "/docs", 200, "text/html", []string{"swagger"}},
		{api, "/docs", 200, "text/html", []string{"swagger"}},
		{admin, "/openapi.json", 200, "application/json", []string{`"openapi"`, `"/api/v1/price"`}},
		{api, "/openapi.json", 200, "application/json", []string{`"openapi"`, `"/api/v1/price"`}},
		{admin, "/debug/pprof/", 404, "application/json", []string{`"Not Found"`}}, // off without --pprof
		{api, "/debug/pprof/", 404, "application/json", []string{`"Not Found"`}},
		{api, "/no/such/path", 404, "application/json", []string{`{"detail":"Not Found"}`}},
	}
	for _, r := range routes {
		port := "api"
		if r.base == admin {
			port = "admin"
		}
		t.Run(port+r.path, func(t *testing.T) {
			code, h, body := p.do("GET", r.base+r.path, "", "")
			if code != r.code {
				t.Errorf("GET %s%s = %d, want %d\n%.300s", r.base, r.path, code, r.code, body)
			}
			if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, r.ctype) {
				t.Errorf("Content-Type %q, want %s...", ct, r.ctype)
			}
			for _, s := range r.contains {
				if !strings.Contains(body, s) {
					t.Errorf("body lacks %q\n%.300s", s, body)
				}
			}
			if strings.HasSuffix(r.path, ".json") {
				var doc map[string]any
				if err := json.Unmarshal([]byte(body), &doc); err != nil {
					t.Errorf("%s is not JSON: %v", r.path, err)
				}
			}
		})
	}
}

// TestE2ECatalogFile serves the contract's example from a catalog file and
// refuses bad data files at start, naming the file and the line.
func TestE2ECatalogFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("catalog.csv", "product_id,base_price\nP-123,49.99\n")
	markets := write("markets.csv", "location,multiplier\nMIA,0.95\n*,1\n")

	t.Run("contract example", func(t *testing.T) {
		p := startServer(t, append(loopbackArgs, "--catalog", good, "--markets", markets))
		code, _, body := p.do("POST", "http://"+p.api+"/api/v1/price", "application/json", specRequest)
		want := `{"product_id":"P-123","final_price":45.12,"base_price":49.99,"market_multiplier":0.95,"discount_rate":0.05,"source":"live"}`
		if code != 200 || body != want {
			t.Errorf("= %d %s\nwant 200 %s", code, body, want)
		}
		rec, _ := p.logRecord("serving")
		if rec["products"] != 1.0 || rec["markets"] != 2.0 {
			t.Errorf(`"serving" line counts products %v, markets %v; want 1, 2`, rec["products"], rec["markets"])
		}
	})

	bad := []struct {
		name string
		args []string
		want []string
	}{
		{"bad price", []string{"--catalog", write("bad-price.csv", "product_id,base_price\nP-1,10\nP-2,abc\n")},
			[]string{"bad-price.csv", "line 3", "abc"}},
		{"bad header", []string{"--catalog", write("bad-header.csv", "sku,price\nP-1,10\n")},
			[]string{"bad-header.csv", "line 1", "header"}},
		{"duplicate", []string{"--catalog", write("dup.csv", "product_id,base_price\nP-1,10\nP-1,11\n")},
			[]string{"dup.csv", "line 3", "duplicate"}},
		{"missing file", []string{"--catalog", filepath.Join(dir, "nope.csv")},
			[]string{"nope.csv"}},
		{"bad market", []string{"--markets", write("bad-mk.csv", "location,multiplier\nNY,1.1\nLA,-1\n")},
			[]string{"bad-mk.csv", "line 3"}},
		{"market multiplier above 100", []string{"--markets", write("big-mk.csv", "location,multiplier\nNY,1.1\n# comment\nLA,1000\n")},
			[]string{"big-mk.csv", "line 4", "at most 100"}},
		{"price above 10^9", []string{"--catalog", write("big-price.csv", "product_id,base_price\nP-1,1000000000.01\n")},
			[]string{"big-price.csv", "line 2", "at most 1000000000"}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			r := runBinary(t, append(append([]string(nil), loopbackArgs...), tc.args...))
			if r.code == 0 {
				t.Fatalf("exit 0 with a bad data file; stderr:\n%s", r.stderr)
			}
			for _, s := range tc.want {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
				}
			}
			if strings.Contains(r.stderr, `"msg":"serving"`) {
				t.Errorf("served despite the bad file:\n%s", r.stderr)
			}
		})
	}
}

// TestE2EEnv checks that PRICING_* variables configure the server and that
// a flag wins over its variable.
func TestE2EEnv(t *testing.T) {
	t.Run("env only", func(t *testing.T) {
		p := startServer(t, nil,
			"PRICING_ADDR=127.0.0.1:0", "PRICING_ADMIN_ADDR=127.0.0.1:0", "PRICING_LOG_FORMAT=json",
			"PRICING_DRAIN_DELAY=250ms", "PRICING_LOOKUP_LATENCY=seed", "PRICING_MAX_BODY_BYTES=100",
			"PRICING_LOG_LEVEL=debug")
		// The JSON "serving" line itself proves PRICING_LOG_FORMAT; the
		// loopback addresses prove PRICING_ADDR and PRICING_ADMIN_ADDR.
		if !strings.HasPrefix(p.api, "127.0.0.1:") || !strings.HasPrefix(p.admin, "127.0.0.1:") {
			t.Errorf("listening on %s and %s, want 127.0.0.1", p.api, p.admin)
		}
		rec, ok := p.logRecord("starting pricing-engine")
		if !ok {
			t.Fatal(`no "starting pricing-engine" line`)
		}
		for k, want := range map[string]any{"drain_delay": "250ms", "lookup_latency": "seed", "max_body_bytes": 100.0, "log_level": "DEBUG"} {
			if rec[k] != want {
				t.Errorf("starting line %s = %v, want %v", k, rec[k], want)
			}
		}
		big := `{"product_id":"P-123","user_location":"MIA","is_prime_member":true,"padding":"` + strings.Repeat("x", 100) + `"}`
		if code, _, body := p.do("POST", "http://"+p.api+"/api/v1/price", "application/json", big); code != 413 {
			t.Errorf("%d-byte body with PRICING_MAX_BODY_BYTES=100: %d %s, want 413", len(big), code, body)
		}
		if code, _, body := p.do("POST", "http://"+p.api+"/api/v1/price", "application/json", specRequest); code != 200 {
			t.Errorf("small body: %d %s, want 200", code, body)
		}
	})

	t.Run("flag wins", func(t *testing.T) {
		// Each variable alone would fail the test: 192.0.2.1 (TEST-NET-1)
		// is not a local address, and text logs have no "serving" JSON.
		p := startServer(t, append(loopbackArgs, "--drain-delay", "100ms"),
			"PRICING_ADDR=192.0.2.1:0", "PRICING_ADMIN_ADDR=192.0.2.1:0", "PRICING_LOG_FORMAT=text",
			"PRICING_DRAIN_DELAY=3s", "PRICING_MAX_CONNS=7")
		rec, _ := p.logRecord("starting pricing-engine")
		if rec["drain_delay"] != "100ms" {
			t.Errorf("drain_delay %v, want the flag's 100ms", rec["drain_delay"])
		}
		if rec["max_conns"] != 7.0 {
			t.Errorf("max_conns %v, want PRICING_MAX_CONNS=7 (no flag given)", rec["max_conns"])
		}
	})
}

// TestE2EInvalidConfig checks that bad values stop the binary at once
// (exit 2) with a message naming the flag (or variable); config_test.go
// holds every bound, this the binary's side of a few.
func TestE2EInvalidConfig(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  []string
		want []string
	}{
		{"negative max-conns", []string{"--max-conns=-1"}, nil, []string{"--max-conns", "-1", "must be positive"}},
		{"zero pool", []string{"--pool-size=0"}, nil, []string{"--pool-size"}},
		{"bogus latency", []string{"--lookup-latency=bogus"}, nil, []string{"--lookup-latency", "bogus"}},
		{"env duration", nil, []string{"PRICING_IDLE_TIMEOUT=abc"}, []string{"PRICING_IDLE_TIMEOUT", "--idle-timeout", "abc", "duration"}},
		{"flag duration", []string{"--idle-timeout=abc"}, nil, []string{"idle-timeout", "abc", "duration"}},
		{"env integer", nil, []string{"PRICING_MAX_PIPELINE=lots"}, []string{"PRICING_MAX_PIPELINE", "--max-pipeline", "whole number"}},
		{"log format", []string{"--log-format=xml"}, nil, []string{"--log-format", "xml"}},
		{"log level", []string{"--log-level=loud"}, nil, []string{"--log-level", "loud"}},
		{"zero timeout", []string{"--header-timeout=0"}, nil, []string{"--header-timeout"}},
		{"shutdown within drain", []string{"--drain-delay=5s", "--shutdown-timeout=2s"}, nil, []string{"--shutdown-timeout", "--drain-delay"}},
		{"pipeline too deep", []string{"--max-pipeline=5000"}, nil, []string{"invalid --max-pipeline 5000: must be at most 1024"}},
		{"env pipeline too deep", nil, []string{"PRICING_MAX_PIPELINE=5000"}, []string{"invalid --max-pipeline 5000 (from PRICING_MAX_PIPELINE): must be at most 1024"}},
		{"env zero body", nil, []string{"PRICING_MAX_BODY_BYTES=0"}, []string{"invalid --max-body-bytes 0 (from PRICING_MAX_BODY_BYTES): must be positive"}},
		{"unknown flag", []string{"--no-such-flag"}, nil, []string{"no-such-flag"}},
		{"stray argument", []string{"serve"}, nil, []string{`unexpected argument "serve"`}},
		{"address in use", nil, nil, []string{"cannot listen"}}, // filled in below
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cases[len(cases)-1].args = []string{"--admin-addr", busy.Addr().String()}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Loopback, ephemeral ports and JSON logs first; the case's
			// own flags come later and win.
			args := append(append([]string(nil), loopbackArgs...), tc.args...)
			r := runBinary(t, args, tc.env...)
			// A bad value is a usage error (2); a failure at start is 1.
			want := 2
			if tc.name == "address in use" {
				want = 1
			}
			if r.code != want {
				t.Fatalf("exit %d, want %d; stderr:\n%s", r.code, want, r.stderr)
			}
			for _, s := range tc.want {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
				}
			}
		})
	}
}

// TestE2EHelp checks that --help lists every flag with its variable and
// default, on stdout, and exits 0.
func TestE2EHelp(t *testing.T) {
	r := runBinary(t, []string{"--help"})
	if r.code != 0 {
		t.Fatalf("--help exit %d, want 0; stderr:\n%s", r.code, r.stderr)
	}
	entries, err := parseHelp(r.stdout)
	if err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	byName := map[string]helpEntry{}
	for _, e := range entries {
		byName[e.name] = e
	}
	n := 0
	new(config).flagSet().VisitAll(func(f *flag.Flag) {
		n++
		e, ok := byName[f.Name]
		switch {
		case !ok:
			t.Errorf("--help does not list --%s", f.Name)
		case e.env != envName(f.Name):
			t.Errorf("--%s: variable %s, want %s", f.Name, e.env, envName(f.Name))
		case e.def != f.DefValue:
			t.Errorf("--%s: default %q, want %q", f.Name, e.def, f.DefValue)
		case e.usage == "":
			t.Errorf("--%s: no meaning given", f.Name)
		}
	})
	if len(entries) != n {
		t.Errorf("--help lists %d flags, the binary declares %d", len(entries), n)
	}
	for _, s := range []string{"healthcheck", "version"} {
		if !strings.Contains(r.stdout, "pricing-engine "+s) {
			t.Errorf("--help does not mention the %s subcommand", s)
		}
	}
}

// TestE2EHealthcheckAndVersion runs the subcommands.
func TestE2EHealthcheckAndVersion(t *testing.T) {
	p := startServer(t, loopbackArgs)

	nothing, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := nothing.Addr().String()
	_ = nothing.Close() // nothing listens there now

	cases := []struct {
		name string
		args []string
		env  []string
		code int
	}{
		{"flag", []string{"healthcheck", "--admin-addr", p.admin}, nil, 0},
		{"env", []string{"healthcheck"}, []string{"PRICING_ADMIN_ADDR=" + p.admin}, 0},
		{"wildcard host", []string{"healthcheck", "--admin-addr", ":" + portOf(t, p.admin)}, nil, 0},
		{"nothing listens", []string{"healthcheck", "--admin-addr", closed}, nil, 1},
		{"API port is not admin", []string{"healthcheck", "--admin-addr", p.api}, nil, 0}, // the API port answers /healthz too
	}
	for _, tc := range cases {
		t.Run("healthcheck/"+tc.name, func(t *testing.T) {
			r := runBinary(t, tc.args, tc.env...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", r.code, tc.code, r.stderr)
			}
		})
	}

	t.Run("version", func(t *testing.T) {
		r := runBinary(t, []string{"version"})
		if r.code != 0 || !strings.HasPrefix(r.stdout, "pricing-engine ") || !strings.HasSuffix(r.stdout, ")\n") {
			t.Errorf("version: exit %d, stdout %q; want 0 and \"pricing-engine <version> (<revision>)\"", r.code, r.stdout)
		}
	})
}

func portOf(t *testing.T, hostport string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// TestE2ESignals checks that an idle server stops cleanly on either signal.
func TestE2ESignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			p := startServer(t, append(loopbackArgs, "--drain-delay", "100ms", "--shutdown-timeout", "5s"))
			if code, _, _ := p.do("POST", "http://"+p.api+"/api/v1/price", "application/json", specRequest); code != 200 {
				t.Fatalf("price: %d", code)
			}
			start := time.Now()
			p.signal(sig)
			if code := p.wait(exitTimeout); code != 0 {
				t.Fatalf("exit %d after %v, want 0", code, sig)
			}
			t.Logf("exited %s after %v", time.Since(start).Round(time.Millisecond), sig)
			if _, ok := p.logRecord("stopped"); !ok {
				t.Error(`no "stopped" log line`)
			}
		})
	}
}
