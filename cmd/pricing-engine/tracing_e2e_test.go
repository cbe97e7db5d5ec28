package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/redistest"
)

// jaegerBinary returns Jaeger built from tools/jaeger: $PRICING_E2E_JAEGER
// (make e2e builds bin/jaeger), else bin/jaeger, else a build now (seconds
// with a warm module cache, minutes cold). It skips the test only when
// Jaeger cannot be built.
func jaegerBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PRICING_E2E_JAEGER"); p != "" {
		return p
	}
	if p, err := filepath.Abs("../../bin/jaeger"); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	out := filepath.Join(t.TempDir(), "jaeger")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "github.com/jaegertracing/jaeger/cmd/jaeger")
	cmd.Dir = "../../tools/jaeger"
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("Jaeger cannot be built from tools/jaeger (make jaeger), so the tracing end-to-end test cannot run: %v\n%s", err, b)
	}
	return out
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// jaeger is a running Jaeger: OTLP/HTTP in, query API out.
type jaeger struct {
	otlp, query string // base URLs
}

func startJaeger(t *testing.T) *jaeger {
	t.Helper()
	bin := jaegerBinary(t)
	otlp, query, grpc := freePort(t), freePort(t), freePort(t)
	cfg, err := filepath.Abs("../../tools/jaeger/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", "file:"+cfg)
	cmd.Env = cleanEnv(fmt.Sprintf("JAEGER_OTLP_HTTP_PORT=%d", otlp), fmt.Sprintf("JAEGER_QUERY_PORT=%d", query),
		fmt.Sprintf("JAEGER_QUERY_GRPC_PORT=%d", grpc))
	logf, err := os.Create(filepath.Join(t.TempDir(), "jaeger.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start Jaeger: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("Jaeger's log:\n%s", b)
		}
	})
	j := &jaeger{otlp: fmt.Sprintf("http://127.0.0.1:%d", otlp), query: fmt.Sprintf("http://127.0.0.1:%d", query)}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(j.query + "/api/services")
		if err == nil {
			resp.Body.Close()
			if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", otlp)); err == nil {
				c.Close()
				if resp.StatusCode == 200 {
					return j
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Jaeger not up within 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// jaegerSpan is the part of a span the query API returns that the test
// reads.
type jaegerSpan struct {
	TraceID       string `json:"traceID"`
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	Tags []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"tags"`
	Logs []struct {
		Fields []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"fields"`
	} `json:"logs"`
}

func (s *jaegerSpan) tag(k string) any {
	for _, tg := range s.Tags {
		if tg.Key == k {
			return tg.Value
		}
	}
	return nil
}

// trace polls /api/traces/{id} until the trace has spans (the exporter
// and Jaeger's batch each wait up to a second).
func (j *jaeger) trace(t *testing.T, id string) []jaegerSpan {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(j.query + "/api/traces/" + id)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Data []struct {
				Spans []jaegerSpan `json:"spans"`
			} `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err == nil && resp.StatusCode == 200 && len(body.Data) == 1 && len(body.Data[0].Spans) > 0 {
			return body.Data[0].Spans
		}
		if time.Now().After(deadline) {
			t.Fatalf("trace %s not in Jaeger after 20s (status %d, %v)", id, resp.StatusCode, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var requestIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

func findSpan(spans []jaegerSpan, name string) *jaegerSpan {
	for i := range spans {
		if spans[i].OperationName == name {
			return &spans[i]
		}
	}
	return nil
}

func hasEvent(s *jaegerSpan, name string) bool {
	for _, l := range s.Logs {
		for _, f := range l.Fields {
			if f.Key == "event" && f.Value == name {
				return true
			}
		}
	}
	return false
}

// tracedPrice sends a price request with optional traceparent and returns
// the reply's X-Request-Id.
func tracedPrice(t *testing.T, p *proc, traceparent string) string {
	t.Helper()
	return tracedPriceOf(t, p, traceparent, `{"product_id":"P-100","user_location":"NY"}`)
}

// tracedPriceOf is tracedPrice with a body.
func tracedPriceOf(t *testing.T, p *proc, traceparent, body string) string {
	t.Helper()
	req, err := http.NewRequest("POST", "http://"+p.api+"/api/v1/price", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if traceparent != "" {
		req.Header.Set("traceparent", traceparent)
		req.Header.Set("tracestate", "rojo=00f067aa0ba902b7")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	id := resp.Header.Get("X-Request-Id")
	if !requestIDPattern.MatchString(id) {
		t.Fatalf("X-Request-Id %q", id)
	}
	return id
}

func TestE2ETracingJaeger(t *testing.T) {
	serverBinary(t)
	j := startJaeger(t)
	const (
		traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		parent  = "00f067aa0ba902b7"
	)
	sampled := "00-" + traceID + "-" + parent + "-01"

	t.Run("trusted parent", func(t *testing.T) {
		accessLog := filepath.Join(t.TempDir(), "access.log")
		p := startServer(t, append(slices.Clone(loopbackArgs), "--trace-endpoint", j.otlp, "--trace-sample", "0",
			"--trace-trust-parent", "--access-log", accessLog))
		plain := tracedPrice(t, p, "")
		if id := tracedPrice(t, p, sampled); id != traceID {
			t.Fatalf("X-Request-Id %s, want the incoming trace id %s", id, traceID)
		}
		spans := j.trace(t, traceID)
		var req *jaegerSpan
		for i := range spans {
			if spans[i].OperationName == "/api/v1/price" {
				req = &spans[i]
			}
		}
		if req == nil {
			t.Fatalf("no request span in %+v", spans)
		}
		if len(req.References) != 1 || req.References[0].SpanID != parent || req.References[0].TraceID != traceID {
			t.Fatalf("request span's parent: %+v", req.References)
		}
		if req.tag("http.route") != "/api/v1/price" || req.tag("http.response.status_code") != 200.0 || req.tag("http.request.method") != "POST" {
			t.Fatalf("request span's tags: %+v", req.Tags)
		}
		// The request without a traceparent was not sampled (ratio 0):
		// its id is not a trace Jaeger knows.
		resp, err := http.Get(j.query + "/api/traces/" + plain)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Fatalf("the unsampled request %s is in Jaeger: %d", plain, resp.StatusCode)
		}
		// Its access log line carries its request id.
		p.signal(os.Interrupt)
		if code := p.wait(20 * time.Second); code != 0 {
			t.Fatalf("exit %d", code)
		}
		b, err := os.ReadFile(accessLog)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			var line map[string]any
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Fatalf("access log line %q: %v", sc.Text(), err)
			}
			if line["path"] == "/api/v1/price" && line["status"] == 200.0 && line["method"] == "POST" && line["source"] == "live" {
				ids = append(ids, line["request_id"].(string))
			}
		}
		if !slices.Equal(ids, []string{plain, traceID}) {
			t.Fatalf("access log ids %v, want %v", ids, []string{plain, traceID})
		}
	})

	t.Run("store round trips", func(t *testing.T) {
		srv := redistest.Start(t, redistest.Options{})
		if r := runBinary(t, []string{"import", "--store", srv.URL(), "--embedded"}); r.code != 0 {
			t.Fatalf("import: exit %d\n%s", r.code, r.stderr)
		}
		rulesFile, err := filepath.Abs("../../rules/testdata/example.yaml")
		if err != nil {
			t.Fatal(err)
		}
		p := startServer(t, append(slices.Clone(loopbackArgs), "--store", srv.URL(), "--rules", rulesFile,
			"--trace-endpoint", j.otlp, "--trace-sample", "0", "--trace-trust-parent"))
		// The first request for P-7 misses the client-side cache: a round
		// trip to Redis serves it; the second is answered from the cache.
		missID, hitID := strings.Repeat("7e", 16), strings.Repeat("7f", 16)
		for _, id := range []string{missID, hitID} {
			tracedPriceOf(t, p, "00-"+id+"-"+parent+"-01", `{"product_id":"P-7","user_location":"NY"}`)
		}
		spans := j.trace(t, missID)
		req, trip := findSpan(spans, "/api/v1/price"), findSpan(spans, "store round trip")
		if req == nil || trip == nil {
			t.Fatalf("want a request span and a store round trip span, got %+v", spans)
		}
		if req.tag("pricing.product_id") != "P-7" || req.tag("pricing.location") != "NY" || req.tag("pricing.source") != "live" ||
			req.tag("pricing.store.round_trips") != 1.0 {
			t.Fatalf("request span's tags: %+v", req.Tags)
		}
		if !hasEvent(req, "rules") {
			t.Fatalf("request span without the rules event: %+v", req.Logs)
		}
		if len(trip.References) == 0 || trip.References[0].SpanID != req.SpanID || trip.tag("db.system.name") != "redis" {
			t.Fatalf("store span %+v, want a child of the request span %s", trip, req.SpanID)
		}
		linked := false
		for _, r := range trip.References {
			linked = linked || (r.RefType == "FOLLOWS_FROM" && r.SpanID == req.SpanID)
		}
		if !linked {
			t.Fatalf("store span not linked to the request it served: %+v", trip.References)
		}
		hit := j.trace(t, hitID)
		if r := findSpan(hit, "/api/v1/price"); r == nil || r.tag("pricing.source") != "cached" || findSpan(hit, "store round trip") != nil {
			t.Fatalf("the cached request's trace: %+v", hit)
		}
	})

	t.Run("untrusted parent", func(t *testing.T) {
		// Ratio 0: a sampled flag from the client does not force a span.
		p := startServer(t, append(slices.Clone(loopbackArgs), "--trace-endpoint", j.otlp, "--trace-sample", "0"))
		other := "00-" + strings.Repeat("ab", 16) + "-" + parent + "-01"
		if id := tracedPrice(t, p, other); id != strings.Repeat("ab", 16) {
			t.Fatalf("X-Request-Id %s", id)
		}
		_, _, body := p.do("GET", "http://"+p.admin+"/metrics", "", "")
		if v := metricValue(body, "pricing_trace_spans_sampled_total"); v != 0 {
			t.Fatalf("an untrusted sampled flag recorded %v spans", v)
		}
		// Ratio 1: requests are traced whatever their flag, in the
		// incoming trace or a new one.
		p2 := startServer(t, append(slices.Clone(loopbackArgs), "--trace-endpoint", j.otlp, "--trace-sample", "1"))
		notSampled := "00-" + strings.Repeat("cd", 16) + "-" + parent + "-00"
		tracedPrice(t, p2, notSampled)
		fresh := tracedPrice(t, p2, "")
		for _, id := range []string{strings.Repeat("cd", 16), fresh} {
			if spans := j.trace(t, id); spans[0].OperationName != "/api/v1/price" {
				t.Fatalf("trace %s: %+v", id, spans)
			}
		}
		// The latency histogram carries a sampled request's trace id as
		// an exemplar for a scraper that asks for OpenMetrics (a loop
		// keeps one exemplar per 100 ms: one of the two at least).
		req, err := http.NewRequest("GET", "http://"+p2.admin+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		om, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/openmetrics-text") ||
			(!strings.Contains(string(om), `trace_id="`+strings.Repeat("cd", 16)+`"`) && !strings.Contains(string(om), `trace_id="`+fresh+`"`)) {
			t.Fatalf("no exemplar with either trace id in the OpenMetrics exposition (%s):\n%.2000s", resp.Header.Get("Content-Type"), om)
		}
	})
}

// TestE2ETracingSilentCollector: a collector that accepts connections and
// never answers changes nothing for clients: no failed request, and the
// P99 of a bounded run stays that of a run without tracing.
func TestE2ETracingSilentCollector(t *testing.T) {
	serverBinary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held, never read, never answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	run := func(args ...string) (p99 time.Duration, failed int, p *proc) {
		p = startServer(t, append(slices.Clone(loopbackArgs), args...))
		const workers, perWorker = 8, 500
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			lats []time.Duration
		)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				client := &http.Client{Timeout: 5 * time.Second}
				defer client.CloseIdleConnections()
				for range perWorker {
					start := time.Now()
					resp, err := client.Post("http://"+p.api+"/api/v1/price", "application/json",
						strings.NewReader(`{"product_id":"P-100","user_location":"NY"}`))
					d := time.Since(start)
					mu.Lock()
					if err != nil || resp.StatusCode != 200 || resp.Header.Get("X-Request-Id") == "" {
						failed++
					}
					lats = append(lats, d)
					mu.Unlock()
					if err == nil {
						resp.Body.Close()
					}
				}
			}()
		}
		wg.Wait()
		slices.Sort(lats)
		return lats[len(lats)*99/100], failed, p
	}
	base, baseFailed, _ := run()
	silent, silentFailed, p := run("--trace-endpoint", "http://"+ln.Addr().String(), "--trace-sample", "1")
	// A dead collector: nothing listens on its port (connection refused).
	dead, deadFailed, _ := run("--trace-endpoint", fmt.Sprintf("http://127.0.0.1:%d", freePort(t)), "--trace-sample", "1")
	t.Logf("P99 without tracing %v, every request traced to a silent collector %v, to a dead one %v", base, silent, dead)
	if baseFailed != 0 || silentFailed != 0 || deadFailed != 0 {
		t.Fatalf("failed requests: %d without tracing, %d with a silent collector, %d with a dead one", baseFailed, silentFailed, deadFailed)
	}
	// A loaded two-core machine moves P99 by itself: a collector that
	// held the loops would add its export timeout (seconds) instead.
	if silent > 3*base+5*time.Millisecond || dead > 3*base+5*time.Millisecond {
		t.Fatalf("P99 %v with a silent collector, %v with a dead one, against %v without tracing", silent, dead, base)
	}
	_, _, body := p.do("GET", "http://"+p.admin+"/metrics", "", "")
	if v := metricValue(body, "pricing_trace_spans_sampled_total"); v != 4000 {
		t.Fatalf("%v spans sampled, want 4000", v)
	}
	if v := metricValue(body, "pricing_trace_spans_dropped_total") + metricValue(body, "pricing_trace_spans_failed_total"); v == 0 {
		t.Fatal("no span counted dropped or failed against a silent collector")
	}
}

// TestE2EAccessLogUpToShutdown: clients keep sending while the server is
// told to stop; every reply a client received has its access log line
// once the process exited (the loops' last lines are handed over and the
// writer drains before exit).
func TestE2EAccessLogUpToShutdown(t *testing.T) {
	serverBinary(t)
	accessLog := filepath.Join(t.TempDir(), "access.log")
	p := startServer(t, append(slices.Clone(loopbackArgs), "--access-log", accessLog, "--drain-delay=300ms", "--shutdown-timeout=10s"))
	var (
		mu       sync.Mutex
		received []string
		wg       sync.WaitGroup
	)
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			defer client.CloseIdleConnections()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Post("http://"+p.api+"/api/v1/price", "application/json",
					strings.NewReader(`{"product_id":"P-100","user_location":"NY"}`))
				if err != nil {
					return // the server closed: draining
				}
				resp.Body.Close()
				mu.Lock()
				received = append(received, resp.Header.Get("X-Request-Id"))
				mu.Unlock()
			}
		}()
	}
	// Let some requests through, then stop the server under load.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(received)
		mu.Unlock()
		if n >= 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d replies in 10s", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.signal(syscall.SIGTERM)
	code := p.wait(20 * time.Second)
	close(stop)
	wg.Wait()
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	b, err := os.ReadFile(accessLog)
	if err != nil {
		t.Fatal(err)
	}
	logged := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		var line struct {
			ID string `json:"request_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("access log line %q: %v", sc.Text(), err)
		}
		logged[line.ID] = true
	}
	missing := 0
	for _, id := range received {
		if !logged[id] {
			missing++
		}
	}
	t.Logf("%d replies received, %d lines logged", len(received), len(logged))
	if missing != 0 || len(received) == 0 {
		t.Fatalf("%d of %d received replies have no access log line", missing, len(received))
	}
}
