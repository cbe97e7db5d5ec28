// Package redistest starts real redis-server processes on free loopback
// ports for tests: standalone, with a password, with TLS (certificates made
// in the test), a three-node Redis Cluster, and a primary with a replica
// watched by three Sentinels. A Toxiproxy proxy, run inside the test
// process, puts faults (latency, bandwidth, black hole, reset, slicing)
// between a client and a server. Every process is stopped and its files
// removed when the test ends (t.Cleanup).
//
// Nothing here is skipped: the tests need /usr/bin/redis-server (Debian's
// redis-server package; `make test` installs it when missing). A missing
// binary fails the test with that reason.
//
// The helpers wait on evidence (the server's "Ready to accept connections"
// line, a PONG, cluster_state:ok, a replica's DBSIZE, the Sentinels'
// master address), each with a bounded timeout, never on sleeps. A Server is safe for use by one test goroutine at a time.
package redistest

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StartTimeout bounds how long a server may take to become ready.
const StartTimeout = 15 * time.Second

// Options choose how a server is started.
type Options struct {
	// Password, when set, is required by the server (requirepass).
	Password string
	// TLS, when set, makes the server speak only TLS with these files;
	// see [NewCerts].
	TLS *Certs
	// RequireClientCert makes a TLS server ask for a client certificate.
	RequireClientCert bool
	// Args are extra redis-server arguments, e.g. "--maxmemory", "1mb".
	Args []string
	// cluster starts the node with cluster mode on (StartCluster).
	cluster bool
	// sentinelConf, when set, runs a Sentinel with this config file
	// (StartSentinel).
	sentinelConf string
}

// Server is one redis-server process.
type Server struct {
	t    testing.TB
	opts Options
	dir  string
	// Port is the loopback port it listens on (TLS or plain).
	Port int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the current process has exited
	out  *lineLog
}

// Addr is "127.0.0.1:port".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// URL is the server's redis:// (or rediss:// with TLS) URL, with the
// password in it when the server has one.
func (s *Server) URL() string {
	u := url.URL{Scheme: "redis", Host: s.Addr()}
	if s.opts.TLS != nil {
		u.Scheme = "rediss"
	}
	if s.opts.Password != "" {
		u.User = url.UserPassword("default", s.opts.Password)
	}
	return u.String()
}

// URLNoPassword is URL without the credentials (for --store-password-file).
func (s *Server) URLNoPassword() string {
	u := url.URL{Scheme: "redis", Host: s.Addr()}
	if s.opts.TLS != nil {
		u.Scheme = "rediss"
	}
	return u.String()
}

// Start starts a standalone redis-server on a free loopback port and
// stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server is not installed (Debian package redis-server; make test installs it): %v", err)
	}
	s := &Server{t: t, opts: opts, dir: t.TempDir()}
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		s.Port = freePort(t)
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("cannot start redis-server: %v", err)
	}
	t.Cleanup(s.Kill)
	return s
}

func (s *Server) args() []string {
	if s.opts.sentinelConf != "" {
		return []string{s.opts.sentinelConf, "--sentinel"}
	}
	a := []string{
		"--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--protected-mode", "no", "--enable-debug-command", "yes",
		"--logfile", "", "--daemonize", "no",
	}
	if s.opts.TLS != nil {
		c := s.opts.TLS
		a = append(a, "--port", "0", "--tls-port", strconv.Itoa(s.Port),
			"--tls-cert-file", c.ServerCert, "--tls-key-file", c.ServerKey, "--tls-ca-cert-file", c.CA,
			"--tls-auth-clients", "optional")
		if s.opts.RequireClientCert {
			a[len(a)-1] = "yes"
		}
	} else {
		a = append(a, "--port", strconv.Itoa(s.Port))
	}
	if s.opts.Password != "" {
		a = append(a, "--requirepass", s.opts.Password)
	}
	if s.opts.cluster {
		a = append(a, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(s.dir, "nodes.conf"),
			"--cluster-node-timeout", "2000")
	}
	return append(a, s.opts.Args...)
}

// start runs the process and waits for its ready line.
func (s *Server) start() error {
	cmd := exec.Command("redis-server", s.args()...)
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		return err
	}
	out := &lineLog{ready: make(chan struct{}), readyLine: "Ready to accept connections"}
	if s.opts.sentinelConf != "" {
		// A Sentinel says nothing of accepting connections; it is ready
		// once it monitors its primary.
		out.readyLine = "+monitor master"
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = pw.Close()
		close(done)
	}()
	go out.read(pr)
	s.mu.Lock()
	s.cmd, s.done, s.out = cmd, done, out
	s.mu.Unlock()
	select {
	case <-out.ready:
		return nil
	case <-done:
		return fmt.Errorf("redis-server on port %d exited at start: %s", s.Port, out.tail())
	case <-time.After(StartTimeout):
		s.Kill()
		return fmt.Errorf("redis-server on port %d not ready after %s: %s", s.Port, StartTimeout, out.tail())
	}
}

// Kill stops the process with SIGKILL (after SIGCONT, in case it was
// paused) and waits for it to exit. It is idempotent.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT)
	_ = cmd.Process.Kill()
	<-done
}

