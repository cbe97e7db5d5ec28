package main

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/redistest"
)

// TestE2EAdminStore runs the binary as the Kubernetes recipe does: serving
// through a Redis user that may only read (and count demand), the admin
// API through --admin-store as a user that may write. A change through the
// admin API is served; without --admin-store the same change is refused by
// Redis (503), so the serving user really cannot write.
func TestE2EAdminStore(t *testing.T) {
	const readPW, writePW = "read-secret-7f3a", "write-secret-91c2"
	srv := redistest.Start(t, redistest.Options{Password: storeSecret, Args: []string{
		"--user", "pricing-read", "reset", "on", ">" + readPW, "%R~pricing:*", "%RW~demand:pricing:*",
		"+hello", "+auth", "+ping", "+client|setname", "+client|tracking", "+cluster|slots", "+cluster|shards",
		"+get", "+mget", "+hincrby", "+pexpire", "+hgetall",
		"--user", "pricing-write", "reset", "on", ">" + writePW, "~pricing:*", "~{pricing:*",
		"+hello", "+auth", "+ping", "+client|setname", "+cluster|slots", "+cluster|shards",
		"+get", "+set", "+del", "+time", "+hmget", "+hset", "+pexpire", "+persist", "+xadd", "+xtrim",
		"+xrange", "+xrevrange", "+eval", "+evalsha", "+eval_ro", "+evalsha_ro",
	}})
	srv.MustDo("SET", "pricing:product:P-1", "49.99")
	srv.MustDo("SET", "pricing:market:NY", "1.10")
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	readFile, writeFile := write("read-password", readPW), write("write-password", writePW)
	tokens, token := adminTokens(t)
	host := strings.TrimPrefix(srv.URLNoPassword(), "redis://")
	auth := map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}

	p := startServer(t, append(loopbackArgs, "--admin-tokens-file", tokens,
		"--store", "redis://pricing-read@"+host, "--store-password-file", readFile,
		"--admin-store", "redis://pricing-write@"+host, "--admin-store-password-file", writeFile))
	auth["If-Match"] = `"0"`
	code, _, body := p.doWith("PUT", "http://"+p.admin+"/admin/v1/products/P-1", `{"base_price":"55.00"}`, auth)
	if code != 200 {
		t.Fatalf("PUT through --admin-store = %d %s, want 200", code, body)
	}
	if v := srv.MustDo("GET", "pricing:product:P-1"); v != "55.00" {
		t.Errorf("Redis holds %q after the admin write, want 55.00", v)
	}
	// The serving user's client-side cache gets the invalidation.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		code, body = p.price(p.api, `{"product_id":"P-1","user_location":"NY"}`)
		if code == 200 && strings.Contains(body, `"base_price":55,`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API port still answers %d %s 5 s after the admin write", code, body)
		}
	}
	for _, line := range p.logLines() {
		if strings.Contains(line, readPW) || strings.Contains(line, writePW) || strings.Contains(line, token) {
			t.Errorf("a log line holds a secret: %s", line)
		}
	}

	// The same binary without --admin-store writes as the serving user:
	// Redis refuses, the API answers 503 and the price is unchanged.
	q := startServer(t, append(loopbackArgs, "--admin-tokens-file", tokens,
		"--store", "redis://pricing-read@"+host, "--store-password-file", readFile))
	auth["If-Match"] = `"1"`
	code, _, body = q.doWith("PUT", "http://"+q.admin+"/admin/v1/products/P-1", `{"base_price":"1.00"}`, auth)
	if code != 503 {
		t.Errorf("PUT as the read-only serving user = %d %s, want 503", code, body)
	}
	if v := srv.MustDo("GET", "pricing:product:P-1"); v != "55.00" {
		t.Errorf("Redis holds %q after a refused write, want 55.00", v)
	}

	// An --admin-store that does not answer does not keep the engine from
	// starting and serving: the admin API answers 503 until it connects.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	d := startServer(t, append(loopbackArgs, "--admin-tokens-file", tokens,
		"--store", "redis://pricing-read@"+host, "--store-password-file", readFile,
		"--admin-store", "redis://pricing-write@"+dead, "--admin-store-password-file", writeFile))
	if code, body := d.price(d.api, `{"product_id":"P-1","user_location":"NY"}`); code != 200 {
		t.Errorf("price with an unreachable --admin-store = %d %s, want 200", code, body)
	}
	code, _, body = d.doWith("GET", "http://"+d.admin+"/admin/v1/products/P-1", "", auth)
	if code != 503 {
		t.Errorf("admin GET with an unreachable --admin-store = %d %s, want 503", code, body)
	}
}

// TestAdminStoreFlags checks the --admin-store flags together with
// --store: they need a Redis store, the password file needs the URL, and
// a bad URL is refused without quoting its password.
func TestAdminStoreFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // "" accepted, else part of the error
	}{
		{[]string{"--store", "redis://pricing-read@h:6379", "--admin-store", "redis://pricing-write@h:6379", "--admin-store-password-file", "/x"}, ""},
		{[]string{"--admin-store", "redis://pricing-write@h:6379"}, "invalid --admin-store: the memory store takes the admin API's writes itself"},
		{[]string{"--store", "redis://h:6379", "--admin-store-password-file", "/x"}, "invalid --admin-store-password-file: give --admin-store too"},
		{[]string{"--store", "redis://h:6379", "--admin-store", "http://u:hunter2@h:6379"}, "invalid --admin-store: cannot use store URL scheme"},
	} {
		_, err := parseConfig(tc.args, noEnv, io.Discard)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: error %v, want %q", tc.args, err, tc.want)
		case err != nil && strings.Contains(err.Error(), "hunter2"):
			t.Errorf("%q: the error quotes the password: %v", tc.args, err)
		}
	}
}

// TestE2EAdminStoreLate starts the binary while Redis is down: the admin
// API answers 503 (not a crash), and once Redis answers it reads and
// writes through the serving connection without a restart.
func TestE2EAdminStoreLate(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Password: storeSecret})
	srv.Kill()
	tokens, token := adminTokens(t)
	p := startServer(t, append(loopbackArgs, "--admin-tokens-file", tokens, "--store", srv.URL()))
	auth := map[string]string{"Authorization": "Bearer " + token}
	if code, _, body := p.doWith("GET", "http://"+p.admin+"/admin/v1/products/P-1", "", auth); code != 503 {
		t.Fatalf("admin GET while Redis is down = %d %s, want 503", code, body)
	}
	srv.Restart()
	srv.MustDo("SET", "pricing:product:P-1", "49.99")
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		code, _, body := p.doWith("GET", "http://"+p.admin+"/admin/v1/products/P-1", "", auth)
		if code == 200 {
			break
		}
		if code != 503 || time.Now().After(deadline) {
			t.Fatalf("admin GET after Redis came back = %d %s, want 503 until connected, then 200", code, body)
		}
	}
	auth["If-Match"], auth["Content-Type"] = `"0"`, "application/json"
	if code, _, body := p.doWith("PUT", "http://"+p.admin+"/admin/v1/products/P-1", `{"base_price":"51.00"}`, auth); code != 200 {
		t.Errorf("admin PUT after Redis came back = %d %s, want 200", code, body)
	}
	if v := srv.MustDo("GET", "pricing:product:P-1"); v != "51.00" {
		t.Errorf("Redis holds %q, want 51.00", v)
	}
}
