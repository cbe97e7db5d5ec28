// Package filewatch keeps a small configuration file applied: it reads
// the file (bounded), hands its bytes to an apply function, and re-reads
// it when its identity (modification time, size, inode) changes or when
// asked. A file that cannot be read or that apply refuses leaves what was
// applied before in use. Secrets files (admin tokens, quote keys) use it,
// so that rotation works the same way for all of them.
package filewatch

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
)

// DefaultPoll is how often Watch checks the file's identity when given no
// interval.
const DefaultPoll = time.Second

// File is one watched file. It is safe for concurrent use; reloads are
// serialized, and apply is called with the reload lock held (it must not
// call Reload).
type File struct {
	path  string
	what  string // what the file is, for messages: "admin tokens file"
	max   int64
	apply func([]byte) error

	mu    sync.Mutex // serializes reloads
	stamp Stamp
	err   error // the last reload's error
}

// Stamp identifies a file's content cheaply: modification time, size and
// inode (a rename over the file changes the inode). The zero Stamp is no
// file.
type Stamp struct {
	mtime int64
	size  int64
	ino   uint64
}

// StampOf is the Stamp of a file's information.
func StampOf(fi os.FileInfo) Stamp {
	st := Stamp{mtime: fi.ModTime().UnixNano(), size: fi.Size()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = sys.Ino
	}
	return st
}

// New returns the watched file at path, not read yet: call Reload once
// before use (its error is the start-up error). what names the file in
// errors ("admin tokens file"); maxBytes bounds what is read; apply gets
// the whole content of each read and either puts it in use (nil) or
// refuses it, with an error that must not quote secrets.
func New(path, what string, maxBytes int64, apply func([]byte) error) *File {
	return &File{path: path, what: what, max: maxBytes, apply: apply}
}

// Path is the file's path.
func (f *File) Path() string { return f.path }

// Reload reads the file and applies it. On error (unreadable, over the
// bound, refused by apply) what was applied before stays in use; the
// error names the file and wraps the cause.
func (f *File) Reload() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = f.reloadLocked()
	return f.err
}

func (f *File) reloadLocked() error {
	fh, err := os.Open(f.path)
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", f.what, err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", f.what, err)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(fh, f.max+1)); err != nil {
		return fmt.Errorf("cannot read %s %q: %w", f.what, f.path, err)
	}
	// The stamp is taken whatever the content: a refused file is not
	// read again until it changes.
	f.stamp = StampOf(fi)
	if int64(buf.Len()) > f.max {
		return fmt.Errorf("cannot read %s %q: larger than %d bytes", f.what, f.path, f.max)
	}
	if err := f.apply(buf.Bytes()); err != nil {
		return fmt.Errorf("invalid %s %q: %w", f.what, f.path, err)
	}
	return nil
}

// Changed reports whether the file's identity differs from the one last
// read (a stat, no read). A file that vanished is reported once.
func (f *File) Changed() bool {
	fi, err := os.Stat(f.path)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		return f.err == nil
	}
	return StampOf(fi) != f.stamp
}

// Watch reloads the file whenever Changed reports a change, checking
// every interval (DefaultPoll when <= 0), until ctx ends. onReload, when
// set, receives each reload's result (nil: the new content is in use).
// It blocks: run it on a goroutine of its own.
func (f *File) Watch(ctx context.Context, interval time.Duration, onReload func(err error)) {
	if interval <= 0 {
		interval = DefaultPoll
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if !f.Changed() {
			continue
		}
		err := f.Reload()
		if onReload != nil {
			onReload(err)
		}
	}
}
