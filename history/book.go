package history

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/pricing-engine/pricing-engine/money"
)

// bookShards is how many independently locked maps the book has.
const bookShards = 64

// book is the history of every product x location recorded: maps by key,
// each under its own lock. Only the merger writes; Prior reads.
type book struct {
	seed   maphash.Seed
	shards [bookShards]bookShard
}

type bookShard struct {
	mu sync.RWMutex
	m  map[string]*series
	_  [40]byte // keep neighbouring locks off one cache line
}

// series is one key's days first, first+1, ..., first+len(days)-1; a day
// with nothing recorded in between is a zero entry.
type series struct {
	first Day
	days  []entry
	// memo is the last answer of prior, for the days it was asked about;
	// lower clears it when it changes the series. Prior reads and sets it
	// under the map's read lock, hence the atomic.
	memo atomic.Pointer[priorMemo]
}

// priorMemo is one answer of prior and the question.
type priorMemo struct {
	first, last, plainDay Day
	p                     Prior
}

// entry is a Low packed into 24 bytes (money.Decimal pads to 16).
type entry struct {
	pc, qc int64
	ps, qs uint8
}

func pack(l Low) entry {
	return entry{pc: l.Price.Coef(), ps: l.Price.Scale(), qc: l.Plain.Coef(), qs: l.Plain.Scale()}
}

func (e entry) low() Low {
	return Low{Price: money.New(e.pc, e.ps), Plain: money.New(e.qc, e.qs)}
}

func newBook(seed maphash.Seed) *book {
	b := &book{seed: seed}
	for i := range b.shards {
		b.shards[i].m = map[string]*series{}
	}
	return b
}

func (b *book) shard(h uint64) *bookShard { return &b.shards[h%bookShards] }

// lower lowers key's value of day to lo; it returns the day's value after
// the change and whether it changed. key is only read.
func (b *book) lower(h uint64, key []byte, day Day, lo Low) (Low, bool) {
	sh := b.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s := sh.m[string(key)]
	if s == nil {
		s = &series{first: day, days: make([]entry, 1, 2)}
		sh.m[string(key)] = s
	}
	e := s.at(day)
	cur := e.low()
	if !cur.lowerTo(lo) {
		return cur, false
	}
	*e = pack(cur)
	s.memo.Store(nil)
	return cur, true
}

// at returns the entry of day, growing the series to hold it.
func (s *series) at(day Day) *entry {
	switch {
	case day < s.first:
		n := int(s.first - day)
		days := make([]entry, n+len(s.days))
		copy(days[n:], s.days)
		s.days, s.first = days, day
	case int(day-s.first) >= len(s.days):
		for int(day-s.first) >= len(s.days) {
			s.days = append(s.days, entry{})
		}
	}
	return &s.days[day-s.first]
}

// trim forgets the days before min, and keys left with none.
func (b *book) trim(min Day) {
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.Lock()
		for k, s := range sh.m {
			if last := s.first + Day(len(s.days)) - 1; last < min {
				delete(sh.m, k)
				continue
			}
			if s.first < min {
				s.days = append([]entry(nil), s.days[min-s.first:]...)
				s.first = min
				s.memo.Store(nil)
			}
		}
		sh.mu.Unlock()
	}
}

// len returns how many keys the book holds.
func (b *book) len() int {
	n := 0
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}

// get returns key's value of day (zero when none).
func (b *book) get(h uint64, key []byte, day Day) Low {
	sh := b.shard(h)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	s := sh.m[string(key)]
	if s == nil || day < s.first || int(day-s.first) >= len(s.days) {
		return Low{}
	}
	return s.days[day-s.first].low()
}

// Prior is the prior price of one reduction, as [Merger.Prior] finds it.
type Prior struct {
	// Found reports that a price was recorded in the window; Price, Day
	// and Since are set only then.
	Found bool
	// Price is the lowest price recorded in the window.
	Price money.Decimal
	// Day is the day Price was recorded (the latest such day).
	Day Day
	// Since is the first day of the history used: the window's first
	// day, or the key's first recorded day when that is later (Short).
	Since Day
	// Short reports that the history covers less than the window: the
	// key's first recorded day (within the retention) is after the
	// window's first day.
	Short bool
}

// prior finds the lowest price of key in the days first..last (Price)
// and, when plainDay >= 0, the Plain price of plainDay. The answer is
// remembered until the key's series changes: the requests of one
// reduction ask the same question.
func (b *book) prior(h uint64, key []byte, first, last Day, plainDay Day) Prior {
	sh := b.shard(h)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	s := sh.m[string(key)]
	if s == nil {
		return Prior{}
	}
	if m := s.memo.Load(); m != nil && m.first == first && m.last == last && m.plainDay == plainDay {
		return m.p
	}
	p := s.prior(first, last, plainDay)
	s.memo.Store(&priorMemo{first: first, last: last, plainDay: plainDay, p: p})
	return p
}

// prior is book.prior without the memo.
func (s *series) prior(first, last Day, plainDay Day) Prior {
	var p Prior
	end := s.first + Day(len(s.days)) // exclusive
	earliest := end                   // the first day with a record
	for i := range s.days {
		if e := &s.days[i]; e.pc != 0 || e.qc != 0 {
			earliest = s.first + Day(i)
			break
		}
	}
	consider := func(d Day, v money.Decimal) {
		if v.IsZero() {
			return
		}
		if !p.Found || v.Cmp(p.Price) < 0 || v.Cmp(p.Price) == 0 && d > p.Day {
			p.Found, p.Price, p.Day = true, v, d
		}
	}
	for d := max(first, s.first); d <= last && d < end; d++ {
		consider(d, money.New(s.days[d-s.first].pc, s.days[d-s.first].ps))
	}
	if plainDay >= s.first && plainDay < end {
		e := &s.days[plainDay-s.first]
		consider(plainDay, money.New(e.qc, e.qs))
	}
	if p.Found {
		p.Since = first
		if earliest > first {
			p.Since, p.Short = earliest, true
		}
	}
	return p
}
