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
