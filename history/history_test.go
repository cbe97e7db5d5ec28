package history

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/money"
)

func dec(t testing.TB, s string) money.Decimal {
	t.Helper()
	d, err := money.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDay(t *testing.T) {
	for _, tc := range []struct {
		at   string
		want string
	}{
		{"2026-12-07T00:00:00Z", "2026-12-07"},
		{"2026-12-07T23:59:59Z", "2026-12-07"},
		{"2026-12-07T00:30:00+01:00", "2026-12-06"},
		{"1969-12-31T23:00:00Z", "1969-12-31"},
	} {
		at, _ := time.Parse(time.RFC3339, tc.at)
		if got := DayOf(at).String(); got != tc.want {
			t.Errorf("DayOf(%s) = %s, want %s", tc.at, got, tc.want)
		}
		d, err := ParseDay(tc.want)
		if err != nil || d != DayOf(at) {
			t.Errorf("ParseDay(%s) = %v, %v", tc.want, d, err)
		}
	}
	for _, bad := range []string{"", "2026-13-01", "2026-02-30", "26-01-01", "2026-01-01T00:00:00Z", "2026/01/01"} {
		if _, err := ParseDay(bad); err == nil {
			t.Errorf("ParseDay(%q) succeeded", bad)
		}
	}
}

func TestValue(t *testing.T) {
	for _, tc := range []struct {
		in, price, plain string
		out              string // "" : in
		bad              bool
	}{
		{in: "49.99 54.99", price: "49.99", plain: "54.99"},
		{in: "44.99 -", price: "44.99", plain: "0"},
		{in: "- 44.99", price: "0", plain: "44.99"},
		{in: "12.5", price: "12.5", plain: "12.5", out: "12.5 12.5"},
		{in: "- -", bad: true},
		{in: "", bad: true},
		{in: "-1 2", bad: true},
		{in: "0 2", bad: true},
		{in: "1000000000.01 1", bad: true},
		{in: "1e3 1", bad: true},
		{in: "1 2 3", bad: true},
	} {
		l, err := ParseValue(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseValue(%q) = %+v, want an error", tc.in, l)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseValue(%q): %v", tc.in, err)
			continue
		}
		if l.Price.Cmp(dec(t, tc.price)) != 0 || l.Plain.Cmp(dec(t, tc.plain)) != 0 {
			t.Errorf("ParseValue(%q) = %s %s, want %s %s", tc.in, l.Price, l.Plain, tc.price, tc.plain)
		}
		want := tc.out
		if want == "" {
			want = tc.in
		}
		if got := string(AppendValue(nil, l)); got != want {
			t.Errorf("AppendValue(ParseValue(%q)) = %q, want %q", tc.in, got, want)
		}
	}
}

func TestKey(t *testing.T) {
	k, ok := Key("P-1", "NY")
	if !ok {
		t.Fatal("Key refused P-1 x NY")
	}
	if p, l, ok := SplitKey(k); !ok || p != "P-1" || l != "NY" {
		t.Errorf("SplitKey(Key(P-1, NY)) = %q %q %v", p, l, ok)
	}
	a, _ := Key("P-1N", "Y")
	if a == k {
		t.Error("P-1N x Y and P-1 x NY share a key")
	}
	long := string(make([]byte, 65))
	if _, ok := Key(long, "NY"); ok {
		t.Error("Key accepted a 65-byte product")
	}
	if _, ok := Key("", "NY"); ok {
		t.Error("Key accepted an empty product")
	}
	for _, bad := range []string{"", "\x00", "\x05ab", "\x41" + long} {
		if _, _, ok := SplitKey(bad); ok {
			t.Errorf("SplitKey(%q) accepted", bad)
		}
	}
}

