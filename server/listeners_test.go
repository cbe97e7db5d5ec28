package server

import (
	"net"
	"slices"
	"strconv"
	"testing"
)

// TestListenersOn: the loops' listeners are found by port and address; a
// listener on the same port of another address (the admin listener, say)
// is left alone, and a wildcard address matches a wildcard listener.
func TestListenersOn(t *testing.T) {
	a, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	port := a.Addr().(*net.TCPAddr).Port
	b, err := net.Listen("tcp", net.JoinHostPort("127.0.0.2", strconv.Itoa(port)))
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	defer b.Close()
	fdOf := func(ln net.Listener) int {
		rc, err := ln.(*net.TCPListener).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var fd int
		if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
			t.Fatal(err)
		}
		return fd
	}
	for _, tc := range []struct {
		addr *net.TCPAddr
		want []int
	}{
		{&net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: port}, []int{fdOf(a)}},
		{&net.TCPAddr{IP: net.ParseIP("127.0.0.2"), Port: port}, []int{fdOf(b)}},
		{&net.TCPAddr{IP: net.ParseIP("127.0.0.3"), Port: port}, nil},
		{&net.TCPAddr{Port: port}, nil}, // neither is a wildcard listener
	} {
		got, err := listenersOn(tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("listenersOn(%v) = %v, want %v", tc.addr, got, tc.want)
		}
	}
	w, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	wport := w.Addr().(*net.TCPAddr).Port
	for _, addr := range []*net.TCPAddr{{Port: wport}, {IP: net.IPv4zero, Port: wport}} {
		if got, err := listenersOn(addr); err != nil || !slices.Equal(got, []int{fdOf(w)}) {
			t.Errorf("listenersOn(%v) = %v, %v; want [%d]", addr, got, err, fdOf(w))
		}
	}
}
