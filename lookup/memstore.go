package lookup

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pricing-engine/pricing-engine/money"
)

// Bounds of the memory store's governed-write state.
const (
	// overlayFold is the number of changed entries past which a write
	// folds them into fresh base tables, so that a write copies at most
	// this many entries (plus, once per overlayFold writes, the tables).
	overlayFold = 1024
	// maxMemoryIdempotencyKeys bounds the remembered idempotency keys;
	// past it the expired ones are dropped, then arbitrary ones.
	maxMemoryIdempotencyKeys = 100_000
)

// MemoryStore is the in-memory [Source] that also takes governed writes
// ([Writer]): versions, preconditions, idempotency keys and an audit
// trail, kept in process only (lost on restart, not shared between
// replicas).
//
// Reads are lock-free and do not allocate: they load one immutable view
// (base tables plus a small overlay of changed entries) through an atomic
// pointer. Writes are serialized by a mutex and publish a new view; a
// write's change is visible to every Lookup that starts after Write
// returns. It is safe for concurrent use.
type MemoryStore struct {
	view atomic.Pointer[memView]

	mu        sync.Mutex // guards everything below
	meta      map[Ref]*memMeta
	idem      map[memIdemKey]memIdem
	owners    map[string]memOwner // idempotency key -> the entry it was first used on
	lastMs    int64
	seq       uint64
	retention time.Duration
	maxPerKey int
	now       func() time.Time
}

// MemoryStoreOptions configure [NewMemoryStore]; the zero value uses the
// defaults.
type MemoryStoreOptions struct {
	// AuditRetention is how long audit entries are kept
	// (DefaultAuditRetention when 0).
	AuditRetention time.Duration
	// AuditMaxPerKey bounds the entries kept per key
	// (DefaultAuditMaxPerKey when 0).
	AuditMaxPerKey int
	// Now is the clock (time.Now when nil), for tests.
	Now func() time.Time
}

// memView is one immutable state of the data: the tables loaded at start
// (or folded) and the entries changed since.
type memView struct {
	cat      map[string]money.Decimal
	mk       map[string]money.Decimal
	products map[string]memValue // changed products (overlay)
	markets  map[string]memValue // changed markets (overlay)
	def      money.Decimal       // the default market's multiplier
}

type memValue struct {
	val     money.Decimal
	text    string
	deleted bool
}

type memMeta struct {
	version uint64
	at      time.Time
	by      string
	audit   []AuditEntry // oldest first
}

type memIdemKey struct {
	ref Ref
	key string
}

type memOwner struct {
	ref     Ref
	expires time.Time
}

type memIdem struct {
	fp      string
	out     Outcome
	expires time.Time
}

var (
	_ Source = (*MemoryStore)(nil)
	_ Writer = (*MemoryStore)(nil)
)

// NewMemoryStore returns a store serving cat and mk (not modified: writes
// go to the store's own copy).
func NewMemoryStore(cat *MemoryCatalog, mk *MemoryMarkets, o MemoryStoreOptions) *MemoryStore {
	s := &MemoryStore{
		meta:      make(map[Ref]*memMeta),
		idem:      make(map[memIdemKey]memIdem),
		owners:    make(map[string]memOwner),
		retention: o.AuditRetention,
		maxPerKey: o.AuditMaxPerKey,
		now:       o.Now,
	}
	if s.retention <= 0 {
		s.retention = DefaultAuditRetention
	}
	if s.maxPerKey <= 0 {
		s.maxPerKey = DefaultAuditMaxPerKey
	}
	if s.now == nil {
		s.now = time.Now
	}
	v := &memView{cat: cat.prices, mk: mk.mult, products: map[string]memValue{}, markets: map[string]memValue{}}
	v.def = v.defaultMarket()
	s.view.Store(v)
	return s
}

// NewBatcher implements [Source]; one Batcher serves every goroutine.
func (s *MemoryStore) NewBatcher() Batcher { return memStoreBatcher{s} }

// Instant implements [Source]: always true.
func (s *MemoryStore) Instant() bool { return true }

type memStoreBatcher struct{ s *MemoryStore }

func (b memStoreBatcher) Lookup(c *Call) bool {
	b.s.Answer(c)
	return true
}

func (memStoreBatcher) Flush() {}

// Answer sets c's results from the current view. It does not allocate on
// success.
func (s *MemoryStore) Answer(c *Call) {
	v := s.view.Load()
	base, ok := v.product(c.ProductID)
	if !ok {
		c.Err = NewNotFound(KindProduct, c.ProductID)
		return
	}
	c.Base = base
	c.Mult = v.market(c.Location)
	c.Err = nil
	c.Stale = false
}

func (v *memView) product(id []byte) (money.Decimal, bool) {
	if o, ok := v.products[string(id)]; ok {
		return o.val, !o.deleted
	}
	d, ok := v.cat[string(id)]
	return d, ok
}

func (v *memView) market(loc []byte) money.Decimal {
	if o, ok := v.markets[string(loc)]; ok {
		if !o.deleted {
			return o.val
		}
		return v.def
	}
	if d, ok := v.mk[string(loc)]; ok {
		return d
	}
	return v.def
}

