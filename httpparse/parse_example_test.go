package httpparse_test

import (
	"errors"
	"fmt"

	"github.com/pricing-engine/pricing-engine/httpparse"
)

// A server feeds the connection's unconsumed bytes, consumes n bytes per
// complete request, and keeps the rest for the next call.
func Example() {
	inbound := []byte("POST /api/v1/price HTTP/1.1\r\nHost: pricing\r\nContent-Type: application/json\r\n" +
		"Content-Length: 2\r\n\r\n{}" +
		"GET /healthz HTTP/1.1\r\nHost: pricing\r\nConnection: close\r\n\r\n" +
		"GET /partial HT")

	var p httpparse.Parser // zero value: DefaultLimits
	for {
		n, err := p.Parse(inbound)
		if errors.Is(err, httpparse.ErrIncomplete) {
			fmt.Printf("waiting for more bytes (%d buffered)\n", len(inbound))
			return
		}
		var perr *httpparse.Error
		if errors.As(err, &perr) {
			fmt.Println("answer", perr.Status, perr.Reason, "close:", perr.Close)
			return
		}
		r := p.Request()
		fmt.Printf("%s %s body=%q keep-alive=%v\n", r.Method, r.Path, r.Body, r.KeepAlive)
		inbound = inbound[n:]
	}
	// Output:
	// POST /api/v1/price body="{}" keep-alive=true
	// GET /healthz body="" keep-alive=false
	// waiting for more bytes (15 buffered)
}

// A request that the parser rejects carries the status to answer.
func ExampleError() {
	var p httpparse.Parser
	_, err := p.Parse([]byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"))
	var perr *httpparse.Error
	if errors.As(err, &perr) {
		fmt.Println(perr.Status, perr.Close, perr.Reason)
	}
	// Output: 400 true both content-length and transfer-encoding
}
