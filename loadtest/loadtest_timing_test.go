package loadtest

import (
	"strconv"
	"testing"
)

func itoa(n int) string { return strconv.Itoa(n) }

// requestCycle is one request of the generator without the network:
// render it, read a canned reply from memory, check the reply. cycle
// returns the first error; the state is reused from call to call, as in a
// run, so the steady state can be measured for time and allocations.
type requestCycle struct {
	r     *renderer
	info  reqInfo
	reply string
	sc    *scriptConn
	c     *clientConn

	wbuf, scratch []byte
	resp          response
}

func newRequestCycle(t testing.TB) *requestCycle {
	w := ClassicWorkload()
	body := quoteFor(priceRequest{ProductID: "P-123", Location: "MIA", Member: true})
	rc := &requestCycle{
		r:     mustRenderer(t, &w, target{requestURI: "/api/v1/price", hostHeader: "127.0.0.1:8000"}, false),
		info:  reqInfo{product: 123, location: 2, member: true},
		reply: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n" + body,
		sc:    &scriptConn{chunk: 1 << 20},
	}
	rc.c = newClientConn(rc.sc, nil)
	return rc
}

func (rc *requestCycle) cycle() error {
	rc.wbuf, rc.scratch = rc.r.appendRequest(rc.wbuf[:0], rc.scratch, rc.info)
	rc.sc.data = rc.reply
	if err := rc.c.readResponse(&rc.resp); err != nil {
		return err
	}
	return rc.r.checkQuote(rc.resp.body, rc.info)
}

// BenchmarkRequestCycle measures the generator's per-request CPU work
// without the network: render, read a reply from memory, check it.
func BenchmarkRequestCycle(b *testing.B) {
	rc := newRequestCycle(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(rc.reply)))
	for b.Loop() {
		if err := rc.cycle(); err != nil {
			b.Fatal(err)
		}
	}
}
