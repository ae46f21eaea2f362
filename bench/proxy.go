package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
)

// countingProxy forwards to a registry and counts the request body bytes of
// blob uploads (POST, PATCH and PUT under /v2/<repo>/blobs/uploads/), so a
// re-export can prove it uploaded nothing.
type countingProxy struct {
	Host     string
	uploaded atomic.Int64
	srv      *http.Server

	mu       sync.Mutex
	requests map[string]int // "METHOD kind" -> count
}

func startCountingProxy(target string) (*countingProxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &countingProxy{Host: l.Addr().String()}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: target})
	// The Host header stays the proxy's, so the registry's upload Location
	// URLs point back at the proxy.
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		if p.requests == nil {
			p.requests = map[string]int{}
		}
		p.requests[r.Method+" "+kind(r.URL.Path)]++
		p.mu.Unlock()
		if strings.Contains(r.URL.Path, "/blobs/uploads/") && r.Body != nil {
			r.Body = &countingBody{ReadCloser: r.Body, n: &p.uploaded}
		}
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = p.srv.Serve(l) }()
	return p, nil
}

// kind names the registry API a path belongs to.
func kind(path string) string {
	switch {
	case strings.Contains(path, "/blobs/uploads/"):
		return "upload"
	case strings.Contains(path, "/blobs/"):
		return "blob"
	case strings.Contains(path, "/manifests/sha256:"):
		return "manifest-by-digest"
	case strings.Contains(path, "/manifests/"):
		return "manifest-by-tag"
	case strings.Contains(path, "/referrers/"):
		return "referrers"
	}
	return "other"
}

// Requests returns and resets the request counts.
func (p *countingProxy) Requests() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.requests
	p.requests = nil
	return r
}

// Uploaded returns the blob bytes sent so far.
func (p *countingProxy) Uploaded() int64 { return p.uploaded.Load() }

func (p *countingProxy) Close() error { return p.srv.Close() }

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
