package history

import (
	"bytes"
	"context"
	"hash/maphash"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/pairkey"
	"github.com/pricing-engine/pricing-engine/money"
)

const (
	// probeLimit is how many neighbouring slots a key may occupy.
	probeLimit = 8
	// shardQueue is how many finished tables a shard may have waiting.
	shardQueue = 2
	// DefaultShardKeys is MergerConfig.ShardKeys' default.
	DefaultShardKeys = 1024
	// DefaultInterval is how often Merger.Run merges.
	DefaultInterval = time.Second
	// DefaultSharedTimeout bounds one Lower or incremental Read.
	DefaultSharedTimeout = 2 * time.Second
	// DefaultLoadTimeout bounds a Read that reads days in full.
	DefaultLoadTimeout = 2 * time.Minute
	// maxLowerBatch bounds the keys of one Shared.Lower call.
	maxLowerBatch = 1000
	// maxDirectTables bounds the full tables of Merger.Record waiting for
	// a merge.
	maxDirectTables = 16
)

// Shared keeps the fleet's history (the Redis store implements it). Its
// methods take only standard types, so that an implementation needs no
// import of this package. The Merger calls it from its own goroutine
// only, never per request.
//
// Keys are made by [Key] (opaque: store them as they are); values by
// [AppendValue] ("<price> <plain>", "-" for a part not recorded).
type Shared interface {
	// Lower lowers the stored values of day (days since 1970-01-01 UTC)
	// to lows (key -> value), each part to the lower of the stored and
	// the given, and keeps the day for Retention days. lows is only read,
	// and only during the call.
	Lower(ctx context.Context, day int64, lows map[string]string) error
	// Read calls fn for the values of each day of cursors (day -> cursor)
	// stored or lowered after the cursor, and moves the cursor past them.
	// An empty cursor reads the day in full. A value may be passed more
	// than once; a day's values only ever decrease.
	Read(ctx context.Context, cursors map[int64]string, fn func(day int64, key, value string)) error
}

// MergerConfig configures a Merger.
type MergerConfig struct {
	// Shared, when set, shares the history with the other replicas.
	Shared Shared
	// ShardKeys bounds the keys one shard's table holds; rounded up to a
	// power of two. 0: DefaultShardKeys.
	ShardKeys int
	// Interval is how often Run merges. 0: DefaultInterval.
	Interval time.Duration
	// SharedTimeout bounds a Lower or an incremental Read. 0:
	// DefaultSharedTimeout.
	SharedTimeout time.Duration
	// LoadTimeout bounds a Read that reads days in full. 0:
	// DefaultLoadTimeout.
	LoadTimeout time.Duration
	// OnSharedError, if set, is called (from the merger's goroutine) when
	// a Shared call fails or reads a value that is not one.
	OnSharedError func(error)
}

// Stats counts what the bounds cost.
type Stats struct {
	DroppedRecords uint64 // prices not recorded: a shard's tables were all waiting
	Keys           int    // product x location pairs in the book
	Loaded         bool   // every kept day was read from the shared store once (true without one)
}

// Merger merges the shards' records into the book and shares them. Create
// it with NewMerger, make one Shard per event loop, and run Run on one
// goroutine (or call Merge, as tests do). Prior and Record are safe for
// concurrent use.
type Merger struct {
	cfg  MergerConfig
	seed maphash.Seed
	book *book

	shardsMu sync.Mutex
	shards   []*Shard

	directMu   sync.Mutex
	direct     *table
	directFull []*table // full direct tables waiting for the merge

	dropped atomic.Uint64
	loaded  atomic.Bool

	// merge state: only Merge touches it, under mergeMu.
	mergeMu  sync.Mutex
	outgoing map[Day]map[string]string
	cursors  map[int64]string
	trimmed  Day
}

