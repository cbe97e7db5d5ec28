package loadtest

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAppendBatchRequest(t *testing.T) {
	const head = "POST /api/v1/prices HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: pricing-engine-loadtest\r\nContent-Type: application/json\r\n"
	tests := []struct {
		name    string
		infos   []reqInfo
		closing bool
		head    string
		body    string
	}{
		{"one item", []reqInfo{{product: 100, location: 1, member: true}}, false, head,
			`{"items":[{"product_id":"P-100","user_location":"LA","is_prime_member":true}]}`},
		{"three items in order", []reqInfo{{product: 999, location: 0}, {product: 100, location: 2, member: true}, {product: 555, location: 1}}, false, head,
			`{"items":[{"product_id":"P-999","user_location":"NY","is_prime_member":false},` +
				`{"product_id":"P-100","user_location":"MIA","is_prime_member":true},` +
				`{"product_id":"P-555","user_location":"LA","is_prime_member":false}]}`},
		{"connection close", []reqInfo{{product: 7, location: 0}}, true, head + "Connection: close\r\n",
			`{"items":[{"product_id":"P-7","user_location":"NY","is_prime_member":false}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := ClassicWorkload()
			w.Batch = len(tc.infos)
			r := mustRenderer(t, &w, target{requestURI: "/api/v1/prices", hostHeader: "127.0.0.1:8000"}, tc.closing)
			// Reused buffers holding older bytes must not leak into the request.
			got, _ := r.appendBatchRequest([]byte("old"), []byte("stale scratch"), tc.infos)
			want := "old" + tc.head + "Content-Length: " + strconv.Itoa(len(tc.body)) + "\r\n\r\n" + tc.body
			if string(got) != want {
				t.Fatalf("request\n%q\nwant\n%q", got, want)
			}
		})
	}
}

// quotes joins the default catalog's quotes for items with sep.
func quotes(items []reqInfo, locs []string, sep string) string {
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = quoteFor(priceRequest{ProductID: "P-" + strconv.Itoa(it.product), Location: locs[it.location], Member: it.member})
	}
	return strings.Join(parts, sep)
}

func TestBatchCheck(t *testing.T) {
	locs := ClassicWorkload().Locations
	items := []reqInfo{{product: 123, location: 2, member: true}, {product: 100, location: 0}, {product: 555, location: 1, member: true}}
	good := `{"items":[` + quotes(items, locs, ",") + `]}`
	q0 := quotes(items[:1], locs, "")
	q1 := quotes(items[1:2], locs, "")
	q2 := quotes(items[2:], locs, "")
	wrongFinal := strings.Replace(q1, `"final_price":54.99`, `"final_price":54.98`, 1)
	if wrongFinal == q1 {
		t.Fatalf("test data: %s has no final_price 54.99", q1)
	}
	const errItem = `{"error":{"status":404,"detail":"unknown product_id \"P-100\""}}`
	tests := []struct {
		name  string
		body  string
		bad   int
		first int
		want  error
	}{
		{"all good", good, 0, -1, nil},
		{"spaces and other keys", " {\"x\":[1,{\"y\":\"]\"}], \"items\" : [ " + q0 + " ,\n" + q1 + "," + q2 + " ] , \"z\":null } ", 0, -1, nil},
		{"an error item among good ones", `{"items":[` + q0 + "," + errItem + "," + q2 + `]}`, 1, 1, errBatchItem},
		{"a wrong price", `{"items":[` + q0 + "," + wrongFinal + "," + q2 + `]}`, 1, 1, errBodyFinal},
		{"two bad, first reported", `{"items":[` + errItem + "," + wrongFinal + "," + q2 + `]}`, 2, 0, errBatchItem},
		{"items out of order", `{"items":[` + q1 + "," + q0 + "," + q2 + `]}`, 2, 0, errBodyProduct},
		{"one item short", `{"items":[` + q0 + "," + q1 + `]}`, 3, -1, errBatchCount},
		{"one item too many", `{"items":[` + q0 + "," + q1 + "," + q2 + "," + q2 + `]}`, 3, -1, errBatchCount},
		{"no items", `{"items":[]}`, 3, -1, errBatchCount},
		{"a single quote, not a batch", q0, 3, -1, errBatchSyntax},
		{"detail of a refused batch", `{"detail":"invalid JSON"}`, 3, -1, errBatchSyntax},
		{"items not a list", `{"items":{}}`, 3, -1, errBatchSyntax},
		{"an item not an object", `{"items":[` + q0 + `,1,` + q2 + `]}`, 3, -1, errBatchSyntax},
		{"items twice", `{"items":[],"items":[]}`, 3, -1, errBatchSyntax},
		{"empty object", `{}`, 3, -1, errBatchSyntax},
		{"truncated", good[:len(good)-3], 3, -1, errBatchSyntax},
		{"trailing garbage", good + "]", 3, -1, errBatchSyntax},
		{"not json", `<html>`, 3, -1, errBatchSyntax},
		{"empty", ``, 3, -1, errBatchSyntax},
	}
	w := ClassicWorkload()
	w.Batch = len(items)
	c := newBatchCheck(mustRenderer(t, &w, target{requestURI: "/", hostHeader: "h"}, false))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad, first, err := c.check([]byte(tc.body), items)
			if bad != tc.bad || first != tc.first || !errors.Is(err, tc.want) {
				t.Fatalf("check = %d bad, first %d, %v; want %d, %d, %v", bad, first, err, tc.bad, tc.first, tc.want)
			}
		})
	}
}

// FuzzScanBatch: scanBatch never panics, and what it accepts is a list of
// object elements lying inside the body, in order.
func FuzzScanBatch(f *testing.F) {
	locs := ClassicWorkload().Locations
	items := []reqInfo{{product: 123, location: 2, member: true}, {product: 100, location: 0}}
	for _, s := range []string{
		`{"items":[` + quotes(items, locs, ",") + `]}`,
		`{"items":[{"error":{"status":404,"detail":"x"}}]}`,
		` {"a":"}","items" : [ {} , {"b":[1,2]} ] } `,
		`{"items":[]}`, `{"items":`, `{"detail":"x"}`, `[]`, `{"items":[{"a":"\"}"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		last := -1
		calls := 0
		n, err := scanBatch(b, func(i int, v []byte) {
			if i != calls {
				t.Fatalf("item %d called as %d", calls, i)
			}
			calls++
			if len(v) < 2 || v[0] != '{' || v[len(v)-1] != '}' {
				t.Fatalf("item %q is not an object", v)
			}
			at := bytes.Index(b[last+1:], v)
			if at < 0 {
				t.Fatalf("item %q is not in the body after offset %d", v, last)
			}
			last += 1 + at
		})
		if err == nil && n != calls {
			t.Fatalf("scanBatch = %d items, called %d times", n, calls)
		}
		if err != nil && !errors.Is(err, errBatchSyntax) {
			t.Fatalf("scanBatch error %v is not errBatchSyntax", err)
		}
	})
}

// TestBatchNoAllocs: rendering a batch of 20, reading its reply and
// checking every item allocate nothing in the steady state.
func TestBatchNoAllocs(t *testing.T) {
	w := ClassicWorkload()
	w.Batch = 20
	r := mustRenderer(t, &w, target{requestURI: "/api/v1/prices", hostHeader: "127.0.0.1:8000"}, false)
	items := make([]reqInfo, w.Batch)
	for i := range items {
		items[i] = reqInfo{product: 100 + 37*i, location: i % 3, member: i%2 == 0}
	}
	body := `{"items":[` + quotes(items, w.Locations, ",") + `]}`
	reply := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n" + body
	sc := &scriptConn{chunk: 1 << 20}
	cc := newClientConn(sc, nil)
	c := newBatchCheck(r)
	var wbuf, scratch []byte
	var resp response
	var err error
	allocs := testing.AllocsPerRun(500, func() {
		wbuf, scratch = r.appendBatchRequest(wbuf[:0], scratch, items)
		sc.data = reply
		if e := cc.readResponse(&resp); e != nil {
			err = e
			return
		}
		if bad, _, e := c.check(resp.body, items); e != nil || bad != 0 {
			err = e
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if allocs != 0 {
		t.Fatalf("%v allocations per batch, want 0", allocs)
	}
}

// TestBatchRun: a batch run against the test server counts requests and
// items; an item answered with an error fails its batch as bad_body while
// the other items of that batch still count as passed.
func TestBatchRun(t *testing.T) {
	srv := startTestServer(t, func(_ context.Context, r priceRequest) action {
		if r.ProductID == "P-5" {
			return action{status: 404, body: `{"detail":"unknown product_id \"P-5\""}`}
		}
		return action{}
	})
	cfg := testConfig(strings.TrimSuffix(srv.url(), "/price") + "/prices")
	cfg.Workload.Batch = 4
	cfg.Workload.ProductMin, cfg.Workload.ProductMax = 1, 9
	cfg.MaxRequests = 300
	cfg.Duration = 10 * time.Second
	res := mustRun(t, cfg)
	if res.Requests != 300 || res.Batch != 4 || res.Items != 1200 {
		t.Fatalf("requests %d, batch %d, items %d; want 300, 4, 1200", res.Requests, res.Batch, res.Items)
	}
	if got := srv.items.Load(); got != res.Items {
		t.Errorf("server saw %d items, report says %d", got, res.Items)
	}
	// About one item in nine is P-5: some batches fail, most items pass.
	bad := res.Items - res.ItemSuccesses
	if res.Failures == 0 || res.FailuresByReason[ReasonBadBody] != res.Failures || bad < res.Failures || bad > 4*res.Failures {
		t.Fatalf("failures %d (%v), bad items %d: want bad_body failures, each with 1..4 bad items", res.Failures, res.FailuresByReason, bad)
	}
	if res.Successes+res.Failures != res.Requests || res.ItemSuccesses < 4*res.Successes {
		t.Errorf("successes %d, item successes %d, requests %d", res.Successes, res.ItemSuccesses, res.Requests)
	}
	if len(res.FailureSamples) == 0 || !strings.Contains(res.FailureSamples[0], errBatchItem.Error()) {
		t.Errorf("failure samples %q lack %q", res.FailureSamples, errBatchItem)
	}
	if res.ItemThroughput < 3.9*res.Throughput || res.ItemThroughput > 4.1*res.Throughput {
		t.Errorf("item throughput %.1f is not 4x the request throughput %.1f", res.ItemThroughput, res.Throughput)
	}
	var sum strings.Builder
	if err := res.WriteSummary(&sum); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"batches of 4 items", "items       1200  ("} {
		if !strings.Contains(sum.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum.String())
		}
	}
}
