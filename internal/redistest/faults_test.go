package redistest

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSentinelFailover: the replica holds the primary's keys, and when
// the primary dies the Sentinels promote it with those keys.
func TestSentinelFailover(t *testing.T) {
	st := StartSentinel(t)
	for i := 0; i < 100; i++ {
		st.Primary.MustDo("SET", "k"+strconv.Itoa(i), strconv.Itoa(i))
	}
	st.WaitReplicated(t)
	if got := st.Replica.MustDo("GET", "k42"); got != "42" {
		t.Fatalf("replica GET k42 = %q", got)
	}
	if !strings.Contains(st.URL(), "master_set=mymaster") || strings.Count(st.URL(), "addr=") != 2 {
		t.Fatalf("URL %s", st.URL())
	}
	start := time.Now()
	st.Primary.Kill()
	st.WaitPromoted(t)
	t.Logf("promoted %s after the kill", time.Since(start))
	if got := st.Replica.MustDo("DBSIZE"); got != "100" {
		t.Fatalf("promoted replica holds %s keys, want 100", got)
	}
	st.Replica.MustDo("SET", "after", "1") // writable: a primary now
}

// TestProxyToxics: each toxic does what it says to a real redis-server
// behind the proxy, and the proxy is clean again once it is removed.
func TestProxyToxics(t *testing.T) {
	srv := Start(t, Options{})
	srv.MustDo("SET", "big", strings.Repeat("x", 20_000))
	p := StartProxy(t, srv.Addr())
	timed := func(args ...string) (string, time.Duration, error) {
		start := time.Now()
		r, err := p.Do(3*time.Second, args...)
		return r, time.Since(start), err
	}
	if r, _, err := timed("PING"); err != nil || r != "PONG" {
		t.Fatalf("through the clean proxy: %q %v", r, err)
	}
	for _, tc := range []struct {
		tox   Toxic
		cmd   []string
		check func(r string, took time.Duration, err error) bool
	}{
		{Latency(200 * time.Millisecond), []string{"PING"}, func(r string, took time.Duration, err error) bool {
			return err == nil && r == "PONG" && took >= 200*time.Millisecond
		}},
		// 20 KB at 10 KB/s: about 2 s.
		{Bandwidth(10), []string{"GET", "big"}, func(r string, took time.Duration, err error) bool {
			return err == nil && len(r) == 20_000 && took >= time.Second
		}},
		{BlackHole(), []string{"PING"}, func(r string, took time.Duration, err error) bool {
			return err != nil && took >= 2*time.Second // the 3 s deadline, nothing came back
		}},
		{ResetPeer(0), []string{"PING"}, func(r string, took time.Duration, err error) bool {
			return err != nil && took < 2*time.Second
		}},
		{Slicer(64, 32, time.Millisecond), []string{"GET", "big"}, func(r string, took time.Duration, err error) bool {
			return err == nil && len(r) == 20_000
		}},
	} {
		t.Run(tc.tox.Name, func(t *testing.T) {
			p.Add(tc.tox)
			r, took, err := timed(tc.cmd...)
			p.Remove(tc.tox)
			if !tc.check(r, took, err) {
				t.Errorf("%s under %s: %d bytes after %s, err %v", tc.cmd[0], tc.tox.Name, len(r), took, err)
			}
			if r, took, err := timed("PING"); err != nil || r != "PONG" || took > time.Second {
				t.Errorf("after removing %s: %q after %s, err %v", tc.tox.Name, r, took, err)
			}
		})
	}
}
