package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/textarg"
)

// server describes one server under test.
type server struct {
	key       string // short name used in flags and tables
	name      string // display name
	pkg       string // Go package of its main
	ours      bool   // pricing-engine itself (has an admin port)
	noLatency bool   // cannot run the seed profile (the raw limit)
}

// The servers, in the order every round runs them.
var allServers = []server{
	{key: "pricing-engine", name: "pricing-engine (gnet)", pkg: "./cmd/pricing-engine", ours: true},
	{key: "fasthttp", name: "fasthttp + fastjson", pkg: "./bench/refserver/fasthttp"},
	{key: "nethttp", name: "net/http + encoding/json", pkg: "./bench/refserver/nethttp"},
	{key: "gnetraw", name: "raw gnet (limit)", pkg: "./bench/refserver/gnetraw", noLatency: true},
}

func selectServers(list string) []server {
	if list == "" {
		return allServers
	}
	var out []server
	for _, k := range textarg.SplitList(list) {
		for _, s := range allServers {
			if s.key == k {
				out = append(out, s)
			}
		}
	}
	return out
}

// build compiles every server and the idle-connection client into dir.
func build(ctx context.Context, repo, dir string, servs []server) error {
	pkgs := []string{"./bench/cmd/idleconns"}
	for _, s := range servs {
		pkgs = append(pkgs, s.pkg)
	}
	logf("building %s", strings.Join(pkgs, " "))
	cmd := exec.CommandContext(ctx, "go", append([]string{"build", "-o", dir + string(os.PathSeparator)}, pkgs...)...)
	cmd.Dir = repo
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cannot build: %w", err)
	}
	return nil
}

// binName is the file name go build gives the main package pkg.
func binName(pkg string) string { return filepath.Base(pkg) }

// process is a started server.
type process struct {
	cmd   *exec.Cmd
	addr  string // API address
	admin string // admin address (pricing-engine only)
	log   bytes.Buffer
}

// startServer starts sv pinned to cpu and waits until it answers a price
// request. manyConns lifts pricing-engine's connection limit above what
// the descriptor limit allows (the idle scenario).
func startServer(ctx context.Context, binDir, cpu string, sv server, latency string, manyConns bool) (*process, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p := &process{addr: "127.0.0.1:" + strconv.Itoa(port)}
	args := []string{"--addr", p.addr, "--lookup-latency", latency}
	if sv.ours {
		aport, err := freePort()
		if err != nil {
			return nil, err
		}
		p.admin = "127.0.0.1:" + strconv.Itoa(aport)
		// --pprof: the admin port is on loopback, and -pprof saves profiles.
		args = append(args, "--admin-addr", p.admin, "--pprof", "--log-level", "warn", "--drain-delay", "0s")
		if manyConns {
			// The idle scenario opens up to the descriptor limit minus
			// 1,000 connections; the default --max-conns keeps an eighth
			// of the limit as headroom (docs/RELIABILITY.md) and would
			// refuse some. Past the default, connections are accepted by
			// the acceptor that survives EMFILE instead of the event
			// loops: the other scenarios keep the default, as deployed.
			args = append(args, "--max-conns", "100000")
		}
	}
	p.cmd = pinned(ctx, cpu, filepath.Join(binDir, binName(sv.pkg)), args...)
	p.cmd.Stdout, p.cmd.Stderr = &p.log, &p.log
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start %s: %w", sv.key, err)
	}
	if err := p.waitReady(ctx, 15*time.Second); err != nil {
		p.stop()
		return nil, fmt.Errorf("%s not ready: %w; its log: %s", sv.key, err, trimLog(p.log.String()))
	}
	return p, nil
}

// pinned returns a command running name under taskset -c cpu (when cpu is
// not empty). taskset execs the program, so the PID is the server's.
func pinned(ctx context.Context, cpu, name string, args ...string) *exec.Cmd {
	if cpu == "" {
		return exec.CommandContext(ctx, name, args...)
	}
	return exec.CommandContext(ctx, "taskset", append([]string{"-c", cpu, name}, args...)...)
}

// benchBody is the request every scenario sends (also bench/wrk/*.lua and
// bench/cmd/idleconns).
const benchBody = `{"product_id":"P-500","user_location":"NY","is_prime_member":true}`

func (p *process) waitReady(ctx context.Context, limit time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		if err := ctx.Err(); err != nil {
			return err
		}
		resp, err := client.Post("http://"+p.addr+"/api/v1/price", "application/json", strings.NewReader(benchBody))
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte(`"final_price":52.24`)) {
				return nil
			}
			err = fmt.Errorf("status %d, body %q", resp.StatusCode, body)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return last
}

func (p *process) stop() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
	}
}

// rssBytes reads VmRSS of the process from /proc.
func (p *process) rssBytes() (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("cannot parse VmRSS %q: %w", v, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", p.cmd.Process.Pid)
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// cpuTime reads the user plus system CPU time the process has used.
func (p *process) cpuTime() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields after the last ')'. utime and stime are fields 14, 15.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("cannot parse /proc/%d/stat", p.cmd.Process.Pid)
	}
	var ticks int64
	for _, s := range f[11:13] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cannot parse /proc/%d/stat: %w", p.cmd.Process.Pid, err)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// mallocs reads go_memstats_mallocs_total from the admin /metrics.
func (p *process) mallocs() (float64, error) {
	resp, err := http.Get("http://" + p.admin + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_memstats_mallocs_total "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("no go_memstats_mallocs_total in /metrics")
}

// profile saves the admin /debug/pprof/<name>?<query> into path.
func (p *process) profile(name, query, path string) error {
	resp, err := http.Get("http://" + p.admin + "/debug/pprof/" + name + "?" + query)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof %s: status %d", name, resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func trimLog(s string) string {
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return strings.TrimSpace(s)
}

func lookPath(name string) (string, error) { return exec.LookPath(name) }
