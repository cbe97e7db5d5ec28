package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pricing-engine/pricing-engine/bench/internal/benchproc"
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
	*benchproc.Server
	addr  string // API address
	admin string // admin address (pricing-engine only)
}

// startServer starts sv pinned to cpu and waits until it answers a price
// request. manyConns lifts pricing-engine's connection limit above what
// the descriptor limit allows (the idle scenario).
func startServer(ctx context.Context, binDir, cpu string, sv server, latency string, manyConns bool) (*process, error) {
	addr, err := benchproc.FreeAddr()
	if err != nil {
		return nil, err
	}
	p := &process{addr: addr}
	args := []string{"--addr", p.addr, "--lookup-latency", latency}
	if sv.ours {
		if p.admin, err = benchproc.FreeAddr(); err != nil {
			return nil, err
		}
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
	cmd := benchproc.Pinned(ctx, cpu, filepath.Join(binDir, binName(sv.pkg)), args...)
	// No keep-alive: each attempt is a new connection.
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	ready := func() error { return p.answersPrice(client) }
	if p.Server, err = benchproc.Start(ctx, cmd, 15*time.Second, ready); err != nil {
		return nil, fmt.Errorf("%s: %w", sv.key, err)
	}
	return p, nil
}

// benchBody is the request every scenario sends (also bench/wrk/*.lua and
// bench/cmd/idleconns).
const benchBody = `{"product_id":"P-500","user_location":"NY","is_prime_member":true}`

// answersPrice reports whether the server answers benchBody with the
// price of the embedded catalog.
func (p *process) answersPrice(client *http.Client) error {
	resp, err := client.Post("http://"+p.addr+"/api/v1/price", "application/json", strings.NewReader(benchBody))
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"final_price":52.24`)) {
		return fmt.Errorf("status %d, body %q", resp.StatusCode, body)
	}
	return nil
}

// rssBytes reads VmRSS of the process from /proc.
func (p *process) rssBytes() (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.Pid()))
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
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", p.Pid())
}

// cpuTime reads the user plus system CPU time the process has used.
func (p *process) cpuTime() (time.Duration, error) { return benchproc.CPUTime(p.Pid()) }

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

func lookPath(name string) (string, error) { return exec.LookPath(name) }
