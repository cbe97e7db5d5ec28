package main

import (
	"os/exec"
	"runtime"
	"testing"
)

// TestE2ELoopsFollowGOMAXPROCS checks that with the default --loops 0 the
// binary runs as many event loops as GOMAXPROCS allows, whether GOMAXPROCS
// comes from the environment or from the CPU affinity mask (a container's
// CPU limit reaches it the same way), and that it leaves GOMAXPROCS as Go
// sized it. The "serving" log line reports both.
func TestE2ELoopsFollowGOMAXPROCS(t *testing.T) {
	bin := serverBinary(t)
	taskset, tasksetErr := exec.LookPath("taskset")
	cases := []struct {
		name string
		cmd  func() *exec.Cmd
		env  []string
		want float64
	}{
		{"GOMAXPROCS=1", func() *exec.Cmd { return exec.Command(bin, loopbackArgs...) }, []string{"GOMAXPROCS=1"}, 1},
		{"taskset -c 0", func() *exec.Cmd {
			return exec.Command(taskset, append([]string{"-c", "0", bin}, loopbackArgs...)...)
		}, nil, 1},
		{"--loops 3", func() *exec.Cmd { return exec.Command(bin, append([]string{"--loops", "3"}, loopbackArgs...)...) }, []string{"GOMAXPROCS=1"}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "taskset -c 0" && tasksetErr != nil {
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
			// GOMAXPROCS is left as Go sized it: never raised above the CPUs.
			if got, _ := rec["gomaxprocs"].(float64); got != 1 {
				t.Errorf(`"serving" line: gomaxprocs=%v, want 1 (%v)`, rec["gomaxprocs"], rec)
			}
		})
	}
}
