package local

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pricing-engine/pricing-engine/internal/e2ebin"
	"github.com/pricing-engine/pricing-engine/internal/testwait"
)

// Failure bounds: each turns a hang into a failure; none is a point of
// synchronisation (every wait ends on evidence).
const (
	scriptTimeout = 120 * time.Second // one fleet.sh command
	pollTimeout   = 10 * time.Second  // a state change in HAProxy or a replica
	httpTimeout   = 5 * time.Second   // one request
)

// engineBin is the binary under test.
var engineBin = e2ebin.Builder{Pkg: "../../cmd/pricing-engine"}

func TestMain(m *testing.M) {
	code := m.Run()
	engineBin.Cleanup()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines leaked: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// serverBinary returns the binary under test: $PRICING_E2E_BINARY (make
// e2e), or one built from cmd/pricing-engine on first use.
func serverBinary(t *testing.T) string {
	t.Helper()
	return engineBin.Path(t)
}

// requireFleetTools skips the test when a tool the recipe needs is missing.
func requireFleetTools(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test of the fleet: skipped with -short")
	}
	for _, tool := range []string{"haproxy", "curl", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (Debian package %s; .ci/run installs it)", tool, tool)
		}
	}
}

// fleet is one run of fleet.sh in a run directory of its own, on ports
// nobody else uses.
type fleet struct {
	t                   *testing.T
	dir                 string
	env                 []string
	front, stats        int // HAProxy's API and stats ports
	apiBase, adminBase  int // replica i serves on apiBase+i and adminBase+i
	redisPort, replicas int
	store               string // the store URL the replicas use; "" for memory
	client              *http.Client
	replicaClients      []*http.Client
}

// startFleet runs "fleet.sh up" with n replicas, each given the extra
// flags args, and registers "fleet.sh down" as cleanup.
func startFleet(t *testing.T, n int, args ...string) *fleet {
	t.Helper()
	return startFleetEnv(t, n, nil, args...)
}

// startFleetEnv is startFleet with more FLEET_* settings in env.
func startFleetEnv(t *testing.T, n int, env []string, args ...string) *fleet {
	t.Helper()
	requireFleetTools(t)
	bin := serverBinary(t)
	base := freePorts(t, 14)
	f := &fleet{
		t:         t,
		dir:       t.TempDir(),
		front:     base,
		stats:     base + 1,
		apiBase:   base + 1, // replicas on base+2 ..
		adminBase: base + 5, // admin on base+6 ..
		redisPort: base + 10,
		replicas:  n,
		client:    &http.Client{Timeout: httpTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: 8}},
	}
	for range n {
		f.replicaClients = append(f.replicaClients, &http.Client{Timeout: httpTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: 4}})
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FLEET_") && !strings.HasPrefix(kv, "PRICING_") {
			f.env = append(f.env, kv)
		}
	}
	f.env = append(f.env,
		"FLEET_DIR="+f.dir,
		"FLEET_BIN="+bin,
		"FLEET_REPLICAS="+strconv.Itoa(n),
		"FLEET_PORT="+strconv.Itoa(f.front),
		"FLEET_STATS_PORT="+strconv.Itoa(f.stats),
		"FLEET_API_BASE="+strconv.Itoa(f.apiBase),
		"FLEET_ADMIN_BASE="+strconv.Itoa(f.adminBase),
		"FLEET_REDIS_PORT="+strconv.Itoa(f.redisPort),
		"FLEET_ARGS="+strings.Join(args, " "),
	)
	f.env = append(f.env, env...)
	t.Cleanup(func() {
		started := f.recordedPIDs()
		if out, err := f.sh("down"); err != nil {
			t.Errorf("fleet.sh down: %v\n%s", err, out)
		}
		// "down" stops exactly what "up" started: every recorded
		// process has exited (zombies waiting for their reaper count
		// as exited).
		for name, pid := range started {
			if alive(pid) {
				t.Errorf("%s (pid %d) still runs after fleet.sh down", name, pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		for _, c := range append(f.replicaClients, f.client) {
			c.CloseIdleConnections()
		}
		if t.Failed() {
			f.dumpLogs()
		}
	})
	if out, err := f.sh("up"); err != nil {
		t.Fatalf("fleet.sh up: %v\n%s", err, out)
	}
	f.store = f.state("STORE_URL")
	return f
}

// freePorts returns the first of n consecutive loopback ports that are
// free now, and whose Redis Cluster bus ports (port + 10000) are free too
// (fleet.sh checks them again before binding). The ports lie below the
// kernel's ephemeral range (32768 and up by default), where outgoing
// connections could take them.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	for range 50 {
		base := 12000 + rand.IntN(800)*10
		var ls []net.Listener
		ok := true
		for _, p := range append(portRange(base, n), portRange(base+10000, n)...) {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				ok = false
				break
			}
			ls = append(ls, l)
		}
		for _, l := range ls {
			_ = l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatalf("no %d consecutive free loopback ports found", n)
	return 0
}

// recordedPIDs returns the pid of every pid file in the run directory.
func (f *fleet) recordedPIDs() map[string]int {
	m := map[string]int{}
	files, _ := filepath.Glob(filepath.Join(f.dir, "*.pid"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		if fields := strings.Fields(string(data)); len(fields) > 0 {
			if pid, err := strconv.Atoi(fields[0]); err == nil {
				m[strings.TrimSuffix(filepath.Base(file), ".pid")] = pid
			}
		}
	}
	return m
}

// alive reports whether process pid runs (a zombie does not).
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}

// portRange returns n consecutive ports from base.
func portRange(base, n int) []int {
	ports := make([]int, n)
	for i := range ports {
		ports[i] = base + i
	}
	return ports
}

// sh runs fleet.sh with the fleet's environment and returns its output.
func (f *fleet) sh(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{"fleet.sh"}, args...)...)
	cmd.Env = f.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// state returns a setting recorded in fleet.env by "up" (a shell file of
