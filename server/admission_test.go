package server

import (
	"fmt"
	"math"
	"math/bits"
	"strings"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/pricing"
)

// The size classes of admission hold every batch size apart.
var _ = [1<<admissionClasses - 1 - pricing.MaxBatchItems]struct{}{}

// TestAdmissionControl drives one loop's controller with synthetic
// sojourn samples (no clock, no sleeping): a standing queue above the
// target makes it shed a growing, bounded share of requests; short
// sojourns, or none at all, bring it back to admitting everything.
func TestAdmissionControl(t *testing.T) {
	s := newAsyncBenchServer(t)
	lp := &loop{srv: s}
	target := s.cfg.QueueTarget
	if target != DefaultQueueTarget {
		t.Fatalf("QueueTarget %v, want the default %v", target, DefaultQueueTarget)
	}
	now := time.Unix(1000, 0).UnixNano()
	// interval feeds one interval of samples with the given sojourn and
	// returns how many of 100 requests are admitted afterwards.
	interval := func(sojourn time.Duration, samples int) int {
		for i := range samples {
			at := now + int64(i)*int64(time.Millisecond)
			lp.adm.wakeAt.Store(at - int64(sojourn))
			lp.sampleSojourn(at)
		}
		now += int64(admissionInterval)
		lp.adm.wakeAt.Store(0)
		lp.sampleSojourn(now)
		lp.now = time.Unix(0, now)
		admitted := 0
		for range 100 {
			if lp.admit(routePrice, nil) {
				admitted++
			}
		}
		return admitted
	}
	if got := interval(0, 1); got != 100 {
		t.Fatalf("idle loop admitted %d of 100", got)
	}
	// A burst within one interval: the minimum sojourn stays low.
	if got := interval(10*time.Millisecond, 5); got != 100 {
		t.Fatalf("after a short-sojourn interval admitted %d of 100", got)
	}
	prev := 100
	for i := range 6 {
		got := interval(3*target, 10)
		if got > prev || (i == 0 && got >= 100) {
			t.Fatalf("interval %d over the target: admitted %d after %d", i, got, prev)
		}
		prev = got
	}
	if prev < 100*(1-shedMax)-1 || prev > 100*(1-shedMax)+1 {
		t.Fatalf("standing queue: admitted %d of 100, want about %.0f (shedMax %.2f)", prev, 100*(1-shedMax), shedMax)
	}
	// Sojourns below half the target: the share falls back to 0 within
	// shedMax/shedStep intervals.
	for range 6 { // shedMax/shedStep intervals, rounded up
		prev = interval(target/10, 10)
	}
	if prev != 100 {
		t.Fatalf("after recovery admitted %d of 100", prev)
	}
	// Off when the target is negative.
	s.cfg.QueueTarget = -1
	off := &loop{srv: s}
	off.adm.wakeAt.Store(now - int64(time.Hour))
	off.sampleSojourn(now + int64(time.Hour))
	if off.adm.shed != 0 {
		t.Fatal("admission control with a negative target shed requests")
	}
}

// TestAdmissionJobSojourn: completed jobs that waited longer than the
// target in the server (from their lookups' answer to the reply) make the
// controller shed even when the event fd's own sojourn is short (the
// completions waited for a CPU before they were pushed), and jobs that
// waited less do not.
func TestAdmissionJobSojourn(t *testing.T) {
	s := newAsyncBenchServer(t)
	target := int64(s.cfg.QueueTarget)
	for _, tc := range []struct {
		name     string
		sojourn  int64
		wantShed bool
	}{
		{"standing queue", 3 * target, true},
		{"short wait", target / 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lp := &loop{srv: s}
			now := time.Unix(1000, 0).UnixNano()
			lp.sampleSojourn(now) // opens the first interval
			for i := range 10 {
				at := now + int64(i+1)*int64(time.Millisecond)
				lp.observeSojourn(tc.sojourn)
				lp.adm.wakeAt.Store(at) // the drain itself ran at once
				lp.sampleSojourn(at)
			}
			lp.sampleSojourn(now + int64(admissionInterval)) // closes it
			if got := lp.adm.shed > 0; got != tc.wantShed {
				t.Fatalf("shed share %.2f after jobs of %v", lp.adm.shed, time.Duration(tc.sojourn))
			}
		})
	}
}

// TestAdmissionWeighsBatches: the shed share is a share of items, in each
// size class: with a regular pattern of one batch after every four price
// requests (one accumulator for all would refuse every batch, or none)
// the items refused are the share, for the price requests and for each
// class of batch sizes (2-3, 4-7, ..., 64-127 items) alike.
func TestAdmissionWeighsBatches(t *testing.T) {
	item := `{"product_id":"P-1","user_location":"NY"},`
	batch := func(n int) []byte { return []byte(`{"items":[` + strings.Repeat(item, n)[:n*len(item)-1] + `]}`) }
	tests := []struct {
		shed    float64
		pattern []int // items of each request in turn: 1 is a price request
	}{
		{0.2, []int{100, 1, 1, 1, 1}},
		{0.2, []int{1, 1, 1, 1, 100}},
		{0.5, []int{100, 1}},
		{0.6, []int{2, 1, 64, 3, 1, 100, 7}},
		{shedMax, []int{100, 1, 1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.shed, tt.pattern), func(t *testing.T) {
			lp := &loop{srv: newAsyncBenchServer(t)}
			lp.now = time.Unix(1000, 0)
			lp.adm.windowStart, lp.adm.shed = lp.now.UnixNano(), tt.shed
			asked, refused := map[int]int{}, map[int]int{} // by size class: bits.Len(items)
			const rounds = 200
			for range rounds {
				for _, n := range tt.pattern {
					rt, body := routePrice, []byte(item[:len(item)-1])
					if n > 1 {
						rt, body = routePrices, batch(n)
					}
					asked[bits.Len(uint(n))] += n
					if !lp.admit(rt, body) {
						refused[bits.Len(uint(n))] += n
					}
				}
			}
			for c, a := range asked {
				// An accumulator holds back at most one request's items.
				if share := float64(refused[c]) / float64(a); math.Abs(share-tt.shed) > float64(int(2)<<c)/float64(a) {
					t.Errorf("requests of %d-%d items: %.3f of their items refused, want %.2f", 1<<(c-1), 1<<c-1, share, tt.shed)
				}
			}
		})
	}
}
