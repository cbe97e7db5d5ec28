package httpparse

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serviceRequest is the service's typical request: POST /api/v1/price with
// 6 header fields and a small JSON body.
const serviceRequest = "POST /api/v1/price HTTP/1.1\r\n" +
	"Host: pricing.internal:8000\r\n" +
	"User-Agent: python-requests/2.31.0\r\n" +
	"Accept: */*\r\n" +
	"Connection: keep-alive\r\n" +
	"Content-Type: application/json\r\n" +
	"Content-Length: 66\r\n" +
	"\r\n" +
	`{"product_id":"P-123","user_location":"NY","is_prime_member":true}`

// browserRequest is a browser-like GET with 15 header fields.
const browserRequest = "GET /docs/index.html?lang=en&theme=dark HTTP/1.1\r\n" +
	"Host: pricing.example.com\r\n" +
	"Connection: keep-alive\r\n" +
	"sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n" +
	"sec-ch-ua-mobile: ?0\r\n" +
	"sec-ch-ua-platform: \"Linux\"\r\n" +
	"Upgrade-Insecure-Requests: 1\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8\r\n" +
	"Sec-Fetch-Site: none\r\n" +
	"Sec-Fetch-Mode: navigate\r\n" +
	"Sec-Fetch-User: ?1\r\n" +
	"Sec-Fetch-Dest: document\r\n" +
	"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Accept-Language: en-US,en;q=0.9,de;q=0.8\r\n" +
	"Cookie: session=4f9c2d1e8b7a6f5e4d3c2b1a09f8e7d6; theme=dark\r\n" +
	"\r\n"

func TestBenchmarkInputs(t *testing.T) {
	for _, in := range []string{serviceRequest, browserRequest} {
		var p Parser
		n, err := p.Parse([]byte(in))
		if err != nil || n != len(in) {
			t.Fatalf("n=%d err=%v", n, err)
		}
		t.Logf("%d bytes, %d headers", len(in), p.Request().NumHeaders())
	}
}

func benchParse(b *testing.B, in string) {
	data := []byte(in)
	var p Parser
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := p.Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

func benchReadRequest(b *testing.B, in string) {
	data := []byte(in)
	rd := bytes.NewReader(data)
	br := bufio.NewReader(rd)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		readRequest(b, rd, br, data)
	}
}

// readRequest parses data with http.ReadRequest and reads its body, reusing
// rd and br.
func readRequest(b *testing.B, rd *bytes.Reader, br *bufio.Reader, data []byte) {
	rd.Reset(data)
	br.Reset(rd)
	req, err := http.ReadRequest(br)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, req.Body); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkParse(b *testing.B) {
	b.Run("service", func(b *testing.B) { benchParse(b, serviceRequest) })
	b.Run("browser", func(b *testing.B) { benchParse(b, browserRequest) })
	b.Run("chunked", func(b *testing.B) {
		benchParse(b, "POST /api/v1/price HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"+
			"20\r\n"+strings.Repeat("a", 32)+"\r\n21\r\n"+strings.Repeat("b", 33)+"\r\n0\r\n\r\n")
	})
}

func BenchmarkReadRequest(b *testing.B) {
	b.Run("service", func(b *testing.B) { benchReadRequest(b, serviceRequest) })
	b.Run("browser", func(b *testing.B) { benchReadRequest(b, browserRequest) })
}

// BenchmarkVersusReadRequest times Parse and http.ReadRequest on the same
// bytes in alternating blocks of 256 requests, so that both meet the same
// machine (a shared VM changes speed between, and within, benchmark runs),
// and reports each one's time per request and the ratio.
func BenchmarkVersusReadRequest(b *testing.B) {
	for _, tc := range []struct{ name, in string }{
		{"service", serviceRequest},
		{"browser", browserRequest},
	} {
		b.Run(tc.name, func(b *testing.B) {
			data := []byte(tc.in)
			var p Parser
			rd := bytes.NewReader(data)
			br := bufio.NewReader(rd)
			const block = 256
			var parse, std time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; done += block {
				t0 := time.Now()
				for range block {
					if _, err := p.Parse(data); err != nil {
						b.Fatal(err)
					}
				}
				t1 := time.Now()
				for range block {
					readRequest(b, rd, br, data)
				}
				parse += t1.Sub(t0)
				std += time.Since(t1)
			}
			reqs := float64((b.N + block - 1) / block * block)
			b.ReportMetric(float64(parse.Nanoseconds())/reqs, "parse-ns/req")
			b.ReportMetric(float64(std.Nanoseconds())/reqs, "readrequest-ns/req")
			b.ReportMetric(float64(std)/float64(parse), "x-faster")
		})
	}
}

// BenchmarkByteByByte feeds a request one byte more per Parse call. With
// linear total work, ns/byte stays flat as the header section grows.
func BenchmarkByteByByte(b *testing.B) {
	for _, size := range []int{1 << 10, 4 << 10} {
		head := "GET / HTTP/1.1\r\nHost: h\r\n"
		var sb strings.Builder
		sb.WriteString(head)
		for i := 0; sb.Len() < size-120; i++ {
			fmt.Fprintf(&sb, "X-Filler-%02d: %s\r\n", i, strings.Repeat("v", 100))
		}
		sb.WriteString("\r\n")
		data := []byte(sb.String())
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			var p Parser
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for b.Loop() {
				for k := 1; k < len(data); k++ {
					if _, err := p.Parse(data[:k]); err != ErrIncomplete {
						b.Fatal(err)
					}
				}
				if _, err := p.Parse(data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(data)), "ns/byte")
		})
	}
}
