package redistest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/url"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// Proxy is a Toxiproxy TCP proxy run inside the test process, between a
// client (the engine) and a server (redis-server), that injects faults
// ("toxics") on demand. Toxics apply to connections open now and to later
// ones until removed.
//
// It is safe for use by one test goroutine at a time.
type Proxy struct {
	t     testing.TB
	proxy *toxiproxy.Proxy
	// Upstream is the address the proxy forwards to.
	Upstream string
}

// Stream is a direction through the proxy.
type Stream string

// The two directions.
const (
	// Upstream is client -> server (commands).
	Upstream Stream = "upstream"
	// Downstream is server -> client (replies, invalidation pushes).
	Downstream Stream = "downstream"
)

// Toxic is one fault. Make them with the constructors ([Latency],
// [Bandwidth], [BlackHole], [ResetPeer], [Slicer]); each applies to the
// directions in Streams.
type Toxic struct {
	// Name identifies the toxic for [Proxy.Remove]; unique per proxy.
	Name string
	// Type is Toxiproxy's: latency, bandwidth, timeout, reset_peer, slicer.
	Type string
	// Streams are the directions it applies to.
	Streams []Stream
	// Attributes are the type's settings, as Toxiproxy's API names them.
	Attributes map[string]int64
}

// Latency delays every chunk of replies by d: +d on each round trip.
func Latency(d time.Duration) Toxic {
	return Toxic{Name: "latency", Type: "latency", Streams: []Stream{Downstream},
		Attributes: map[string]int64{"latency": d.Milliseconds()}}
}

// Bandwidth limits both directions to kbps kilobytes per second.
func Bandwidth(kbps int64) Toxic {
	return Toxic{Name: "bandwidth", Type: "bandwidth", Streams: []Stream{Upstream, Downstream},
		Attributes: map[string]int64{"rate": kbps}}
}

// BlackHole drops every byte both ways and keeps the connections open (a
// partition without RST: Toxiproxy's timeout toxic with timeout 0).
// Removing it closes the connections that were in it (the toxic's
// cleanup): the bytes it dropped are never delivered late.
func BlackHole() Toxic {
	return Toxic{Name: "blackhole", Type: "timeout", Streams: []Stream{Upstream, Downstream},
		Attributes: map[string]int64{"timeout": 0}}
}

// ResetPeer resets (TCP RST) every connection that sends or receives
// data, after d.
func ResetPeer(d time.Duration) Toxic {
	return Toxic{Name: "reset_peer", Type: "reset_peer", Streams: []Stream{Upstream, Downstream},
		Attributes: map[string]int64{"timeout": d.Milliseconds()}}
}

// Slicer cuts replies into pieces of about size bytes (+- variation),
// delay apart: every RESP frame arrives split.
func Slicer(size, variation int64, delay time.Duration) Toxic {
	return Toxic{Name: "slicer", Type: "slicer", Streams: []Stream{Downstream},
		Attributes: map[string]int64{"average_size": size, "size_variation": variation, "delay": delay.Microseconds()}}
}

// StartProxy starts a proxy on a free loopback port in front of upstream
// ("host:port") and stops it, closing its connections, when the test
// ends.
func StartProxy(t testing.TB, upstream string) *Proxy {
	t.Helper()
	// The bandwidth toxic logs every chunk through zerolog's global
	// logger at trace level; nothing else in a test process uses zerolog.
	zerolog.SetGlobalLevel(zerolog.Disabled)
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(server, "redis", "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("cannot start toxiproxy in front of %s: %v", upstream, err)
	}
	t.Cleanup(p.Stop)
	return &Proxy{t: t, proxy: p, Upstream: upstream}
}

// Addr is the proxy's listening address, "127.0.0.1:port".
func (p *Proxy) Addr() string {
	p.proxy.Lock()
	defer p.proxy.Unlock()
	return p.proxy.Listen
}

// URL is redis://<proxy address>.
func (p *Proxy) URL() string { return (&url.URL{Scheme: "redis", Host: p.Addr()}).String() }

// Add adds the toxic on each of its streams (named Name + "_" + stream).
func (p *Proxy) Add(tox Toxic) {
	p.t.Helper()
	for _, s := range tox.Streams {
		body, err := json.Marshal(map[string]any{
			"name": tox.Name + "_" + string(s), "type": tox.Type, "stream": string(s),
			"toxicity": 1.0, "attributes": tox.Attributes,
		})
		if err != nil {
			p.t.Fatal(err)
		}
		if _, err := p.proxy.Toxics.AddToxicJson(bytes.NewReader(body)); err != nil {
			p.t.Fatalf("cannot add toxic %s on %s: %v", tox.Name, s, err)
		}
	}
}

// Remove removes the toxic from each of its streams.
func (p *Proxy) Remove(tox Toxic) {
	p.t.Helper()
	for _, s := range tox.Streams {
		if err := p.proxy.Toxics.RemoveToxic(context.Background(), tox.Name+"_"+string(s)); err != nil {
			p.t.Fatalf("cannot remove toxic %s on %s: %v", tox.Name, s, err)
		}
	}
}

// Do sends one command through the proxy on a fresh connection and
// returns the reply as [Server.Do] does; the call is bounded by wait.
func (p *Proxy) Do(wait time.Duration, args ...string) (string, error) {
	nc, err := net.DialTimeout("tcp", p.Addr(), wait)
	if err != nil {
		return "", err
	}
	c := &Conn{nc: nc, r: bufio.NewReader(nc)}
	defer c.Close()
	_ = nc.SetDeadline(time.Now().Add(wait))
	if err := c.Send(args...); err != nil {
		return "", err
	}
	return c.Read()
}
