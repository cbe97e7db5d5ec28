package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pricing-engine/pricing-engine/internal/textarg"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// quoteServer answers like the default catalog, or with status for
// product P-13 when fail13 is set.
func quoteServer(t *testing.T, fail13 bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ProductID string `json:"product_id"`
			Location  string `json:"user_location"`
			Member    bool   `json:"is_prime_member"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if fail13 && req.ProductID == "P-13" {
			http.Error(w, `{"detail":"boom"}`, http.StatusInternalServerError)
			return
		}
		n, _ := strconv.Atoi(strings.TrimPrefix(req.ProductID, "P-"))
		base := 49.99 + float64(n%10)
		mult := map[string]float64{"NY": 1.10, "LA": 1.05, "MIA": 0.95}[req.Location]
		disc := 0.0
		if req.Member {
			disc = 0.05
		}
		final := math.Round(base*mult*(1-disc)*100) / 100
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"product_id":%q,"final_price":%v,"base_price":%v,"market_multiplier":%v,"discount_rate":%v,"source":"live"}`,
			req.ProductID, final, base, mult, disc)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRunExitCodes(t *testing.T) {
	good := quoteServer(t, false)
	bad := quoteServer(t, true)
	common := []string{"--users", "4", "--think", "0", "--duration", "3s", "--max-requests", "200", "--products", "10-19", "--quiet"}
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var cat strings.Builder
	cat.WriteString("product_id,base_price\n")
	for n := 10; n <= 19; n++ {
		fmt.Fprintf(&cat, "P-%d,%d.99\n", n, 49+n%10)
	}
	sameCatalog := write("same.csv", cat.String())
	otherCatalog := write("other.csv", strings.ReplaceAll(cat.String(), "P-13,52.99", "P-13,53.99"))
	otherMarkets := write("markets.csv", "location,multiplier\nNY,1.10\nLA,1.05\nMIA,0.96\n")
	badMarkets := write("bad-markets.csv", "location,multiplier\nNY,1.10\nLA,1000\n")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"pass", append([]string{"--url", good.URL + "/api/v1/price", "--slo", "p95<5s,failures=0"}, common...), exitPass, "verdict     PASS"},
		{"no slo", append([]string{"--url", good.URL + "/api/v1/price"}, common...), exitPass, "successes   200"},
		{"latency objective missed", append([]string{"--url", good.URL + "/api/v1/price", "--slo", "p50<1us"}, common...), exitFail, "verdict     FAIL"},
		{"failures", append([]string{"--url", bad.URL + "/api/v1/price", "--slo", "failures=0"}, common...), exitFail, "status_500="},
		{"catalog file served", append([]string{"--url", good.URL + "/api/v1/price", "--catalog", sameCatalog, "--slo", "failures=0"}, common...), exitPass, "verdict     PASS"},
		{"catalog file not served", append([]string{"--url", good.URL + "/api/v1/price", "--catalog", otherCatalog, "--slo", "failures=0"}, common...), exitFail, "base_price does not match the catalog"},
		{"markets file not served", append([]string{"--url", good.URL + "/api/v1/price", "--markets", otherMarkets, "--locations", "MIA", "--slo", "failures=0"}, common...), exitFail, "market_multiplier does not match the markets"},
		{"markets file not served, lenient", append([]string{"--url", good.URL + "/api/v1/price", "--markets", otherMarkets, "--strict=false", "--slo", "failures=0"}, common...), exitPass, "verdict     PASS"},
		{"bad markets file", []string{"--markets", badMarkets, "--duration", "1s"}, exitUsage, ""},
		{"remote refused", []string{"--url", "http://10.1.2.3:8000/api/v1/price", "--duration", "1s"}, exitUsage, ""},
		{"bad flag", []string{"--no-such-flag"}, exitUsage, ""},
		{"bad think", []string{"--think", "2s-1s"}, exitUsage, ""},
		{"bad slo", []string{"--slo", "p95~1s"}, exitUsage, ""},
		{"extra argument", []string{"http://127.0.0.1/"}, exitUsage, ""},
		{"help", []string{"--help"}, exitPass, ""},
		{"epoll engine", append([]string{"--url", good.URL + "/api/v1/price", "--engine", "epoll", "--tick", "200us", "--rate", "1000", "--slo", "p95<5s,failures=0"}, common...), exitPass, "epoll engine"},
		{"epoll engine failures", append([]string{"--url", bad.URL + "/api/v1/price", "--engine", "epoll", "--rate", "1000", "--slo", "failures=0"}, common...), exitFail, "status_500="},
		{"epoll engine needs a rate", []string{"--engine", "epoll", "--duration", "1s"}, exitUsage, ""},
		{"unknown engine", []string{"--engine", "uring", "--rate", "10", "--duration", "1s"}, exitUsage, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tc.args, &out, &errOut)
			if code != tc.wantCode {
				t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, out.String(), errOut.String())
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Fatalf("stdout lacks %q:\n%s", tc.wantOut, out.String())
			}
		})
	}
}