// NewMerger returns a Merger with an empty book.
func NewMerger(cfg MergerConfig) *Merger {
	if cfg.ShardKeys <= 0 {
		cfg.ShardKeys = DefaultShardKeys
	}
	cfg.ShardKeys = 1 << bits.Len(uint(cfg.ShardKeys-1)) // the next power of two
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.SharedTimeout <= 0 {
		cfg.SharedTimeout = DefaultSharedTimeout
	}
	if cfg.LoadTimeout <= 0 {
		cfg.LoadTimeout = DefaultLoadTimeout
	}
	seed := maphash.MakeSeed()
	m := &Merger{cfg: cfg, seed: seed, book: newBook(seed), outgoing: map[Day]map[string]string{}, cursors: map[int64]string{}}
	m.direct = m.newTable()
	m.loaded.Store(cfg.Shared == nil)
	return m
}

// Stats returns the counters of what the bounds cost.
func (m *Merger) Stats() Stats {
	return Stats{DroppedRecords: m.dropped.Load(), Keys: m.book.len(), Loaded: m.loaded.Load()}
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

// Prior returns the lowest price of product x location recorded in the
// window days before the reduction that started at start: the Price of
// the days from DayOf(start - window) to the day before start's, and the
// Plain price of start's own day (its prices before the reduction) unless
// start is midnight UTC. The answer is remembered per key until the key's
// history changes: only a new question about a key allocates.
func (m *Merger) Prior(product, location []byte, start time.Time, window time.Duration) Prior {
	var kb [pairkey.Len]byte
	k, ok := pairkey.Make(&kb, product, location)
	if !ok {
		return Prior{}
	}
	sd := DayOf(start)
	first := DayOf(start.Add(-window))
	plainDay := sd
	if start.Equal(sd.Start()) {
		plainDay = -1
	}
	return m.book.prior(maphash.Bytes(m.seed, k), k, first, sd-1, plainDay)
}

// Lookup returns what the book holds for product x location on day.
func (m *Merger) Lookup(product, location string, day Day) Low {
	var kb [pairkey.Len]byte
	k, ok := pairkey.Make(&kb, []byte(product), []byte(location))
	if !ok {
		return Low{}
	}
	return m.book.get(maphash.Bytes(m.seed, k), k, day)
}

// Record records a price served at now from any goroutine (under a
// mutex): for callers without a loop of their own. plain says that no
// announced reduction applied. It does not allocate, except for a new
// table when the current one is full (up to 16 wait for a merge; past
// that the record is dropped and counted).
func (m *Merger) Record(product, location []byte, now time.Time, price money.Decimal, plain bool) {
	var kb [pairkey.Len]byte
	k, ok := pairkey.Make(&kb, product, location)
	if !ok || price.Sign() <= 0 {
		return
	}
	h := maphash.Bytes(m.seed, k)
	d, lo := DayOf(now), low(price, plain)
	m.directMu.Lock()
	defer m.directMu.Unlock()
	if m.direct.add(h, k, d, lo) {
		return
	}
	if len(m.directFull) == maxDirectTables {
		m.dropped.Add(1)
		return
	}
	m.directFull = append(m.directFull, m.direct)
	m.direct = m.newTable()
	m.direct.add(h, k, d, lo)
}

func low(price money.Decimal, plain bool) Low {
	if plain {
		return Low{Price: price, Plain: price}
	}
	return Low{Price: price}
}

// Shard records the prices served by one event loop. Record and Flush
// must only be called from the goroutine that owns the shard (the loop);
// the merger receives finished tables through a channel and never touches
// the table being written.
type Shard struct {
	m         *Merger
	cur       *table
	out, free chan *table
}

// table holds the lowest price per key x day seen by one shard since its
// last handoff: open addressing with linear probing over at most
// probeLimit slots.
type table struct {
	mask  uint64
	used  bool
	slots []slot
}

type slot struct {
	hash uint64
	day  Day
	klen uint8 // 0: empty (keys are never empty)
	key  [pairkey.Len]byte
	lo   Low
}

func (m *Merger) newTable() *table {
	return &table{mask: uint64(m.cfg.ShardKeys - 1), slots: make([]slot, m.cfg.ShardKeys)}
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

// Record records a price served at now for product x location; plain
// says that no announced reduction applied. It does not allocate in
// steady state and takes no lock; ids longer than 64 bytes and prices
// that are not positive are not recorded.
func (s *Shard) Record(product, location []byte, now time.Time, price money.Decimal, plain bool) {
	var kb [pairkey.Len]byte
	k, ok := pairkey.Make(&kb, product, location)
	if !ok || price.Sign() <= 0 {
		return
	}
	h := maphash.Bytes(s.m.seed, k)
	d, lo := DayOf(now), low(price, plain)
	if s.cur == nil {
		s.rotate()
	}
	if s.cur.add(h, k, d, lo) {
		return
	}
	// The key's slots are full: hand this table over and start another.
	if !s.rotate() || !s.cur.add(h, k, d, lo) {
		s.m.dropped.Add(1)
	}
}

// Flush hands the current table to the merger if it holds anything. Call
// it from the owning loop's periodic tick, so that the merger (and the
// other replicas) see the loop's prices within a tick and a merge.
func (s *Shard) Flush() {
	if s.cur != nil && s.cur.used {
		s.rotate()
	}
}

// rotate hands the current table over (if it holds anything) and starts
// an empty one; it reports false when the merger is shardQueue tables
// behind (the current table is kept).
func (s *Shard) rotate() bool {
	if t := s.cur; t != nil && t.used {
		select {
		case s.out <- t:
			s.cur = nil
		default:
			return false
		}
	}
	if s.cur == nil {
		select {
		case s.cur = <-s.free:
		default:
			s.cur = s.m.newTable() // only until the merger recycles tables
		}
	}
	return true
}

// add lowers key k's value of day d to lo; it reports false when the
// key's slots are full.
func (t *table) add(h uint64, k []byte, d Day, lo Low) bool {
	// The days of one key go to different slots.
	home := (h + uint64(d)*0x9e3779b97f4a7c15) & t.mask
	for p := uint64(0); p < probeLimit && p <= t.mask; p++ {
		sl := &t.slots[(home+p)&t.mask]
		if sl.klen == 0 {
			sl.hash, sl.day, sl.klen, sl.lo = h, d, uint8(len(k)), lo
			copy(sl.key[:], k)
			t.used = true
			return true
		}
		if sl.hash == h && sl.day == d && int(sl.klen) == len(k) && bytes.Equal(sl.key[:sl.klen], k) {
			sl.lo.lowerTo(lo)
			return true
		}
	}
	return false
}

func (t *table) reset() {
	if t.used {
		clear(t.slots)
		t.used = false
	}
}

// Merge drains the shards into the book and, with a Shared store, sends
// the values it lowered and reads the other replicas'. Run calls it every
// Interval; it is safe to call concurrently with Record on any shard, and
// Merge calls are serialized.
func (m *Merger) Merge(ctx context.Context, now time.Time) {
	m.mergeMu.Lock()
	defer m.mergeMu.Unlock()
	today := DayOf(now)
	oldest := today - Retention + 1
	if m.trimmed != today {
		m.trimmed = today
		m.book.trim(oldest)
		for d := range m.outgoing {
			if d < oldest {
				delete(m.outgoing, d)
			}
		}
		for d := range m.cursors {
			if Day(d) < oldest {
				delete(m.cursors, d)
			}
		}
	}

	m.shardsMu.Lock()
	shards := slices.Clone(m.shards)
	m.shardsMu.Unlock()
	for _, s := range shards {
		for drained := false; !drained; {
			select {
			case t := <-s.out:
				m.absorb(t, oldest, today)
				t.reset()
				select {
				case s.free <- t:
				default:
				}
			default:
				drained = true
			}
		}
	}
	m.directMu.Lock()
	full := m.directFull
	if m.direct.used {
		full = append(full, m.direct)
		m.direct = m.newTable()
	}
	m.directFull = nil
	m.directMu.Unlock()
	for _, t := range full {
		m.absorb(t, oldest, today)
	}

	if m.cfg.Shared == nil {
		return
	}
	m.send(ctx)
	m.read(ctx, oldest, today)
}

// absorb lowers the book to a table's values; with a Shared store the
// lowered values are kept to be sent. Days outside [oldest, today+1] (a
// loop's clock may run a little ahead) are ignored.
func (m *Merger) absorb(t *table, oldest, today Day) {
	if !t.used {
		return
	}
	var buf []byte
	for i := range t.slots {
		sl := &t.slots[i]
		if sl.klen == 0 || sl.day < oldest || sl.day > today+1 {
			continue
		}
		k := sl.key[:sl.klen]
		v, changed := m.book.lower(sl.hash, k, sl.day, sl.lo)
		if !changed || m.cfg.Shared == nil {
			continue
		}
		out := m.outgoing[sl.day]
		if out == nil {
			out = map[string]string{}
			m.outgoing[sl.day] = out
		}
		buf = AppendValue(buf[:0], v)
		out[string(k)] = string(buf)
	}
}

// send lowers the shared store's values to the ones this replica
// lowered; what could not be sent is kept for the next merge.
func (m *Merger) send(ctx context.Context) {
	days := make([]Day, 0, len(m.outgoing))
	for d := range m.outgoing {
		days = append(days, d)
	}
	slices.Sort(days)
	for _, d := range days {
		out := m.outgoing[d]
		for len(out) > 0 {
			batch := out
			if len(out) > maxLowerBatch {
				batch = make(map[string]string, maxLowerBatch)
				for k, v := range out {
					batch[k] = v
					if len(batch) == maxLowerBatch {
						break
					}
				}
			}
			sctx, cancel := context.WithTimeout(ctx, m.cfg.SharedTimeout)
			err := m.cfg.Shared.Lower(sctx, int64(d), batch)
			cancel()
			if err != nil {
				m.sharedError(err)
				return
			}
			if len(batch) == len(out) {
				delete(m.outgoing, d)
				break
			}
			for k := range batch {
				delete(out, k)
			}
		}
	}
}

// read reads the values other replicas lowered into the book: days not
// read yet in full first (at start, and each new day), then every kept
// day from its cursor.
func (m *Merger) read(ctx context.Context, oldest, today Day) {
	fresh := map[int64]string{}
	for d := oldest; d <= today; d++ {
		if _, ok := m.cursors[int64(d)]; !ok {
			fresh[int64(d)] = ""
		}
	}
	var bad error
	fn := func(day int64, key, value string) {
		lo, err := ParseValue(value)
		if err != nil {
			bad = err
			return
		}
		if _, _, ok := SplitKey(key); !ok || Day(day) < oldest || Day(day) > today+1 {
			return
		}
		m.book.lower(maphash.String(m.seed, key), []byte(key), Day(day), lo)
	}
	if len(fresh) > 0 {
		lctx, cancel := context.WithTimeout(ctx, m.cfg.LoadTimeout)
		err := m.cfg.Shared.Read(lctx, fresh, fn)
		cancel()
		if err != nil {
			m.sharedError(err)
			return
		}
		for d, c := range fresh {
			m.cursors[d] = c
		}
		m.loaded.Store(true)
	}
	sctx, cancel := context.WithTimeout(ctx, m.cfg.SharedTimeout)
	err := m.cfg.Shared.Read(sctx, m.cursors, fn)
	cancel()
	if err != nil {
		m.sharedError(err)
	}
	if bad != nil {
		m.sharedError(bad)
	}
}

func (m *Merger) sharedError(err error) {
	if m.cfg.OnSharedError != nil {
		m.cfg.OnSharedError(err)
	}
}

// Pairs calls fn for the product x location pairs of the book that match
// (product or location equal, "" matching any), at most max of them, and
// reports whether there were more. It reads the whole book (under each
// map's read lock in turn): for rare callers, such as re-pricing what an
// admin write changed, never per request.
func (m *Merger) Pairs(product, location string, max int, fn func(product, location string)) (more bool) {
	n := 0
	for i := range m.book.shards {
		sh := &m.book.shards[i]
		sh.mu.RLock()
		for k := range sh.m {
			p, l, ok := SplitKey(k)
			if !ok || product != "" && p != product || location != "" && l != location {
				continue
			}
			if n == max {
				sh.mu.RUnlock()
				return true
			}
			n++
			fn(p, l)
		}
		sh.mu.RUnlock()
	}
	return false
}
