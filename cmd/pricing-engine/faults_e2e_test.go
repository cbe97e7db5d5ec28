package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/redistest"
)

// The store's fault tests: the real binary against real redis-server
// processes, with faults made by killing processes, by a Sentinel
// failover and by a Toxiproxy proxy in between. Clients may see only 200
// (live or stale, always the right price) or 503 with Retry-After within
// the lookup deadline; each test bounds the recovery.

// faultDeadline is the engine's --lookup-deadline in these tests.
const faultDeadline = 300 * time.Millisecond

// answerSlack is what an answer may take beyond the lookup deadline on a
// shared two-core machine (scheduling, the HTTP round trip).
const answerSlack = 700 * time.Millisecond

// marketOf is the embedded markets table (lookup/data/markets.csv).
var marketOf = map[string]string{"NY": "1.1", "LA": "1.05", "MIA": "0.95", "SF": "1.15", "CHI": "1"}

// embeddedBase is the embedded catalog's base price of P-n: 49.99 + n mod 10.
func embeddedBase(n int) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%d.99", 49+n%10), "0"), ".")
}

// anyBase, as the expected base price, accepts any (a price being
// changed).
const anyBase = "any"

// priceReply is a 200 reply's fields these tests check.
type priceReply struct {
	ProductID string      `json:"product_id"`
	Base      json.Number `json:"base_price"`
	Market    json.Number `json:"market_multiplier"`
	Source    string      `json:"source"`
}

// outcome is one request's answer as a client sees it.
type outcome struct {
	code       int
	retryAfter string
	reply      priceReply
	body       string
	took       time.Duration
	err        error
}

// faultClient sends price requests to one engine from any goroutine.
type faultClient struct {
	api    string
	client *http.Client
}

func newFaultClient(api string) *faultClient {
	return &faultClient{api: api, client: &http.Client{Timeout: 5 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
}

func (fc *faultClient) price(product, location string) outcome {
	body := `{"product_id":"` + product + `","user_location":"` + location + `"}`
	start := time.Now()
	resp, err := fc.client.Post("http://"+fc.api+"/api/v1/price", "application/json", strings.NewReader(body))
	if err != nil {
		return outcome{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	o := outcome{code: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: string(b), took: time.Since(start), err: err}
	if o.code == 200 && err == nil {
		d := json.NewDecoder(strings.NewReader(o.body))
		d.UseNumber()
		o.err = d.Decode(&o.reply)
	}
	return o
}

// check says what is wrong with o for product P-n in location, if
// anything: only a right 200 (live or stale) or a 503 with Retry-After
// and a JSON detail, within the deadline. want is the expected base
// price: "" for the embedded one, anyBase for no check of it.
func (o outcome) check(n int, location string, want string) string {
	if want == "" {
		want = embeddedBase(n)
	}
	switch {
	case o.err != nil:
		return fmt.Sprintf("P-%d %s: %v", n, location, o.err)
	case o.took > faultDeadline+answerSlack:
		return fmt.Sprintf("P-%d %s: %d after %s (deadline %s)", n, location, o.code, o.took, faultDeadline)
	case o.code == 503:
		if o.retryAfter == "" || !strings.HasPrefix(o.body, `{"detail":`) {
			return fmt.Sprintf("P-%d %s: 503 with Retry-After %q, body %s", n, location, o.retryAfter, o.body)
		}
		return ""
	case o.code != 200:
		return fmt.Sprintf("P-%d %s: %d %s", n, location, o.code, o.body)
	case o.reply.ProductID != "P-"+strconv.Itoa(n) || (want != anyBase && o.reply.Base.String() != want) || o.reply.Market.String() != marketOf[location]:
		return fmt.Sprintf("WRONG DATA for P-%d %s (want base %s market %s): %s", n, location, want, marketOf[location], o.body)
	case o.reply.Source != "live" && o.reply.Source != "stale":
		return fmt.Sprintf("P-%d %s: source %q", n, location, o.reply.Source)
	}
	return ""
}

// tally counts what the load saw.
type tally struct {
	live, stale, unavailable atomic.Int64
	mu                       sync.Mutex
	bad                      []string
}

func (tl *tally) add(o outcome, problem string) {
	switch {
	case problem != "":
		tl.mu.Lock()
		if len(tl.bad) < 20 {
			tl.bad = append(tl.bad, problem)
		}
		tl.mu.Unlock()
	case o.code == 503:
		tl.unavailable.Add(1)
	case o.reply.Source == "stale":
		tl.stale.Add(1)
	default:
		tl.live.Add(1)
	}
}

func (tl *tally) String() string {
	return fmt.Sprintf("%d live, %d stale, %d 503", tl.live.Load(), tl.stale.Load(), tl.unavailable.Load())
}

func (tl *tally) verify(t *testing.T, what string) {
	t.Helper()
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if len(tl.bad) > 0 {
		t.Errorf("%s: %d bad answers, first ones:\n%s", what, len(tl.bad), strings.Join(tl.bad, "\n"))
	}
}

// loadFreshEnd bounds the products load asks for: the embedded catalog
// holds P-0..P-9999, and the ids from loadFreshEnd on are kept unseen for
// the recovery checks.
const loadFreshEnd = 9000

// load sends requests from workers goroutines until stop is closed: the
// products P-0..P-(hot-1) (seen) and now and then one never asked before
// (the next of *fresh, starting above hot, below loadFreshEnd and starting
// over there), in the markets of marketOf. wantBase, when set, gives
// the expected base of a product (a changed price); it must be safe for
// concurrent use.
func load(fc *faultClient, tl *tally, workers, hot int, fresh *atomic.Int64, stop <-chan struct{}, wantBase func(n int) string) *sync.WaitGroup {
	var wg sync.WaitGroup
	locations := []string{"NY", "LA", "MIA", "SF"}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 7))
			for {
				select {
				case <-stop:
					return
				default:
				}
				n := r.IntN(hot)
				if r.IntN(10) == 0 {
					// Past loadFreshEnd the ids start over (seen by
					// then): the catalog ends, and ids from there on
					// are the recovery checks' unseen ones.
					n = hot + int(fresh.Add(1)-int64(hot))%(loadFreshEnd-hot)
				}
				loc := locations[r.IntN(len(locations))]
				o := fc.price("P-"+strconv.Itoa(n), loc)
				want := ""
				if wantBase != nil {
					want = wantBase(n)
				}
				tl.add(o, o.check(n, loc, want))
			}
		}(uint64(w))
	}
	return &wg
}

