package pricing

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/pricer"
)

// syncSource keeps every Call and completes all of them at Flush, on the
// flushing goroutine (the contract allows it): a pending path without
// goroutines, for allocation counts. answer fills in each Call; flushed,
// when set, is called first at each Flush with the Calls it answers.
type syncSource struct {
	answer  func(c *lookup.Call)
	flushed func(calls []*lookup.Call)
}

func (s *syncSource) Instant() bool              { return false }
func (s *syncSource) NewBatcher() lookup.Batcher { return &syncBatcher{s: s} }

type syncBatcher struct {
	s    *syncSource
	kept []*lookup.Call
}

func (b *syncBatcher) Lookup(c *lookup.Call) bool {
	b.kept = append(b.kept, c)
	return false
}

func (b *syncBatcher) Flush() {
	if b.s.flushed != nil {
		b.s.flushed(b.kept)
	}
	for i, c := range b.kept {
		b.s.answer(c)
		b.kept[i] = nil
		c.Done(c)
	}
	b.kept = b.kept[:0]
}

// loopServe serves body on l (a batch when batch is set) as an event loop
// does: x.Done queues, the loop flushes, then completes. It reports how
// many times Done was called.
func loopServe(t testing.TB, l pricer.Loop, x *Exchange, body string, batch bool) int {
	t.Helper()
	done := make(chan *Exchange, 1)
	x.Done = func(y *Exchange) { done <- y }
	var ok bool
	if batch {
		ok = l.ServeBatch(x, []byte(body), time.Now())
	} else {
		ok = l.Serve(x, []byte(body), time.Now())
	}
	if ok {
		return 0
	}
	l.Flush()
	select {
	case y := <-done:
		if y != x {
			t.Fatalf("Done called with another Exchange")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Done not called within 10s")
	}
	l.Complete(x)
	select {
	case <-done:
		t.Fatal("Done called twice")
	default:
	}
	return 1
}

// batchItems splits a batch reply {"items":[a,b,...]} into its items
// (the items here hold no brackets inside strings).
func batchItems(t testing.TB, body []byte) []string {
	t.Helper()
	s, ok := strings.CutPrefix(string(body), `{"items":[`)
	if !ok || !strings.HasSuffix(s, "]}") {
		t.Fatalf("not a batch reply: %s", body)
	}
	s = strings.TrimSuffix(s, "]}")
	var items []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case ',':
			if depth == 0 {
				items = append(items, s[start:i])
				start = i + 1
			}
		}
	}
	return append(items, s[start:])
}

// TestBatchItemErrorIsTheSingleBody: an item's error object is
// {"error":{"status":S,"detail":D}} where {"detail":D} is byte for byte
// the body the single request answers for the same error (a 422's
// locations under ["body","items",i]), on an instant and on a pending
// source.
func TestBatchItemErrorIsTheSingleBody(t *testing.T) {
	mem := memorySource(t)
	fail := func(err error) func(c *lookup.Call) {
		return func(c *lookup.Call) {
			mem.Answer(c)
			c.Err = err
		}
	}
	tests := []struct {
		name   string
		answer func(c *lookup.Call)
		item   string
		status int
	}{
		{"404 unknown product", mem.Answer, `{"product_id":"P-X\"","user_location":"NY"}`, 404},
		{"422 bad field", mem.Answer, `{"product_id":"` + strings.Repeat("p", 65) + `","user_location":"NY","is_prime_member":"perhaps"}`, 422},
		{"502 invalid stored value", fail(&lookup.InvalidValueError{Key: "pricing:product:P-1"}), `{"product_id":"P-1","user_location":"NY"}`, 502},
		{"503 timeout", fail(lookup.ErrTimeout), `{"product_id":"P-1","user_location":"NY"}`, 503},
		{"503 unavailable", fail(lookup.ErrUnavailable), `{"product_id":"P-1","user_location":"NY"}`, 503},
	}
	for _, tt := range tests {
		for _, async := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/async=%v", tt.name, async), func(t *testing.T) {
				l := NewEngine(&fakeSource{answer: tt.answer, async: async}, Config{}).NewLoop()
				var single, batch Exchange
				loopServe(t, l, &single, tt.item, false)
				if single.Status != tt.status {
					t.Fatalf("single: %d %s, want %d", single.Status, single.Body, tt.status)
				}
				good := `{"product_id":"P-1","user_location":"NY"}`
				loopServe(t, l, &batch, `{"items":[`+good+`,`+tt.item+`]}`, true)
				if batch.Status != 200 {
					t.Fatalf("batch: %d %s", batch.Status, batch.Body)
				}
				items := batchItems(t, batch.Body)
				if len(items) != 2 {
					t.Fatalf("batch of 2 answered %d items: %s", len(items), batch.Body)
				}
				prefix := fmt.Sprintf(`{"error":{"status":%d,`, tt.status)
				rest, ok := strings.CutPrefix(items[1], prefix)
				if !ok || !strings.HasSuffix(rest, "}") {
					t.Fatalf("item %s is not %s...}", items[1], prefix)
				}
				got := "{" + strings.TrimSuffix(rest, "}")
				want := string(single.Body)
				if tt.status == 422 {
					want = strings.ReplaceAll(want, `"loc":["body"`, `"loc":["body","items",1`)
				}
				if got != want {
					t.Errorf("item detail\n got %s\nwant %s (the single body)", got, want)
				}
				// The same bytes through the public encoder.
				if tt.status == 422 {
					var dec Decoder
					var b Batch
					if err := dec.DecodeBatch([]byte(`{"items":[`+good+`,`+tt.item+`]}`), &b); err != nil || b.Errs[1] == nil {
						t.Fatalf("DecodeBatch: %v %v", err, b.Errs)
					}
					if enc := string(AppendBatchItemError(nil, 0, b.Errs[1])); enc != strings.Replace(items[1], `"items",1`, `"items",0`, -1) {
						t.Errorf("AppendBatchItemError = %s, the loop wrote %s", enc, items[1])
					}
				}
			})
		}
	}
}

