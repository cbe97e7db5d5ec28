package main

import (
	"bufio"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/pricing-engine/pricing-engine/apidocs/apicheck"
)

const apiRefPath = "../../docs/API.md"

// apiExample is one request of docs/API.md and the reply it documents.
type apiExample struct {
	line                 int // of the request block, for messages
	method, path, body   string
	header               http.Header
	status               int
	statusText, wantBody string
	wantHeader           http.Header
}

// parseAPIExamples reads the ```http blocks of the API reference: a block
// whose first line is "METHOD /path" is a request, and the next block, whose
// first line is "HTTP/1.1 <status> <text>", its reply. Headers follow the
// first line; a blank line separates the body.
func parseAPIExamples(t *testing.T, text string) []apiExample {
	t.Helper()
	type block struct {
		line int
		text string
	}
	var blocks []block
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```http" {
			continue
		}
		start := i + 1
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
		}
		if i == len(lines) {
			t.Fatalf("%s:%d: ```http block is not closed", apiRefPath, start)
		}
		blocks = append(blocks, block{start, strings.Join(lines[start:i], "\n")})
	}
	split := func(b block) (first string, h http.Header, body string) {
		head, body, _ := strings.Cut(b.text, "\n\n")
		hl := strings.Split(head, "\n")
		h = http.Header{}
		for _, l := range hl[1:] {
			k, v, ok := strings.Cut(l, ":")
			if !ok {
				t.Fatalf("%s:%d: header line %q has no colon", apiRefPath, b.line, l)
			}
			h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
		return hl[0], h, body
	}
	var out []apiExample
	for k := 0; k < len(blocks); k++ {
		first, h, body := split(blocks[k])
		method, path, ok := strings.Cut(first, " ")
		if !ok || strings.HasPrefix(first, "HTTP/") {
			t.Fatalf("%s:%d: a request block must start with METHOD /path, got %q", apiRefPath, blocks[k].line, first)
		}
		if k+1 == len(blocks) {
			t.Fatalf("%s:%d: request without a reply block", apiRefPath, blocks[k].line)
		}
		k++
		rfirst, rh, rbody := split(blocks[k])
		f := strings.SplitN(rfirst, " ", 3)
		if len(f) != 3 || f[0] != "HTTP/1.1" {
			t.Fatalf("%s:%d: a reply block must start with HTTP/1.1 <status> <text>, got %q", apiRefPath, blocks[k].line, rfirst)
		}
		status, err := strconv.Atoi(f[1])
		if err != nil {
			t.Fatalf("%s:%d: status %q: %v", apiRefPath, blocks[k].line, f[1], err)
		}
		out = append(out, apiExample{
			line: blocks[k-1].line, method: method, path: path, body: body, header: h,
			status: status, statusText: f[2], wantBody: rbody, wantHeader: rh,
		})
	}
	return out
}

// TestE2EAPIReference sends every example request of docs/API.md to the
// binary and checks that it answers the documented status, headers and
// body, and that the reply is one the OpenAPI document allows.
func TestE2EAPIReference(t *testing.T) {
	text, err := os.ReadFile(apiRefPath)
	if err != nil {
		t.Fatal(err)
	}
	examples := parseAPIExamples(t, string(text))
	if len(examples) < 10 {
		t.Fatalf("%d examples in %s; the parser or the page is broken", len(examples), apiRefPath)
	}
	v, err := apicheck.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	p := startServer(t, loopbackArgs)
	for _, ex := range examples {
		t.Run(ex.method+" "+ex.path+" line "+strconv.Itoa(ex.line), func(t *testing.T) {
			req, err := http.NewRequest(ex.method, "http://"+p.api+ex.path, strings.NewReader(ex.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header = ex.header
			resp, err := p.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var sb strings.Builder
			if _, err := bufio.NewReader(resp.Body).WriteTo(&sb); err != nil {
				t.Fatal(err)
			}
			got := sb.String()
			if resp.Status != strconv.Itoa(ex.status)+" "+ex.statusText {
				t.Errorf("status %q, documented %d %s", resp.Status, ex.status, ex.statusText)
			}
			for k := range ex.wantHeader {
				if g, w := resp.Header.Get(k), ex.wantHeader.Get(k); g != w {
					t.Errorf("%s: %q, documented %q", k, g, w)
				}
			}
			// The page's blocks end with a newline; text bodies do too.
			if strings.TrimSuffix(got, "\n") != ex.wantBody {
				t.Errorf("body\n%s\ndocumented\n%s", got, ex.wantBody)
			}
			if err := v.ValidateResponse(ex.method, ex.path, resp.StatusCode, resp.Header, []byte(got)); err != nil {
				t.Errorf("the reply is not one the OpenAPI document allows: %v", err)
			}
		})
	}
}
