package testwait

import (
	"testing"
	"time"
)

func TestUntil(t *testing.T) {
	for _, tc := range []struct {
		name   string
		trueAt int // the call from which cond holds; 0: never
		want   bool
	}{
		{"at once", 1, true},
		{"after a few polls", 4, true},
		{"never", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			got := Until(50*time.Millisecond, func() bool {
				calls++
				return tc.trueAt > 0 && calls >= tc.trueAt
			})
			if got != tc.want {
				t.Fatalf("Until = %v after %d calls, want %v", got, calls, tc.want)
			}
			if tc.want && calls != tc.trueAt {
				t.Fatalf("polled %d times, want %d (it stops once cond holds)", calls, tc.trueAt)
			}
		})
	}
}