// importEmbedded loads the embedded data into the store at url.
func importEmbedded(t *testing.T, url string) {
	t.Helper()
	if r := runBinary(t, []string{"import", "--store", url, "--embedded"}); r.code != 0 {
		t.Fatalf("import: exit %d\n%s", r.code, r.stderr)
	}
}

// faultEngine starts the engine on the store at url with the fault
// tests' deadline and extra flags.
func faultEngine(t *testing.T, url string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"--store", url, "--lookup-deadline", faultDeadline.String()}, extra...)
	return startServer(t, append(args, loopbackArgs...))
}

// untilLive polls P-n until it answers 200 live, and returns how long
// that took.
func untilLive(t *testing.T, fc *faultClient, n int, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	waitFor(t, timeout, fmt.Sprintf("P-%d live", n), func() bool {
		o := fc.price("P-"+strconv.Itoa(n), "NY")
		return o.code == 200 && o.reply.Source == "live" && o.check(n, "NY", "") == ""
	})
	return time.Since(start)
}

// TestE2EStoreStaleByLastUse is the reported case: --stale-for 2s, P-123
// read from the client-side cache every 200 ms for 3 s, then Redis
// killed: P-123 answers its last price marked stale; a key last used
// more than 2 s before is a 503.
func TestE2EStoreStaleByLastUse(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	importEmbedded(t, srv.URL())
	p := faultEngine(t, srv.URL(), "--stale-for", "2s")
	fc := newFaultClient(p.api)
	if o := fc.price("P-124", "NY"); o.code != 200 {
		t.Fatalf("P-124: %d %s", o.code, o.body)
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); <-tick.C {
		if o := fc.price("P-123", "NY"); o.code != 200 || o.reply.Source != "live" {
			t.Fatalf("P-123 before the kill: %d %s", o.code, o.body)
		}
	}
	srv.Kill()
	killed := time.Now()
	waitFor(t, 5*time.Second, "P-123 stale", func() bool {
		o := fc.price("P-123", "NY")
		if problem := o.check(123, "NY", ""); problem != "" || o.code != 200 {
			t.Fatalf("P-123 after the kill: %s %d %s", problem, o.code, o.body)
		}
		return o.reply.Source == "stale"
	})
	t.Logf("P-123 stale %s after the kill", time.Since(killed))
	if o := fc.price("P-124", "NY"); o.code != 503 || o.retryAfter == "" {
		t.Fatalf("P-124, last used over 2 s before: %d %q %s", o.code, o.retryAfter, o.body)
	}
}

