package redistest

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MasterSet is the name the Sentinels of StartSentinel monitor.
const MasterSet = "mymaster"

// FailoverTimeout bounds how long a failover may take, from the
// primary's death to the replica reporting itself primary and every
// Sentinel naming it: down-after-milliseconds (1 s), the election and the
// promotion take about 2-4 s on loopback. When two Sentinels split the
// vote, the next attempt waits twice the failover-timeout (3 s here), so
// the bound leaves room for a few attempts on a starved machine.
const FailoverTimeout = 30 * time.Second

// Sentinel is a primary, one replica of it and three Sentinels
// monitoring them (quorum 2, down-after-milliseconds 1000).
type Sentinel struct {
	Primary   *Server
	Replica   *Server
	Sentinels []*Server
}

// StartSentinel starts a primary (diskless sync without delay, so that
// the replica's first full sync is immediate), a replica of it
// (--replicaof) and three `redis-server sentinel.conf --sentinel`
// processes; it waits until the replica's link is up and every Sentinel
// knows the replica and the two other Sentinels, so that a failover can
// be decided and elected. Everything is stopped when the test ends.
//
// Fill the primary, then call [Sentinel.WaitReplicated] before killing
// it: a replica that has not synced would be promoted empty.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	sync := []string{"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"}
	st := &Sentinel{Primary: Start(t, Options{Args: sync})}
	st.Replica = Start(t, Options{Args: append(append([]string(nil), sync...),
		"--replicaof", "127.0.0.1", strconv.Itoa(st.Primary.Port))})
	for i := 0; i < 3; i++ {
		st.Sentinels = append(st.Sentinels, startSentinel(t, st.Primary.Port))
	}
	st.WaitReplicated(t)
	deadline := time.Now().Add(StartTimeout)
	for _, s := range st.Sentinels {
		for {
			m, err := sentinelMaster(s)
			if err == nil && m["num-slaves"] == "1" && m["num-other-sentinels"] == "2" && m["flags"] == "master" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("sentinel %s does not know the replica and the other sentinels after %s: %v %v", s.Addr(), StartTimeout, m, err)
			}
			waitABit()
		}
	}
	return st
}

// startSentinel starts one Sentinel monitoring the primary on port.
func startSentinel(t testing.TB, primary int) *Server {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	s := &Server{t: t, dir: dir, opts: Options{sentinelConf: conf}}
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		s.Port = freePort(t)
		// The Sentinel rewrites its file (what it learns): it must be its
		// own, writable.
		text := fmt.Sprintf("port %d\nbind 127.0.0.1\nprotected-mode no\ndir %s\nlogfile \"\"\n"+
			"sentinel monitor %s 127.0.0.1 %d 2\n"+
			"sentinel down-after-milliseconds %s 1000\n"+
			"sentinel failover-timeout %s 3000\n"+
			"sentinel parallel-syncs %s 1\n",
			s.Port, dir, MasterSet, primary, MasterSet, MasterSet, MasterSet)
		if err = os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatalf("cannot write sentinel.conf: %v", err)
		}
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("cannot start redis-server --sentinel: %v", err)
	}
	t.Cleanup(s.Kill)
	return s
}

// URL is the engine's store URL for the Sentinels (rueidis' convention):
// redis://S1?addr=S2&addr=S3&master_set=mymaster.
func (st *Sentinel) URL() string {
	u := url.URL{Scheme: "redis", Host: st.Sentinels[0].Addr()}
	q := url.Values{}
	for _, s := range st.Sentinels[1:] {
		q.Add("addr", s.Addr())
	}
	q.Set("master_set", MasterSet)
	u.RawQuery = q.Encode()
	return u.String()
}

// WaitReplicated waits until the replica's link to the primary is up and
// it holds as many keys as the primary, and the primary counts the
// replica as online.
func (st *Sentinel) WaitReplicated(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(StartTimeout)
	for {
		info, err := st.Replica.Do("INFO", "replication")
		want, err2 := st.Primary.Do("DBSIZE")
		got, err3 := st.Replica.Do("DBSIZE")
		pinfo, err4 := st.Primary.Do("INFO", "replication")
		if err == nil && err2 == nil && err3 == nil && err4 == nil &&
			strings.Contains(info, "master_link_status:up") && want == got &&
			strings.Contains(pinfo, "connected_slaves:1") && strings.Contains(pinfo, "state=online") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica not in sync after %s: primary %s keys, replica %s (%v %v %v %v)\n%s", StartTimeout, want, got, err, err2, err3, err4, info)
		}
		waitABit()
	}
}

// WaitPromoted waits until the replica reports itself primary and every
// Sentinel still running names it as the master of MasterSet.
func (st *Sentinel) WaitPromoted(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(FailoverTimeout)
	want := strconv.Itoa(st.Replica.Port)
	for {
		ok := true
		if info, err := st.Replica.Do("INFO", "replication"); err != nil || !strings.Contains(info, "role:master") {
			ok = false
		}
		for _, s := range st.Sentinels {
			addr, err := s.Do("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MasterSet)
			if err != nil || !strings.HasSuffix(addr, "\n"+want) {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var seen []string
			for _, s := range st.Sentinels {
				m, err := sentinelMaster(s)
				seen = append(seen, fmt.Sprintf("%s: %v %v", s.Addr(), m, err))
			}
			t.Fatalf("replica %s not promoted after %s; the Sentinels say:\n%s", st.Replica.Addr(), FailoverTimeout, strings.Join(seen, "\n"))
		}
		waitABit()
	}
}

// sentinelMaster returns SENTINEL MASTER mymaster as a map.
func sentinelMaster(s *Server) (map[string]string, error) {
	r, err := s.Do("SENTINEL", "MASTER", MasterSet)
	if err != nil {
		return nil, err
	}
	f := strings.Split(r, "\n")
	m := make(map[string]string, len(f)/2)
	for i := 0; i+1 < len(f); i += 2 {
		m[f[i]] = f[i+1]
	}
	return m, nil
}
