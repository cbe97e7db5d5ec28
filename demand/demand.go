package demand

import (
	"bytes"
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/pairkey"
	"github.com/pricing-engine/pricing-engine/money"
	"github.com/pricing-engine/pricing-engine/rules"
)

const (
	// probeLimit is how many neighbouring slots a key may occupy.
	probeLimit = 8
	// shardQueue is how many finished tables a shard may have waiting.
	shardQueue = 2
	// DefaultShardKeys and DefaultMaxKeys are MergerConfig's defaults.
	DefaultShardKeys = 1024
	DefaultMaxKeys   = 65536
	// DefaultMergeInterval is how often Merger.Run merges.
	DefaultMergeInterval = 250 * time.Millisecond
	// DefaultSharedTimeout bounds one exchange with the SharedCounter.
	DefaultSharedTimeout = 500 * time.Millisecond
	// BucketsPerWindow is how many time buckets a demand window is cut
	// into: counts are those of the last BucketsPerWindow completed
	// buckets of Window/BucketsPerWindow each.
	BucketsPerWindow = 12
)

// one is the multiplier that changes nothing; maxMultiplier the largest a
// store may hand back (the bound of every multiplier of the rules).
var (
	one           = money.New(1, 0)
	maxMultiplier = money.New(100, 0)
)

// bucketNanos is the length of one bucket of d's window in nanoseconds
// (0 when d is nil: counting is off).
func bucketNanos(d *rules.Demand) int64 {
	if d == nil {
		return 0
	}
	return int64(d.Window) / BucketsPerWindow
}

// Value is what a snapshot holds for one product x location. Its fields
// are those of [rules.DemandSeen], so that a Value converts to the
// pricing input directly: rules.DemandSeen(v).
type Value struct {
	// Requests seen in the window (summed over replicas in shared mode).
	Requests int64
	// Value is the smoothed demand multiplier; zero means 1.
	Value money.Decimal
}

// SplitKey returns the product and location of a key made by the demand
// counters (as passed to a SharedCounter), or ok false if key is not one.
func SplitKey(key string) (product, location string, ok bool) { return pairkey.Split(key) }

// Snapshot is an immutable view of the demand counters, published by the
// Merger. It is safe for concurrent use; a nil *Snapshot holds nothing.
type Snapshot struct {
	// Bucket is the current bucket when the snapshot was made: it counts
	// buckets [Bucket-BucketsPerWindow, Bucket-1].
	Bucket int64
	// An open-addressing table keyed by the merger's hash, so that a
	// request hashes its key once for counting and looking up.
	seed  maphash.Seed
	mask  uint64
	slots []snapSlot
	n     int
}

type snapSlot struct {
	hash uint64
	key  string // "" marks an empty slot (keys are never empty)
	v    Value
}

func newSnapshot(seed maphash.Seed, bucket int64, n int) *Snapshot {
	size := 1 << bits.Len(uint(2*n)) // the next power of two above 2n
	return &Snapshot{Bucket: bucket, seed: seed, mask: uint64(size - 1), slots: make([]snapSlot, size)}
}

func (s *Snapshot) put(h uint64, key string, v Value) {
	for i := h & s.mask; ; i = (i + 1) & s.mask {
		if sl := &s.slots[i]; sl.key == "" {
			sl.hash, sl.key, sl.v = h, key, v
			s.n++
			return
		}
	}
}

func (s *Snapshot) get(h uint64, k []byte) Value {
	for i := h & s.mask; ; i = (i + 1) & s.mask {
		sl := &s.slots[i]
		if sl.key == "" {
			return Value{}
		}
		if sl.hash == h && sl.key == string(k) {
			return sl.v
		}
	}
}

// Lookup returns the demand of product x location; the zero value when
// there is none. It does not allocate.
func (s *Snapshot) Lookup(product, location []byte) Value {
	if s == nil || s.n == 0 {
		return Value{}
	}
	var kb [pairkey.Len]byte
	k, ok := pairkey.Make(&kb, product, location)
	if !ok {
		return Value{}
	}
	return s.get(maphash.Bytes(s.seed, k), k)
}

