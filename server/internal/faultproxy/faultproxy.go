// Package faultproxy is a TCP forwarder for tests that need a dependency to
// go away and come back: put it between a client and a server (PostgreSQL,
// say), take it Down to cut every connection and refuse new ones, and bring
// it Up again on the same address.
package faultproxy

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy forwards the TCP connections it accepts on Addr to its target.
type Proxy struct {
	target string

	mu    sync.Mutex
	addr  string
	lis   net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// Start listens on a free loopback port and forwards to target
// ("host:port"); the proxy is taken down when the test ends.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	p := &Proxy{target: target, addr: "127.0.0.1:0", conns: map[net.Conn]struct{}{}}
	p.Up(t)
	t.Cleanup(p.Down)
	return p
}

// Addr is the address clients dial; it stays the same across Down and Up.
func (p *Proxy) Addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

// Up listens again on the proxy's address after a Down (the first call,
// from Start, picks the address).
func (p *Proxy) Up(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lis != nil {
		return
	}
	lis, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", p.addr)
	if err != nil {
		t.Fatalf("faultproxy: listen on %s: %v", p.addr, err)
	}
	p.lis, p.addr = lis, lis.Addr().String()
	p.wg.Go(func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.forward(c) })
		}
	})
}

// Down stops listening, cuts every open connection and waits until the
// forwarding has stopped. It may be called any number of times.
func (p *Proxy) Down() {
	p.mu.Lock()
	if p.lis != nil {
		p.lis.Close()
		p.lis = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) forward(client net.Conn) {
	server, err := (&net.Dialer{}).DialContext(context.Background(), "tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(client, server) {
		return
	}
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		dst.Close()
		src.Close()
	}
	wg.Go(func() { pipe(server, client) })
	wg.Go(func() { pipe(client, server) })
	wg.Wait()
}

// track registers the connections of one session unless the proxy is down.
func (p *Proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lis == nil {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}