// Restart kills the process and starts a new one on the same port (with
// an empty data set: nothing is persisted).
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	var err error
	// The port was ours a moment ago; the kernel may take a moment to let
	// it go, so a few attempts, each bounded by its own evidence.
	for attempt := 0; attempt < 20; attempt++ {
		if err = s.start(); err == nil {
			return
		}
		if !strings.Contains(err.Error(), "in use") {
			break
		}
	}
	s.t.Fatalf("cannot restart redis-server: %v", err)
}

// Pause stops the process with SIGSTOP: connections stay open, nothing is
// answered.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume continues a paused process (SIGCONT).
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig os.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("cannot signal redis-server: %v", err)
	}
}

// Log returns the server's output so far.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.all()
}

// Do sends one command on a fresh connection and returns the reply as
// text (a bulk or simple string, an integer's digits, "(nil)", or for an
// array its elements joined by newlines). A Redis error reply is returned
// as an error.
func (s *Server) Do(args ...string) (string, error) {
	c, err := s.Dial()
	if err != nil {
		return "", err
	}
	defer c.Close()
	return c.Do(args...)
}

// ClientIDs returns the ids of the clients whose CLIENT LIST line holds
// every one of parts (e.g. " resp=2", " cmd=get "), failing the test when
// Redis cannot list them.
func (s *Server) ClientIDs(parts ...string) []string {
	s.t.Helper()
	var ids []string
lines:
	for _, line := range strings.Split(s.MustDo("CLIENT", "LIST"), "\n") {
		for _, p := range parts {
			if !strings.Contains(line, p) {
				continue lines
			}
		}
		for _, f := range strings.Fields(line) {
			if id, ok := strings.CutPrefix(f, "id="); ok {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// MustDo is Do that fails the test on error.
func (s *Server) MustDo(args ...string) string {
	s.t.Helper()
	r, err := s.Do(args...)
	if err != nil {
		s.t.Fatalf("redis %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// Dial opens an authenticated connection (TLS when the server uses it).
func (s *Server) Dial() (*Conn, error) {
	c, err := s.dialRaw()
	if err != nil {
		return nil, err
	}
	if s.opts.Password != "" {
		if _, err := c.Do("AUTH", s.opts.Password); err != nil {
			c.Close()
			return nil, fmt.Errorf("cannot authenticate: %w", err)
		}
	}
	return c, nil
}

// dialRaw opens a connection without authenticating.
func (s *Server) dialRaw() (*Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	var (
		nc  net.Conn
		err error
	)
	if s.opts.TLS != nil {
		cfg, cerr := s.opts.TLS.ClientConfig(true)
		if cerr != nil {
			return nil, cerr
		}
		nc, err = tls.DialWithDialer(&d, "tcp", s.Addr(), cfg)
	} else {
		nc, err = d.Dial("tcp", s.Addr())
	}
	if err != nil {
		return nil, err
	}
	return &Conn{nc: nc, r: bufio.NewReader(nc)}, nil
}

// Conn is a minimal RESP2 connection for test set-up and fault injection.
type Conn struct {
	nc net.Conn
	r  *bufio.Reader
}

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// Do sends one command and reads its reply (see [Server.Do]); each call
// is bounded by a 10 s deadline.
func (c *Conn) Do(args ...string) (string, error) {
	_ = c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.Send(args...); err != nil {
		return "", err
	}
	return c.Read()
}

// Send writes one command without reading its reply (for pipelining).
func (c *Conn) Send(args ...string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	_, err := io.WriteString(c.nc, b.String())
	return err
}

// Read reads one reply.
func (c *Conn) Read() (string, error) {
	line, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply line")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", fmt.Errorf("bad bulk length %q", line)
		}
		if n < 0 {
			return "(nil)", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", fmt.Errorf("bad array length %q", line)
		}
		parts := make([]string, 0, max(n, 0))
		for i := 0; i < n; i++ {
			p, err := c.Read()
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, "\n"), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}

// lineLog keeps a process's output and signals its ready line (the
// first line that contains readyLine).
type lineLog struct {
	mu        sync.Mutex
	lines     []string
	ready     chan struct{}
	readyLine string
	once      sync.Once
}

func (l *lineLog) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		l.mu.Lock()
		if len(l.lines) < 10_000 {
			l.lines = append(l.lines, line)
		}
		l.mu.Unlock()
		if strings.Contains(line, l.readyLine) {
			l.once.Do(func() { close(l.ready) })
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

func (l *lineLog) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func (l *lineLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	from := max(len(l.lines)-5, 0)
	return strings.Join(l.lines[from:], " | ")
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("cannot find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Stalled reports whether the server fails to answer a PING within
// wait: evidence that a DEBUG SLEEP (or SIGSTOP) has taken hold. Any
// reply, even NOAUTH, means it is not stalled.
func (s *Server) Stalled(wait time.Duration) bool {
	c, err := s.dialRaw()
	if err != nil {
		return true
	}
	defer c.Close()
	_ = c.nc.SetDeadline(time.Now().Add(wait))
	if err := c.Send("PING"); err != nil {
		return true
	}
	_, err = c.r.ReadString('\n')
	return err != nil
}
