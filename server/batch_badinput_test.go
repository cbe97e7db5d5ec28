package server_test

import (
	"bufio"
	"strings"
	"testing"
	"time"
)

// TestBadInputDoesNotAffectOthers pipelines the bad inputs of the batch
// and explain contracts between good requests on one keep-alive
// connection, with the memory source (inline) and a delaying one (the
// worker pool and pending lookups): each bad input gets its documented
// status and detail, the connection stays open, and the good requests
// around them are answered exactly, in order.
func TestBadInputDoesNotAffectOthers(t *testing.T) {
	const (
		good     = `{"product_id":"P-100","user_location":"NY"}`
		goodMem  = `{"product_id":"P-123","user_location":"NY","is_prime_member":true}`
		goodPair = `{"items":[` + goodMem + `,` + good + `]}`
	)
	steps := []struct {
		name     string
		raw      string
		status   int
		body     string // exact, or ""
		contains []string
	}{
		{"good single", priceReq(good), 200, quoteP100NY, nil},
		{"malformed batch JSON", pricesReq(`{"items":[` + good + `,`), 400, "", []string{`{"detail":"invalid JSON: unexpected end of input`}},
		{"101 items", pricesReq(batchOf(101)), 422, "", []string{`"type":"too_long"`, `"actual_length":101`}},
		{"a bad item among good ones", pricesReq(`{"items":[` + goodMem + `,{"product_id":"P-100"},` + good + `]}`), 200,
			"", []string{`{"items":[` + quoteP123NYMember + `,{"error":{"status":422,"detail":[{"type":"missing","loc":["body","items",1,"user_location"]`, `]}},` + quoteP100NY + `]}`}},
		{"batch explain not a boolean", pricesReq(`{"items":[` + good + `],"explain":"maybe"}`), 422,
			`{"detail":[{"type":"bool_parsing","loc":["body","explain"],"msg":"Input should be a valid boolean, unable to interpret input","input":"maybe"}]}`, nil},
		{"single explain not a boolean", priceReq(`{"product_id":"P-100","user_location":"NY","explain":[1]}`), 422,
			`{"detail":[{"type":"bool_type","loc":["body","explain"],"msg":"Input should be a valid boolean","input":[1]}]}`, nil},
		{"good batch", pricesReq(goodPair), 200, `{"items":[` + quoteP123NYMember + `,` + quoteP100NY + `]}`, nil},
		{"good single at the end", priceReq(good), 200, quoteP100NY, nil},
	}
	for _, src := range []struct {
		name string
		opts serverOpts
	}{
		{"memory", serverOpts{}},
		{"async", serverOpts{src: delaySource(t, func(id []byte) time.Duration { return time.Duration(1+len(id)%3) * time.Millisecond })}},
	} {
		t.Run(src.name, func(t *testing.T) {
			ts := startServer(t, src.opts)
			c := dial(t, ts.addr)
			var raw strings.Builder
			for _, s := range steps {
				raw.WriteString(s.raw)
			}
			resps := exchange(t, c, bufio.NewReader(c), raw.String(), len(steps))
			for i, s := range steps {
				r := resps[i]
				body := bodyOf(t, r)
				if r.StatusCode != s.status || r.Close {
					t.Errorf("%s: status %d (close %v), want %d on an open connection; body %.300s", s.name, r.StatusCode, r.Close, s.status, body)
					continue
				}
				if s.body != "" && body != s.body {
					t.Errorf("%s: body %s\nwant %s", s.name, body, s.body)
				}
				for _, want := range s.contains {
					if !strings.Contains(body, want) {
						t.Errorf("%s: body %.400s lacks %q", s.name, body, want)
					}
				}
			}
		})
	}
}
