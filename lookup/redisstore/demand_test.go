package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/redistest"
)

// TestDemandCounterAddTotals: two replicas' counts of the same buckets
// are summed, buckets outside the range are not, the hashes expire after
// two windows, and counting invalidates nobody's cache.
func TestDemandCounterAddTotals(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	a, b := open(t, Options{URL: srv.URL()}), open(t, Options{URL: srv.URL()})
	da, db := NewDemandCounter(a), NewDemandCounter(b)
	ctx := context.Background()
	const w = time.Minute
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(da.Add(ctx, w, 100, map[string]int64{"k1": 3, "k2": 1}))
	must(db.Add(ctx, w, 100, map[string]int64{"k1": 4}))
	must(db.Add(ctx, w, 101, map[string]int64{"k1": 10}))
	must(da.Add(ctx, w, 99, map[string]int64{"k1": 1000}))    // before the range
	must(da.Add(ctx, 2*w, 100, map[string]int64{"k1": 1000})) // another window length
	must(da.Add(ctx, w, 100, nil))                            // nothing to add
	got := map[string]int64{}
	must(da.Totals(ctx, w, 100, 101, func(k string, n int64) { got[k] += n }))
	if len(got) != 2 || got["k1"] != 17 || got["k2"] != 1 {
		t.Errorf("Totals = %v, want k1:17 k2:1", got)
	}
	key := da.bucketKey(w, 100)
	ttl, err := strconv.Atoi(srv.MustDo("PTTL", key))
	if err != nil || ttl <= 0 || ttl > int(2*w/time.Millisecond) {
		t.Errorf("PTTL %s = %d (%v), want in (0, %d]", key, ttl, err, 2*w/time.Millisecond)
	}
	if err := da.Totals(ctx, w, 1, MaxDemandBuckets+1, func(string, int64) {}); err == nil {
		t.Errorf("Totals of %d buckets: no error, want the bound %d", MaxDemandBuckets+1, MaxDemandBuckets)
	}
	if st := a.Stats(); st.Invalidations != 0 {
		t.Errorf("counting invalidated %d cache entries", st.Invalidations)
	}
}

// TestDemandCounterPrefix: the counters never live under the tracked
// prefix, even when the prefix looks like theirs.
func TestDemandCounterPrefix(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	for _, prefix := range []string{"pricing:", "demand:", "d", "demand:x:"} {
		s := open(t, Options{URL: srv.URL(), Prefix: prefix})
		k := NewDemandCounter(s).bucketKey(time.Minute, 1)
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			t.Errorf("prefix %q: counter key %q is under it", prefix, k)
		}
	}
}

// TestDemandCounterMultipliers: the first proposal of a period is stored
// as a whole and every later caller (proposing or reading) gets it; an
// empty proposal settles a period too; periods and window lengths are
// apart; the hash expires three windows after it was settled.
func TestDemandCounterMultipliers(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	a, b := NewDemandCounter(open(t, Options{URL: srv.URL()})), NewDemandCounter(open(t, Options{URL: srv.URL()}))
	ctx := context.Background()
	const w = time.Minute
	settle := func(d *DemandCounter, window time.Duration, period int64, propose map[string]string) (bool, map[string]string) {
		t.Helper()
		got := map[string]string{}
		ok, err := d.Multipliers(ctx, window, period, propose, func(k, v string) { got[k] = v })
		if err != nil {
			t.Fatal(err)
		}
		return ok, got
	}
	if ok, got := settle(a, w, 7, nil); ok || len(got) != 0 {
		t.Errorf("read of an unsettled period: %v %v, want false and nothing", ok, got)
	}
	first := map[string]string{"k1": "1.05", "k2": "1.1"}
	if ok, got := settle(a, w, 7, first); !ok || fmt.Sprint(got) != fmt.Sprint(first) {
		t.Errorf("first proposal: %v %v, want true %v", ok, got, first)
	}
	// A later proposal changes nothing, not even a key the first left at 1.
	if ok, got := settle(b, w, 7, map[string]string{"k1": "1.15", "k3": "1.05"}); !ok || fmt.Sprint(got) != fmt.Sprint(first) {
		t.Errorf("second proposal: %v %v, want true %v", ok, got, first)
	}
	if ok, got := settle(b, w, 7, nil); !ok || fmt.Sprint(got) != fmt.Sprint(first) {
		t.Errorf("read: %v %v, want true %v", ok, got, first)
	}
	// Everything at 1: settled, no keys; a later proposal changes nothing.
	if ok, got := settle(a, w, 8, map[string]string{}); !ok || len(got) != 0 {
		t.Errorf("empty proposal: %v %v, want true and nothing", ok, got)
	}
	if ok, got := settle(b, w, 8, map[string]string{"k1": "1.2"}); !ok || len(got) != 0 {
		t.Errorf("after an empty proposal: %v %v, want true and nothing", ok, got)
	}
	if ok, _ := settle(a, 2*w, 7, nil); ok {
		t.Errorf("another window length's period 7 is settled")
	}
	key := a.periodKey(w, 7)
	ttl, err := strconv.Atoi(srv.MustDo("PTTL", key))
	if err != nil || ttl <= int(2*w/time.Millisecond) || ttl > int(3*w/time.Millisecond) {
		t.Errorf("PTTL %s = %d (%v), want in (%d, %d]", key, ttl, err, 2*w/time.Millisecond, 3*w/time.Millisecond)
	}
	if strings.HasPrefix(key, "pricing:") || key == a.bucketKey(w, 7) {
		t.Errorf("period key %q is under the tracked prefix or is a bucket's", key)
	}
}