// at returns the instant of day (YYYY-MM-DD) at hh:mm UTC.
func at(t testing.TB, day, clock string) time.Time {
	t.Helper()
	v, err := time.Parse(time.DateOnly+" 15:04", day+" "+clock)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestPriorEdges: the prior price of a reduction that started at start
// counts the days of the window before start's day, and start's own day's
// prices before the reduction.
func TestPriorEdges(t *testing.T) {
	p, l := []byte("P-1"), []byte("NY")
	start := at(t, "2026-12-07", "18:00")
	type rec struct {
		day, clock, price string
		plain             bool
	}
	for _, tc := range []struct {
		name   string
		recs   []rec
		start  time.Time
		window time.Duration
		found  bool
		price  string
		day    string
		since  string // "" : not short
	}{
		{name: "nothing recorded", start: start, window: 30 * 24 * time.Hour},
		{
			name: "day just inside the window counts",
			recs: []rec{{"2026-11-07", "12:00", "40", true}, {"2026-11-20", "12:00", "50", true}},
			// start - 30 days is 2026-11-07 18:00: that day is partly inside.
			start: start, window: 30 * 24 * time.Hour, found: true, price: "40", day: "2026-11-07",
		},
		{
			name:  "day just outside the window does not count",
			recs:  []rec{{"2026-11-06", "23:59", "40", true}, {"2026-11-20", "12:00", "50", true}},
			start: start, window: 30 * 24 * time.Hour, found: true, price: "50", day: "2026-11-20",
		},
		{
			name:  "midnight start: the day 30 days before is the first",
			recs:  []rec{{"2026-11-07", "00:00", "40", true}, {"2026-11-06", "23:59", "30", true}, {"2026-11-20", "12:00", "50", true}},
			start: at(t, "2026-12-07", "00:00"), window: 30 * 24 * time.Hour, found: true, price: "40", day: "2026-11-07",
		},
		{
			name: "reduced prices of the start day do not count, earlier ones do",
			recs: []rec{
				{"2026-11-07", "12:00", "60", true}, {"2026-12-07", "09:00", "55", true}, {"2026-12-07", "19:00", "44", false},
			},
			start: start, window: 30 * 24 * time.Hour, found: true, price: "55", day: "2026-12-07",
		},
		{
			name: "started yesterday: today's lower prices do not count",
			recs: []rec{
				{"2026-11-07", "12:00", "60", true}, {"2026-12-06", "08:00", "58", true},
				{"2026-12-06", "20:00", "40", false}, {"2026-12-07", "08:00", "30", true},
			},
			start: at(t, "2026-12-06", "18:00"), window: 30 * 24 * time.Hour, found: true, price: "58", day: "2026-12-06", since: "2026-11-07",
		},
		{
			name: "an earlier reduction in the window counts",
			recs: []rec{
				{"2026-11-07", "12:00", "60", true}, {"2026-11-15", "12:00", "45", false}, {"2026-11-16", "12:00", "60", true},
			},
			start: start, window: 30 * 24 * time.Hour, found: true, price: "45", day: "2026-11-15",
		},
		{
			name:  "product created 10 days ago",
			recs:  []rec{{"2026-11-27", "12:00", "70", true}, {"2026-12-01", "12:00", "65", true}},
			start: start, window: 30 * 24 * time.Hour, found: true, price: "65", day: "2026-12-01", since: "2026-11-27",
		},
		{
			name:  "a shorter window",
			recs:  []rec{{"2026-11-20", "12:00", "40", true}, {"2026-12-01", "12:00", "50", true}},
			start: start, window: 7 * 24 * time.Hour, found: true, price: "50", day: "2026-12-01",
		},
		{
			name:  "only the reduction itself was recorded",
			recs:  []rec{{"2026-12-07", "18:30", "44", false}},
			start: start, window: 30 * 24 * time.Hour,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMerger(MergerConfig{})
			for _, r := range tc.recs {
				m.Record(p, l, at(t, r.day, r.clock), dec(t, r.price), r.plain)
			}
			m.Merge(context.Background(), at(t, "2026-12-07", "20:00"))
			got := m.Prior(p, l, tc.start, tc.window)
			if got.Found != tc.found {
				t.Fatalf("Prior = %+v, want found %v", got, tc.found)
			}
			if !tc.found {
				return
			}
			if got.Price.Cmp(dec(t, tc.price)) != 0 || got.Day.String() != tc.day {
				t.Errorf("Prior = %s on %s, want %s on %s", got.Price, got.Day, tc.price, tc.day)
			}
			if tc.since == "" && got.Short || tc.since != "" && (!got.Short || got.Since.String() != tc.since) {
				t.Errorf("Prior since %s (short %v), want %q", got.Since, got.Short, tc.since)
			}
		})
	}
}

