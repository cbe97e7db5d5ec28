package loadtest

import (
	"strconv"
	"testing"
)

func itoa(n int) string { return strconv.Itoa(n) }

// BenchmarkRequestCycle measures the generator's per-request CPU work
// without the network: render, read a reply from memory, check it.
func BenchmarkRequestCycle(b *testing.B) {
	w := ClassicWorkload()
	r := newRenderer(&w, target{requestURI: "/api/v1/price", hostHeader: "127.0.0.1:8000"}, false)
	info := reqInfo{product: 123, location: 2, member: true}
	body := quoteFor(priceRequest{ProductID: "P-123", Location: "MIA", Member: true})
	reply := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n" + body
	sc := &scriptConn{chunk: 1 << 20}
	c := newClientConn(sc, nil)
	var wbuf, scratch []byte
	var resp response
	b.ReportAllocs()
	b.SetBytes(int64(len(reply)))
	for b.Loop() {
		wbuf, scratch = r.appendRequest(wbuf[:0], scratch, info)
		sc.data = reply
		if err := c.readResponse(&resp); err != nil {
			b.Fatal(err)
		}
		if err := r.checkQuote(resp.body, info); err != nil {
			b.Fatal(err)
		}
	}
}
