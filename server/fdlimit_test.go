package server

import "testing"

func TestMaxConnsForFDLimit(t *testing.T) {
	for _, tc := range []struct {
		nofile uint64
		want   int
	}{
		{64, 1},            // below the minimum headroom
		{256, 128},         // headroom 128 (the minimum)
		{1024, 896},        // headroom 128
		{20000, 17500},     // headroom 2500 (an eighth)
		{65536, 61440},     // headroom 4096 (the maximum)
		{1 << 20, 100_000}, // capped at DefaultMaxConns
		{1 << 62, 100_000}, // "unlimited"
	} {
		if got := MaxConnsForFDLimit(tc.nofile); got != tc.want {
			t.Errorf("MaxConnsForFDLimit(%d) = %d, want %d", tc.nofile, got, tc.want)
		}
	}
}

// TestReserveFitsHeadroom: the acceptor's reserve plus the registrations
// in flight (each at most the reserve) take at most half the headroom.
func TestReserveFitsHeadroom(t *testing.T) {
	for _, tc := range []struct {
		nofile uint64
		want   int
	}{
		{64, 32},     // headroom 128
		{256, 32},    // headroom 128
		{20000, 256}, // headroom 2500: capped
		{1 << 62, 256},
	} {
		got := reserveFor(tc.nofile)
		if got != tc.want {
			t.Errorf("reserveFor(%d) = %d, want %d", tc.nofile, got, tc.want)
		}
		if h := fdHeadroom(tc.nofile); uint64(2*got) > h/2 {
			t.Errorf("reserveFor(%d) = %d: twice that exceeds half the headroom %d", tc.nofile, got, h)
		}
	}
}

// TestLoopAcceptFits: the loops accept only when the connection limit,
// the descriptors open, five per loop and two shares of the headroom fit
// the descriptor limit.
func TestLoopAcceptFits(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		maxConns, loops, open int
		nofile                uint64
		want                  bool
	}{
		{"default limit, 2 loops", MaxConnsForFDLimit(256), 2, 20, 256, true},  // 128+20+10+64 = 222
		{"default limit, 8 loops", MaxConnsForFDLimit(256), 8, 30, 256, false}, // 128+30+40+64 = 262
		{"default limit, 16 loops", MaxConnsForFDLimit(256), 16, 20, 256, false},
		{"limit past the descriptors", 100_000, 2, 20, 20000, false},
		{"default at 20000", MaxConnsForFDLimit(20000), 2, 30, 20000, true},
		{"default at 1M, 64 loops", MaxConnsForFDLimit(1 << 20), 64, 100, 1 << 20, true},
		{"exactly full", 1000 - 10 - 5 - 2*fdShare(1000), 1, 10, 1000, true},
		{"one over", 1000 - 10 - 5 - 2*fdShare(1000) + 1, 1, 10, 1000, false},
	} {
		if got := loopAcceptFits(tc.maxConns, tc.loops, tc.nofile, tc.open); got != tc.want {
			t.Errorf("%s: loopAcceptFits(%d, %d, %d, %d) = %v, want %v", tc.name, tc.maxConns, tc.loops, tc.nofile, tc.open, got, tc.want)
		}
	}
}