// TestE2EStoreStartsWithoutRedis: the engine starts while Redis is down,
// is not ready (saying why) and answers 503 + Retry-After, then serves
// without a restart once Redis answers. Its rules count demand through
// the store (shared: true, 1 s window: the counters are written and read
// several times a second) while the store is not there yet.
func TestE2EStoreStartsWithoutRedis(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	srv.Kill() // its port, with nothing listening
	rulesPath := filepath.Join(t.TempDir(), "rules.yaml")
	writeRules(t, rulesPath, "version: shared.1\ndemand:\n  window: 1s\n  shared: true\n  tiers:\n    - {above: 1000000, multiplier: 2}\n")
	p := faultEngine(t, srv.URL(), "--rules", rulesPath)
	fc := newFaultClient(p.api)
	for _, addr := range []string{p.admin, p.api} {
		code, h, body := p.do("GET", "http://"+addr+"/readyz", "", "")
		if code != 503 || h.Get("Retry-After") == "" || !strings.Contains(body, "has not answered yet") {
			t.Fatalf("/readyz on %s before Redis: %d %q %q", addr, code, h.Get("Retry-After"), body)
		}
	}
	if o := fc.price("P-1", "NY"); o.check(1, "NY", "") != "" || o.code != 503 {
		t.Fatalf("a price before Redis: %d %q %s after %s", o.code, o.retryAfter, o.body, o.took)
	}
	// Long enough for the demand merger to try the store several times.
	waitDuration(time.Second)
	select {
	case <-p.exited:
		t.Fatalf("the engine exited while the store was down: %v", p.exitErr)
	default:
	}
	started := time.Now()
	srv.Restart()
	importEmbedded(t, srv.URL())
	waitFor(t, 5*time.Second, "/readyz 200", func() bool {
		code, _, _ := p.do("GET", "http://"+p.admin+"/readyz", "", "")
		return code == 200
	})
	took := untilLive(t, fc, 1, 5*time.Second)
	t.Logf("ready and serving %s after redis-server started (%s after the import)", time.Since(started), took)
}