// TestLoopBatch prices batches on an instant and on a pending source, and
// through ServeBatchWait: the replies agree, item by item with the single
// requests; the pending batch completes through one Done; a batch of
// refused items and a refused batch answer at once.
func TestLoopBatch(t *testing.T) {
	mem := memorySource(t)
	body := `{"items":[{"product_id":"P-0","user_location":"MIA","is_prime_member":true},{"product_id":"P-X","user_location":"NY"},{"product_id":"","user_location":"NY"},{"product_id":"P-123","user_location":"NY","explain":false}],"explain":false}`
	want := `{"items":[{"product_id":"P-0","final_price":45.12,"base_price":49.99,"market_multiplier":0.95,"discount_rate":0.05,"source":"live"},` +
		`{"error":{"status":404,"detail":"unknown product_id \"P-X\""}},` +
		`{"error":{"status":422,"detail":[{"type":"string_too_short","loc":["body","items",2,"product_id"],"msg":"String should have at least 1 character","input":"","ctx":{"min_length":1}}]}},` +
		`{"product_id":"P-123","final_price":58.29,"base_price":52.99,"market_multiplier":1.1,"discount_rate":0,"source":"live"}]}`
	for _, async := range []bool{false, true} {
		e := NewEngine(&fakeSource{answer: mem.Answer, async: async}, Config{})
		l := e.NewLoop()
		var x Exchange
		for range 3 { // reused state
			if n := loopServe(t, l, &x, body, true); n != map[bool]int{false: 0, true: 1}[async] {
				t.Errorf("async=%v: Done called %d times", async, n)
			}
			if x.Status != 200 || string(x.Body) != want {
				t.Errorf("async=%v: %d %s\nwant %s", async, x.Status, x.Body, want)
			}
		}
		var y Exchange
		var dec Decoder
		e.ServeBatchWait(&y, &dec, []byte(body))
		if y.Status != 200 || string(y.Body) != want {
			t.Errorf("async=%v ServeBatchWait: %d %s", async, y.Status, y.Body)
		}
		// Only refused items: nothing to wait for.
		if !l.ServeBatch(&x, []byte(`{"items":[{"product_id":1}]}`), time.Now()) || x.Status != 200 ||
			!strings.HasPrefix(string(x.Body), `{"items":[{"error":{"status":422,`) {
			t.Errorf("async=%v refused items: %d %s", async, x.Status, x.Body)
		}
		// A refused batch: the whole request's error.
		if !l.ServeBatch(&x, []byte(`{"items":[]}`), time.Now()) || x.Status != 422 {
			t.Errorf("async=%v refused batch: %d %s", async, x.Status, x.Body)
		}
		// The same Exchange then serves a single request.
		loopServe(t, l, &x, `{"product_id":"P-0","user_location":"MIA","is_prime_member":true}`, false)
		if x.Status != 200 || !bytes.HasPrefix(x.Body, []byte(`{"product_id":"P-0"`)) {
			t.Errorf("async=%v single after batch: %d %s", async, x.Status, x.Body)
		}
	}
}

// TestLoopAllocs: after warm-up a Loop serves a single request and a
// batch of good items, inline and pending, without allocating (an
// unknown product's error is the Source's allocation).
func TestLoopAllocs(t *testing.T) {
	single := []byte(`{"product_id":"P-123","user_location":"NY","is_prime_member":true}`)
	batch := []byte(`{"items":[{"product_id":"P-123","user_location":"NY"},{"product_id":"P-1","user_location":"LA","is_prime_member":true},{"product_id":"P-2","user_location":"MIA"}]}`)
	checkServeAllocs(t, Config{}, single, batch, func(x *Exchange) bool { return x.Status == 200 })
}

// checkServeAllocs serves single (Serve) and batch (ServeBatch) over the
// memory source, inline and pending (syncSource), on a Loop of an Engine
// with cfg, and fails unless every reply is ok and, after warm-up, a
// request allocates nothing.
func checkServeAllocs(t *testing.T, cfg Config, single, batch []byte, ok func(x *Exchange) bool) {
	t.Helper()
	mem := memorySource(t)
	for _, src := range []lookup.Source{mem, &syncSource{answer: mem.Answer}} {
		l := NewEngine(src, cfg).NewLoop()
		var x Exchange
		var doneX *Exchange
		x.Done = func(y *Exchange) { doneX = y }
		run := func(body []byte, serve func(pricer.Exchange, []byte, time.Time) bool) {
			if !serve(&x, body, time.Now()) {
				l.Flush()
				if doneX != &x {
					t.Fatal("Done not called at Flush")
				}
				doneX = nil
				l.Complete(&x)
			}
			if !ok(&x) {
				t.Fatalf("%d %s", x.Status, x.Body)
			}
		}
		for _, tc := range []struct {
			name  string
			body  []byte
			serve func(pricer.Exchange, []byte, time.Time) bool
		}{{"single", single, l.Serve}, {"batch", batch, l.ServeBatch}} {
			run(tc.body, tc.serve)
			if n := testing.AllocsPerRun(100, func() { run(tc.body, tc.serve) }); n != 0 {
				t.Errorf("instant=%v %s: %v allocations, want 0", src.Instant(), tc.name, n)
			}
		}
	}
}