// defaultMarket is the multiplier of unknown locations: the "*" row, 1
// without one.
func (v *memView) defaultMarket() money.Decimal {
	if o, ok := v.markets[DefaultMarket]; ok {
		if o.deleted {
			return money.New(1, 0)
		}
		return o.val
	}
	if d, ok := v.mk[DefaultMarket]; ok {
		return d
	}
	return money.New(1, 0)
}

// current returns ref's value in v.
func (v *memView) current(ref Ref) (string, bool) {
	over, base := v.products, v.cat
	if ref.Kind == KindMarket {
		over, base = v.markets, v.mk
	}
	if o, ok := over[ref.ID]; ok {
		return o.text, !o.deleted
	}
	if d, ok := base[ref.ID]; ok {
		return d.String(), true
	}
	return "", false
}

// with returns a copy of v with ref set to val (or deleted), folding the
// overlay into new base tables when it has grown past overlayFold.
func (v *memView) with(ref Ref, val memValue) *memView {
	n := *v
	if ref.Kind == KindMarket {
		n.markets = copyOverlay(v.markets, ref.ID, val)
	} else {
		n.products = copyOverlay(v.products, ref.ID, val)
	}
	if len(n.products)+len(n.markets) > overlayFold {
		n.cat, n.products = fold(n.cat, n.products), map[string]memValue{}
		n.mk, n.markets = fold(n.mk, n.markets), map[string]memValue{}
	}
	n.def = n.defaultMarket()
	return &n
}

func copyOverlay(m map[string]memValue, id string, val memValue) map[string]memValue {
	out := make(map[string]memValue, len(m)+1)
	for k, x := range m {
		out[k] = x
	}
	out[id] = val
	return out
}

func fold(base map[string]money.Decimal, over map[string]memValue) map[string]money.Decimal {
	out := make(map[string]money.Decimal, len(base)+len(over))
	for k, d := range base {
		out[k] = d
	}
	for k, o := range over {
		if o.deleted {
			delete(out, k)
		} else {
			out[k] = o.val
		}
	}
	return out
}

// Read implements [Writer].
func (s *MemoryStore) Read(_ context.Context, ref Ref) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.record(ref), nil
}

// record is ref's state; s.mu must be held.
func (s *MemoryStore) record(ref Ref) Record {
	val, ok := s.view.Load().current(ref)
	r := Record{Exists: ok, Value: val}
	if m := s.meta[ref]; m != nil {
		r.Version, r.UpdatedAt, r.UpdatedBy = m.version, m.at, m.by
	}
	if !ok {
		r.Value = ""
	}
	return r
}

