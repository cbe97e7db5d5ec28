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