func TestRunWritesReports(t *testing.T) {
	srv := quoteServer(t, false)
	dir := t.TempDir()
	jp, pp := filepath.Join(dir, "out.json"), filepath.Join(dir, "out.png")
	args := []string{"--url", srv.URL + "/api/v1/price", "--users", "8", "--think", "1ms-5ms", "--duration", "1s",
		"--slo", "p95<5s,failures=0", "--json", jp, "--plot", pp, "--interval", "200ms"}
	if code := run(context.Background(), args, io.Discard, io.Discard); code != exitPass {
		t.Fatalf("exit code %d", code)
	}
	raw, err := os.ReadFile(jp)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Requests int64 `json:"requests"`
		SLO      struct {
			Pass bool `json:"pass"`
		} `json:"slo"`
		Series []json.RawMessage `json:"series"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("report is not JSON: %v", err)
	}
	// The series has a point per elapsed --interval; how many fit in the
	// 1 s run depends on the scheduler, so only at least one is required.
	if rep.Requests == 0 || !rep.SLO.Pass || len(rep.Series) < 1 {
		t.Errorf("report = requests %d, slo pass %v, %d series points", rep.Requests, rep.SLO.Pass, len(rep.Series))
	}
	png, err := os.ReadFile(pp)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Error("plot is not a PNG")
	}
}

func TestParseThink(t *testing.T) {
	tests := []struct {
		in      string
		lo, hi  string
		wantErr bool
	}{
		{"0.5s-2s", "500ms", "2s", false},
		{"1s", "1s", "1s", false},
		{"0", "0s", "0s", false},
		{"x", "", "", true},
		{"1s-y", "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			lo, hi, err := textarg.ParseRange(tc.in, time.ParseDuration)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err == nil && (lo.String() != tc.lo || hi.String() != tc.hi) {
				t.Fatalf("got %v-%v, want %s-%s", lo, hi, tc.lo, tc.hi)
			}
		})
	}
}

func TestParseBatch(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		batch   int
		url     string
		wantErr string
	}{
		{"single by default", nil, 0, "http://127.0.0.1:8000/api/v1/price", ""},
		{"batch takes the batch endpoint", []string{"--batch", "20"}, 20, defaultBatchURL, ""},
		{"an explicit url is kept", []string{"--batch", "5", "--url", "http://127.0.0.1:9/x"}, 5, "http://127.0.0.1:9/x", ""},
		{"100 items", []string{"--batch", "100"}, 100, defaultBatchURL, ""},
		{"101 items refused", []string{"--batch", "101"}, 0, "", "batch of 101 items out of range [0, 100]"},
		{"negative refused", []string{"--batch", "-1"}, 0, "", "out of range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, err := parseFlags(tc.args, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseFlags = %v, want error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Workload.Batch != tc.batch || cfg.URL != tc.url {
				t.Fatalf("batch %d url %q, want %d %q", cfg.Workload.Batch, cfg.URL, tc.batch, tc.url)
			}
		})
	}
}

// TestRunBatch: --batch through the command against a server answering
// batches like the default catalog; the summary counts items.
func TestRunBatch(t *testing.T) {
	single := quoteServer(t, false)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Items []json.RawMessage `json:"items"`
		}
		if r.URL.Path != "/api/v1/prices" || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, `{"detail":"bad batch"}`, http.StatusBadRequest)
			return
		}
		out := []byte(`{"items":[`)
		for i, it := range req.Items {
			rr := httptest.NewRecorder()
			single.Config.Handler.ServeHTTP(rr, httptest.NewRequest("POST", "/api/v1/price", bytes.NewReader(it)))
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, bytes.TrimSpace(rr.Body.Bytes())...)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(append(out, "]}"...))
	}))
	t.Cleanup(srv.Close)
	var out, errOut bytes.Buffer
	args := []string{"--url", srv.URL + "/api/v1/prices", "--batch", "7", "--users", "2", "--think", "0", "--duration", "3s",
		"--max-requests", "50", "--products", "10-19", "--quiet", "--slo", "failures=0"}
	if code := run(context.Background(), args, &out, &errOut); code != exitPass {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"batches of 7 items", "requests    50  (", "items       350  (", "350 passed the check", "successes   50"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}
