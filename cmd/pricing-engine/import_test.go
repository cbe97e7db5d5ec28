package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/redistest"
)

// importRun runs the import subcommand in process.
func importRun(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	code := runImport(args, getenv, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestImportEmbedded(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	code, out, errOut := importRun(t, nil, "--store", srv.URL(), "--embedded")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "wrote 10006 keys (10000 products, 6 markets), removed 0 keys") {
		t.Fatalf("summary: %q", out)
	}
	if got := srv.MustDo("DBSIZE"); got != "10006" {
		t.Fatalf("DBSIZE = %s", got)
	}
	if got := srv.MustDo("GET", "pricing:product:P-1"); got != "50.99" {
		t.Fatalf("P-1 = %q", got)
	}
	if got := srv.MustDo("GET", "pricing:market:NY"); got != "1.1" {
		t.Fatalf("NY = %q", got)
	}
}

func TestImportBadRowWritesNothing(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	good := writeFile(t, "markets.csv", "location,multiplier\nNY,1.10\n")
	for _, tc := range []struct{ name, body, want string }{
		{"bad price", "product_id,base_price\nP-1,10\nP-2,abc\n", "line 3"},
		{"zero price", "product_id,base_price\nP-1,0\n", "line 2"},
		{"duplicate", "product_id,base_price\nP-1,1\nP-1,2\n", "duplicate"},
		{"bad header", "id,price\nP-1,1\n", "bad header"},
		{"price above 10^9", "product_id,base_price\nP-1,1\nP-2,1000000000.01\n", "line 3: bad base price \"1000000000.01\": out of range: must be greater than 0 and at most 1000000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cat := writeFile(t, "catalog.csv", tc.body)
			code, _, errOut := importRun(t, nil, "--store", srv.URL(), "--catalog", cat, "--markets", good)
			if code != 2 {
				t.Fatalf("exit %d, want 2: %s", code, errOut)
			}
			if !strings.Contains(errOut, cat) || !strings.Contains(errOut, tc.want) {
				t.Fatalf("stderr %q does not name the file and %q", errOut, tc.want)
			}
			if got := srv.MustDo("DBSIZE"); got != "0" {
				t.Fatalf("DBSIZE = %s after a refused import", got)
			}
		})
	}
	t.Run("multiplier 1000", func(t *testing.T) {
		cat := writeFile(t, "catalog.csv", "product_id,base_price\nP-1,10\n")
		mk := writeFile(t, "markets.csv", "location,multiplier\nNY,1.10\nLA,1000\n")
		code, out, errOut := importRun(t, nil, "--store", srv.URL(), "--catalog", cat, "--markets", mk)
		if code != 2 || out != "" {
			t.Fatalf("exit %d, want 2, stdout %q: %s", code, out, errOut)
		}
		want := `line 3: bad multiplier "1000": out of range: must be greater than 0 and at most 100`
		if !strings.Contains(errOut, mk) || !strings.Contains(errOut, want) {
			t.Fatalf("stderr %q does not name the file and %q", errOut, want)
		}
		if got := srv.MustDo("DBSIZE"); got != "0" {
			t.Fatalf("DBSIZE = %s after a refused import", got)
		}
	})
	for _, args := range [][]string{
		{"--embedded"},
		{"--store", "memory", "--embedded"},
		{"--store", srv.URL()},
		{"--store", srv.URL(), "--embedded", "--catalog", good},
		{"--store", "http://x", "--embedded"},
	} {
		if code, _, errOut := importRun(t, nil, args...); code != 2 {
			t.Fatalf("%v: exit %d, want 2: %s", args, code, errOut)
		}
	}
}

