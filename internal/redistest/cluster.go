package redistest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is a Redis Cluster of primaries without replicas.
type Cluster struct {
	Nodes []*Server
}

// URL names every node: redis://127.0.0.1:P1?addr=127.0.0.1:P2&addr=...
func (c *Cluster) URL() string {
	u := url.URL{Scheme: "redis", Host: c.Nodes[0].Addr()}
	q := url.Values{}
	for _, n := range c.Nodes[1:] {
		q.Add("addr", n.Addr())
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// SeedURL names only the first node: the client must discover the others.
func (c *Cluster) SeedURL() string { return "redis://" + c.Nodes[0].Addr() }

// Node returns the node that holds key's slot.
func (c *Cluster) Node(t testing.TB, key string) *Server {
	t.Helper()
	for _, n := range c.Nodes {
		// The owner answers GET without a MOVED redirection.
		if _, err := n.Do("GET", key); err == nil || !strings.HasPrefix(err.Error(), "MOVED") {
			return n
		}
	}
	t.Fatalf("no node holds %q", key)
	return nil
}

// StartCluster starts n (>= 3) cluster-mode nodes on loopback, joins them
// with redis-cli --cluster create (no replicas) and waits until every
// node reports cluster_state:ok.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 3 {
		t.Fatalf("a Redis Cluster needs at least 3 primaries, got %d", n)
	}
	c := &Cluster{}
	for i := 0; i < n; i++ {
		s := &Server{t: t, opts: Options{cluster: true}, dir: t.TempDir()}
		var err error
		for attempt := 0; attempt < 10; attempt++ {
			s.Port = clusterPort(t)
			if err = s.start(); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("cannot start cluster node: %v", err)
		}
		t.Cleanup(s.Kill)
		c.Nodes = append(c.Nodes, s)
	}
	args := []string{"--cluster", "create"}
	for _, s := range c.Nodes {
		args = append(args, s.Addr())
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	cmd := exec.Command("redis-cli", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(StartTimeout)
	for _, s := range c.Nodes {
		for {
			info, err := s.Do("CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster node %s not ok after %s: %v %s", s.Addr(), StartTimeout, err, info)
			}
			waitABit()
		}
	}
	return c
}

// waitABit paces a bounded poll of a condition that has no event to wait
// on (cluster convergence is only observable by asking).
func waitABit() { time.Sleep(20 * time.Millisecond) }

// clusterPort returns a port p such that p and its cluster bus port
// p+10000 were both free a moment ago.
func clusterPort(t testing.TB) int {
	t.Helper()
	for i := 0; i < 200; i++ {
		p := 20000 + rand.IntN(30000)
		if free(p) && free(p+10000) {
			return p
		}
	}
	t.Fatal("cannot find a free port pair for a cluster node")
	return 0
}

func free(port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = ln.Close()
	return true
}

// String describes the cluster for messages.
func (c *Cluster) String() string {
	var b strings.Builder
	for i, n := range c.Nodes {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, n.Addr())
	}
	return b.String()
}
