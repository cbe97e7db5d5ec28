package arch

import (
	"bufio"
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// module is the module path; rules name the packages to check relative
// to it ("lookup/...").
const module = "github.com/pricing-engine/pricing-engine"

// Forbidden dependencies outside the module.
const (
	gnet    = "github.com/panjf2000/gnet"
	rueidis = "github.com/redis/rueidis"
	nethttp = "net/http"
)

// own returns the full paths of the module's packages named relative to
// it; own("") is the module itself, so every package of it.
func own(names ...string) []string {
	for i, n := range names {
		names[i] = strings.TrimSuffix(module+"/"+n, "/")
	}
	return names
}

// rule says that the packages matching pkgs must not depend on any of
// forbidden: a package path, which also forbids the packages under it
// ("github.com/redis/rueidis" forbids ".../rueidis/internal/cmds").
type rule struct {
	pkgs      string   // a go list pattern, relative to the module
	forbidden []string // full package paths
	allowed   []string // full package paths excepted from forbidden
	// direct checks only the packages' own imports, not what their
	// imports import.
	direct bool
	// pending, when set, skips the rule: it does not hold yet, for the
	// reason given.
	pending string
}

var rules = []rule{
	// The server knows a pricing engine only as package pricer's
	// interfaces: nothing it builds on stores, prices or counts demand.
	{pkgs: "server", forbidden: own("lookup", "rules", "demand", "pricing")},
	{pkgs: "pricer", forbidden: own(""), allowed: own("internal/loophost")}, // nothing of the module but the leaf of loop-host interfaces
	{pkgs: "internal/loophost", forbidden: own("")},
	{pkgs: "internal/jsonstr", forbidden: own("")},
	{pkgs: "internal/pairkey", forbidden: own("")},  // the key encoding demand and history share
	{pkgs: "internal/testfile", forbidden: own("")}, // a test helper
	{pkgs: "internal/testwait", forbidden: own("")}, // a test helper
	{pkgs: "lookup/...", forbidden: own("rules", "pricing", "demand")},
	{pkgs: "rules", forbidden: append(own("server", "lookup"), gnet, rueidis, nethttp)},
	{pkgs: "httpparse", forbidden: append(own("pricing"), gnet)},
	{pkgs: "money", forbidden: own("")}, // nothing of the module
	{pkgs: "demand", forbidden: []string{nethttp, gnet}},
	// history keeps prices by day: it knows neither the rules that made
	// them nor where they are stored.
	{pkgs: "history", forbidden: append(own("rules", "lookup", "pricing", "demand", "server"), nethttp, gnet, rueidis)},
	// trace carries request identity and spans; it knows neither the
	// pricing domain nor the connections.
	{pkgs: "trace", forbidden: append(own("pricing", "pricer", "server", "lookup", "rules", "demand"), gnet)},
	// admin drives a lookup.Writer: it knows neither the event loops nor
	// the price path nor Redis (lookup/redisstore implements the writes).
	{pkgs: "admin", forbidden: append(own("server", "pricing", "rules", "demand", "lookup/redisstore"), gnet, rueidis)},
	// quote signs and verifies tokens: it knows no request path, store
	// or transport.
	{pkgs: "quote", forbidden: append(own("pricing", "pricer", "server", "lookup", "rules", "demand", "admin"), gnet, rueidis, nethttp)},
	// The Redis client, the key schema and the import live in
	// lookup/redisstore: the command wires, it does not talk to Redis.
	{pkgs: "cmd/pricing-engine", forbidden: []string{rueidis}, direct: true},
}

func TestImportRules(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("cannot find the go command: %v", err)
	}
	for _, r := range rules {
		t.Run(r.pkgs, func(t *testing.T) {
			deps := list(t, goBin, r.pkgs, r.direct)
			if len(deps) == 0 {
				t.Fatalf("go list matched no package for %q", r.pkgs)
			}
			var bad []string
			for pkg, ds := range deps {
				for _, d := range ds {
					if d != pkg && forbids(r.forbidden, d) && !slices.Contains(r.allowed, d) {
						bad = append(bad, strings.TrimPrefix(pkg, module+"/")+" -> "+d)
					}
				}
			}
			slices.Sort(bad)
			if r.pending != "" {
				t.Skipf("pending (%s); violations today: %v", r.pending, bad)
			}
			if len(bad) > 0 {
				t.Errorf("forbidden dependencies:\n\t%s", strings.Join(bad, "\n\t"))
			}
		})
	}
}

// forbids reports whether dep is one of forbidden or under one of them.
func forbids(forbidden []string, dep string) bool {
	for _, f := range forbidden {
		if dep == f || strings.HasPrefix(dep, f+"/") {
			return true
		}
	}
	return false
}

// list returns, for every package matching pattern, its dependencies
// (all of them, or only its own imports when direct), as go list sees
// them for the current platform, tests excluded.
func list(t *testing.T, goBin, pattern string, direct bool) map[string][]string {
	t.Helper()
	field := ".Deps"
	if direct {
		field = ".Imports"
	}
	cmd := exec.Command(goBin, "list", "-f", "{{.ImportPath}}{{range "+field+"}} {{.}}{{end}}", module+"/"+pattern)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cannot list %s: %v\n%s", pattern, err, stderr.Bytes())
	}
	deps := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 {
			deps[f[0]] = f[1:]
		}
	}
	return deps
}

// TestForbids pins the matching: a path forbids itself and what is under
// it, not a sibling that shares its prefix.
func TestForbids(t *testing.T) {
	for _, tc := range []struct {
		forbidden []string
		dep       string
		want      bool
	}{
		{own("lookup"), module + "/lookup", true},
		{own("lookup"), module + "/lookup/redisstore", true},
		{own("lookup"), module + "/lookupx", false},
		{[]string{nethttp}, "net/http", true},
		{[]string{nethttp}, "net/http/httptrace", true},
		{[]string{nethttp}, "net/netip", false},
		{[]string{rueidis}, "github.com/redis/rueidis/internal/cmds", true},
		{own(""), module + "/money", true},
		{own(""), "strconv", false},
	} {
		if got := forbids(tc.forbidden, tc.dep); got != tc.want {
			t.Errorf("forbids(%q, %q) = %v, want %v", tc.forbidden, tc.dep, got, tc.want)
		}
	}
}