func TestImportReplace(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	srv.MustDo("SET", "pricing:product:OLD", "1")
	srv.MustDo("SET", "pricing:product:P-1", "1")
	srv.MustDo("SET", "pricing:market:GONE", "1")
	srv.MustDo("SET", "other:product:OLD", "1")
	cat := writeFile(t, "catalog.csv", "product_id,base_price\nP-1,52.99\nP-2,3\n")
	// Without --replace nothing is removed.
	code, out, errOut := importRun(t, nil, "--store", srv.URL(), "--catalog", cat)
	if code != 0 || !strings.Contains(out, "wrote 2 keys (2 products, 0 markets), removed 0 keys") {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	// --replace removes the product not in the file; markets are not
	// touched without --markets; other prefixes never.
	code, out, errOut = importRun(t, map[string]string{"PRICING_STORE": srv.URL()}, "--catalog", cat, "--replace")
	if code != 0 || !strings.Contains(out, "removed 1 keys") {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	for k, want := range map[string]string{
		"pricing:product:OLD": "(nil)", "pricing:product:P-1": "52.99",
		"pricing:market:GONE": "1", "other:product:OLD": "1",
	} {
		if got := srv.MustDo("GET", k); got != want {
			t.Fatalf("%s = %q, want %q", k, got, want)
		}
	}
	mk := writeFile(t, "markets.csv", "location,multiplier\n*,1\n")
	code, out, _ = importRun(t, nil, "--store", srv.URL(), "--markets", mk, "--replace")
	if code != 0 || !strings.Contains(out, "removed 1 keys") || srv.MustDo("GET", "pricing:market:GONE") != "(nil)" {
		t.Fatalf("markets --replace: exit %d %s", code, out)
	}
}

func TestImportClusterTLSPassword(t *testing.T) {
	t.Run("cluster", func(t *testing.T) {
		c := redistest.StartCluster(t, 3)
		code, out, errOut := importRun(t, nil, "--store", c.SeedURL(), "--embedded", "--store-prefix", "t:")
		if code != 0 || !strings.Contains(out, "wrote 10006 keys") {
			t.Fatalf("exit %d: %s %s", code, out, errOut)
		}
		total := 0
		for _, n := range c.Nodes {
			var k int
			fmt.Sscan(n.MustDo("DBSIZE"), &k)
			if k == 0 {
				t.Fatalf("node %s holds no key", n.Addr())
			}
			total += k
		}
		if total != 10006 {
			t.Fatalf("cluster holds %d keys", total)
		}
	})
	t.Run("tls and password file", func(t *testing.T) {
		const secret = "imp0rt-s3cret-value"
		certs := redistest.NewCerts(t)
		srv := redistest.Start(t, redistest.Options{TLS: certs, RequireClientCert: true, Password: secret})
		pwFile := writeFile(t, "pw", secret+"\n")
		args := []string{"--store", srv.URLNoPassword(), "--store-password-file", pwFile,
			"--store-tls-ca-file", certs.CA, "--store-tls-cert-file", certs.ClientCert, "--store-tls-key-file", certs.ClientKey, "--embedded"}
		code, out, errOut := importRun(t, nil, args...)
		if code != 0 || !strings.Contains(out, "wrote 10006 keys") {
			t.Fatalf("exit %d: %s %s", code, out, errOut)
		}
		wrong := writeFile(t, "pw2", secret+"-wrong")
		args[3] = wrong
		code, out, errOut = importRun(t, nil, args...)
		if code != 1 {
			t.Fatalf("wrong password: exit %d", code)
		}
		// A URL with the password, refused: neither output names it.
		code2, out2, errOut2 := importRun(t, nil, "--store", "rediss://default:"+secret+"@127.0.0.1:1", "--embedded")
		for _, s := range []string{out, errOut, out2, errOut2} {
			if strings.Contains(s, secret) {
				t.Fatalf("output carries the password: %q", s)
			}
		}
		if code2 == 0 {
			t.Fatal("import to a closed port succeeded")
		}
	})
}

func TestImportFullStore(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Args: []string{"--maxmemory", "2mb", "--maxmemory-policy", "noeviction"}})
	var b strings.Builder
	b.WriteString("product_id,base_price\n")
	for i := 0; i < 60_000; i++ {
		fmt.Fprintf(&b, "P-%d,%d.99\n", i, i%100+1)
	}
	cat := writeFile(t, "catalog.csv", b.String())
	code, _, errOut := importRun(t, nil, "--store", srv.URL(), "--catalog", cat)
	if code != 1 || !strings.Contains(errOut, "OOM") {
		t.Fatalf("exit %d, want 1 with the OOM reply: %s", code, errOut)
	}
}

