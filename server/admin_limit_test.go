package server

import (
	"errors"
	"net"
	"testing"
	"time"
)

// TestLimitListener: past n open connections Accept waits until one
// closes (a second Close of the same connection frees nothing more), and
// Close wakes an Accept waiting for a slot.
func TestLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newLimitListener(inner, 2)
	accepted := make(chan net.Conn, 4)
	acceptErr := make(chan error, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				acceptErr <- err
				return
			}
			accepted <- c
		}
	}()
	for range 3 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first, second := <-accepted, <-accepted
	select {
	case <-accepted:
		t.Fatal("a third connection was accepted with a limit of 2")
	case <-time.After(100 * time.Millisecond): // proving a negative: nothing accepted meanwhile
	}
	_ = first.Close()
	_ = first.Close() // a second Close frees no second slot
	third := <-accepted
	fourth, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer fourth.Close()
	select {
	case <-accepted:
		t.Fatal("a connection was accepted past the limit after a double Close")
	case <-time.After(100 * time.Millisecond): // as above
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-acceptErr:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake the Accept waiting for a slot")
	}
	_ = second.Close()
	_ = third.Close()
}
