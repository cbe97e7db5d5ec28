// Package benchproc holds what the benchmark commands under bench/cmd
// share about the processes they start and measure: a free loopback port,
// polling until a server is ready, pinning a command to a core with
// taskset, starting a server with its output kept, and reading the CPU
// time a process has used from /proc/PID/stat (Linux only).
//
// The functions are safe for concurrent use; a Server is owned by the
// goroutine that started it.
package benchproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ClockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat:
// 100 on every Linux architecture Go supports.
const ClockTicks = 100

// FreeAddr returns "127.0.0.1:<port>" for a TCP port that was free when
// asked; a process started right after can listen on it.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("cannot find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Poll calls ready until it returns nil, sleeping every between calls. It
// returns nil, ctx's error once ctx is done, or ready's last error once
// limit has passed since the call (ready is called at least once).
func Poll(ctx context.Context, limit, every time.Duration, ready func() error) error {
	deadline := time.Now().Add(limit)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := ready()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

// dialer returns a probe for Poll: nil once addr accepts a connection.
func dialer(addr string) func() error {
	return func() error {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// Pinned returns a command running name under taskset -c cpu, or name
// itself when cpu is empty. taskset execs the program, so the command's
// PID is the program's and its CPU time (CPUTicks) is the program's.
func Pinned(ctx context.Context, cpu, name string, args ...string) *exec.Cmd {
	if cpu == "" {
		return exec.CommandContext(ctx, name, args...)
	}
	return exec.CommandContext(ctx, "taskset", append([]string{"-c", cpu, name}, args...)...)
}

// Server is a started server process. Log holds its standard output and
// error; read it only after Stop (the process writes to it until then).
type Server struct {
	Cmd *exec.Cmd
	Log bytes.Buffer
}

// Start starts cmd with its output into the returned Server's Log, then
// polls ready every 20ms for up to limit. If ready never returns nil, the
// process is killed and the error holds ready's last error and the end of
// the log (the caller adds which server it is).
func Start(ctx context.Context, cmd *exec.Cmd, limit time.Duration, ready func() error) (*Server, error) {
	s := &Server{Cmd: cmd}
	cmd.Stdout, cmd.Stderr = &s.Log, &s.Log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start: %w", err)
	}
	if err := Poll(ctx, limit, 20*time.Millisecond, ready); err != nil {
		s.Stop()
		return nil, fmt.Errorf("not ready: %w; its log: %s", err, TrimLog(s.Log.String()))
	}
	return s, nil
}

// Pid is the server's process ID.
func (s *Server) Pid() int { return s.Cmd.Process.Pid }

// Stop kills the server and waits until it has exited. It may be called
// more than once.
func (s *Server) Stop() {
	if s.Cmd.Process != nil && s.Cmd.ProcessState == nil {
		_ = s.Cmd.Process.Signal(syscall.SIGKILL)
		_ = s.Cmd.Wait()
	}
}

// TrimLog is the last 2,000 bytes of a process's log, trimmed of spaces:
// enough to see why a server did not start.
func TrimLog(s string) string {
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return strings.TrimSpace(s)
}

// ParseStatTicks returns utime+stime, in clock ticks, from the content of
// /proc/PID/stat. The command name (field 2) is in parentheses and may
// hold spaces and parentheses, so fields are counted after the last ')';
// utime and stime are fields 14 and 15.
func ParseStatTicks(stat []byte) (int64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("no ')' after the command name")
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 13", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cannot parse utime or stime: %w", err)
		}
		if v < 0 {
			return 0, fmt.Errorf("negative utime or stime %d", v)
		}
		ticks += v
	}
	return ticks, nil
}

// CPUTicks returns utime+stime in clock ticks (ClockTicks a second) of
// each of pids, in order, its threads included.
func CPUTicks(pids ...int) ([]int64, error) {
	ticks := make([]int64, len(pids))
	for i, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return nil, fmt.Errorf("cannot read the CPU time of %d: %w", pid, err)
		}
		if ticks[i], err = ParseStatTicks(b); err != nil {
			return nil, fmt.Errorf("cannot parse /proc/%d/stat: %w", pid, err)
		}
	}
	return ticks, nil
}

// CPUTime returns the user plus system CPU time process pid has used.
func CPUTime(pid int) (time.Duration, error) {
	t, err := CPUTicks(pid)
	if err != nil {
		return 0, err
	}
	return time.Duration(t[0]) * time.Second / ClockTicks, nil
}

// StartRedis starts a redis-server without persistence on a free loopback
// port, pinned to cpu (see Pinned), and waits up to 10s until it accepts
// connections. It returns the server and its address (host:port); the
// caller stops it.
func StartRedis(ctx context.Context, cpu string) (*Server, string, error) {
	addr, err := FreeAddr()
	if err != nil {
		return nil, "", err
	}
	_, port, _ := net.SplitHostPort(addr)
	cmd := Pinned(ctx, cpu, "redis-server", "--port", port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--logfile", "")
	s, err := Start(ctx, cmd, 10*time.Second, dialer(addr))
	if err != nil {
		return nil, "", fmt.Errorf("redis-server: %w", err)
	}
	return s, addr, nil
}

// Spread measures how long a change takes to reach every replica: it
// calls serves(j) for each of n replicas, each in its own goroutine, every
// 200µs (polling, not spinning: spinning clients would take the CPU the
// replicas need to apply the change) until it returns nil, and returns
// the slowest replica's delay since changed. serves returns an error
// saying what the replica served while it does not serve the change yet;
// a replica still not serving it limit after changed is an error.
func Spread(changed time.Time, n int, limit time.Duration, serves func(j int) error) (time.Duration, error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		worst time.Duration
		errs  error
	)
	for j := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				err := serves(j)
				if err == nil {
					d := time.Since(changed)
					mu.Lock()
					worst = max(worst, d)
					mu.Unlock()
					return
				}
				if time.Since(changed) > limit {
					mu.Lock()
					errs = errors.Join(errs, fmt.Errorf("replica %d not serving the change after %s: %w", j, limit, err))
					mu.Unlock()
					return
				}
				time.Sleep(200 * time.Microsecond)
			}
		}()
	}
	wg.Wait()
	return worst, errs
}

// Quantile returns the q quantile (0 <= q <= 1) of sorted, which must not
// be empty: the element at index q*len, the last one for q = 1.
func Quantile(sorted []time.Duration, q float64) time.Duration {
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// Summary sorts delays, which must not be empty, in place and returns
// their P50, P90, P99 and maximum as "P50 x, P90 x, P99 x, max x".
func Summary(delays []time.Duration) string {
	slices.Sort(delays)
	q := func(p float64) time.Duration { return Quantile(delays, p) }
	return fmt.Sprintf("P50 %s, P90 %s, P99 %s, max %s", q(0.50), q(0.90), q(0.99), delays[len(delays)-1])
}
