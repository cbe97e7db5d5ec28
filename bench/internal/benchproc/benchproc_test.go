package benchproc

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseStatTicks(t *testing.T) {
	// The 11 fields between the state and utime, then utime and stime.
	const mid = " S 1 2 3 4 5 6 7 8 9 10 "
	tests := []struct {
		name, stat string
		want       int64
		wantErr    string
	}{
		{name: "plain", stat: "42 (pricing-engine)" + mid + "150 25 0 0 20 0 4", want: 175},
		{name: "spaces and parens in the name", stat: "42 (a) b (c d))" + mid + "7 3 0", want: 10},
		{name: "zero", stat: "1 (x)" + mid + "0 0", want: 0},
		{name: "trailing newline", stat: "1 (x)" + mid + "1 2 3\n", want: 3},
		{name: "no name", stat: "42 pricing-engine" + mid + "1 2", wantErr: "no ')'"},
		{name: "too short", stat: "42 (x) S 1 2", wantErr: "fields"},
		{name: "not a number", stat: "42 (x)" + mid + "1 y", wantErr: "cannot parse"},
		{name: "negative", stat: "42 (x)" + mid + "-1 2", wantErr: "negative"},
		{name: "empty", stat: "", wantErr: "no ')'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStatTicks([]byte(tt.stat))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseStatTicks(%q) = %d, %v; want an error with %q", tt.stat, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseStatTicks(%q) = %d, %v; want %d", tt.stat, got, err, tt.want)
			}
		})
	}
}

func FuzzParseStatTicks(f *testing.F) {
	f.Add([]byte("42 (pricing-engine) S 1 2 3 4 5 6 7 8 9 10 150 25 0"))
	f.Add([]byte("42 (a) b)"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, err := ParseStatTicks(b); err == nil && v < 0 {
			t.Fatalf("ParseStatTicks(%q) = %d, want >= 0", b, v)
		}
	})
}

func TestCPUTicksOfThisProcess(t *testing.T) {
	before, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Spin until the kernel has charged at least one more tick.
	deadline := time.Now().Add(10 * time.Second)
	for {
		after, err := CPUTime(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if after > before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU time stayed at %v while spinning", before)
		}
	}
	if _, err := CPUTicks(os.Getpid(), -1); err == nil {
		t.Fatal("CPUTicks of pid -1: no error")
	}
}

func TestPoll(t *testing.T) {
	calls := 0
	err := Poll(context.Background(), time.Second, time.Millisecond, func() error {
		if calls++; calls < 3 {
			return net.ErrClosed
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("Poll ready at the third call: %v after %d calls", err, calls)
	}
	if err := Poll(context.Background(), 10*time.Millisecond, time.Millisecond, func() error { return net.ErrClosed }); err != net.ErrClosed {
		t.Fatalf("Poll never ready: %v, want its last error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Poll(ctx, time.Minute, time.Millisecond, func() error { return net.ErrClosed }); err != context.Canceled {
		t.Fatalf("Poll with a done context: %v", err)
	}
}

func TestStartNeverReady(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip(err)
	}
	cmd := exec.Command(sh, "-c", "echo starting; exec sleep 60")
	_, err = Start(context.Background(), cmd, 100*time.Millisecond, func() error { return net.ErrClosed })
	if err == nil || !strings.Contains(err.Error(), "not ready") || !strings.Contains(err.Error(), "starting") {
		t.Fatalf("Start of a server never ready: %v; want not ready with its log", err)
	}
	if cmd.ProcessState == nil {
		t.Fatal("the server that never got ready still runs")
	}
}

func TestPinned(t *testing.T) {
	if got := Pinned(context.Background(), "", "x", "a").Args; strings.Join(got, " ") != "x a" {
		t.Fatalf("Pinned without cpu: %q", got)
	}
	if got := Pinned(context.Background(), "1", "x", "a").Args; strings.Join(got, " ") != "taskset -c 1 x a" {
		t.Fatalf("Pinned on cpu 1: %q", got)
	}
}

func TestStartRedis(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("no redis-server:", err)
	}
	s, addr, err := StartRedis(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 7)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "+PONG\r\n" {
		t.Fatalf("PING answered %q, %v", buf, err)
	}
	if ticks, err := CPUTicks(s.Pid()); err != nil || len(ticks) != 1 {
		t.Fatalf("CPUTicks of redis-server: %v, %v", ticks, err)
	}
}

func TestSpread(t *testing.T) {
	changed := time.Now()
	// Replica j serves the change from changed + j*5ms on.
	worst, err := Spread(changed, 3, 5*time.Second, func(j int) error {
		if time.Since(changed) < time.Duration(j)*5*time.Millisecond {
			return net.ErrClosed
		}
		return nil
	})
	if err != nil || worst < 10*time.Millisecond || worst > 5*time.Second {
		t.Fatalf("Spread = %v, %v; want the third replica's delay, at least 10ms", worst, err)
	}
	_, err = Spread(time.Now(), 2, 20*time.Millisecond, func(j int) error {
		if j == 1 {
			return net.ErrClosed
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "replica 1") || strings.Contains(err.Error(), "replica 0") {
		t.Fatalf("Spread with replica 1 never serving: %v", err)
	}
}

func TestQuantile(t *testing.T) {
	d := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tt := range []struct {
		q    float64
		want time.Duration
	}{{0, 1}, {0.5, 6}, {0.9, 10}, {0.99, 10}, {1, 10}} {
		if got := Quantile(d, tt.q); got != tt.want {
			t.Errorf("Quantile(1..10, %v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	if got := Quantile([]time.Duration{7}, 0.5); got != 7 {
		t.Errorf("Quantile of one = %v", got)
	}
}

func TestSummary(t *testing.T) {
	for _, tt := range []struct {
		delays []time.Duration
		want   string
	}{
		{[]time.Duration{10, 3, 7, 1, 9, 2, 8, 4, 6, 5}, "P50 6ns, P90 10ns, P99 10ns, max 10ns"},
		{[]time.Duration{time.Millisecond}, "P50 1ms, P90 1ms, P99 1ms, max 1ms"},
	} {
		if got := Summary(tt.delays); got != tt.want {
			t.Errorf("Summary = %q, want %q", got, tt.want)
		}
		if !slices.IsSorted(tt.delays) {
			t.Errorf("Summary left %v unsorted", tt.delays)
		}
	}
}
