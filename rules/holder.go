package rules

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// ErrSameVersion is wrapped by a refusal of a file whose version is the
// one in use but whose content differs: a version must name one set of
// rules, or prices could not be reproduced from their ruleset_version.
var ErrSameVersion = errors.New("version already in use with different content")

// DefaultSettle is how long Reload waits between its two reads of the
// file (HolderConfig.Settle).
const DefaultSettle = 50 * time.Millisecond

// maxSettleReads bounds the reads of a file that keeps changing.
const maxSettleReads = 10

// DefaultWatchInterval is how often Watch looks at the file.
const DefaultWatchInterval = time.Second

// HolderConfig configures a Holder's hooks. Both are called with the
// Holder's reload lock held, from the goroutine that reloaded (SIGHUP
// handler, Watch): they must not call Reload.
type HolderConfig struct {
	// OnApplied, if set, is called after a new ruleset took effect.
	OnApplied func(rs *Ruleset)
	// OnRefused, if set, is called when a reload is refused (the error
	// carries file, line and reason); the old ruleset keeps serving.
	OnRefused func(err error)
	// Settle is how long Reload waits between two reads of the file that
	// must be identical before it is parsed (a writer still at work
	// changes it in between). 0: DefaultSettle; negative: read once.
	Settle time.Duration
}

// Holder holds the ruleset in use. Load is a single atomic load, safe
// from any goroutine (the event loops call it per request); reloads
// replace the whole ruleset at once, so a request sees either the old or
// the new rules, never a mix.
type Holder struct {
	cur atomic.Pointer[Ruleset]
	cfg HolderConfig
	mu  sync.Mutex // serializes reloads

	refused atomic.Uint64
}

// NewHolder returns a Holder serving rs (which may be nil: no rules).
func NewHolder(rs *Ruleset, cfg HolderConfig) *Holder {
	if cfg.Settle == 0 {
		cfg.Settle = DefaultSettle
	}
	h := &Holder{cfg: cfg}
	h.cur.Store(rs)
	return h
}

// Load returns the ruleset in use (nil: no rules). It does not allocate.
func (h *Holder) Load() *Ruleset { return h.cur.Load() }

// Refused returns how many reloads were refused since NewHolder.
func (h *Holder) Refused() uint64 { return h.refused.Load() }

// Reload reads and validates the file at path and, if it is good, makes
// it the ruleset in use; it returns the ruleset in use afterwards. It
// reads the file until two reads Settle apart agree, so that a file being
// written in place is not taken half-way. A bad file (unreadable,
// invalid, still changing, or the current version with other content) is
// refused: the old ruleset stays, OnRefused is called and the error is
// returned. A file identical to the one in use changes nothing. Reload
// is safe for concurrent use; reloads are serialized.
func (h *Holder) Reload(path string) (*Ruleset, error) {
	data, err := h.settledRead(path)
	if err != nil {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.refuse(err)
	}
	return h.apply(filepath.Base(path), data)
}

func (h *Holder) settledRead(path string) ([]byte, error) {
	data, err := readLimited(path)
	if err != nil || h.cfg.Settle < 0 {
		return data, err
	}
	for i := 0; i < maxSettleReads; i++ {
		time.Sleep(h.cfg.Settle)
		again, err := readLimited(path)
		if err != nil {
			return nil, err
		}
		if bytes.Equal(again, data) {
			return data, nil
		}
		data = again
	}
	return nil, fmt.Errorf("cannot reload rules from %s: the file kept changing for %d reads", filepath.Base(path), maxSettleReads)
}

func (h *Holder) apply(name string, data []byte) (*Ruleset, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.cur.Load()
	if old != nil && old.sum == sha256.Sum256(data) {
		return old, nil
	}
	rs, err := Parse(name, data)
	if err != nil {
		return h.refuse(fmt.Errorf("cannot reload rules: %w", err))
	}
	// The same version may only come back as the same file grown: the
	// rest of a write whose first part was read and happened to be valid.
	if old != nil && old.Version == rs.Version && !bytes.HasPrefix(data, old.raw) {
		return h.refuse(fmt.Errorf("cannot reload rules from %s: version %q: %w (change the version with the rules)", name, rs.Version, ErrSameVersion))
	}
	h.cur.Store(rs)
	if h.cfg.OnApplied != nil {
		h.cfg.OnApplied(rs)
	}
	return rs, nil
}

func (h *Holder) refuse(err error) (*Ruleset, error) {
	h.refused.Add(1)
	if h.cfg.OnRefused != nil {
		h.cfg.OnRefused(err)
	}
	return h.cur.Load(), err
}

// Watch reloads the file at path when its content changes, until ctx
// ends; it blocks, so run it on a goroutine of its own. Every interval
// (0: DefaultWatchInterval) it reads the file and applies new content
// only once two reads in a row are identical, so a file being written in
// place is not taken half-written while the writer is still at it. A
// bad content is refused once (OnRefused) and not retried until the file
// changes again; a missing file (mid-rename) is waited out silently.
//
// Write-then-rename (write a temporary file in the same directory, then
// rename it over the rules file) is the safe way to change the file: the
// reader sees the old or the new bytes, never a mix. An in-place writer
// that pauses longer than interval mid-file may be read half-written;
// such a file fails validation in practice and is refused, and the
// complete file is picked up when the writer finishes.
func (h *Holder) Watch(ctx context.Context, path string, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var pending, seen []byte // last content read; last content acted upon
	havePending, reportedBig := false, false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		data, err := readLimited(path)
		var tooBig ErrorList
		if errors.As(err, &tooBig) {
			// Over MaxFileSize: refuse once, until the file changes.
			if !reportedBig {
				reportedBig = true
				h.mu.Lock()
				_, _ = h.refuse(fmt.Errorf("cannot reload rules: %w", err))
				h.mu.Unlock()
			}
			continue
		}
		reportedBig = false
		if err != nil {
			havePending = false
			continue
		}
		if bytes.Equal(data, seen) {
			havePending = false
			continue
		}
		if !havePending || !bytes.Equal(data, pending) {
			pending, havePending = data, true // wait one more read
			continue
		}
		havePending = false
		seen = data
		_, _ = h.apply(filepath.Base(path), data)
	}
}
