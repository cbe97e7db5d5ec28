package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/pricing-engine/pricing-engine/internal/testfile"
)

// TestE2ERulesHalfWrittenRename: a half-written file renamed over the
// rules (a writer that renames before it has finished, or a truncated
// copy) is refused like any bad file (counted, logged with file, line and
// reason) while the old rules keep answering every request; the whole
// file renamed after it applies. (The in-place half write is
// TestE2ERulesReload's last step.)
func TestE2ERulesHalfWrittenRename(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeRules(t, path, rulesV1)
	p := startServer(t, append(loopbackArgs, "--rules", path, "--drain-delay", "0s"))
	if v := p.version(); v != "e2e.1" {
		t.Fatalf("version %q at start, want e2e.1", v)
	}
	full := strings.Replace(rulesV1, "e2e.1", "e2e.6", 1)
	cut := strings.Index(full, "multiplier: 1.05") // inside the tiers: invalid alone
	testfile.Replace(t, path, full[:cut])
	waitFor(t, reloadDeadline, "refusal of the half-written file", func() bool {
		return p.metric("pricing_rules_reloads_refused_total") == "1"
	})
	waitFor(t, reloadDeadline, "a refusal log line naming rules.yaml", func() bool {
		return p.hasLog("rules reload refused; the old rules keep serving", "rules.yaml:")
	})
	// Every request meanwhile is answered with the old rules.
	for i := range 20 {
		if code, got := p.price(p.api, `{"product_id":"P-3","user_location":"NY"}`); code != 200 || !strings.Contains(got, `"ruleset_version":"e2e.1"`) {
			t.Fatalf("request %d after the half-written file: %d %s", i, code, got)
		}
	}
	testfile.Replace(t, path, full)
	waitFor(t, reloadDeadline, "e2e.6 after the whole file is renamed in", func() bool { return p.version() == "e2e.6" })
	if got := p.metric("pricing_rules_reloads_refused_total"); got != "1" {
		t.Errorf("refused reloads %s after the whole file, want 1", got)
	}
}
