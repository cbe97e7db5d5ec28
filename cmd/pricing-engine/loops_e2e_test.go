package main

import (
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// TestE2ELoopsFollowGOMAXPROCS checks that with the default --loops 0 the
// binary runs as many event loops as GOMAXPROCS allows, whether GOMAXPROCS
// comes from the environment or from the CPU affinity mask (a container's
// CPU limit reaches it the same way), and that it leaves GOMAXPROCS as Go
// sized it, except that lookups that wait get a second P on one CPU
// (waitingProcs) unless GOMAXPROCS is set. The "serving" log line reports
// both.
func TestE2ELoopsFollowGOMAXPROCS(t *testing.T) {
	bin := serverBinary(t)
	taskset, tasksetErr := exec.LookPath("taskset")
	cases := []struct {
		name string
		cmd  func() *exec.Cmd
		env  []string
		want float64 // loops
		// procs is the GOMAXPROCS the line reports: Go's own sizing
		// (1 here), or waitingProcs for lookups that wait.
		procs float64
	}{
		{"GOMAXPROCS=1", func() *exec.Cmd { return exec.Command(bin, loopbackArgs...) }, []string{"GOMAXPROCS=1"}, 1, 1},
		{"taskset -c 0", func() *exec.Cmd {
			return exec.Command(taskset, append([]string{"-c", "0", bin}, loopbackArgs...)...)
		}, nil, 1, 1},
		{"--loops 3", func() *exec.Cmd { return exec.Command(bin, append([]string{"--loops", "3"}, loopbackArgs...)...) }, []string{"GOMAXPROCS=1"}, 3, 1},
		{"taskset -c 0, seed profile", func() *exec.Cmd {
			return exec.Command(taskset, append([]string{"-c", "0", bin, "--lookup-latency", "seed"}, loopbackArgs...)...)
		}, nil, 1, waitingProcs},
		{"GOMAXPROCS=1, seed profile", func() *exec.Cmd {
			return exec.Command(bin, append([]string{"--lookup-latency", "seed"}, loopbackArgs...)...)
		}, []string{"GOMAXPROCS=1"}, 1, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if strings.HasPrefix(tc.name, "taskset") && tasksetErr != nil {
				t.Fatalf("taskset (util-linux) is needed: %v", tasksetErr)
			}
			if tc.want == 1 && runtime.NumCPU() < 2 {
				t.Logf("one CPU only: the case cannot tell GOMAXPROCS from the host's CPU count")
			}
			p := startCommand(t, tc.cmd(), tc.env...)
			rec, _ := p.logRecord("serving")
			if got, _ := rec["loops"].(float64); got != tc.want {
				t.Errorf(`"serving" line: loops=%v, want %v (%v)`, rec["loops"], tc.want, rec)
			}
			if got, _ := rec["gomaxprocs"].(float64); got != tc.procs {
				t.Errorf(`"serving" line: gomaxprocs=%v, want %v (%v)`, rec["gomaxprocs"], tc.procs, rec)
			}
		})
	}
}