// Len returns how many keys the snapshot holds.
func (s *Snapshot) Len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// SharedCounter sums demand counts across replicas and settles the
// smoothed multipliers they all use (the Redis store implements it). Its
// methods take only standard types, so that an implementation needs no
// import of this package. The Merger calls it from its own goroutine
// only, at most once per merge for each method, never per request.
//
// Keys are an opaque encoding of product x location (see SplitKey):
// store them as they are.
type SharedCounter interface {
	// Add adds this replica's counts of one time bucket (key -> requests).
	// bucket is UnixNano / (window / BucketsPerWindow); window tells
	// different bucket lengths apart. The same bucket may be added more
	// than once (late counts): Add must be additive. Counts should expire
	// some windows after the bucket ended. counts is only read, and only
	// during the call.
	Add(ctx context.Context, window time.Duration, bucket int64, counts map[string]int64) error
	// Totals calls fn for every key with its count summed over all
	// replicas and the buckets first..last inclusive. It is called after
	// every Add and otherwise at most four times a bucket; older buckets
	// change only by late Adds, so an implementation may cache their sums.
	Totals(ctx context.Context, window time.Duration, first, last int64, fn func(key string, count int64)) error
	// Multipliers settles the smoothed multipliers of one period (the
	// multipliers in force from a quarter bucket after the period's
	// window-long span of Unix time begins: period is (UnixNano - b/4) /
	// b / BucketsPerWindow for buckets b nanoseconds long; see "Shared
	// demand" in the package documentation). With a non-nil
	// propose (key -> multiplier as a decimal string such as "1.05"; keys
	// at 1 are left out, so it may be empty) it stores propose, as a whole
	// and atomically, unless the period already has multipliers stored: the
	// first proposal of a period wins. With a nil propose it only reads.
	// It then calls fn for every key stored for the period and reports
	// whether the period is settled (a proposal, possibly empty, is
	// stored). Stored multipliers should outlive the period by a window
	// or more. propose is only read, and only during the call.
	Multipliers(ctx context.Context, window time.Duration, period int64, propose map[string]string, fn func(key, multiplier string)) (settled bool, err error)
}

// MergerConfig configures a Merger.
type MergerConfig struct {
	// Rules returns the ruleset in use (rules.Holder.Load): its demand
	// section sets the window, the tiers and the smoothing (through
	// rules.Demand.Target and Step). A nil ruleset or one without a
	// demand section turns counting off. Required.
	Rules func() *rules.Ruleset
	// ShardKeys bounds the distinct keys one shard counts per bucket;
	// rounded up to a power of two. 0: DefaultShardKeys.
	ShardKeys int
	// MaxKeys bounds the keys tracked over the window. 0: DefaultMaxKeys.
	MaxKeys int
	// Interval is how often Run merges. 0: DefaultMergeInterval.
	Interval time.Duration
	// Shared sums counts across replicas and settles the smoothed
	// multipliers when the ruleset says shared: true; nil means counts
	// and multipliers stay local.
	Shared SharedCounter
	// SharedTimeout bounds one exchange with Shared (its Add, Totals and
	// Multipliers calls of one merge). 0: DefaultSharedTimeout.
	SharedTimeout time.Duration
	// OnSharedError, if set, is called (from the merger's goroutine) when
	// a Shared call fails or answers a value that is not a multiplier;
	// see "Shared demand" in the package documentation for what the
	// snapshot holds meanwhile.
	OnSharedError func(error)
}

// Stats counts what the bounds cost (see "How demand is counted").
type Stats struct {
	DroppedCounts uint64 // requests not counted: a shard's table was full
	DroppedTables uint64 // tables dropped: the merger fell behind
	EvictedKeys   uint64 // keys forgotten: more than MaxKeys
	Keys          int    // keys in the current snapshot
}

// Merger merges the shards' counts into snapshots. Create it with
// NewMerger, make one Shard per event loop, and run Run on one goroutine
// (or call Merge yourself, as tests do).
type Merger struct {
	cfg         MergerConfig
	seed        maphash.Seed
	bucketNanos atomic.Int64 // read by shards: 0 means counting is off
	snap        atomic.Pointer[Snapshot]

	shardsMu sync.Mutex
	shards   []*Shard

	droppedTables atomic.Uint64
	evicted       atomic.Uint64

	// merge state: only Merge touches it, under mergeMu.
	mergeMu    sync.Mutex
	entries    map[string]*entry
	curBN      int64
	curWindow  time.Duration
	lastBucket int64
	// evalWindow is the period whose smoothed multipliers the entries
	// hold (see period).
	evalWindow int64
	outgoing   map[int64]map[string]int64
	// lastExchange is when the shared counter was last called, sharedAt
	// when it last answered the fleet's totals.
	lastExchange, sharedAt time.Time
	// proposal is this replica's multipliers of period evalWindow (keys
	// at 1 left out) until the shared counter has settled the period;
	// nil when there is nothing to propose.
	proposal map[string]string
}

