package demand

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/pairkey"
	"github.com/pricing-engine/pricing-engine/rules"
)

// demandRules is a ruleset whose window is 12 s: one bucket per second.
func demandRules(t testing.TB, extra string) *rules.Ruleset {
	t.Helper()
	rs, err := rules.Parse("d.yaml", []byte(`version: d
demand:
  window: 12s
  tiers: [{above: 10, multiplier: 1.1}, {above: 100, multiplier: 1.3}]
`+extra))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// t0 is the start of a bucket (and of a window).
var t0 = time.Unix(1764331200, 0) // divisible by 12

func sec(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Second))) }

func record(s *Shard, product, location string, n int, at time.Time) {
	p, l := []byte(product), []byte(location)
	for i := 0; i < n; i++ {
		s.Record(p, l, at)
	}
}

func lookup(m *Merger, product, location string) Value {
	return m.Snapshot().Lookup([]byte(product), []byte(location))
}

func TestDemandCountsAcrossShards(t *testing.T) {
	rs := demandRules(t, "")
	m := NewMerger(MergerConfig{Rules: func() *rules.Ruleset { return rs }})
	a, b := m.NewShard(), m.NewShard()
	ctx := context.Background()

	// Before the first merge counting is off: nothing is recorded.
	record(a, "P-1", "NY", 5, sec(0.5))
	m.Merge(ctx, sec(0.6))
	record(a, "P-1", "NY", 7, sec(0.7))
	record(b, "P-1", "NY", 4, sec(0.8))
	record(b, "P-2", "NY", 1, sec(0.9))
	// The bucket [0, 1) is not counted until it has ended and the shards
	// have handed it over.
	m.Merge(ctx, sec(0.95))
	if got := lookup(m, "P-1", "NY"); got.Requests != 0 {
		t.Fatalf("the current bucket is counted: %+v", got)
	}
	record(a, "P-9", "LA", 1, sec(1.1)) // a's next request hands bucket 0 over
	m.Merge(ctx, sec(1.2))
	if got := lookup(m, "P-1", "NY").Requests; got != 7 {
		t.Fatalf("after shard a handed over: %d, want 7 (b is idle)", got)
	}
	b.Flush(sec(1.3)) // the idle loop's tick
	m.Merge(ctx, sec(1.4))
	if got, two := lookup(m, "P-1", "NY").Requests, lookup(m, "P-2", "NY").Requests; got != 11 || two != 1 {
		t.Fatalf("after b's flush: P-1 %d P-2 %d, want 11 and 1", got, two)
	}
	if got := lookup(m, "P-1", "LA").Requests; got != 0 {
		t.Fatalf("P-1 x LA: %d", got)
	}

	// The window slides: bucket 0 counts until bucket 12 begins.
	record(a, "P-1", "NY", 3, sec(5.5))
	a.Flush(sec(6))
	m.Merge(ctx, sec(11.9))
	if got := lookup(m, "P-1", "NY").Requests; got != 14 {
		t.Fatalf("at 11.9 s: %d, want 14", got)
	}
	m.Merge(ctx, sec(12.1)) // counts buckets 0..11
	if got := lookup(m, "P-1", "NY").Requests; got != 14 {
		t.Fatalf("at 12.1 s: %d, want 14", got)
	}
	m.Merge(ctx, sec(13.1)) // counts buckets 1..12
	if got := lookup(m, "P-1", "NY").Requests; got != 3 {
		t.Fatalf("at 13.1 s: %d, want 3 (bucket 0 has left the window)", got)
	}
	// Observe answers as Lookup, and counts the request like Record.
	if got := a.Observe([]byte("P-1"), []byte("NY"), sec(13.2)); got.Requests != 3 {
		t.Fatalf("Observe: %+v, want 3 requests", got)
	}
	if got := a.Observe([]byte("P-7"), []byte("NY"), sec(13.3)); got.Requests != 0 {
		t.Fatalf("Observe of an unseen key: %+v", got)
	}
	a.Flush(sec(14))
	m.Merge(ctx, sec(14.1))
	if got, seven := lookup(m, "P-1", "NY").Requests, lookup(m, "P-7", "NY").Requests; got != 4 || seven != 1 {
		t.Fatalf("after Observe: P-1 %d P-7 %d, want 4 and 1", got, seven)
	}
	m.Merge(ctx, sec(27.1))
	if got := lookup(m, "P-1", "NY"); got.Requests != 0 || m.Snapshot().Len() != 0 {
		t.Fatalf("at 27.1 s: %+v, %d keys", got, m.Snapshot().Len())
	}
}

