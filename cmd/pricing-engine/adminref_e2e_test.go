package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pricing-engine/pricing-engine/apidocs/apicheck"
)

// curlExample is one curl command of a page and the reply it documents.
type curlExample struct {
	line       int // of the command block, for messages
	args       []string
	statusLine string // "HTTP/1.1 200 OK"
	wantHeader http.Header
	wantBody   string
}

// fencedBlock is one fenced code block of a Markdown page.
type fencedBlock struct {
	line       int
	lang, text string
}

func fencedBlocks(t *testing.T, name, text string) []fencedBlock {
	t.Helper()
	var out []fencedBlock
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		lang, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), "```")
		if !ok {
			continue
		}
		start := i + 1
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
		}
		if i == len(lines) {
			t.Fatalf("%s:%d: code block is not closed", name, start)
		}
		out = append(out, fencedBlock{start, lang, strings.Join(lines[start:i], "\n")})
	}
	return out
}

// parseCurlExamples reads the ```sh blocks of text that are one curl
// command (lines joined at a trailing backslash), each followed by the
// ```http block of its reply: the status line, the headers it documents,
// a blank line and the body. Other ```sh blocks are not requests.
func parseCurlExamples(t *testing.T, name, text string, env map[string]string) []curlExample {
	t.Helper()
	blocks := fencedBlocks(t, name, text)
	var out []curlExample
	for k, b := range blocks {
		cmd := strings.TrimSpace(strings.ReplaceAll(b.text, "\\\n", " "))
		if b.lang != "sh" || !strings.HasPrefix(cmd, "curl ") {
			continue
		}
		if strings.Contains(cmd, "\n") {
			t.Fatalf("%s:%d: a curl block holds one command", name, b.line)
		}
		if k+1 == len(blocks) || blocks[k+1].lang != "http" {
			t.Fatalf("%s:%d: curl command without an ```http reply block after it", name, b.line)
		}
		args, err := exampleWords(cmd, env)
		if err != nil {
			t.Fatalf("%s:%d: %v", name, b.line, err)
		}
		head, body, _ := strings.Cut(blocks[k+1].text, "\n\n")
		hl := strings.Split(head, "\n")
		h := http.Header{}
		for _, l := range hl[1:] {
			if l == "" {
				continue
			}
			key, v, ok := strings.Cut(l, ":")
			if !ok {
				t.Fatalf("%s:%d: header line %q has no colon", name, blocks[k+1].line, l)
			}
			h.Add(strings.TrimSpace(key), strings.TrimSpace(v))
		}
		out = append(out, curlExample{line: b.line, args: args, statusLine: hl[0], wantHeader: h, wantBody: body})
	}
	return out
}

