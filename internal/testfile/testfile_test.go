package testfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReplace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	for _, content := range []string{"one", "", "three\n"} {
		var before os.FileInfo
		if fi, err := os.Stat(path); err == nil {
			before = fi
		}
		Replace(t, path, content)
		b, err := os.ReadFile(path)
		if err != nil || string(b) != content {
			t.Fatalf("after Replace(%q): %q, %v", content, b, err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want 0600", fi.Mode().Perm())
		}
		if before != nil && os.SameFile(before, fi) {
			t.Errorf("Replace(%q) kept the inode: a watcher would miss it", content)
		}
		if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
			t.Errorf("the temporary file is left: %v", err)
		}
	}
}
