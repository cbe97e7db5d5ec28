package quote

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/filewatch"
)

// Bounds of keys and of the keys file.
const (
	// MinSecretLen is the shortest secret accepted, in bytes after
	// base64 decoding: the output size of SHA-256 (RFC 2104 section 3
	// advises no key shorter than the hash output).
	MinSecretLen = 32
	// MaxSecretLen bounds a secret (HMAC hashes longer keys anyway).
	MaxSecretLen = 512
	// MaxKeyIDLen bounds a key id, which every token carries.
	MaxKeyIDLen = 32
	// MaxKeys bounds the keys of one file.
	MaxKeys = 64
	// maxKeysFileBytes bounds the file read.
	maxKeysFileBytes = 64 << 10
	// DefaultPoll is how often Watch checks the file's identity.
	DefaultPoll = filewatch.DefaultPoll
	// DefaultTTL is how long a quote is valid when no TTL is given.
	DefaultTTL = 15 * time.Minute
)

// Key is one signing key: its id and its secret.
type Key struct {
	ID     string
	Secret []byte
}

// keySet is the keys in use: the first signs, all verify. It is never
// modified once made.
type keySet struct {
	keys []Key
}

// find returns the index of the key with id kid, or -1. Key ids are
// public: the lookup needs no constant time.
func (ks *keySet) find(kid []byte) int {
	for i := range ks.keys {
		if ks.keys[i].ID == string(kid) {
			return i
		}
	}
	return -1
}

// ParseKeys parses a keys file: one key per line, "<kid> <base64
// secret>", blank lines and lines starting with '#' ignored. The secret
// may use the standard or the URL-safe base64 alphabet, padded or not.
// The file must hold 1..[MaxKeys] keys with distinct ids. Errors name the
// line and the reason, never a secret.
func ParseKeys(b []byte) ([]Key, error) {
	var keys []Key
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, maxKeysFileBytes)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		f := strings.Fields(text)
		if len(f) != 2 {
			errs = append(errs, fmt.Errorf("line %d: want \"<kid> <base64 secret>\", got %d fields", line, len(f)))
			continue
		}
		if err := checkKeyID(f[0]); err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", line, err))
			continue
		}
		secret, ok := decodeSecret(f[1])
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("line %d: the secret of key %q is not base64", line, f[0]))
			continue
		case len(secret) < MinSecretLen || len(secret) > MaxSecretLen:
			errs = append(errs, fmt.Errorf("line %d: the secret of key %q has %d bytes, want %d..%d (e.g. head -c 32 /dev/urandom | base64)", line, f[0], len(secret), MinSecretLen, MaxSecretLen))
			continue
		}
		dup := false
		for _, k := range keys {
			dup = dup || k.ID == f[0]
		}
		if dup {
			errs = append(errs, fmt.Errorf("line %d: key id %q repeats an earlier line's", line, f[0]))
			continue
		}
		keys = append(keys, Key{ID: f[0], Secret: secret})
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("cannot scan keys file: %w", err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	switch {
	case len(keys) == 0:
		return nil, errors.New("no keys: want at least one line \"<kid> <base64 secret>\"")
	case len(keys) > MaxKeys:
		return nil, fmt.Errorf("%d keys, want at most %d", len(keys), MaxKeys)
	}
	return keys, nil
}

// decodeSecret decodes s in any of the four base64 flavours.
func decodeSecret(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

// checkKeyID accepts 1..MaxKeyIDLen bytes of letters, digits, '_' and
// '-': the characters that stand for themselves in a token (no '.').
func checkKeyID(kid string) error {
	if len(kid) > MaxKeyIDLen {
		return fmt.Errorf("key id %q is longer than %d bytes", kid[:MaxKeyIDLen]+"...", MaxKeyIDLen)
	}
	if !validKeyID([]byte(kid)) {
		return fmt.Errorf("key id %q: only letters, digits, '_' and '-' are allowed", kid)
	}
	return nil
}

func validKeyID(kid []byte) bool {
	if len(kid) == 0 || len(kid) > MaxKeyIDLen {
		return false
	}
	for _, c := range kid {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Keyring holds the keys in use and the quotes' time to live. Loading the
// keys is a single atomic load, so signers and verifiers on any goroutine
// see either the old or the new keys, never a mix. It is safe for
// concurrent use.
type Keyring struct {
	cur  atomic.Pointer[keySet]
	ttl  time.Duration
	file *filewatch.File // nil for a Keyring made by New
}

// New returns a Keyring over keys (at least one; the first signs) whose
// quotes are valid for ttl (DefaultTTL when <= 0).
func New(keys []Key, ttl time.Duration) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("cannot make a keyring: no keys")
	}
	for _, k := range keys {
		if err := checkKeyID(k.ID); err != nil {
			return nil, fmt.Errorf("cannot make a keyring: %w", err)
		}
		if n := len(k.Secret); n < MinSecretLen || n > MaxSecretLen {
			return nil, fmt.Errorf("cannot make a keyring: the secret of key %q has %d bytes, want %d..%d", k.ID, n, MinSecretLen, MaxSecretLen)
		}
	}
	r := &Keyring{ttl: ttlOr(ttl)}
	r.cur.Store(&keySet{keys: keys})
	return r, nil
}

func ttlOr(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return DefaultTTL
	}
	return ttl
}

// Open reads the keys file at path (see [ParseKeys]) into a new Keyring
// whose quotes are valid for ttl (DefaultTTL when <= 0). Its error names
// the file, the line and the reason, never a secret.
func Open(path string, ttl time.Duration) (*Keyring, error) {
	r := &Keyring{ttl: ttlOr(ttl)}
	r.file = filewatch.New(path, "quote keys file", maxKeysFileBytes, func(b []byte) error {
		keys, err := ParseKeys(b)
		if err != nil {
			return err
		}
		r.cur.Store(&keySet{keys: keys})
		return nil
	})
	if err := r.file.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// TTL is how long the quotes signed now are valid.
func (r *Keyring) TTL() time.Duration { return r.ttl }

// Path is the keys file ("" for a Keyring made by New).
func (r *Keyring) Path() string {
	if r.file == nil {
		return ""
	}
	return r.file.Path()
}

// KeyIDs returns the ids of the keys in use, the signing key first (ids
// are not secret: they are for logs).
func (r *Keyring) KeyIDs() []string {
	ks := r.cur.Load()
	ids := make([]string, len(ks.keys))
	for i, k := range ks.keys {
		ids[i] = k.ID
	}
	return ids
}

// Reload re-reads the keys file. On error the keys in use stay. A
// Keyring made by New has no file: Reload does nothing.
func (r *Keyring) Reload() error {
	if r.file == nil {
		return nil
	}
	return r.file.Reload()
}

// Watch re-reads the keys file whenever its modification time, size or
// inode changes, checking every interval (DefaultPoll when <= 0), until
// ctx ends; it blocks. onReload, when set, receives each reload's result
// (nil: the new keys are in use). For a Keyring made by New it returns
// at once.
func (r *Keyring) Watch(ctx context.Context, interval time.Duration, onReload func(err error)) {
	if r.file == nil {
		return
	}
	r.file.Watch(ctx, interval, onReload)
}
