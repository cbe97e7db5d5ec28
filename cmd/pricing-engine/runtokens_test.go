package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pricing-engine/pricing-engine/admin"
)

// TestRunWritesAdminTokens runs the script make run calls: the file it
// writes has mode 0600 and one write token named local that the engine's
// tokens loader accepts; what it prints names the file and not the
// token; a second run writes a fresh token.
func TestRunWritesAdminTokens(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bin", "admin-tokens")
	run := func() (string, string) {
		t.Helper()
		out, err := exec.Command("../../scripts/admin-token.sh", file).CombinedOutput()
		if err != nil {
			t.Fatalf("admin-token.sh: %v\n%s", err, out)
		}
		fi, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", file, fi.Mode().Perm())
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?m)^local write ([0-9a-f]{64})$`).FindStringSubmatch(string(b))
		if m == nil {
			t.Fatalf("%s holds no line \"local write <64 hex>\":\n%s", file, b)
		}
		if strings.Contains(string(out), m[1]) {
			t.Errorf("admin-token.sh printed the token:\n%s", out)
		}
		if !strings.Contains(string(out), file) {
			t.Errorf("admin-token.sh does not print the file's path:\n%s", out)
		}
		return string(out), m[1]
	}
	_, first := run()
	tokens, err := admin.LoadTokens(file)
	if err != nil {
		t.Fatalf("the engine refuses the tokens file: %v", err)
	}
	if name, scope, ok := tokens.Authenticate(first); !ok || name != "local" || scope != admin.ScopeWrite {
		t.Errorf("Authenticate(token) = %q, %v, %v; want local with write scope", name, scope, ok)
	}
	if _, second := run(); second == first {
		t.Error("a second run kept the token: want a fresh one")
	}

	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	target := regexp.MustCompile(`(?m)^run: .*\n((?:\t.*\n)+)`).FindSubmatch(mk)
	if target == nil {
		t.Fatal("Makefile has no run target")
	}
	recipe := string(target[1])
	if !strings.Contains(recipe, "scripts/admin-token.sh $(ADMIN_TOKENS)") || !strings.Contains(recipe, "--admin-tokens-file $(ADMIN_TOKENS)") {
		t.Errorf("make run does not write the tokens file and pass it to the engine:\n%s", recipe)
	}
}
