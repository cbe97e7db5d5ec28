package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/e2ebin"
)

// The end-to-end tests run the real binary as an operator would: the one
// named by $PRICING_E2E_BINARY (make e2e), or else one built from this
// package into a temporary directory on first use, so that a plain
// `go test ./...` runs them too. -short skips them.

// Failure bounds. None of them is a synchronisation point: every wait ends
// on positive evidence (a log line, a reply, an exit) and the bound only
// turns a hang into a failure.
const (
	startTimeout = 30 * time.Second // from exec to the "serving" log line
	exitTimeout  = 20 * time.Second // from a signal (or an invalid start) to exit
	httpTimeout  = 10 * time.Second // one request
)

// engineBin is the binary under test.
var engineBin = e2ebin.Builder{Pkg: "."}

func TestMain(m *testing.M) {
	code := m.Run()
	engineBin.Cleanup()
	os.Exit(code)
}

// serverBinary returns the binary under test (see package e2ebin).
func serverBinary(t *testing.T) string {
	t.Helper()
	return engineBin.Path(t)
}

// cleanEnv is the test's environment without PRICING_* variables, so that
// the caller's shell cannot change what a test means.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PRICING_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// loopbackArgs are the flags every served test starts with.
var loopbackArgs = []string{"--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--log-format", "json"}

// proc is a running server process.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	api    string // host:port of the API listener, from the "serving" line
	admin  string // host:port of the admin listener
	client *http.Client

	mu   sync.Mutex
	logs []string // stderr, line by line

	exited  chan struct{} // closed once the process has exited
	exitErr error         // valid after exited is closed
}

// startServer starts the binary with args and extra environment and waits
// for its JSON "serving" log line, which names the chosen ports.
func startServer(t *testing.T, args []string, env ...string) *proc {
	t.Helper()
	return startCommand(t, exec.Command(serverBinary(t), args...), env...)
}

// startCommand is startServer for a command that runs the binary (for
// example under taskset).
func startCommand(t *testing.T, cmd *exec.Cmd, env ...string) *proc {
	t.Helper()
	cmd.Env = cleanEnv(env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start %s: %v", cmd.Path, err)
	}
	p := &proc{
		t:      t,
		cmd:    cmd,
		exited: make(chan struct{}),
		client: &http.Client{Timeout: httpTimeout, Transport: &http.Transport{}},
	}
	serving := make(chan map[string]any, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs = append(p.logs, line)
			p.mu.Unlock()
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "serving" {
				select {
				case serving <- rec:
				default:
				}
			}
		}
		// Wait only after every read from the pipe (os/exec's rule).
		p.exitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.client.CloseIdleConnections()
		select {
		case <-p.exited:
		default:
			_ = cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("server log:\n%s", strings.Join(p.logLines(), "\n"))
		}
	})

	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case rec := <-serving:
		p.api, _ = rec["api"].(string)
		p.admin, _ = rec["admin"].(string)
		if p.api == "" || p.admin == "" {
			t.Fatalf(`"serving" line lacks api or admin: %v`, rec)
		}
	case <-p.exited:
		t.Fatalf("server exited before serving: %v\n%s", p.exitErr, strings.Join(p.logLines(), "\n"))
	case <-timer.C:
		t.Fatalf("no \"serving\" log line within %s\n%s", startTimeout, strings.Join(p.logLines(), "\n"))
	}
	return p
}

func (p *proc) logLines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.logs...)
}

// logRecord returns the first JSON log record with the given msg.
func (p *proc) logRecord(msg string) (map[string]any, bool) {
	for _, line := range p.logLines() {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			return rec, true
		}
	}
	return nil, false
}

// signal sends sig to the process.
func (p *proc) signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("cannot send %v: %v", sig, err)
	}
}

// wait waits for the process to exit within d and returns its exit code.
func (p *proc) wait(d time.Duration) int {
	p.t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-p.exited:
	case <-timer.C:
		p.t.Fatalf("server did not exit within %s", d)
	}
	return exitCode(p.exitErr)
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// do sends one request and returns the status, headers and body.
func (p *proc) do(method, url, contentType, body string) (int, http.Header, string) {
	p.t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// runResult is the outcome of a command run to completion.
type runResult struct {
	code           int
	stdout, stderr string
}

// runBinary runs the binary to completion (bounded by exitTimeout).
func runBinary(t *testing.T, args []string, env ...string) runResult {
	t.Helper()
	bin := serverBinary(t) // may build it: not part of the exit bound
	ctx, cancel := context.WithTimeout(context.Background(), exitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = cleanEnv(env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%v did not exit within %s (killed)\nstderr:\n%s", args, exitTimeout, stderr.String())
	}
	if err != nil && exitCode(err) < 0 {
		t.Fatalf("cannot run %v: %v", args, err)
	}
	return runResult{exitCode(err), stdout.String(), stderr.String()}
}