// entry is one key's counts over the window, as a ring of buckets.
type entry struct {
	counts   [BucketsPerWindow]uint32
	last     int64         // the latest bucket written
	value    money.Decimal // smoothed multiplier; zero means 1
	requests int64         // window total at the last merge
	shared   int64         // fleet total last read (shared mode); -1: local counts
}

// NewMerger returns a Merger; counting starts at the first Merge that
// sees a ruleset with a demand section.
func NewMerger(cfg MergerConfig) *Merger {
	if cfg.ShardKeys <= 0 {
		cfg.ShardKeys = DefaultShardKeys
	}
	cfg.ShardKeys = 1 << bits.Len(uint(cfg.ShardKeys-1)) // the next power of two
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultMergeInterval
	}
	if cfg.SharedTimeout <= 0 {
		cfg.SharedTimeout = DefaultSharedTimeout
	}
	return &Merger{cfg: cfg, seed: maphash.MakeSeed(), entries: map[string]*entry{}}
}

// Snapshot returns the latest snapshot (nil before the first merge with
// demand rules). Safe for concurrent use; it does not allocate.
func (m *Merger) Snapshot() *Snapshot { return m.snap.Load() }

// Stats returns the counters of what the bounds cost.
func (m *Merger) Stats() Stats {
	st := Stats{DroppedTables: m.droppedTables.Load(), EvictedKeys: m.evicted.Load(), Keys: m.Snapshot().Len()}
	m.shardsMu.Lock()
	for _, s := range m.shards {
		st.DroppedCounts += s.droppedCounts.Load()
	}
	m.shardsMu.Unlock()
	return st
}

// Run merges every Interval until ctx ends.
func (m *Merger) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.Merge(ctx, time.Now())
		}
	}
}

// Shard counts the requests of one event loop. Record and Flush must
// only be called from the goroutine that owns the shard (the loop); the
// merger receives finished tables through a channel and never touches
// the table being written.
type Shard struct {
	m             *Merger
	cur           *table
	out, free     chan *table
	droppedCounts atomic.Uint64 // written by the owner, read by Stats
}

// table counts one bucket of one shard: open addressing with linear
// probing over at most probeLimit slots; slots are never emptied while
// the table is in use, so a lookup may stop at the first empty slot.
type table struct {
	bucket, bn int64
	mask       uint64
	slots      []slot
}

type slot struct {
	hash  uint64
	count uint32
	klen  uint8
	key   [pairkey.Len]byte
}

// NewShard returns a new shard for one event loop. Safe to call at any
// time, also while Run is running.
func (m *Merger) NewShard() *Shard {
	s := &Shard{m: m, out: make(chan *table, shardQueue), free: make(chan *table, shardQueue)}
	m.shardsMu.Lock()
	m.shards = append(m.shards, s)
	m.shardsMu.Unlock()
	return s
}

func (m *Merger) newTable() *table {
	return &table{mask: uint64(m.cfg.ShardKeys - 1), slots: make([]slot, m.cfg.ShardKeys)}
}

// Record counts one request of product x location at now. It does not
// allocate in steady state, takes no lock, and is a no-op while the
// ruleset has no demand section or for ids longer than 64 bytes.
func (s *Shard) Record(product, location []byte, now time.Time) {
	bn := s.m.bucketNanos.Load()
	if bn == 0 {
		return
	}
	var kb [pairkey.Len]byte
	k, ok := pairkey.Make(&kb, product, location)
	if !ok {
		return
	}
	ns := now.UnixNano()
	if ns < 0 {
		return // before 1970: not a clock we count by
	}
	s.count(maphash.Bytes(s.m.seed, k), k, ns/bn, bn)
}

func (s *Shard) count(h uint64, k []byte, b, bn int64) {
	if s.cur == nil || s.cur.bucket != b || s.cur.bn != bn {
		s.rotate(b, bn)
	}
	if !s.cur.add(h, k) {
		s.droppedCounts.Add(1)
	}
}

// Observe is Record and then Lookup in the latest snapshot, hashing the
// key once: the one call a request makes (on the loop that owns s). It
// returns the demand seen before this request.
func (s *Shard) Observe(product, location []byte, now time.Time) Value {
	bn := s.m.bucketNanos.Load()
	if bn == 0 {
		return Value{}
	}
	var kb [pairkey.Len]byte
	k, ok := pairkey.Make(&kb, product, location)
	ns := now.UnixNano()
	if !ok || ns < 0 {
		return Value{}
	}
	h := maphash.Bytes(s.m.seed, k)
	s.count(h, k, ns/bn, bn)
	if snap := s.m.snap.Load(); snap != nil && snap.n > 0 {
		return snap.get(h, k)
	}
	return Value{}
}

