package filewatch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pricing-engine/pricing-engine/internal/testfile"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// applied records what the apply function put in use; content "bad" is
// refused.
type applied struct {
	mu  sync.Mutex
	cur string
}

func (a *applied) apply(b []byte) error {
	if strings.TrimSpace(string(b)) == "bad" {
		return errors.New("refused")
	}
	a.mu.Lock()
	a.cur = string(b)
	a.mu.Unlock()
	return nil
}

func (a *applied) get() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cur
}

func TestReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	var a applied
	f := New(path, "test file", 8, a.apply)
	for _, tc := range []struct {
		name    string
		content string // "" removes the file
		err     string // a substring of Reload's error; "" for success
		want    string // in use afterwards
	}{
		{"missing at first", "", "cannot read test file", ""},
		{"good", "one", "", "one"},
		{"refused keeps the old", "bad", `invalid test file "` + path + `": refused`, "one"},
		{"over the bound keeps the old", "123456789", "larger than 8 bytes", "one"},
		{"exactly the bound", "12345678", "", "12345678"},
		{"vanished keeps the old", "", "cannot read test file", "12345678"},
		{"back", "two", "", "two"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.content == "" {
				_ = os.Remove(path)
			} else {
				testfile.Replace(t, path, tc.content)
			}
			err := f.Reload()
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("Reload: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("Reload: %v, want %q", err, tc.err)
			}
			if got := a.get(); got != tc.want {
				t.Errorf("in use %q, want %q", got, tc.want)
			}
			if f.Changed() {
				t.Error("Changed right after Reload")
			}
		})
	}
}

func TestWatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	testfile.Replace(t, path, "one")
	var a applied
	f := New(path, "test file", 64, a.apply)
	if err := f.Reload(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	reloads := make(chan error, 8)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		f.Watch(ctx, time.Millisecond, func(err error) { reloads <- err })
	}()
	defer func() { cancel(); wg.Wait() }()
	for _, tc := range []struct {
		content string
		ok      bool
		want    string
	}{
		{"two", true, "two"},
		{"bad", false, "two"},
		{"three", true, "three"},
	} {
		testfile.Replace(t, path, tc.content)
		select {
		case err := <-reloads:
			if (err == nil) != tc.ok {
				t.Fatalf("%q: reload error %v", tc.content, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%q: no reload", tc.content)
		}
		if got := a.get(); got != tc.want {
			t.Errorf("%q: in use %q, want %q", tc.content, got, tc.want)
		}
	}
}