// TestImportHistory: a history file is checked row by row (a bad row: exit
// 2 naming the file and the line, nothing written) and lowers the store's
// history.
func TestImportHistory(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	today := time.Now().UTC()
	day := func(n int) string { return today.AddDate(0, 0, -n).Format(time.DateOnly) }
	const hdr = "product_id,user_location,date,lowest_price\n"
	for _, tc := range []struct{ name, body, want string }{
		{"bad date", hdr + "P-1,NY," + day(1) + ",10\nP-1,NY,2026-02-30,10\n", `line 3: bad date "2026-02-30"`},
		{"negative price", hdr + "P-1,NY," + day(1) + ",-10\n", `line 2: bad lowest_price "-10"`},
		{"duplicate day", hdr + "P-1,NY," + day(1) + ",10\nP-1,NY," + day(1) + ",9\n", "line 3: P-1 x NY on " + day(1) + " is given twice (first on line 2)"},
		{"far future", hdr + "P-1,NY,2999-01-01,10\n", "line 2: date 2999-01-01 is in the future"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := writeFile(t, "history.csv", tc.body)
			code, out, errOut := importRun(t, nil, "--store", srv.URL(), "--history", f)
			if code != 2 || out != "" {
				t.Fatalf("exit %d, want 2, stdout %q: %s", code, out, errOut)
			}
			if !strings.Contains(errOut, f) || !strings.Contains(errOut, tc.want) {
				t.Fatalf("stderr %q does not name the file and %q", errOut, tc.want)
			}
			if got := srv.MustDo("DBSIZE"); got != "0" {
				t.Fatalf("DBSIZE = %s after a refused import", got)
			}
		})
	}
	f := writeFile(t, "history.csv", hdr+"P-1,NY,"+day(1)+",10.5\nP-1,NY,"+day(2)+",11\nP-2,LA,"+day(1)+",20\nP-3,LA,"+day(90)+",1\n")
	code, out, errOut := importRun(t, nil, "--store", srv.URL(), "--history", f)
	if code != 0 || !strings.Contains(out, ": 3 rows (1 rows older than 40 days left out)") {
		t.Fatalf("exit %d, stdout %q: %s", code, out, errOut)
	}
	d1 := strconv.FormatInt(today.AddDate(0, 0, -1).Unix()/86400, 10)
	if got := srv.MustDo("HGET", "history:{pricing:"+d1+"}", "\x03P-1NY"); got != "10.5 10.5" {
		t.Errorf("P-1 x NY a day ago = %q, want 10.5 10.5", got)
	}
	if ttl, _ := strconv.Atoi(srv.MustDo("TTL", "history:{pricing:"+d1+"}")); ttl < 38*86400 || ttl > 40*86400 {
		t.Errorf("TTL %d s, want 39 days or so", ttl)
	}
	// Importing again with a higher price changes nothing.
	f2 := writeFile(t, "history.csv", hdr+"P-1,NY,"+day(1)+",12\n")
	if code, _, errOut := importRun(t, nil, "--store", srv.URL(), "--history", f2); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := srv.MustDo("HGET", "history:{pricing:"+d1+"}", "\x03P-1NY"); got != "10.5 10.5" {
		t.Errorf("after a higher import: %q, want 10.5 10.5", got)
	}
	if code, _, _ := importRun(t, nil, "--store", srv.URL(), "--history", f, "--replace"); code != 2 {
		t.Errorf("--history --replace: exit %d, want 2", code)
	}
}