// exampleWords splits a command line as a POSIX shell would for the forms
// the pages use: single quotes, double quotes with $NAME expanded from
// env (and \" \\ \$ escapes), and plain words with $NAME expanded.
func exampleWords(s string, env map[string]string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	expand := func(i int) (int, error) { // s[i] == '$'
		j := i + 1
		for j < len(s) && (s[j] == '_' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= '0' && s[j] <= '9') {
			j++
		}
		v, ok := env[s[i+1:j]]
		if !ok {
			return 0, fmt.Errorf("variable $%s is not set for the test", s[i+1:j])
		}
		cur.WriteString(v)
		return j, nil
	}
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
			i++
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unclosed single quote in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			inWord = true
			i += j + 2
		case c == '"':
			inWord = true
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				switch {
				case s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`"\$`, s[i+1]) >= 0:
					cur.WriteByte(s[i+1])
					i++
				case s[i] == '$':
					j, err := expand(i)
					if err != nil {
						return nil, err
					}
					i = j - 1
				default:
					cur.WriteByte(s[i])
				}
			}
			if i == len(s) {
				return nil, fmt.Errorf("unclosed double quote in %q", s)
			}
			i++
		case c == '$':
			j, err := expand(i)
			if err != nil {
				return nil, err
			}
			inWord = true
			i = j
		case c == '\\' || c == '`' || c == ';' || c == '|' || c == '&' || c == '<' || c == '>' || c == '(' || c == ')':
			return nil, fmt.Errorf("shell syntax %q is not supported in an example: %q", c, s)
		default:
			cur.WriteByte(c)
			inWord = true
			i++
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// curlRequest builds the request curl would send for args (the options
// the pages use: -s, -i, -X, -H, -d), with the documented ports mapped to
// the test server's. A -d body without a Content-Type header is sent as
// application/x-www-form-urlencoded, as curl does.
func curlRequest(args []string, ports map[string]string) (*http.Request, error) {
	if len(args) == 0 || args[0] != "curl" {
		return nil, fmt.Errorf("not a curl command: %q", args)
	}
	method, target, body := "", "", ""
	hasBody := false
	header := http.Header{}
	for i := 1; i < len(args); i++ {
		a := args[i]
		next := func() (string, error) {
			if i+1 == len(args) {
				return "", fmt.Errorf("%s needs a value", a)
			}
			i++
			return args[i], nil
		}
		var err error
		switch {
		case a == "-s" || a == "-i" || a == "-si" || a == "-is":
		case a == "-X":
			method, err = next()
		case a == "-H":
			var h string
			if h, err = next(); err == nil {
				k, v, ok := strings.Cut(h, ":")
				if !ok {
					return nil, fmt.Errorf("header %q has no colon", h)
				}
				header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
			}
		case a == "-d" || a == "--data":
			body, err = next()
			hasBody = true
		case strings.HasPrefix(a, "-"):
			return nil, fmt.Errorf("curl option %s is not supported by the test", a)
		default:
			if target != "" {
				return nil, fmt.Errorf("two URLs: %q and %q", target, a)
			}
			target = a
		}
		if err != nil {
			return nil, err
		}
	}
	if method == "" {
		method = http.MethodGet
		if hasBody {
			method = http.MethodPost
		}
	}
	if hasBody && header.Get("Content-Type") == "" {
		header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	host, path, _ := strings.Cut(strings.TrimPrefix(target, "http://"), "/")
	addr, ok := ports[host]
	if !ok {
		return nil, fmt.Errorf("URL %q: host %q is not one the pages use (%v)", target, host, ports)
	}
	req, err := http.NewRequest(method, "http://"+addr+"/"+path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = header
	return req, nil
}

// varying are the reply members whose values change from run to run:
// times, audit entry ids and request ids.
var varying = regexp.MustCompile(`"(updated_at|at|id|request_id)":"[^"]*"`)

// runCurlExamples sends the examples in order to p and holds each reply
// to its block (status line, documented headers, body with the varying
// members masked) and to the OpenAPI documents.
func runCurlExamples(t *testing.T, name string, examples []curlExample, p *proc) {
	t.Helper()
	admin, err := apicheck.NewAdminValidator()
	if err != nil {
		t.Fatal(err)
	}
	public, err := apicheck.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	ports := map[string]string{"localhost:8001": p.admin, "127.0.0.1:8001": p.admin, "localhost:8000": p.api, "127.0.0.1:8000": p.api}
	for _, ex := range examples {
		req, err := curlRequest(ex.args, ports)
		if err != nil {
			t.Fatalf("%s:%d: %v", name, ex.line, err)
		}
		resp, err := p.client.Do(req)
		if err != nil {
			t.Fatalf("%s:%d: %v", name, ex.line, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s:%d: %v", name, ex.line, err)
		}
		got := strings.TrimSuffix(string(b), "\n")
		where := fmt.Sprintf("%s:%d (%s %s)", name, ex.line, req.Method, req.URL.RequestURI())
		if sl := resp.Proto + " " + resp.Status; sl != ex.statusLine {
			t.Errorf("%s: %q, documented %q (body %s)", where, sl, ex.statusLine, got)
		}
		for k := range ex.wantHeader {
			if g, w := resp.Header.Get(k), ex.wantHeader.Get(k); g != w {
				t.Errorf("%s: %s: %q, documented %q", where, k, g, w)
			}
		}
		if varying.ReplaceAllString(got, `"$1":"..."`) != varying.ReplaceAllString(ex.wantBody, `"$1":"..."`) {
			t.Errorf("%s: body\n%s\ndocumented\n%s", where, got, ex.wantBody)
		}
		v := public
		if req.URL.Host == p.admin && !strings.HasPrefix(req.URL.Path, "/api/") {
			v = admin
		}
		if err := v.ValidateResponse(req.Method, req.URL.RequestURI(), resp.StatusCode, resp.Header, b); err != nil {
			t.Errorf("%s: the reply is not one the OpenAPI document allows: %v", where, err)
		}
	}
}

// adminTokens writes a tokens file with one write token named "local", as
// make run does, and returns its path and the token.
func adminTokens(t *testing.T) (string, string) {
	t.Helper()
	var b [32]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	path := filepath.Join(t.TempDir(), "admin-tokens")
	if err := os.WriteFile(path, []byte("local write "+token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, token
}

// TestE2EAdminReference sends every curl example of docs/ADMIN.md, in
// order, to a fresh binary with a tokens file as make run writes it, and
// holds the replies to the page and to /admin/openapi.json.
func TestE2EAdminReference(t *testing.T) {
	const page = "../../docs/ADMIN.md"
	text, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	tokens, token := adminTokens(t)
	examples := parseCurlExamples(t, page, string(text), map[string]string{"TOKEN": token})
	if len(examples) < 15 {
		t.Fatalf("%d examples in %s; the parser or the page is broken", len(examples), page)
	}
	p := startServer(t, append(loopbackArgs, "--admin-tokens-file", tokens))
	runCurlExamples(t, page, examples, p)
}

// TestE2EReadmeChangingAPrice does the same for the README's section
// "Changing a price".
func TestE2EReadmeChangingAPrice(t *testing.T) {
	const page = "../../README.md"
	text, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(text), "\n## Changing a price\n")
	if !ok {
		t.Fatalf("%s has no section \"Changing a price\"", page)
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	tokens, token := adminTokens(t)
	examples := parseCurlExamples(t, page, section, map[string]string{"TOKEN": token})
	if len(examples) < 3 {
		t.Fatalf("%d examples in the README's \"Changing a price\"; want the read, the change and the price", len(examples))
	}
	p := startServer(t, append(loopbackArgs, "--admin-tokens-file", tokens))
	runCurlExamples(t, page+" (Changing a price)", examples, p)
}

// TestExampleWords pins the splitter the examples go through.
func TestExampleWords(t *testing.T) {
	env := map[string]string{"TOKEN": "t0k"}
	for _, tc := range []struct {
		in   string
		want []string
		bad  bool
	}{
		{`curl -si localhost:8001/x -H "Authorization: Bearer $TOKEN"`, []string{"curl", "-si", "localhost:8001/x", "-H", "Authorization: Bearer t0k"}, false},
		{`curl -H 'If-Match: "0"' -d '{"a":"b c"}'`, []string{"curl", "-H", `If-Match: "0"`, "-d", `{"a":"b c"}`}, false},
		{`a"b\"c"'d' $TOKEN`, []string{`ab"cd`, "t0k"}, false},
		{`curl "$NOPE"`, nil, true},
		{`curl 'x`, nil, true},
		{`curl x | sh`, nil, true},
	} {
		got, err := exampleWords(tc.in, env)
		if (err != nil) != tc.bad || (!tc.bad && strconv.Quote(strings.Join(got, "\x00")) != strconv.Quote(strings.Join(tc.want, "\x00"))) {
			t.Errorf("exampleWords(%q) = %q, %v; want %q (error %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}
