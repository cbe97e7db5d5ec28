// Package scripts holds the repository's shell scripts; its tests run them
// against fake system tools.
package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeSystem is a PATH of fake dpkg-query, apt-get and sudo that record their
// calls in dir/calls and keep the installed packages in dir/installed.
func fakeSystem(t *testing.T, installed []string, withSudo bool) (dir string, env []string) {
	t.Helper()
	// Not t.TempDir: the not-root cases run the script as nobody, who must
	// be able to use (and write) the fake system.
	dir, err := os.MkdirTemp("", "install-deps-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/bash\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "calls"), nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "installed"), []byte(strings.Join(installed, "\n")+"\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"calls", "installed"} { // past the umask
		if err := os.Chmod(filepath.Join(dir, f), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	// dpkg-query -W -f=FORMAT PACKAGE
	write("dpkg-query", `grep -qx "$3" "`+dir+`/installed" && { echo -n installed; exit 0; }; exit 1`+"\n")
	write("apt-get", `echo "apt-get $*" >> "`+dir+`/calls"
if [[ $1 == install ]]; then for a in "$@"; do [[ $a == -* || $a == install ]] || echo "$a" >> "`+dir+`/installed"; done; fi`+"\n")
	if withSudo {
		write("sudo", `echo "sudo" >> "`+dir+`/calls"; exec "$@"`+"\n")
	}
	for _, tool := range []string{"bash", "grep", "env", "id"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(p, filepath.Join(dir, tool)); err != nil {
			t.Fatal(err)
		}
	}
	return dir, []string{"PATH=" + dir}
}

func runScript(t *testing.T, env []string, asNobody bool, args ...string) (int, string) {
	t.Helper()
	script, err := filepath.Abs("install-deps.sh")
	if err != nil {
		t.Fatal(err)
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal(err)
	}
	cmdArgs := append([]string{script}, args...)
	cmd := exec.Command(bash, cmdArgs...)
	if asNobody {
		setpriv, err := exec.LookPath("setpriv")
		if err != nil || os.Geteuid() != 0 {
			t.Skip("needs root and setpriv (util-linux) to run the script as another user")
		}
		cmd = exec.Command(setpriv, append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", bash}, cmdArgs...)...)
	}
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, string(out)
}

func calls(t *testing.T, dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "calls"))
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var all = []string{"prometheus", "chromium", "wrk", "redis-server", "redis-tools", "haproxy"}

func TestInstallDeps(t *testing.T) {
	t.Run("all installed: nothing runs", func(t *testing.T) {
		dir, env := fakeSystem(t, all, false)
		if code, out := runScript(t, env, false); code != 0 || calls(t, dir) != "" {
			t.Fatalf("exit %d, calls %q\n%s", code, calls(t, dir), out)
		}
	})
	t.Run("missing as root: one update, then only the missing", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("runs as root only")
		}
		dir, env := fakeSystem(t, []string{"prometheus", "redis-server", "redis-tools", "haproxy"}, false)
		code, out := runScript(t, env, false)
		want := "apt-get update -qq\napt-get install -y -qq --no-install-recommends chromium wrk\n"
		if code != 0 || calls(t, dir) != want {
			t.Fatalf("exit %d, calls %q, want %q\n%s", code, calls(t, dir), want, out)
		}
		// A second run finds everything installed.
		if code, _ := runScript(t, env, false); code != 0 || calls(t, dir) != want {
			t.Fatalf("second run: exit %d, calls %q", code, calls(t, dir))
		}
	})
	t.Run("--locust adds python3-locust", func(t *testing.T) {
		dir, env := fakeSystem(t, all, false)
		if code, out := runScript(t, env, false, "--locust", "--check"); code != 1 || !strings.Contains(out, "missing Debian packages: python3-locust") || calls(t, dir) != "" {
			t.Fatalf("exit %d, calls %q\n%s", code, calls(t, dir), out)
		}
	})
	t.Run("not root, sudo: through sudo", func(t *testing.T) {
		dir, env := fakeSystem(t, all[1:], true)
		code, out := runScript(t, env, true)
		if code != 0 || !strings.Contains(calls(t, dir), "sudo\napt-get install -y -qq --no-install-recommends prometheus\n") {
			t.Fatalf("exit %d, calls %q\n%s", code, calls(t, dir), out)
		}
	})
	t.Run("not root, no sudo: names the missing and fails", func(t *testing.T) {
		dir, env := fakeSystem(t, all[2:], false)
		code, out := runScript(t, env, true)
		if code != 1 || !strings.Contains(out, "missing Debian packages: prometheus chromium") || calls(t, dir) != "" {
			t.Fatalf("exit %d, calls %q\n%s", code, calls(t, dir), out)
		}
	})
}
