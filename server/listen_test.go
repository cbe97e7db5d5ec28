package server

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestListenerSizesAcceptedBuffers: the API listener's socket buffer sizes
// are what every accepted connection gets, without a system call per
// connection (Linux caps a size at net.core.wmem_max or rmem_max and
// reports twice what it keeps: the kernel's bookkeeping).
func TestListenerSizesAcceptedBuffers(t *testing.T) {
	sysctl := func(name string) int {
		b, err := os.ReadFile("/proc/sys/net/core/" + name)
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	wmax, rmax := sysctl("wmem_max"), sysctl("rmem_max")
	for _, tc := range []struct{ snd, rcv int }{
		{48 << 10, 40 << 10},
		{DefaultMaxOutboundBytes, DefaultMaxInboundBytes},
	} {
		ln, err := listenAPI("127.0.0.1:0", tc.snd, tc.rcv)
		if err != nil {
			t.Fatal(err)
		}
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c, err := ln.AcceptTCP()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := c.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var snd, rcv int
		var serr, rerr error
		if err := raw.Control(func(fd uintptr) {
			snd, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
			rcv, rerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
		}); err != nil || serr != nil || rerr != nil {
			t.Fatal(err, serr, rerr)
		}
		if want := 2 * min(tc.snd, wmax); snd != want {
			t.Errorf("accepted connection: SO_SNDBUF %d, want %d (%d set)", snd, want, tc.snd)
		}
		if want := 2 * min(tc.rcv, rmax); rcv != want {
			t.Errorf("accepted connection: SO_RCVBUF %d, want %d (%d set)", rcv, want, tc.rcv)
		}
		_ = c.Close()
		_ = client.Close()
		_ = ln.Close()
	}
}