// TestDemandSmoothing: the multiplier moves at most max_step per window
// toward the tier, up and then down.
func TestDemandSmoothing(t *testing.T) {
	rs := demandRules(t, "  max_step: 0.1\n  max_multiplier: 1.25\n")
	m := NewMerger(MergerConfig{Rules: func() *rules.Ruleset { return rs }})
	s := m.NewShard()
	ctx := context.Background()
	m.Merge(ctx, sec(0))
	var values []string
	for w := 0; w < 7; w++ {
		for b := 0; b < 12; b++ {
			at := sec(float64(w*12+b) + 0.5)
			if w < 3 {
				record(s, "HOT", "NY", 20, at) // 240 a window: tier 1 (1.3), capped at 1.25
			}
			s.Flush(at)
			m.Merge(ctx, at)
		}
		values = append(values, lookup(m, "HOT", "NY").Value.String())
	}
	// Sampled at the end of each window: the step happens when the next
	// window begins (12 s, 24 s, ...), from the window that ended: 1 (not
	// tracked yet: 0) -> 1.1 -> 1.2 -> 1.25 (cap), then demand stops:
	// 1.15 -> 1.05 -> 1 (forgotten: 0).
	want := []string{"0", "1.1", "1.2", "1.25", "1.15", "1.05", "0"}
	if fmt.Sprint(values) != fmt.Sprint(want) {
		t.Errorf("smoothed values per window %v, want %v", values, want)
	}
	if m.Snapshot().Len() != 0 {
		t.Errorf("an idle key at multiplier 1 is kept: %d keys", m.Snapshot().Len())
	}
}

// TestDemandFloodIsBounded: a flood of distinct ids neither grows memory
// nor pushes a hot key out.
func TestDemandFloodIsBounded(t *testing.T) {
	rs := demandRules(t, "")
	m := NewMerger(MergerConfig{Rules: func() *rules.Ruleset { return rs }, ShardKeys: 64, MaxKeys: 100})
	s := m.NewShard()
	ctx := context.Background()
	m.Merge(ctx, sec(0))
	for b := 0; b < 5; b++ {
		at := sec(float64(b) + 0.5)
		for i := 0; i < 2000; i++ {
			s.Record([]byte("HOT"), []byte("NY"), at)
			s.Record([]byte(fmt.Sprintf("FLOOD-%d-%d", b, i)), []byte("NY"), at)
		}
		s.Flush(sec(float64(b) + 1))
		m.Merge(ctx, sec(float64(b)+1.1))
		if n := m.Snapshot().Len(); n > 100 {
			t.Fatalf("bucket %d: %d keys tracked, bound is 100", b, n)
		}
		if len(s.cur.slots) != 64 {
			t.Fatalf("shard table grew to %d slots", len(s.cur.slots))
		}
	}
	if got := lookup(m, "HOT", "NY").Requests; got < 5*2000*95/100 {
		t.Errorf("hot key counted %d of 10000 requests", got)
	}
	st := m.Stats()
	if st.DroppedCounts == 0 || st.EvictedKeys == 0 || st.Keys > 100 {
		t.Errorf("stats %+v", st)
	}
}