// TestPriorNeverAboveRecorded: whatever was recorded, the prior price is
// the lowest Price of the window's days before the start's day (and the
// start day's Plain): never above any of them, and one of them.
func TestPriorNeverAboveRecorded(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	now := at(t, "2026-12-07", "23:00")
	p, l := []byte("P-7"), []byte("MIA")
	for iter := 0; iter < 300; iter++ {
		m := NewMerger(MergerConfig{})
		type rec struct {
			at    time.Time
			price money.Decimal
			plain bool
		}
		var recs []rec
		for i := rng.IntN(60); i > 0; i-- {
			r := rec{
				at:    now.Add(-time.Duration(rng.Int64N(int64(39 * 24 * time.Hour)))),
				price: money.New(1+rng.Int64N(100_000), uint8(rng.IntN(4))),
				plain: rng.IntN(3) > 0,
			}
			recs = append(recs, r)
			m.Record(p, l, r.at, r.price, r.plain)
		}
		m.Merge(context.Background(), now)
		start := now.Add(-time.Duration(rng.Int64N(int64(5 * 24 * time.Hour))))
		window := time.Duration(1+rng.IntN(30)) * 24 * time.Hour
		got := m.Prior(p, l, start, window)
		sd, first := DayOf(start), DayOf(start.Add(-window))
		var want money.Decimal
		for _, r := range recs {
			d := DayOf(r.at)
			in := d >= first && d < sd || d == sd && r.plain && !start.Equal(sd.Start())
			if !in {
				continue
			}
			if got.Found && got.Price.Cmp(r.price) > 0 {
				t.Fatalf("iteration %d: prior %s is above %s recorded on %s in the window", iter, got.Price, r.price, d)
			}
			if want.IsZero() || r.price.Cmp(want) < 0 {
				want = r.price
			}
		}
		if got.Found != !want.IsZero() || got.Found && got.Price.Cmp(want) != 0 {
			t.Fatalf("iteration %d: prior %+v, want %s", iter, got, want)
		}
	}
}

// TestShardRecords: a loop's shard keeps the lowest price per key and
// day; the merger sees it after Flush and Merge; recording does not
// allocate.
func TestShardRecords(t *testing.T) {
	m := NewMerger(MergerConfig{ShardKeys: 16})
	s := m.NewShard()
	now := at(t, "2026-12-07", "10:00")
	p, l := []byte("P-1"), []byte("NY")
	s.Record(p, l, now, dec(t, "50"), true)
	s.Record(p, l, now, dec(t, "45"), false)
	s.Record(p, l, now, dec(t, "48"), true)
	s.Record(p, l, now.Add(-24*time.Hour), dec(t, "47"), true)
	s.Record(p, l, now, money.Decimal{}, true) // not a price: ignored
	// More distinct keys than a table holds: the shard hands it over early.
	for i := 0; i < 40; i++ {
		s.Record([]byte(fmt.Sprintf("Q-%d", i)), l, now, dec(t, "10"), true)
	}
	if got := m.Lookup("P-1", "NY", DayOf(now)); !got.Price.IsZero() {
		t.Fatalf("the book holds %+v before the merge", got)
	}
	s.Flush()
	m.Merge(context.Background(), now)
	s.Flush()
	m.Merge(context.Background(), now)
	got := m.Lookup("P-1", "NY", DayOf(now))
	if got.Price.Cmp(dec(t, "45")) != 0 || got.Plain.Cmp(dec(t, "48")) != 0 {
		t.Errorf("today = %s %s, want 45 48", got.Price, got.Plain)
	}
	if got := m.Lookup("P-1", "NY", DayOf(now)-1); got.Price.Cmp(dec(t, "47")) != 0 {
		t.Errorf("yesterday = %s, want 47", got.Price)
	}
	st := m.Stats()
	if missing := 41 - st.Keys; missing != int(st.DroppedRecords) {
		t.Errorf("book holds %d keys, %d records dropped: %d unaccounted for", st.Keys, st.DroppedRecords, missing)
	}
	price := dec(t, "44")
	allocs := testing.AllocsPerRun(1000, func() { s.Record(p, l, now, price, true) })
	if allocs != 0 {
		t.Errorf("Record allocates %.1f times", allocs)
	}
	allocs = testing.AllocsPerRun(1000, func() { m.Prior(p, l, now, 30*24*time.Hour) })
	if allocs != 0 {
		t.Errorf("Prior allocates %.1f times", allocs)
	}
}

