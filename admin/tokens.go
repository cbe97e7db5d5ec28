package admin

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/filewatch"
)

// Scope is what a token may do.
type Scope uint8

// Scopes; write includes read.
const (
	ScopeRead Scope = iota + 1
	ScopeWrite
)

func (s Scope) String() string {
	switch s {
	case ScopeRead:
		return "read"
	case ScopeWrite:
		return "write"
	}
	return "none"
}

// Bounds of a tokens file.
const (
	// MinTokenLen is the shortest token accepted: tokens are secrets, not
	// passwords to remember.
	MinTokenLen = 16
	// MaxTokenLen bounds a token.
	MaxTokenLen = 512
	// MaxTokenNameLen bounds a token's name (the audit's actor).
	MaxTokenNameLen = 64
	// maxTokensFileBytes bounds the file read.
	maxTokensFileBytes = 1 << 20
	// DefaultTokensPoll is how often the file's identity is checked.
	DefaultTokensPoll = time.Second
)

// token is one line of the file; only the SHA-256 of the secret is kept.
type token struct {
	name  string
	scope Scope
	sum   [sha256.Size]byte
}

// Tokens is the set of admin tokens read from a file, re-read when the
// file changes ([Tokens.Watch]) or on demand ([Tokens.Reload]). A file
// that fails to parse leaves the previous set in use. It is safe for
// concurrent use.
type Tokens struct {
	file *filewatch.File
	set  atomic.Pointer[[]token]
}

// LoadTokens reads the tokens file at path: lines "<name> <scope>
// <token>", scope "read" or "write", '#' starts a comment line. Its errors
// name the line and the reason, never a token.
func LoadTokens(path string) (*Tokens, error) {
	t := &Tokens{}
	t.file = filewatch.New(path, "admin tokens file", maxTokensFileBytes, func(b []byte) error {
		if len(b) == 0 && t.set.Load() != nil {
			// Most likely a writer between truncating the file and
			// writing it: the change that completes the write is read
			// next. A file holding only a comment still revokes every
			// token.
			return errors.New("empty (being rewritten? a comment line makes a file without tokens)")
		}
		set, err := parseTokens(b)
		if err != nil {
			return err
		}
		t.set.Store(&set)
		return nil
	})
	if _, err := t.Reload(); err != nil {
		return nil, err
	}
	return t, nil
}

// Path is the file the tokens come from.
func (t *Tokens) Path() string { return t.file.Path() }

// Len is the number of tokens in use.
func (t *Tokens) Len() int { return len(*t.set.Load()) }

// Reload re-reads the file. On error the previous set stays in use. It
// reports whether the set was replaced.
func (t *Tokens) Reload() (bool, error) {
	if err := t.file.Reload(); err != nil {
		return false, err
	}
	return true, nil
}

// parseTokens parses a tokens file. Errors name the line, never the
// token.
func parseTokens(b []byte) ([]token, error) {
	var set []token
	seen := map[[sha256.Size]byte]int{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, maxTokensFileBytes)
	var errs []error
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		f := strings.Fields(text)
		if len(f) != 3 {
			errs = append(errs, fmt.Errorf("line %d: want \"<name> <scope> <token>\", got %d fields", line, len(f)))
			continue
		}
		tk := token{name: f[0]}
		switch f[1] {
		case "read":
			tk.scope = ScopeRead
		case "write":
			tk.scope = ScopeWrite
		default:
			errs = append(errs, fmt.Errorf("line %d: scope %q: want read or write", line, truncate(f[1])))
			continue
		}
		if err := checkTokenName(f[0]); err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", line, err))
			continue
		}
		if n := len(f[2]); n < MinTokenLen || n > MaxTokenLen {
			errs = append(errs, fmt.Errorf("line %d: token of %q has %d bytes, want %d..%d", line, f[0], n, MinTokenLen, MaxTokenLen))
			continue
		}
		tk.sum = sha256.Sum256([]byte(f[2]))
		if prev, dup := seen[tk.sum]; dup {
			errs = append(errs, fmt.Errorf("line %d: the token of %q repeats line %d's", line, f[0], prev))
			continue
		}
		seen[tk.sum] = line
		set = append(set, tk)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	return set, errors.Join(errs...)
}

// checkTokenName accepts 1..MaxTokenNameLen bytes of letters, digits and
// ._@- (the name is the audit's actor and appears in logs).
func checkTokenName(name string) error {
	if len(name) > MaxTokenNameLen {
		return fmt.Errorf("name %q is longer than %d bytes", truncate(name), MaxTokenNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '@' || c == '-') {
			return fmt.Errorf("name %q: only letters, digits and ._@- are allowed", truncate(name))
		}
	}
	return nil
}

// Authenticate returns the name and scope of the token presented, or
// false. The comparison takes the same time whichever token (if any)
// matches: the presented token's SHA-256 is compared with every known
// one in constant time.
func (t *Tokens) Authenticate(presented string) (string, Scope, bool) {
	sum := sha256.Sum256([]byte(presented))
	var (
		name  string
		scope Scope
		found int
	)
	for _, tk := range *t.set.Load() {
		eq := subtle.ConstantTimeCompare(sum[:], tk.sum[:])
		if eq == 1 {
			name, scope = tk.name, tk.scope
		}
		found |= eq
	}
	return name, scope, found == 1
}

// Watch re-reads the file whenever its modification time, size or inode
// changes, checking every interval (DefaultTokensPoll when <= 0), until
// ctx ends. onReload, when set, receives each reload's result (err nil:
// the new set is in use).
func (t *Tokens) Watch(ctx context.Context, interval time.Duration, onReload func(n int, err error)) {
	if interval <= 0 {
		interval = DefaultTokensPoll
	}
	t.file.Watch(ctx, interval, func(err error) {
		if onReload != nil {
			onReload(t.Len(), err)
		}
	})
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

// fileStamp and stampOf identify a file's content for the TLS pair's
// watch (tlscert.go), as filewatch does for the tokens file.
type fileStamp = filewatch.Stamp

func stampOf(fi os.FileInfo) fileStamp { return filewatch.StampOf(fi) }