// Write implements [Writer].
func (s *MemoryStore) Write(_ context.Context, w *Write) (Outcome, error) {
	var val money.Decimal
	if w.Op == OpPut {
		if err := CheckValue(w.Ref.Kind, w.Value); err != nil {
			return Outcome{}, err
		}
		val, _ = money.Parse(w.Value)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	ik := memIdemKey{ref: w.Ref, key: w.IdempotencyKey}
	if w.IdempotencyKey != "" {
		// A key is claimed by the first entry it is used on, as in the
		// Redis store (IdempotencyOwner there).
		if o, ok := s.owners[w.IdempotencyKey]; ok && now.Before(o.expires) {
			if o.ref != w.Ref {
				return Outcome{Status: WriteKeyReused}, nil
			}
		} else {
			bound(s.owners, now, func(o memOwner) time.Time { return o.expires })
			s.owners[w.IdempotencyKey] = memOwner{ref: w.Ref, expires: now.Add(IdempotencyTTL)}
		}
		if rec, ok := s.idem[ik]; ok && now.Before(rec.expires) {
			if rec.fp != w.Fingerprint {
				return Outcome{Status: WriteKeyReused}, nil
			}
			out := rec.out
			out.Replayed = true
			return out, nil
		}
	}
	cur := s.record(w.Ref)
	refuse := func(st WriteStatus) (Outcome, error) {
		out := Outcome{Status: st, Record: cur}
		if w.IdempotencyKey != "" {
			s.remember(ik, memIdem{fp: w.Fingerprint, out: out, expires: now.Add(IdempotencyTTL)}, now)
		}
		return out, nil
	}
	if !condHolds(w, cur) {
		return refuse(WriteConflict)
	}
	if w.Op == OpDelete && !cur.Exists {
		return refuse(WriteNotFound)
	}
	m := s.meta[w.Ref]
	if m == nil {
		m = &memMeta{}
		s.meta[w.Ref] = m
	}
	m.version = cur.Version + 1
	m.at, m.by = now, w.Actor
	out := Outcome{Record: Record{Version: m.version, UpdatedAt: now, UpdatedBy: w.Actor}}
	entry := AuditEntry{At: now, Actor: w.Actor, Key: w.Ref.String(), Version: m.version, RequestID: w.RequestID}
	if cur.Exists {
		before := cur.Value
		entry.Before = &before
	}
	switch {
	case w.Op == OpDelete:
		s.view.Store(s.view.Load().with(w.Ref, memValue{deleted: true}))
		out.Status, entry.Kind = WriteDeleted, "delete"
	default:
		s.view.Store(s.view.Load().with(w.Ref, memValue{val: val, text: w.Value}))
		after := w.Value
		entry.After = &after
		out.Record.Exists, out.Record.Value = true, w.Value
		out.Status, entry.Kind = WriteCreated, "create"
		if cur.Exists {
			out.Status, entry.Kind = WriteUpdated, "update"
		}
	}
	if w.AuditKind != "" {
		entry.Kind = w.AuditKind
	}
	s.appendAudit(m, entry, now)
	if w.IdempotencyKey != "" {
		s.remember(ik, memIdem{fp: w.Fingerprint, out: out, expires: now.Add(IdempotencyTTL)}, now)
	}
	return out, nil
}

// condHolds reports whether w's precondition holds for cur.
func condHolds(w *Write, cur Record) bool {
	switch w.Cond {
	case CondVersion:
		return cur.Exists && cur.Version == w.Version
	case CondExists:
		return cur.Exists
	case CondAbsent:
		return !cur.Exists
	}
	return true
}

// appendAudit adds e to m's trail with a fresh id, dropping entries past
// the retention or the per-key bound; s.mu must be held.
func (s *MemoryStore) appendAudit(m *memMeta, e AuditEntry, now time.Time) {
	ms := max(now.UnixMilli(), s.lastMs)
	s.lastMs = ms
	s.seq++
	e.ID = strconv.FormatInt(ms, 10) + "-" + strconv.FormatUint(s.seq, 10)
	m.audit = append(m.audit, e)
	cut := now.Add(-s.retention)
	drop := 0
	for drop < len(m.audit) && (m.audit[drop].At.Before(cut) || len(m.audit)-drop > s.maxPerKey) {
		drop++
	}
	if drop > 0 {
		m.audit = append(m.audit[:0:0], m.audit[drop:]...)
	}
}

// remember stores an idempotency record, keeping the map bounded; s.mu
// must be held.
func (s *MemoryStore) remember(k memIdemKey, rec memIdem, now time.Time) {
	bound(s.idem, now, func(r memIdem) time.Time { return r.expires })
	s.idem[k] = rec
}

// bound makes room for one more entry in m, at most
// maxMemoryIdempotencyKeys: when full, the expired entries are dropped,
// then arbitrary ones.
func bound[K comparable, V any](m map[K]V, now time.Time, expires func(V) time.Time) {
	if len(m) < maxMemoryIdempotencyKeys {
		return
	}
	for k, v := range m {
		if !now.Before(expires(v)) {
			delete(m, k)
		}
	}
	for k := range m {
		if len(m) < maxMemoryIdempotencyKeys {
			break
		}
		delete(m, k)
	}
}

// Audit implements [Writer].
func (s *MemoryStore) Audit(_ context.Context, q AuditQuery) ([]AuditEntry, string, error) {
	var before [2]uint64
	if q.Cursor != "" {
		var ok bool
		if before, ok = ParseAuditID(q.Cursor); !ok {
			return nil, "", ErrBadCursor
		}
	}
	limit := min(max(q.Limit, 1), MaxAuditLimit)
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.meta[q.Ref]
	if m == nil {
		return nil, "", nil
	}
	cut := s.now().Add(-s.retention)
	var out []AuditEntry
	for i := len(m.audit) - 1; i >= 0; i-- {
		e := m.audit[i]
		if e.At.Before(cut) || (!q.Since.IsZero() && e.At.Before(q.Since)) {
			break
		}
		if q.Cursor != "" {
			id, _ := ParseAuditID(e.ID)
			if !idLess(id, before) {
				continue
			}
		}
		if len(out) == limit {
			return out, out[len(out)-1].ID, nil
		}
		out = append(out, e)
	}
	return out, "", nil
}

// AuditVersion implements [Writer].
func (s *MemoryStore) AuditVersion(_ context.Context, ref Ref, v uint64) (AuditEntry, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.meta[ref]; m != nil {
		for i := len(m.audit) - 1; i >= 0; i-- {
			if m.audit[i].Version == v {
				return m.audit[i], true, nil
			}
		}
	}
	return AuditEntry{}, false, nil
}

// ParseAuditID parses an audit entry id, "<ms>-<seq>" (the form of a
// Redis stream id too), for cursor comparisons.
func ParseAuditID(id string) ([2]uint64, bool) {
	a, b, ok := strings.Cut(id, "-")
	if !ok {
		return [2]uint64{}, false
	}
	x, err1 := strconv.ParseUint(a, 10, 64)
	y, err2 := strconv.ParseUint(b, 10, 64)
	return [2]uint64{x, y}, err1 == nil && err2 == nil
}

func idLess(a, b [2]uint64) bool {
	return a[0] < b[0] || (a[0] == b[0] && a[1] < b[1])
}