// Flush hands the current table to the merger if its bucket has ended
// at now. Call it from the owning loop's periodic tick so that an idle
// loop's counts are not held back.
func (s *Shard) Flush(now time.Time) {
	bn := s.m.bucketNanos.Load()
	if s.cur == nil || bn == 0 || (s.cur.bn == bn && now.UnixNano()/bn == s.cur.bucket) {
		return
	}
	s.rotate(now.UnixNano()/bn, bn)
}

// rotate hands the current table over (if it counted anything) and
// starts bucket b in an empty one.
func (s *Shard) rotate(b, bn int64) {
	if t := s.cur; t != nil && t.used() {
		select {
		case s.out <- t:
			s.cur = nil
		default:
			// The merger is shardQueue tables behind: drop these counts
			// and reuse the table.
			s.m.droppedTables.Add(1)
			clear(t.slots)
		}
	}
	if s.cur == nil {
		select {
		case s.cur = <-s.free:
		default:
			s.cur = s.m.newTable() // only until the merger recycles tables
		}
	}
	s.cur.bucket, s.cur.bn = b, bn
}

func (t *table) used() bool {
	for i := range t.slots {
		if t.slots[i].count != 0 {
			return true
		}
	}
	return false
}

// add counts key k with hash h; it reports false if the count was
// dropped because the key's slots were full.
func (t *table) add(h uint64, k []byte) bool {
	home := h & t.mask
	minI := -1
	var minC uint32 = math.MaxUint32
	for p := uint64(0); p < probeLimit; p++ {
		i := (home + p) & t.mask
		sl := &t.slots[i]
		if sl.count == 0 {
			sl.hash, sl.count, sl.klen = h, 1, uint8(len(k))
			copy(sl.key[:], k)
			return true
		}
		if sl.hash == h && int(sl.klen) == len(k) && bytes.Equal(sl.key[:sl.klen], k) {
			if sl.count < math.MaxUint32 {
				sl.count++
			}
			return true
		}
		if sl.count < minC {
			minC, minI = sl.count, int(i)
		}
		if int(p) >= len(t.slots)-1 {
			break
		}
	}
	sl := &t.slots[minI]
	if sl.count <= 1 {
		// Replace a key seen once: it loses its one count.
		sl.hash, sl.count, sl.klen = h, 1, uint8(len(k))
		copy(sl.key[:], k)
		return false
	}
	sl.count--
	return false
}

