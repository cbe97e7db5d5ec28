package main

import (
	"testing"
	"time"
)

func TestLogThrottle(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	var th logThrottle
	for _, step := range []struct {
		at   time.Duration
		want bool
	}{
		{0, true},
		{time.Second, false},
		{time.Minute - time.Nanosecond, false},
		{time.Minute, true},
		{time.Minute + 30*time.Second, false},
		{2 * time.Minute, true},
		{10 * time.Minute, true},
	} {
		if got := th.allow(t0.Add(step.at)); got != step.want {
			t.Fatalf("allow at +%v = %v, want %v", step.at, got, step.want)
		}
	}
}