// %q-quoted assignments, so bash reads it).
func (f *fleet) state(key string) string {
	f.t.Helper()
	out, err := exec.Command("bash", "-c", `source "$1" && printf %s "${!2}"`, "state", filepath.Join(f.dir, "fleet.env"), key).Output()
	if err != nil {
		f.t.Fatalf("cannot read %s from fleet.env: %v", key, err)
	}
	return string(out)
}

// frontURL is the price endpoint through HAProxy.
func (f *fleet) frontURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d/api/v1/price", f.front)
}

// replicaURL is the price endpoint of replica i (1-based), not through HAProxy.
func (f *fleet) replicaURL(i int) string {
	return fmt.Sprintf("http://127.0.0.1:%d/api/v1/price", f.apiBase+i)
}

// pid returns the pid fleet.sh recorded for component name.
func (f *fleet) pid(name string) int {
	f.t.Helper()
	data, err := os.ReadFile(filepath.Join(f.dir, name+".pid"))
	if err != nil {
		f.t.Fatalf("cannot read the pid file of %s: %v", name, err)
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		f.t.Fatalf("empty pid file for %s", name)
	}
	pid, err := strconv.Atoi(fields[0])
	if err != nil {
		f.t.Fatalf("bad pid file for %s: %q", name, data)
	}
	return pid
}

// proxyStat is one row of HAProxy's stats CSV.
type proxyStat struct {
	Status string
	ReqTot int64 // HTTP requests sent to a server / received by a frontend
	Retr   int64 // connection retries (servers, backends)
	Redis  int64 // redispatches (servers, backends)
}

// proxyStats reads HAProxy's stats CSV, keyed "proxy/name" (e.g.
// "pricing/r1", "pricing/BACKEND", "api/FRONTEND").
func (f *fleet) proxyStats() (map[string]proxyStat, error) {
	resp, err := f.client.Get(fmt.Sprintf("http://127.0.0.1:%d/stats;csv", f.stats))
	if err != nil {
		return nil, fmt.Errorf("cannot read haproxy stats: %w", err)
	}
	defer resp.Body.Close()
	r := csv.NewReader(resp.Body)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil || len(rows) == 0 {
		return nil, fmt.Errorf("cannot parse haproxy stats: %v", err)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[strings.TrimPrefix(name, "# ")] = i
	}
	num := func(row []string, name string) int64 {
		i, ok := col[name]
		if !ok || i >= len(row) {
			return 0
		}
		v, _ := strconv.ParseInt(row[i], 10, 64)
		return v
	}
	m := map[string]proxyStat{}
	for _, row := range rows[1:] {
		if len(row) <= col["status"] {
			continue
		}
		m[row[0]+"/"+row[1]] = proxyStat{
			Status: row[col["status"]],
			ReqTot: num(row, "req_tot"),
			Retr:   num(row, "wretr"),
			Redis:  num(row, "wredis"),
		}
	}
	return m, nil
}

func (f *fleet) mustStats() map[string]proxyStat {
	f.t.Helper()
	s, err := f.proxyStats()
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// replicaReplies returns how many API replies replica i has written, by
// status code (the counts of http_request_duration_seconds; the admin
// port's requests are not in it).
func (f *fleet) replicaReplies(i int) (map[string]int64, error) {
	resp, err := f.client.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", f.adminBase+i))
	if err != nil {
		return nil, fmt.Errorf("cannot read the metrics of replica %d: %w", i, err)
	}
	defer resp.Body.Close()
	m := map[string]int64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "http_request_duration_seconds_count{") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("bad metrics line %q", line)
		}
		code := "?"
		if _, rest, ok := strings.Cut(line, `code="`); ok {
			code, _, _ = strings.Cut(rest, `"`)
		}
		m[code] += int64(v)
		m["all"] += int64(v)
	}
	return m, sc.Err()
}

// totalReplies sums replicaReplies over the fleet.
func (f *fleet) totalReplies() map[string]int64 {
	f.t.Helper()
	total := map[string]int64{}
	for i := 1; i <= f.replicas; i++ {
		m, err := f.replicaReplies(i)
		if err != nil {
			f.t.Fatal(err)
		}
		for k, v := range m {
			total[k] += v
		}
	}
	return total
}

// waitFor polls cond every 10 ms until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool { return testwait.Until(timeout, cond) }

// dumpLogs logs the tail of every log in the run directory.
func (f *fleet) dumpLogs() {
	logs, _ := filepath.Glob(filepath.Join(f.dir, "*.log"))
	for _, path := range logs {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 30 {
			lines = lines[len(lines)-30:]
		}
		f.t.Logf("--- %s (last %d lines)\n%s", filepath.Base(path), len(lines), strings.Join(lines, "\n"))
	}
}

// price asks url for one price and returns the decoded reply's base price.
func price(c *http.Client, url, body string) (status int, reply []byte, err error) {
	resp, err := c.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	reply, err = io.ReadAll(resp.Body)
	return resp.StatusCode, reply, err
}