// TestE2EStoreToxics: for each Toxiproxy toxic between the engine and
// Redis, under load: only right 200s (live or stale) and 503s with
// Retry-After, within the deadline; seen keys turn stale when replies
// stop (a partition without RST); back to live within 2 s of the
// toxic's removal.
func TestE2EStoreToxics(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	importEmbedded(t, srv.URL())
	px := redistest.StartProxy(t, srv.Addr())
	p := faultEngine(t, px.URL(), "--stale-for", "1m", "--store-live-within", "1s")
	fc := newFaultClient(p.api)
	const hot = 200
	for n := 0; n < hot; n++ { // seen: servable stale
		for loc := range marketOf {
			if o := fc.price("P-"+strconv.Itoa(n), loc); o.check(n, loc, "") != "" || o.code != 200 {
				t.Fatalf("warm-up: %s", o.check(n, loc, ""))
			}
		}
	}
	var seq atomic.Int64 // unseen products for the load: P-200 and up
	seq.Store(hot)
	fresh := loadFreshEnd // unseen products for the recovery checks
	for _, tc := range []struct {
		tox  redistest.Toxic
		hold time.Duration
		// stale: seen keys must answer stale while the toxic holds.
		stale bool
	}{
		{redistest.Latency(200 * time.Millisecond), 1500 * time.Millisecond, false},
		{redistest.Bandwidth(10), 1500 * time.Millisecond, false},
		{redistest.Slicer(64, 32, time.Millisecond), 1500 * time.Millisecond, false},
		{redistest.ResetPeer(0), 2 * time.Second, true},
		// Held past --store-live-within: the seen keys turn stale.
		{redistest.BlackHole(), 2500 * time.Millisecond, true},
	} {
		t.Run(tc.tox.Name, func(t *testing.T) {
			var tl tally
			stop := make(chan struct{})
			wg := load(fc, &tl, 4, hot, &seq, stop, nil)
			px.Add(tc.tox)
			added := time.Now()
			if tc.stale {
				waitFor(t, 3*time.Second, "a seen key answered stale", func() bool {
					o := fc.price("P-7", "NY")
					return o.code == 200 && o.reply.Source == "stale"
				})
				t.Logf("stale %s after the toxic", time.Since(added))
				// Behind the black hole the connection stays open: the
				// answers turn stale because nothing came back for
				// --store-live-within, which the gauge shows.
				if v := (&storeProc{proc: p}).metric("pricing_store_live"); tc.tox.Type == "timeout" && v != 0 {
					t.Errorf("pricing_store_live %v behind the black hole", v)
				}
			}
			waitDuration(time.Until(added.Add(tc.hold)))
			px.Remove(tc.tox)
			removed := time.Now()
			fresh++
			liveSeen := untilLive(t, fc, 7, 5*time.Second)
			liveFresh := untilLive(t, fc, fresh, 5*time.Second)
			recovery := time.Since(removed)
			close(stop)
			wg.Wait()
			tl.verify(t, tc.tox.Name)
			t.Logf("%s: %s; live again %s after removal (seen key %s, unseen key %s)", tc.tox.Name, &tl, recovery, liveSeen, liveFresh)
			if recovery > 2*time.Second {
				t.Errorf("%s: live again only %s after the toxic was removed, want <= 2s", tc.tox.Name, recovery)
			}
		})
	}
}

// waitDuration lets time pass for a fault that must last d (nothing to
// wait on: the duration is the point).
func waitDuration(d time.Duration) {
	if d > 0 {
		time.Sleep(d)
	}
}

// TestE2EStoreSentinelFailover: the primary killed under load: only
// right 200s (live or stale) and 503s, and the engine follows the
// promotion without a restart: fresh reads and pushed changes from the
// new primary.
func TestE2EStoreSentinelFailover(t *testing.T) {
	st := redistest.StartSentinel(t)
	importEmbedded(t, st.Primary.URL())
	st.WaitReplicated(t)
	p := faultEngine(t, st.URL(), "--stale-for", "1m")
	fc := newFaultClient(p.api)
	const hot = 200
	for n := 0; n < hot; n++ {
		if o := fc.price("P-"+strconv.Itoa(n), "NY"); o.check(n, "NY", "") != "" || o.code != 200 {
			t.Fatalf("before the failover: %s", o.check(n, "NY", ""))
		}
	}
	var tl tally
	stop := make(chan struct{})
	var changed atomic.Bool // P-5 set to 7.5 on the new primary
	var seq atomic.Int64
	seq.Store(hot)
	wg := load(fc, &tl, 4, hot, &seq, stop, func(n int) string {
		if n == 5 && changed.Load() {
			return anyBase // either value while the change propagates: checked below
		}
		return embeddedBase(n)
	})
	killed := time.Now()
	st.Primary.Kill()
	st.WaitPromoted(t)
	promoted := time.Since(killed)
	took := untilLive(t, fc, 9000, 10*time.Second) // never read before
	followed := time.Since(killed)
	changed.Store(true)
	st.Replica.MustDo("SET", "pricing:product:P-5", "7.5")
	waitFor(t, 2*time.Second, "a change on the new primary served", func() bool {
		o := fc.price("P-5", "NY")
		return o.code == 200 && o.reply.Base.String() == "7.5"
	})
	close(stop)
	wg.Wait()
	tl.verify(t, "failover")
	t.Logf("failover: %s; promoted %s after the kill, engine live on the new primary %s after the kill (%s after the promotion)",
		&tl, promoted, followed, took)
}