// Merge drains the shards and publishes a new snapshot for time now.
// Run calls it every Interval; it is safe to call concurrently with
// Record on any shard, and Merge calls are serialized.
func (m *Merger) Merge(ctx context.Context, now time.Time) {
	m.mergeMu.Lock()
	defer m.mergeMu.Unlock()
	if now.UnixNano() < 0 {
		return
	}

	var d *rules.Demand
	if rs := m.cfg.Rules(); rs != nil {
		d = rs.Demand
	}
	bn := bucketNanos(d)
	shared := bn != 0 && d.Shared && m.cfg.Shared != nil
	if bn != m.curBN {
		// Counting starts, stops, or the window changed: start afresh.
		clear(m.entries)
		m.curBN = bn
		m.bucketNanos.Store(bn)
		m.snap.Store(nil)
		m.proposal = nil
		m.sharedAt = time.Time{}
		if bn != 0 {
			m.curWindow = d.Window
			m.lastBucket = now.UnixNano() / bn
			m.evalWindow = period(now, bn, shared)
		}
	}
	cur := int64(0)
	if bn != 0 {
		cur = now.UnixNano() / bn
	}
	first := cur - BucketsPerWindow
	if shared && m.outgoing == nil {
		m.outgoing = map[int64]map[string]int64{}
	}

	m.shardsMu.Lock()
	shards := slices.Clone(m.shards)
	m.shardsMu.Unlock()
	changed := false
	for _, s := range shards {
		for drained := false; !drained; {
			select {
			case t := <-s.out:
				// A loop's clock may run a little ahead of the merger's:
				// a bucket up to a window ahead is kept for later.
				if bn != 0 && t.bn == bn && t.bucket >= first && t.bucket < cur+BucketsPerWindow {
					m.absorb(t, shared)
					changed = true
				}
				clear(t.slots)
				select {
				case s.free <- t:
				default:
				}
			default:
				drained = true
			}
		}
	}
	if bn == 0 {
		return
	}
	if cur != m.lastBucket {
		changed = true
	}
	m.lastBucket = cur

	w := period(now, bn, shared)
	evalDue := w > m.evalWindow
	smoothing := !d.MaxStep.IsZero()
	var xctx context.Context
	if shared {
		// Exchange with the fleet when this replica has counts to add,
		// when a period begins (its multipliers are stepped from the
		// fleet's totals), and otherwise at most four times a bucket
		// (other replicas' counts of the last bucket arrive during the
		// next one).
		if len(m.outgoing) > 0 || (evalDue && smoothing) || now.Sub(m.lastExchange) >= time.Duration(bn/4) {
			m.lastExchange = now
			var cancel context.CancelFunc
			xctx, cancel = context.WithTimeout(ctx, m.cfg.SharedTimeout)
			defer cancel()
			changed = m.exchange(xctx, now, first, cur-1) || changed
		}
	} else {
		for _, e := range m.entries {
			e.shared = -1
		}
	}
	if evalDue {
		steps := min(w-m.evalWindow, 1000)
		m.evalWindow = w
		m.proposal = nil
		if smoothing {
			var prop map[string]string
			if shared {
				prop = map[string]string{}
			}
			for k, e := range m.entries {
				_, target := d.Target(e.total(first, cur-1))
				v := e.value
				if v.IsZero() {
					v = one
				}
				for i := int64(0); i < steps && v.Cmp(target) != 0; i++ {
					v = d.Step(v, target)
				}
				e.value = v
				if prop != nil && v.Cmp(one) != 0 {
					prop[k] = v.String()
				}
			}
			m.proposal = prop
		}
		changed = true
	}
	if xctx != nil && smoothing {
		changed = m.settle(xctx, cur) || changed
	}
	if !changed {
		return
	}
	m.publish(first, cur)
}

// period returns the period of the smoothed multipliers at now: the
// window-long spans of Unix time, by bucket length bn. In shared mode a
// period begins a quarter bucket after its span does, so that the other
// replicas' counts of the span's last bucket have arrived when the
// multipliers are stepped.
func period(now time.Time, bn int64, shared bool) int64 {
	ns := now.UnixNano()
	if shared {
		ns -= bn / 4
	}
	return ns / bn / BucketsPerWindow
}

// absorb adds a shard table into the window entries.
func (m *Merger) absorb(t *table, shared bool) {
	var out map[string]int64
	if shared {
		if out = m.outgoing[t.bucket]; out == nil {
			out = map[string]int64{}
			m.outgoing[t.bucket] = out
		}
	}
	for i := range t.slots {
		sl := &t.slots[i]
		if sl.count == 0 {
			continue
		}
		k := sl.key[:sl.klen]
		e := m.entries[string(k)]
		if e == nil {
			e = &entry{last: t.bucket, shared: -1}
			if shared {
				e.shared = 0 // not in the fleet's totals yet
			}
			m.entries[string(k)] = e
		}
		e.add(t.bucket, sl.count)
		if out != nil {
			out[string(k)] += int64(sl.count)
		}
	}
}

// exchange sends this replica's new counts and reads the fleet's totals
// into the entries' shared field. It reports whether the totals changed:
// read, or given up on (see "Shared demand" in the package
// documentation).
func (m *Merger) exchange(ctx context.Context, now time.Time, first, last int64) bool {
	buckets := make([]int64, 0, len(m.outgoing))
	for b := range m.outgoing {
		buckets = append(buckets, b)
	}
	slices.Sort(buckets)
	for _, b := range buckets {
		if err := m.cfg.Shared.Add(ctx, m.curWindow, b, m.outgoing[b]); err != nil {
			m.sharedError(err)
			break // keep the rest for the next merge
		}
		delete(m.outgoing, b)
	}
	for b := range m.outgoing {
		if b < first {
			delete(m.outgoing, b) // too old to matter any more
		}
	}
	sums := map[string]int64{}
	err := m.cfg.Shared.Totals(ctx, m.curWindow, first, last, func(key string, count int64) {
		sums[key] += count
	})
	if err != nil {
		m.sharedError(err)
		if !m.sharedAt.IsZero() && now.Sub(m.sharedAt) < m.curWindow {
			return false // hold the fleet's last totals
		}
		// The fleet's counts are unknown for a window: count nothing.
		for _, e := range m.entries {
			e.shared = 0
		}
		return true
	}
	m.sharedAt = now
	for _, e := range m.entries {
		e.shared = 0
	}
	for key, count := range sums {
		e := m.entries[key]
		if e == nil {
			if _, _, ok := SplitKey(key); !ok {
				continue
			}
			e = &entry{last: last}
			m.entries[key] = e
		}
		e.shared = count
	}
	return true
}

