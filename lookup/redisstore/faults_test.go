package redisstore

import (
	"errors"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/redistest"
	"github.com/pricing-engine/pricing-engine/lookup"
)

// unavailable reports whether err is a 503 error of the contract.
func unavailable(err error) bool {
	return errors.Is(err, lookup.ErrUnavailable) || errors.Is(err, lookup.ErrTimeout)
}

func TestKilledAndRestarted(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	seed(t, srv)
	s := open(t, Options{URL: srv.URL(), ProbeInterval: 20 * time.Millisecond})
	b := s.NewBatcher()
	if r := ask(t, b, "P-1", "NY", time.Second); r.err != nil {
		t.Fatal(r.err)
	}
	srv.Kill()
	// Seen keys answer stale; unseen ones 503, within the deadline.
	eventually(t, 5*time.Second, "stale answer after the kill", func() bool {
		r := ask(t, b, "P-1", "NY", 200*time.Millisecond)
		return r.stale && r.base == "49.99" && r.err == nil
	})
	start := time.Now()
	r := ask(t, b, "P-2", "NY", 200*time.Millisecond)
	if !unavailable(r.err) || r.stale {
		t.Fatalf("unseen key while down: %+v", r)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("unseen key answered after %s", took)
	}
	// The breaker opens: answers come at once, without Redis.
	eventually(t, 5*time.Second, "breaker open", func() bool { return s.Stats().BreakerOpen })
	if r := ask(t, b, "P-2", "NY", 200*time.Millisecond); !r.inline || !unavailable(r.err) {
		t.Fatalf("with the breaker open: %+v", r)
	}
	if r := ask(t, b, "P-1", "NY", 200*time.Millisecond); !r.inline || !r.stale {
		t.Fatalf("with the breaker open, a seen key: %+v", r)
	}
	if s.Stats().Up {
		t.Fatal("up while Redis is dead")
	}
	srv.Restart()
	srv.MustDo("SET", "pricing:product:P-1", "77")
	srv.MustDo("SET", "pricing:product:P-2", "10")
	eventually(t, 5*time.Second, "fresh values after the restart", func() bool {
		r := ask(t, b, "P-1", "NY", 500*time.Millisecond)
		return r.err == nil && !r.stale && r.base == "77"
	})
	if r := ask(t, b, "P-2", "LA", time.Second); r.err != nil || r.stale {
		t.Fatalf("after the restart: %+v", r)
	}
	eventually(t, 2*time.Second, "up again", func() bool { st := s.Stats(); return st.Up && !st.BreakerOpen })
	// Tracking is back on the new connection: a change is pushed again.
	srv.MustDo("SET", "pricing:product:P-1", "78")
	eventually(t, 2*time.Second, "a change after the restart", func() bool {
		r := ask(t, b, "P-1", "NY", 500*time.Millisecond)
		return r.err == nil && r.base == "78"
	})
	eventually(t, 2*time.Second, "cached after the restart", func() bool {
		return ask(t, b, "P-1", "NY", 500*time.Millisecond).inline
	})
	if s.Stats().Stale == 0 {
		t.Fatal("stale answers not counted")
	}
}

func TestPausedAndSlow(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	seed(t, srv)
	s := open(t, Options{URL: srv.URL(), ProbeInterval: 50 * time.Millisecond})
	b := s.NewBatcher()
	if r := ask(t, b, "P-1", "NY", time.Second); r.err != nil {
		t.Fatal(r.err)
	}
	srv.MustDo("SET", "pricing:product:AFTER-SIGSTOP", "3")
	srv.MustDo("SET", "pricing:product:AFTER-DEBUG SLEEP", "4")
	for _, fault := range []struct {
		name        string
		start, stop func()
	}{
		{"SIGSTOP", srv.Pause, srv.Resume},
		{"DEBUG SLEEP", func() {
			c, err := srv.Dial()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			if err := c.Send("DEBUG", "SLEEP", "2"); err != nil {
				t.Fatal(err)
			}
			eventually(t, time.Second, "DEBUG SLEEP in effect", func() bool { return srv.Stalled(50 * time.Millisecond) })
		}, func() {}},
	} {
		t.Run(fault.name, func(t *testing.T) {
			fault.start()
			// An unseen key: 503 by its deadline (not after Redis wakes).
			start := time.Now()
			r := ask(t, b, "P-404-"+fault.name, "NY", 150*time.Millisecond)
			took := time.Since(start)
			if !unavailable(r.err) {
				t.Fatalf("unseen key while stalled: %+v", r)
			}
			if took > 600*time.Millisecond {
				t.Fatalf("answered after %s, deadline 150ms", took)
			}
			// A seen key: still fresh (the connection is up, no change can
			// have been made) or stale; never an error.
			if r := ask(t, b, "P-1", "NY", 150*time.Millisecond); r.err != nil {
				t.Fatalf("seen key while stalled: %+v", r)
			}
			fault.stop()
			eventually(t, 10*time.Second, "served after the stall", func() bool {
				r := ask(t, b, "AFTER-"+fault.name, "NY", 500*time.Millisecond)
				return r.err == nil && !r.stale
			})
		})
	}
}