// TestRetention: days older than Retention are forgotten at the first
// merge of a new day, and records of such days are ignored.
func TestRetention(t *testing.T) {
	m := NewMerger(MergerConfig{})
	now := at(t, "2026-12-07", "10:00")
	old := now.Add(-(Retention - 1) * 24 * time.Hour)
	m.Record([]byte("P-1"), []byte("NY"), old, dec(t, "10"), true)
	m.Record([]byte("P-2"), []byte("NY"), now.Add(-Retention*24*time.Hour), dec(t, "10"), true)
	m.Merge(context.Background(), now)
	if m.Lookup("P-1", "NY", DayOf(old)).Price.IsZero() {
		t.Error("a day within the retention was not kept")
	}
	if st := m.Stats(); st.Keys != 1 {
		t.Errorf("book holds %d keys, want 1 (a day past the retention is ignored)", st.Keys)
	}
	m.Merge(context.Background(), now.Add(24*time.Hour))
	if st := m.Stats(); st.Keys != 0 {
		t.Errorf("book holds %d keys a day later, want 0", st.Keys)
	}
}

// FuzzParseValue: any stored value is refused or parsed into prices in
// range that AppendValue writes back to a value parsing the same.
func FuzzParseValue(f *testing.F) {
	for _, s := range []string{"49.99 54.99", "44.99 -", "- 1", "12.5", "- -", "", "1e3 1", "0.0001 1000000000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseValue(s)
		if err != nil {
			return
		}
		for _, d := range []money.Decimal{l.Price, l.Plain} {
			if d.Sign() < 0 || d.Cmp(maxPrice) > 0 {
				t.Fatalf("ParseValue(%q) = %s %s: out of range", s, l.Price, l.Plain)
			}
		}
		back, err := ParseValue(string(AppendValue(nil, l)))
		if err != nil || back.Price.Cmp(l.Price) != 0 || back.Plain.Cmp(l.Plain) != 0 {
			t.Fatalf("ParseValue(%q) = %+v, round trip %+v, %v", s, l, back, err)
		}
	})
}

// TestConcurrent: loops record and read prior prices while the merger
// merges (run with -race).
func TestConcurrent(t *testing.T) {
	m := NewMerger(MergerConfig{ShardKeys: 64})
	now := at(t, "2026-12-07", "12:00")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 3; g++ {
		s := m.NewShard()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				p := []byte(fmt.Sprintf("P-%d", i%200))
				s.Record(p, []byte("NY"), now.AddDate(0, 0, -(i%5)), money.New(int64(1000+i%97), 2), i%3 != 0)
				m.Prior(p, []byte("NY"), now, 30*24*time.Hour)
				if i%50 == 0 {
					s.Flush()
				}
			}
		}()
	}
	for i := 0; i < 50; i++ {
		m.Merge(context.Background(), now)
		m.Record([]byte("Q-1"), []byte("LA"), now, money.New(5, 0), true)
	}
	close(stop)
	wg.Wait()
	m.Merge(context.Background(), now)
	if st := m.Stats(); st.Keys == 0 {
		t.Error("nothing recorded")
	}
}
