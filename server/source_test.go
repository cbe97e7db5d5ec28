package server_test

import (
	"sync"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/lookup"
)

// testSource is a lookup.Source whose behaviour each test scripts. Every
// Call is answered from the embedded data; then:
//   - panicOn: Lookup of that product panics (on the event loop);
//   - delay (not nil): the Call completes after delay(productID) on a
//     timer goroutine (a zero delay answers at once, inline);
//   - blocking: the Call completes when release is closed, or with
//     lookup.ErrTimeout at its deadline; each kept Call is announced on
//     started.
//
// With neither delay nor blocking it is instant. It is a test double of a
// back end, not of the server: requests still go through the real server
// over TCP.
type testSource struct {
	mem      *lookup.Memory
	panicOn  string
	delay    func(id []byte) time.Duration
	blocking bool
	started  chan struct{}
	release  chan struct{}
	once     sync.Once
}

func memorySource(t testing.TB) *lookup.Memory {
	t.Helper()
	cat, mk, err := lookup.Default()
	if err != nil {
		t.Fatal(err)
	}
	return &lookup.Memory{Catalog: cat, Markets: mk}
}

func delaySource(t testing.TB, delay func(id []byte) time.Duration) *testSource {
	return &testSource{mem: memorySource(t), delay: delay}
}

func newBlockingSource(t testing.TB) *testSource {
	return &testSource{mem: memorySource(t), blocking: true, started: make(chan struct{}, 1000), release: make(chan struct{})}
}

// open releases every blocked Call, now and later; it may be called
// repeatedly. Tests register it as a cleanup after startServer, so that it
// runs before the server's shutdown waits for requests in flight.
func (s *testSource) open() { s.once.Do(func() { close(s.release) }) }

func (s *testSource) Instant() bool { return s.delay == nil && !s.blocking }

func (s *testSource) NewBatcher() lookup.Batcher { return testBatcher{s} }

type testBatcher struct{ s *testSource }

func (testBatcher) Flush() {}

func (b testBatcher) Lookup(c *lookup.Call) bool {
	s := b.s
	if s.panicOn != "" && string(c.ProductID) == s.panicOn {
		panic("test panic for " + s.panicOn)
	}
	s.mem.Answer(c)
	switch {
	case s.blocking:
		s.started <- struct{}{}
		go func() {
			t := time.NewTimer(time.Until(c.Deadline))
			defer t.Stop()
			select {
			case <-s.release:
			case <-t.C:
				c.Err = lookup.ErrTimeout
			}
			c.Answered = time.Now()
			c.Done(c)
		}()
		return false
	case s.delay != nil:
		d := s.delay(c.ProductID)
		if d <= 0 {
			return true
		}
		time.AfterFunc(d, func() {
			c.Answered = time.Now()
			c.Done(c)
		})
		return false
	}
	return true
}
