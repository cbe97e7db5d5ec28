package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/apidocs/apicheck"
)

func pricesReq(body string) string {
	return fmt.Sprintf("POST /api/v1/prices HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

func batchOf(n int) string {
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"product_id":"P-%d","user_location":"NY"}`, 100+i%10)
	}
	b.WriteString(`]}`)
	return b.String()
}

const (
	quoteP123NYMember = `{"product_id":"P-123","final_price":55.37,"base_price":52.99,"market_multiplier":1.1,"discount_rate":0.05,"source":"live"}`
	quoteP100NY       = `{"product_id":"P-100","final_price":54.99,"base_price":49.99,"market_multiplier":1.1,"discount_rate":0,"source":"live"}`
	quoteP123MIA      = `{"product_id":"P-123","final_price":47.82,"base_price":52.99,"market_multiplier":0.95,"discount_rate":0.05,"source":"live"}`
)

type batchCase struct {
	name     string
	raw      string
	status   int
	body     string // exact body, or ""
	contains []string
	allow    string
}

func batchCases() []batchCase {
	good := `{"items":[{"product_id":"P-123","user_location":"NY","is_prime_member":true},{"product_id":"P-100","user_location":"NY"},{"product_id":"P-123","user_location":"MIA","is_prime_member":true}]}`
	return []batchCase{
		{name: "good batch of 3 in order", raw: pricesReq(good), status: 200,
			body: `{"items":[` + quoteP123NYMember + `,` + quoteP100NY + `,` + quoteP123MIA + `]}`},
		{name: "bad item among good ones", raw: pricesReq(`{"items":[{"product_id":"P-123","user_location":"NY","is_prime_member":true},{"product_id":1,"user_location":"NY"},{"product_id":"P-100","user_location":"NY"}]}`), status: 200,
			contains: []string{`{"items":[` + quoteP123NYMember + `,{"error":{"status":422,"detail":[`, `"loc":["body","items",1,"product_id"]`, `]}},` + quoteP100NY + `]}`}},
		{name: "unknown product item", raw: pricesReq(`{"items":[{"product_id":"P-X","user_location":"NY"},{"product_id":"P-100","user_location":"NY"}]}`), status: 200,
			body: `{"items":[{"error":{"status":404,"detail":"unknown product_id \"P-X\""}},` + quoteP100NY + `]}`},
		{name: "101 items", raw: pricesReq(batchOf(101)), status: 422, contains: []string{`"type":"too_long"`, `"loc":["body","items"]`}},
		{name: "100 items", raw: pricesReq(batchOf(100)), status: 200, contains: []string{`{"items":[{"product_id":"P-100"`}},
		{name: "empty items", raw: pricesReq(`{"items":[]}`), status: 422, contains: []string{`"type":"too_short"`}},
		{name: "missing items", raw: pricesReq(`{}`), status: 422, contains: []string{`"type":"missing"`}},
		{name: "malformed json", raw: pricesReq(`{"items":[`), status: 400, contains: []string{`{"detail":"invalid JSON: `}},
		{name: "explain non-boolean", raw: pricesReq(`{"items":[{"product_id":"P-100","user_location":"NY"}],"explain":"maybe"}`), status: 422, contains: []string{`"loc":["body","explain"]`}},
		{name: "body too large", raw: pricesReq(`{"items":[{"product_id":"` + strings.Repeat("a", 70<<10) + `"}]}`), status: 413},
		{name: "wrong method", raw: "GET /api/v1/prices HTTP/1.1\r\nHost: x\r\n\r\n", status: 405, body: `{"detail":"Method Not Allowed"}`, allow: "POST"},
		{name: "unsupported content type", raw: "POST /api/v1/prices HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}", status: 415},
	}
}

func checkBatchReply(t *testing.T, v *apicheck.Validator, tc batchCase, resp *http.Response, body string) {
	t.Helper()
	if resp.StatusCode != tc.status {
		t.Fatalf("status = %d, want %d; body %.300s", resp.StatusCode, tc.status, body)
	}
	if tc.body != "" && body != tc.body {
		t.Errorf("body = %s\nwant   %s", body, tc.body)
	}
	for _, c := range tc.contains {
		if !strings.Contains(body, c) {
			t.Errorf("body %.400s lacks %q", body, c)
		}
	}
	if tc.allow != "" && resp.Header.Get("Allow") != tc.allow {
		t.Errorf("Allow = %q, want %q", resp.Header.Get("Allow"), tc.allow)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	if tc.status != 400 && tc.status != 413 && tc.status != 415 {
		method := strings.Fields(tc.raw)[0]
		if err := v.ValidateResponse(method, "/api/v1/prices", resp.StatusCode, resp.Header, []byte(body)); err != nil {
			t.Errorf("reply does not match the OpenAPI document: %v", err)
		}
	}
}

// TestBatchPrices runs the batch cases on the API port, with the memory
// source (inline on the loop) and with a delaying source (pending on the
// loop's lookups), and on the admin port.
func TestBatchPrices(t *testing.T) {
	mem := startServer(t, serverOpts{})
	slow := startServer(t, serverOpts{src: delaySource(t, func(id []byte) time.Duration {
		return time.Duration(1+len(id)%3) * time.Millisecond
	})})
	v, err := apicheck.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	// The check can fail: a reply that is not a batch reply is refused.
	if err := v.ValidateResponse("POST", "/api/v1/prices", 200, http.Header{"Content-Type": {"application/json"}}, []byte(`{"items":5}`)); err == nil {
		t.Fatal("the OpenAPI check accepted {\"items\":5} as a batch reply")
	}
	targets := []struct{ name, addr string }{
		{"api memory", mem.addr},
		{"api async", slow.addr},
		{"admin memory", mem.admin},
		{"admin async", slow.admin},
	}
	for _, tg := range targets {
		for _, tc := range batchCases() {
			t.Run(tg.name+"/"+tc.name, func(t *testing.T) {
				c := dial(t, tg.addr)
				br := bufio.NewReader(c)
				resp := exchange(t, c, br, tc.raw, 1)[0]
				checkBatchReply(t, v, tc, resp, bodyOf(t, resp))
			})
		}
	}
}

// TestBatchPipelineOrder pipelines batches between single requests on one
// connection, with lookups that complete out of order: every reply comes
// back in request order.
func TestBatchPipelineOrder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		delay func(id []byte) time.Duration
	}{
		{"memory", nil},
		{"async", func(id []byte) time.Duration { return time.Duration(10-int(id[len(id)-1]-'0')) * time.Millisecond }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := serverOpts{}
			if tc.delay != nil {
				o.src = delaySource(t, tc.delay)
			}
			ts := startServer(t, o)
			var raw strings.Builder
			const n = 30
			for i := range n {
				if i%3 == 1 {
					fmt.Fprintf(&raw, "%s", pricesReq(fmt.Sprintf(`{"items":[{"product_id":"P-%d","user_location":"NY"},{"product_id":"P-%d","user_location":"NY"}]}`, 100+i%10, 100+(i+1)%10)))
					continue
				}
				raw.WriteString(priceReq(fmt.Sprintf(`{"product_id":"P-%d","user_location":"NY"}`, 100+i%10)))
			}
			c := dial(t, ts.addr)
			br := bufio.NewReader(c)
			rs := exchange(t, c, br, raw.String(), n)
			for i, r := range rs {
				body := bodyOf(t, r)
				if r.StatusCode != 200 {
					t.Fatalf("reply %d: status %d %s", i, r.StatusCode, body)
				}
				if i%3 == 1 {
					var b struct {
						Items []struct {
							ProductID string `json:"product_id"`
						} `json:"items"`
					}
					if err := json.Unmarshal([]byte(body), &b); err != nil {
						t.Fatalf("reply %d: %v", i, err)
					}
					if len(b.Items) != 2 || b.Items[0].ProductID != fmt.Sprintf("P-%d", 100+i%10) || b.Items[1].ProductID != fmt.Sprintf("P-%d", 100+(i+1)%10) {
						t.Fatalf("reply %d: batch out of order or wrong: %s", i, body)
					}
					continue
				}
				if !strings.HasPrefix(body, fmt.Sprintf(`{"product_id":"P-%d"`, 100+i%10)) {
					t.Fatalf("reply %d out of order or wrong: %s", i, body)
				}
			}
		})
	}
}

// TestBatchLookupsOverlap prices a batch of 20 items on a source whose
// lookups block until released: all 20 must be out at once (begun
// together, flushed once) before any answers, and the reply then holds
// every item.
func TestBatchLookupsOverlap(t *testing.T) {
	src := newBlockingSource(t)
	ts := startServer(t, serverOpts{src: src, deadline: 10 * time.Second})
	t.Cleanup(src.open)
	c := dial(t, ts.addr)
	br := bufio.NewReader(c)
	if _, err := c.Write([]byte(pricesReq(batchOf(20)))); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(5 * time.Second)
	for i := range 20 {
		select {
		case <-src.started:
		case <-timeout:
			t.Fatalf("only %d of 20 lookups were out at once", i)
		}
	}
	src.open()
	resp := exchange(t, c, br, "", 1)[0]
	body := bodyOf(t, resp)
	if resp.StatusCode != 200 || strings.Count(body, `"source":"live"`) != 20 {
		t.Fatalf("status %d body %.300s", resp.StatusCode, body)
	}
}

// TestBatchPanicIsContained: a panic while pricing a batch (in a lookup
// begun on the event loop) is answered 500 and closes only that
// connection; the server keeps answering batches.
func TestBatchPanicIsContained(t *testing.T) {
	src := delaySource(t, func([]byte) time.Duration { return time.Millisecond })
	src.panicOn = "P-BOOM"
	ts := startServer(t, serverOpts{src: src, log: &syncBuffer{}})
	c := dial(t, ts.addr)
	br := bufio.NewReader(c)
	resp := exchange(t, c, br, pricesReq(`{"items":[{"product_id":"P-100","user_location":"NY"},{"product_id":"P-BOOM","user_location":"NY"}]}`), 1)[0]
	if resp.StatusCode != 500 {
		t.Fatalf("status %d, want 500: %s", resp.StatusCode, bodyOf(t, resp))
	}
	if !waitEOF(c, br) {
		t.Error("the connection stayed open after a 500")
	}
	c2 := dial(t, ts.addr)
	br2 := bufio.NewReader(c2)
	resp = exchange(t, c2, br2, pricesReq(batchOf(3)), 1)[0]
	if body := bodyOf(t, resp); resp.StatusCode != 200 || strings.Count(body, `"source":"live"`) != 3 {
		t.Fatalf("after the panic: status %d body %s", resp.StatusCode, body)
	}
}
