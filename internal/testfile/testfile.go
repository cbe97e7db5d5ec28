// Package testfile holds a helper for tests of code that watches or
// reloads files (rules, tokens, quote keys, TLS certificates).
package testfile

import (
	"os"
	"testing"
)

// Replace replaces the file at path with content (mode 0600) as an
// editor, a rotation tool or a Kubernetes Secret update does: written
// next to it, then renamed over it. The rename gives path a new inode, so
// a watcher sees a change even within the mtime granularity. It fails t
// on any error.
func Replace(t testing.TB, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