// settle asks the shared counter for the multipliers of period
// evalWindow, proposing this replica's if it has stepped them, and, once
// the period is settled, makes every entry's multiplier the stored one (1
// for a key not stored). It reports whether the entries took the stored
// multipliers.
func (m *Merger) settle(ctx context.Context, cur int64) bool {
	stored := map[string]money.Decimal{}
	var bad error
	settled, err := m.cfg.Shared.Multipliers(ctx, m.curWindow, m.evalWindow, m.proposal, func(key, multiplier string) {
		v, err := money.Parse(multiplier)
		if err == nil && (v.Cmp(one) < 0 || v.Cmp(maxMultiplier) > 0) {
			err = fmt.Errorf("%s is outside [1, %s]", multiplier, maxMultiplier)
		}
		if err != nil {
			bad = fmt.Errorf("cannot use the stored demand multiplier of %q: %w", key, err)
			return
		}
		stored[key] = v
	})
	if err != nil {
		m.sharedError(err)
		return false
	}
	if bad != nil {
		m.sharedError(bad) // that key's multiplier is 1
	}
	if !settled {
		return false // nobody has stepped this period yet: keep ours
	}
	m.proposal = nil
	for key, e := range m.entries {
		e.value = stored[key] // zero (1) when not stored
	}
	for key, v := range stored {
		if m.entries[key] == nil {
			if _, _, ok := SplitKey(key); ok {
				m.entries[key] = &entry{last: cur - 1, value: v}
			}
		}
	}
	return true
}

func (m *Merger) sharedError(err error) {
	if m.cfg.OnSharedError != nil {
		m.cfg.OnSharedError(err)
	}
}

// publish computes every key's window total, forgets idle and excess
// keys, and stores a new snapshot.
func (m *Merger) publish(first, cur int64) {
	for k, e := range m.entries {
		e.requests = e.total(first, cur-1)
		// A key is idle when it has nothing in the window, no multiplier
		// to unwind, and no counts of a bucket that has not ended by the
		// merger's clock (a loop's clock may be a little ahead).
		if e.requests == 0 && e.last < cur && (e.value.IsZero() || e.value.Cmp(one) == 0) {
			delete(m.entries, k)
		}
	}
	if over := len(m.entries) - m.cfg.MaxKeys; over > 0 {
		type kv struct {
			k string
			r int64
		}
		all := make([]kv, 0, len(m.entries))
		for k, e := range m.entries {
			all = append(all, kv{k, e.requests})
		}
		slices.SortFunc(all, func(a, b kv) int {
			switch {
			case a.r < b.r:
				return -1
			case a.r > b.r:
				return 1
			}
			return 0
		})
		for _, x := range all[:over] {
			delete(m.entries, x.k)
		}
		m.evicted.Add(uint64(over))
	}
	snap := newSnapshot(m.seed, cur, len(m.entries))
	for k, e := range m.entries {
		snap.put(maphash.String(m.seed, k), k, Value{Requests: e.requests, Value: e.value})
	}
	m.snap.Store(snap)
}

// add counts c requests in bucket b.
func (e *entry) add(b int64, c uint32) {
	switch {
	case b > e.last:
		n := min(b-e.last, BucketsPerWindow)
		for i := int64(0); i < n; i++ {
			e.counts[(b-i)%BucketsPerWindow] = 0
		}
		e.last = b
	case b <= e.last-BucketsPerWindow:
		return // older than the ring
	}
	i := b % BucketsPerWindow
	if s := uint64(e.counts[i]) + uint64(c); s > math.MaxUint32 {
		e.counts[i] = math.MaxUint32
	} else {
		e.counts[i] = uint32(s)
	}
}

// total returns the requests of buckets first..last: the fleet's when a
// shared total was read at this merge, else this replica's.
func (e *entry) total(first, last int64) int64 {
	if e.shared >= 0 {
		return e.shared
	}
	lo, hi := max(first, e.last-BucketsPerWindow+1), min(last, e.last)
	var s int64
	for b := lo; b <= hi; b++ {
		s += int64(e.counts[b%BucketsPerWindow])
	}
	return s
}
