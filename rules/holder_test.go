package rules

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/testfile"
	"github.com/pricing-engine/pricing-engine/internal/testwait"
)

const (
	goodV1 = "version: v1\nguards:\n  floor: 0.8\n  ceiling: 2\nending: \"0.99\"\n"
	goodV2 = "version: v2\nmember_discount: 0.1\ndemand:\n  window: 60s\n  tiers:\n    - {above: 100, multiplier: 1.05}\n    - {above: 500, multiplier: 1.15}\n"
)

// recorder collects a Holder's hooks.
type recorder struct {
	mu      sync.Mutex
	applied []string
	refused []error
}

func (r *recorder) config() HolderConfig {
	return HolderConfig{
		Settle: time.Millisecond,
		OnApplied: func(rs *Ruleset) {
			r.mu.Lock()
			r.applied = append(r.applied, rs.Version)
			r.mu.Unlock()
		},
		OnRefused: func(err error) {
			r.mu.Lock()
			r.refused = append(r.refused, err)
			r.mu.Unlock()
		},
	}
}

func (r *recorder) counts() (int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.applied), len(r.refused)
}

func (r *recorder) lastRefused() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.refused) == 0 {
		return nil
	}
	return r.refused[len(r.refused)-1]
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestHolderReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	write(t, path, goodV1)
	rs, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder
	h := NewHolder(rs, rec.config())

	// The same file again changes nothing and refuses nothing.
	if got, err := h.Reload(path); err != nil || got != rs || h.Load() != rs {
		t.Fatalf("same file: %v", err)
	}
	// A good new file applies.
	write(t, path, goodV2)
	got, err := h.Reload(path)
	if err != nil || got.Version != "v2" || h.Load().Version != "v2" {
		t.Fatalf("good file: %v", err)
	}
	// A bad file is refused with file, line and reason; v2 keeps serving.
	write(t, path, "version: v3\nguards:\n  floor: 3\n  ceiling: 2\n")
	got, err = h.Reload(path)
	var list ErrorList
	if err == nil || got.Version != "v2" || h.Load().Version != "v2" || !errors.As(err, &list) ||
		!strings.Contains(err.Error(), "rules.yaml:3: guards.floor: floor 3 is above ceiling 2") {
		t.Fatalf("bad file: %v, in use %s", err, h.Load().Version)
	}
	// The version in use with other content is refused.
	write(t, path, strings.Replace(goodV2, "0.1", "0.2", 1))
	if _, err := h.Reload(path); !errors.Is(err, ErrSameVersion) || h.Load().MemberDiscount.String() != "0.1" {
		t.Fatalf("same version, other content: %v", err)
	}
	// A missing file is refused.
	if _, err := h.Reload(filepath.Join(dir, "gone.yaml")); err == nil || h.Load().Version != "v2" {
		t.Fatalf("missing file: %v", err)
	}
	applied, refused := rec.counts()
	if applied != 1 || refused != 3 || h.Refused() != 3 {
		t.Errorf("applied %d refused %d (Refused() %d), want 1 and 3", applied, refused, h.Refused())
	}
}

// TestHolderSameVersionGrown: a valid first half read during an in-place
// write, then the whole file with the same version, applies (the file
// grew); anything else with that version does not.
func TestHolderSameVersionGrown(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	h := NewHolder(nil, HolderConfig{Settle: -1})
	half := goodV2[:strings.Index(goodV2, "demand:")]
	write(t, path, half)
	if rs, err := h.Reload(path); err != nil || rs.Demand != nil {
		t.Fatalf("half: %v", err)
	}
	write(t, path, goodV2)
	if rs, err := h.Reload(path); err != nil || rs.Demand == nil {
		t.Fatalf("the whole file: %v", err)
	}
}

// TestHolderReloadSettles: Reload waits for a file being written in
// place to stop changing.
func TestHolderReloadSettles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	write(t, path, goodV1)
	h := NewHolder(nil, HolderConfig{Settle: 20 * time.Millisecond})
	// A writer appends the file in pieces while Reload reads.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer f.Close()
		for _, line := range strings.SplitAfter(goodV2, "\n") {
			_, _ = f.WriteString(line)
			time.Sleep(5 * time.Millisecond) // the writer is slow (not synchronisation)
		}
	}()
	rs, err := h.Reload(path)
	<-done
	if err != nil {
		// The writer may still have been at it for every read: refused,
		// and a reload after it finished applies.
		if rs, err = h.Reload(path); err != nil {
			t.Fatal(err)
		}
	}
	if rs.Version != "v2" || rs.Demand == nil || len(rs.Demand.Tiers) != 2 {
		t.Fatalf("took a half-written file: %+v", rs)
	}
}

// waitFor polls cond until it holds or the bound passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, 5*time.Second, what, cond)
}

func TestHolderWatch(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	write(t, path, goodV1)
	rs, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder
	h := NewHolder(rs, rec.config())
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); h.Watch(ctx, path, 5*time.Millisecond) }()
	defer func() { cancel(); <-stopped }()

	// Write-then-rename.
	testfile.Replace(t, path, goodV2)
	waitFor(t, "v2 after a rename", func() bool { return h.Load().Version == "v2" })

	// In place, half written: the half is invalid YAML and refused (once),
	// v2 keeps serving; the complete file is picked up.
	v3 := strings.Replace(goodV2, "v2", "v3", 1)
	half := v3[:strings.Index(v3, "above: 500")+8] // ends inside a flow mapping
	write(t, path, half)
	waitFor(t, "the half-written file to be refused", func() bool { _, r := rec.counts(); return r == 1 })
	if h.Load().Version != "v2" {
		t.Fatalf("a half-written file replaced v2")
	}
	if err := rec.lastRefused(); !strings.Contains(err.Error(), "rules.yaml:6: invalid YAML: did not find expected ',' or '}'") {
		t.Errorf("refusal: %v", err)
	}
	write(t, path, v3)
	waitFor(t, "v3 after the write completed", func() bool { return h.Load().Version == "v3" })

	// A bad file: refused, reported once however long it stays.
	write(t, path, "version: v4\nending: 7\n")
	waitFor(t, "the bad file to be refused", func() bool { _, r := rec.counts(); return r == 2 })
	// Evidence that the watcher went on polling the bad file: it picks up
	// the next good one; the bad one was not reported again meanwhile.
	testfile.Replace(t, path, strings.Replace(goodV1, "v1", "v5", 1))
	waitFor(t, "v5", func() bool { return h.Load().Version == "v5" })
	applied, refused := rec.counts()
	if applied != 3 || refused != 2 {
		t.Errorf("applied %d refused %d, want 3 and 2", applied, refused)
	}
	// The file goes away (mid-rename): nothing is refused, v5 stays.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	testfile.Replace(t, path, strings.Replace(goodV1, "v1", "v6", 1))
	waitFor(t, "v6", func() bool { return h.Load().Version == "v6" })
	if _, refused := rec.counts(); refused != 2 {
		t.Errorf("a missing file was refused")
	}
}
