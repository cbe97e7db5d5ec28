package deploy

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/e2ebin"
	"github.com/pricing-engine/pricing-engine/internal/redistest"
)

// engineBin is the binary under test.
var engineBin = e2ebin.Builder{Pkg: "../cmd/pricing-engine"}

// engineBinary returns the binary under test.
func engineBinary(t *testing.T) string {
	t.Helper()
	return engineBin.Path(t)
}

// engine is the binary serving, started for one test.
type engine struct {
	api, admin string
	mu         sync.Mutex
	logs       []string
}

func (e *engine) logText() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.logs, "\n")
}

// startEngine starts bin with args and waits for its "serving" line.
func startEngine(t *testing.T, bin string, args ...string) *engine {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--log-format", "json"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &engine{}
	serving := make(chan map[string]any, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			e.mu.Lock()
			e.logs = append(e.logs, sc.Text())
			e.mu.Unlock()
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec["msg"] == "serving" {
				serving <- rec
			}
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("engine log:\n%s", e.logText())
		}
	})
	select {
	case rec := <-serving:
		e.api, _ = rec["api"].(string)
		e.admin, _ = rec["admin"].(string)
	case <-done:
		t.Fatalf("the engine exited before serving:\n%s", e.logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("no serving line within 30 s:\n%s", e.logText())
	}
	return e
}

// TestE2EKubernetesRedisUsers runs the binary as the Kubernetes recipe
// does, against redis-server started with redis.yaml's --user lines: the
// import Job's command as the write user; the engine serving as the read
// user with rules whose demand counts are shared through Redis, and its
// admin API writing through --admin-store as the write user. Prices are
// served live, the shared demand counters reach Redis, an admin change is
// served, and Redis refuses nothing the engine asks.
func TestE2EKubernetesRedisUsers(t *testing.T) {
	bin := engineBinary(t)
	acl := manifestACL(t)
	srv := redistest.Start(t, redistest.Options{Password: acl.secret["password"], Args: acl.args()})
	readURL, _ := userURL(t, acl.urlRead, srv.Addr())
	writeURL, _ := userURL(t, acl.urlW, srv.Addr())
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	readPW := file("read-password", acl.secret["read-password"]+"\n")
	writePW := file("write-password", acl.secret["write-password"]+"\n")
	tokens := file("tokens", "ops write e2e-kube-token-0123456789abcdef\n")
	rules := file("rules.yaml", "version: acl-e2e\ndemand:\n  window: 10s\n  shared: true\n  tiers:\n    - {above: 1000000, multiplier: 1.05}\n")

	// The import Job's args, with the kubelet's $(PRICING_STORE) expanded.
	m := loadManifests(t)
	job := m.jobs["pricing-import"].Spec.Template.Spec.Containers[0]
	var args []string
	for _, a := range job.Args {
		switch {
		case a == "--store=$(PRICING_STORE)":
			a = "--store=" + writeURL
		case strings.HasPrefix(a, "--store-password-file="):
			a = "--store-password-file=" + writePW
		}
		args = append(args, a)
	}
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("import %v as the write user: %v\n%s", args, err, out)
	}

	e := startEngine(t, bin, "--store", readURL, "--store-password-file", readPW,
		"--admin-store", writeURL, "--admin-store-password-file", writePW,
		"--admin-tokens-file", tokens, "--rules", rules)
	client := &http.Client{Timeout: 5 * time.Second}
	do := func(method, url, body string, header map[string]string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		defer resp.Body.Close()
		var sb strings.Builder
		_, _ = bufio.NewReader(resp.Body).WriteTo(&sb)
		return resp.StatusCode, sb.String()
	}
	price := `{"product_id":"P-1","user_location":"NY"}`
	for range 20 {
		if code, body := do("POST", "http://"+e.api+"/api/v1/price", price, nil); code != 200 || !strings.Contains(body, `"source":"live"`) {
			t.Fatalf("price as the read user = %d %s", code, body)
		}
	}
	// The demand merger adds the counts to Redis as the read user.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if keys := srv.MustDo("KEYS", "demand:pricing:*"); keys != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no shared demand counter in Redis 20 s after the requests")
		}
	}
	// The history merger records the prices in Redis as the read user.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if keys := srv.MustDo("KEYS", "history:{pricing:*"); keys != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no shared price history in Redis 20 s after the requests")
		}
	}
	auth := map[string]string{"Authorization": "Bearer e2e-kube-token-0123456789abcdef", "If-Match": `"0"`}
	if code, body := do("PUT", "http://"+e.admin+"/admin/v1/products/P-1", `{"base_price":"77.00"}`, auth); code != 200 {
		t.Fatalf("admin PUT through the write user = %d %s", code, body)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, body := do("POST", "http://"+e.api+"/api/v1/price", price, nil); strings.Contains(body, `"base_price":77,`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the admin change is not served 5 s after it was written")
		}
	}
	if logs := e.logText(); strings.Contains(logs, "NOPERM") || strings.Contains(logs, "no permissions") {
		t.Errorf("Redis refused a command of the engine:\n%s", logs)
	}
}
