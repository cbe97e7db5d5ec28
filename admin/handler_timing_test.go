package admin

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pricing-engine/pricing-engine/internal/redistest"
	"github.com/pricing-engine/pricing-engine/lookup/redisstore"
)

// benchHandler is the admin API on a real redis-server, served over
// HTTP, with products P-0..P-n-1 in the store.
func benchHandler(b *testing.B, n int) (string, *http.Client) {
	b.Helper()
	srv := redistest.Start(b, redistest.Options{})
	conn, err := srv.Dial()
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	for i := range n {
		if err := conn.Send("SET", fmt.Sprintf("pricing:product:P-%d", i), "10.00"); err != nil {
			b.Fatal(err)
		}
	}
	for range n {
		if _, err := conn.Read(); err != nil {
			b.Fatal(err)
		}
	}
	st := openStore(b, srv.URL())
	tk := tokensFile(b, "bench write "+writeToken+"\n")
	h := New(Config{Store: st.Writer(redisstore.WriterOptions{}), Tokens: tk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	hs := httptest.NewServer(h)
	b.Cleanup(hs.Close)
	return hs.URL, &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
}

func benchDo(b *testing.B, c *http.Client, method, url, body string, headers ...string) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+writeToken)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.Contains(string(rb), `"error"`) {
		b.Fatalf("%s %s: %d %.200s", method, url, resp.StatusCode, rb)
	}
}

// BenchmarkWrite is one governed PUT (If-Match: *) through HTTP and the
// Redis store's script, clients in parallel on distinct products.
func BenchmarkWrite(b *testing.B) {
	const products = 1000
	url, c := benchHandler(b, products)
	b.ReportAllocs()
	// Eight clients per P: a write waits on two round trips (HTTP, Redis),
	// so one client per P would measure latency, not throughput.
	b.SetParallelism(8)
	var client atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		first := int(client.Add(1)) * 97
		for i := 0; pb.Next(); i++ {
			p := (first + i) % products
			benchDo(b, c, "PUT", fmt.Sprintf("%s/admin/v1/products/P-%d", url, p), fmt.Sprintf(`{"base_price":"%d.%02d"}`, 10+i%90, i%100), "If-Match", "*")
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
}

// BenchmarkChanges1000 is one POST /admin/v1/changes of 1,000 items on
// distinct products; it reports items per second.
func BenchmarkChanges1000(b *testing.B) {
	const items = 1000
	url, c := benchHandler(b, items)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		var sb strings.Builder
		sb.WriteString(`{"changes":[`)
		for k := range items {
			if k > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `{"product_id":"P-%d","base_price":"%d.%02d","if_match":"*"}`, k, 10+i%90, k%100)
		}
		sb.WriteString(`]}`)
		benchDo(b, c, "POST", url+"/admin/v1/changes", sb.String())
	}
	b.ReportMetric(float64(items)*float64(b.N)/b.Elapsed().Seconds(), "items/s")
}
