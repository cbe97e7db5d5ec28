// Package e2ebin gives end-to-end tests the pricing-engine binary they run
// as an operator would: the one named by $PRICING_E2E_BINARY (`make e2e`
// builds it), or else one built once per test binary into a temporary
// folder, so that a plain `go test ./...` runs those tests too.
package e2ebin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Env names the variable that points at a binary built beforehand.
const Env = "PRICING_E2E_BINARY"

// Builder builds cmd/pricing-engine at most once. A test package keeps one
// Builder for its whole run and calls Cleanup from TestMain after m.Run.
// Path is safe for concurrent use.
type Builder struct {
	// Pkg is the directory of cmd/pricing-engine relative to the test's
	// package directory, as `go build` takes it ("." or "../cmd/pricing-engine").
	Pkg string

	once sync.Once
	dir  string
	path string
	err  error
}

// Path returns the binary under test, building it on first use. It skips
// the test with -short and fails it when the build fails.
func (b *Builder) Path(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test of the binary: skipped with -short")
	}
	if p := os.Getenv(Env); p != "" {
		return p
	}
	b.once.Do(func() {
		b.dir, b.err = os.MkdirTemp("", "pricing-engine-e2e-")
		if b.err != nil {
			b.err = fmt.Errorf("cannot make a build folder: %w", b.err)
			return
		}
		b.path = filepath.Join(b.dir, "pricing-engine")
		// go test puts its own GOROOT/bin first in PATH.
		if out, err := exec.Command("go", "build", "-o", b.path, b.Pkg).CombinedOutput(); err != nil {
			b.err = fmt.Errorf("cannot build the binary: %w\n%s", err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// Cleanup removes what Path built. Call it once no test runs any more.
func (b *Builder) Cleanup() {
	if b.dir != "" {
		_ = os.RemoveAll(b.dir)
	}
}