func TestDemandOffAndWindowChange(t *testing.T) {
	var cur atomic.Pointer[rules.Ruleset]
	m := NewMerger(MergerConfig{Rules: cur.Load})
	s := m.NewShard()
	ctx := context.Background()
	m.Merge(ctx, sec(0))
	record(s, "P-1", "NY", 50, sec(0.5))
	if s.cur != nil {
		t.Fatal("a ruleset without demand records")
	}
	cur.Store(demandRules(t, ""))
	m.Merge(ctx, sec(1))
	record(s, "P-1", "NY", 50, sec(1.5))
	s.Flush(sec(2))
	m.Merge(ctx, sec(2.1))
	if got := lookup(m, "P-1", "NY").Requests; got != 50 {
		t.Fatalf("%d, want 50", got)
	}
	rs2, err := rules.Parse("d2.yaml", []byte("version: d2\ndemand:\n  window: 24s\n  tiers: [{above: 1, multiplier: 1.1}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	record(s, "P-1", "NY", 5, sec(2.15)) // still in 1 s buckets
	cur.Store(rs2)
	m.Merge(ctx, sec(2.2))
	if m.Snapshot() != nil {
		t.Fatal("a new window keeps the old counts")
	}
	// The table of the old bucket length is not counted.
	record(s, "P-1", "NY", 1, sec(29))
	s.Flush(sec(30.5))
	m.Merge(ctx, sec(30.6))
	if got := lookup(m, "P-1", "NY").Requests; got != 1 {
		t.Fatalf("%d, want 1", got)
	}
}

func TestSnapshotLookupEdges(t *testing.T) {
	var s *Snapshot
	if s.Lookup([]byte("a"), []byte("b")) != (Value{}) || s.Len() != 0 {
		t.Error("nil snapshot")
	}
	long := make([]byte, 65)
	m := NewMerger(MergerConfig{Rules: func() *rules.Ruleset { return demandRules(t, "") }})
	sh := m.NewShard()
	m.Merge(context.Background(), sec(0))
	sh.Record(long, []byte("NY"), sec(0.5))
	sh.Record(nil, []byte("NY"), sec(0.5))
	if sh.cur != nil {
		t.Error("ids that are empty or over 64 bytes are counted")
	}
	// Keys do not collide across the product/location boundary.
	var kb1, kb2 [pairkey.Len]byte
	k1, _ := pairkey.Make(&kb1, []byte("AB"), []byte("C"))
	k2, _ := pairkey.Make(&kb2, []byte("A"), []byte("BC"))
	if string(k1) == string(k2) {
		t.Error("keys collide")
	}
	if p, l, ok := SplitKey(string(k1)); !ok || p != "AB" || l != "C" {
		t.Errorf("SplitKey: %q %q %v", p, l, ok)
	}
	for _, bad := range []string{"", "\x00", "\x05ab"} {
		if _, _, ok := SplitKey(bad); ok {
			t.Errorf("SplitKey(%q) ok", bad)
		}
	}
}

func TestRecordAllocs(t *testing.T) {
	rs := demandRules(t, "")
	m := NewMerger(MergerConfig{Rules: func() *rules.Ruleset { return rs }})
	s := m.NewShard()
	m.Merge(context.Background(), sec(0))
	p, l := []byte("P-123"), []byte("NY")
	s.Record(p, l, sec(0.5))
	snap := m.Snapshot()
	if n := testing.AllocsPerRun(1000, func() {
		s.Record(p, l, sec(0.5))
		_ = snap.Lookup(p, l)
		_ = s.Observe(p, l, sec(0.5))
	}); n != 0 {
		t.Errorf("Record + Lookup allocate %v times", n)
	}
}

// TestDemandConcurrent runs loops recording on their shards while the
// merger merges in real time: the race detector checks the handoff, and
// every request is counted once.
func TestDemandConcurrent(t *testing.T) {
	// 1 s buckets: the merger (every 5 ms) may be starved for a while on a
	// busy machine without falling shardQueue buckets behind.
	rs, err := rules.Parse("c.yaml", []byte("version: c\ndemand:\n  window: 12s\n  tiers: [{above: 1, multiplier: 1.1}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := NewMerger(MergerConfig{Rules: func() *rules.Ruleset { return rs }, Interval: 5 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	m.Merge(ctx, time.Now())
	var done sync.WaitGroup
	done.Add(1)
	go func() { defer done.Done(); m.Run(ctx) }()

	const loops, perLoop = 4, 20000
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < loops; i++ {
		s := m.NewShard()
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, l := []byte("P-1"), []byte("NY")
			for j := 0; j < perLoop; j++ {
				s.Record(p, l, time.Now())
				_ = m.Snapshot().Lookup(p, l)
			}
			// The loop's tick, once the last bucket has ended.
			for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline) && s.cur.used(); {
				time.Sleep(time.Millisecond)
				s.Flush(time.Now())
			}
		}()
	}
	wg.Wait()
	if time.Since(start) > rs.Demand.Window/2 {
		t.Skipf("recording took %s: too slow a machine to check the window total", time.Since(start))
	}
	// Wait for the evidence: the merged total of every loop's requests.
	deadline := time.Now().Add(5 * time.Second)
	var got, maxSeen int64
	for time.Now().Before(deadline) {
		if got = lookup(m, "P-1", "NY").Requests; got > maxSeen {
			maxSeen = got
		}
		if got == loops*perLoop {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	done.Wait()
	if got != loops*perLoop || m.Stats().DroppedTables != 0 {
		t.Errorf("merged %d (at most %d) of %d requests; stats %+v", got, maxSeen, loops*perLoop, m.Stats())
	}
}

// fleet is an in-process SharedCounter: what a store does for replicas,
// kept in a map (the Redis implementation lives with the store).
type fleet struct {
	mu      sync.Mutex
	counts  map[string]int64             // window/bucket/key -> count
	periods map[string]map[string]string // window/period -> key -> multiplier
	fail    atomic.Bool
	adds    atomic.Int64
}

func newFleet() *fleet {
	return &fleet{counts: map[string]int64{}, periods: map[string]map[string]string{}}
}

func (f *fleet) Multipliers(ctx context.Context, window time.Duration, period int64, propose map[string]string, fn func(string, string)) (bool, error) {
	if f.fail.Load() {
		return false, errors.New("store down")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := fmt.Sprintf("%d/%d", window, period)
	stored, ok := f.periods[k]
	if !ok && propose != nil {
		stored, ok = maps.Clone(propose), true
		if stored == nil {
			stored = map[string]string{}
		}
		f.periods[k] = stored
	}
	for key, v := range stored {
		fn(key, v)
	}
	return ok, nil
}

func (f *fleet) Add(ctx context.Context, window time.Duration, bucket int64, counts map[string]int64) error {
	if f.fail.Load() {
		return errors.New("store down")
	}
	f.adds.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, c := range counts {
		f.counts[fmt.Sprintf("%d/%d/%s", window, bucket, k)] += c
	}
	return nil
}

func (f *fleet) Totals(ctx context.Context, window time.Duration, first, last int64, fn func(string, int64)) error {
	if f.fail.Load() {
		return errors.New("store down")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	sums := map[string]int64{}
	for k, c := range f.counts {
		var w time.Duration
		var b int64
		var key string
		if _, err := fmt.Sscanf(k, "%d/%d/", &w, &b); err != nil {
			return err
		}
		key = k[len(fmt.Sprintf("%d/%d/", w, b)):]
		if w == window && b >= first && b <= last {
			sums[key] += c
		}
	}
	for k, c := range sums {
		fn(k, c)
	}
	return nil
}

func TestDemandShared(t *testing.T) {
	rs := demandRules(t, "  shared: true\n")
	f := newFleet()
	var sharedErrs atomic.Int64
	cfg := MergerConfig{Rules: func() *rules.Ruleset { return rs }, Shared: f, OnSharedError: func(error) { sharedErrs.Add(1) }}
	r1, r2 := NewMerger(cfg), NewMerger(cfg) // two replicas
	s1, s2 := r1.NewShard(), r2.NewShard()
	ctx := context.Background()
	r1.Merge(ctx, sec(0))
	r2.Merge(ctx, sec(0))
	record(s1, "P-1", "NY", 7, sec(0.5))
	record(s2, "P-1", "NY", 5, sec(0.5))
	record(s2, "P-2", "LA", 3, sec(0.5))
	s1.Flush(sec(1))
	s2.Flush(sec(1))
	r1.Merge(ctx, sec(1.1))
	r2.Merge(ctx, sec(1.1))
	r1.Merge(ctx, sec(1.2)) // too soon to ask the fleet again
	if got := lookup(r1, "P-1", "NY").Requests; got != 7 {
		t.Errorf("r1 asked the fleet again within a quarter bucket: %d", got)
	}
	r1.Merge(ctx, sec(1.4)) // a quarter bucket later r1 sees r2's counts
	for name, m := range map[string]*Merger{"r1": r1, "r2": r2} {
		if got := lookup(m, "P-1", "NY").Requests; got != 12 {
			t.Errorf("%s: P-1 x NY %d, want 12 (7 + 5)", name, got)
		}
	}
	if got := lookup(r1, "P-2", "LA").Requests; got != 3 {
		t.Errorf("r1 sees P-2 x LA %d, want 3 (only r2 served it)", got)
	}
	if n := f.adds.Load(); n != 2 {
		t.Errorf("%d Add calls, want one per replica per bucket", n)
	}
	// The store fails: the fleet's last totals are held (not this
	// replica's own share of them), the error is reported.
	f.fail.Store(true)
	record(s1, "P-1", "NY", 2, sec(1.5))
	s1.Flush(sec(2))
	r1.Merge(ctx, sec(2.1))
	if got := lookup(r1, "P-1", "NY").Requests; got != 12 || sharedErrs.Load() == 0 {
		t.Errorf("store down: %d (want the fleet's 12 held), %d errors", got, sharedErrs.Load())
	}
	// Back: the unsent bucket goes out, the fleet total returns.
	f.fail.Store(false)
	r1.Merge(ctx, sec(2.2)) // the unsent bucket is still outgoing: exchange at once
	if got := lookup(r1, "P-1", "NY").Requests; got != 14 {
		t.Errorf("store back: %d, want 14", got)
	}
	// Down again: held for a window after the last read (2.2 s), then the
	// fleet's counts are unknown and nothing is counted.
	f.fail.Store(true)
	r1.Merge(ctx, sec(14.1))
	if got := lookup(r1, "P-1", "NY").Requests; got != 14 {
		t.Errorf("store down for 11.9 s: %d, want 14 held", got)
	}
	r1.Merge(ctx, sec(14.5))
	if got := lookup(r1, "P-1", "NY").Requests; got != 0 {
		t.Errorf("store down for 12.3 s: %d, want 0 (the fleet's counts are unknown)", got)
	}
}

// replica is one merger and its one shard, as a replica's.
type replica struct {
	m *Merger
	s *Shard
}

func newReplica(cfg MergerConfig, at time.Time) *replica {
	r := &replica{m: NewMerger(cfg)}
	r.s = r.m.NewShard()
	r.m.Merge(context.Background(), at)
	return r
}

// tick is the loop's tick and then a merge at at.
func (r *replica) tick(at time.Time) {
	r.s.Flush(at)
	r.m.Merge(context.Background(), at)
}

func (r *replica) value(product, location string) string {
	return lookup(r.m, product, location).Value.String()
}

// TestDemandSharedSmoothing: in shared mode the smoothed multiplier is
// the fleet's: every replica holds the multipliers the first of them
// stepped for a period, a replica started mid-way holds its peers'
// multiplier from its first merge, and a replica that would step
// differently (its peer's late counts missing) takes the settled one.
func TestDemandSharedSmoothing(t *testing.T) {
	rs := demandRules(t, "  shared: true\n  max_step: 0.1\n")
	f := newFleet()
	cfg := MergerConfig{Rules: func() *rules.Ruleset { return rs }, Shared: f,
		OnSharedError: func(err error) { t.Errorf("shared counter: %v", err) }}
	r1, r2 := newReplica(cfg, sec(0)), newReplica(cfg, sec(0))
	// For two windows each replica serves 6 requests a bucket: 72 a
	// window each, 144 for the fleet, which meets the 1.3 tier; alone
	// neither would. Then the third window has none.
	var history [][2]string
	for b := 0; b < 36; b++ {
		for _, r := range []*replica{r1, r2} {
			if b < 24 {
				record(r.s, "HOT", "NY", 6, sec(float64(b)+0.1))
			}
		}
		for _, at := range []float64{0.3, 0.6, 0.9} {
			for _, r := range []*replica{r1, r2} {
				r.tick(sec(float64(b) + at))
			}
		}
		if b%12 == 11 {
			history = append(history, [2]string{r1.value("HOT", "NY"), r2.value("HOT", "NY")})
		}
	}
	// Periods begin a quarter bucket after 12 s, 24 s, 36 s.
	want := [][2]string{{"0", "0"}, {"1.1", "1.1"}, {"1.2", "1.2"}}
	if fmt.Sprint(history) != fmt.Sprint(want) {
		t.Fatalf("multipliers at the end of each window %v, want %v", history, want)
	}
	// A replica started (or restarted) mid-period holds the fleet's
	// multiplier from its first merge; its own memory starts empty.
	r3 := newReplica(cfg, sec(35.95))
	if got := r3.value("HOT", "NY"); got != "1.2" {
		t.Errorf("restarted replica: %s, want its peers' 1.2", got)
	}
	// The period at 36 s: a burst r2 served at the very end of the quiet
	// window reaches the fleet late (r2's loop is slow to hand it over),
	// after r1 has stepped down to 1.1 (no requests); r2 would step up to
	// 1.3 (500 requests) but takes the settled 1.1, as does r3.
	record(r2.s, "HOT", "NY", 500, sec(35.95))
	r1.tick(sec(36.3))
	r3.m.Merge(context.Background(), sec(36.3))
	r2.tick(sec(36.4))
	if got := lookup(r2.m, "HOT", "NY").Requests; got != 500 {
		t.Errorf("r2 counts %d requests of the quiet window, want its late 500", got)
	}
	for name, r := range map[string]*replica{"r1": r1, "r2": r2, "r3": r3} {
		if got := r.value("HOT", "NY"); got != "1.1" {
			t.Errorf("%s after the period at 36 s: %s, want the settled 1.1", name, got)
		}
	}
	// Unrelated keys stay at 1 everywhere.
	if got := r2.value("COLD", "NY"); got != "0" {
		t.Errorf("COLD x NY: %s", got)
	}
}

// TestDemandLoopAheadOfMerger pins the race that lost counts under load:
// a loop hands over a bucket that, by the merger's clock (read just
// before a loop crossed the bucket's end), has not ended yet. A key
// whose only counts are in that bucket must be kept, not forgotten as
// idle.
func TestDemandLoopAheadOfMerger(t *testing.T) {
	rs := demandRules(t, "")
	m := NewMerger(MergerConfig{Rules: func() *rules.Ruleset { return rs }})
	s := m.NewShard()
	ctx := context.Background()
	m.Merge(ctx, sec(0.1))
	record(s, "P-1", "NY", 5, sec(0.5))
	s.Flush(sec(1.0001))      // the loop's clock has crossed into bucket 1
	m.Merge(ctx, sec(0.9999)) // the merger's has not
	if got := lookup(m, "P-1", "NY").Requests; got != 0 {
		t.Fatalf("the current bucket is counted: %d", got)
	}
	m.Merge(ctx, sec(1.1))
	if got := lookup(m, "P-1", "NY").Requests; got != 5 {
		t.Fatalf("after bucket 0 ended: %d requests, want 5", got)
	}
}
