// Package faultproxy is a reverse proxy, owned by the acceptance tests, that
// sits between a client and a real registry and can fail exactly one
// request: the Nth that reaches it (1-based), with one kind of fault. It
// records every request for diagnostics.
package faultproxy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Kind is a fault the proxy can inject.
type Kind string

const (
	// None forwards every request.
	None Kind = ""
	// Status500 answers 500 with an OCI error body, code UNAVAILABLE.
	Status500 Kind = "500"
	// Reset hijacks the connection and closes it without answering, with
	// SO_LINGER 0, so the client sees a connection reset (or an EOF).
	Reset Kind = "reset"
	// Status429 answers 429 Too Many Requests with Retry-After: 1.
	Status429 Kind = "429"
	// Stall holds the request without answering for the stall duration
	// (longer than the client's timeout), then closes the connection.
	Stall Kind = "stall"
	// Outage answers the Nth request and every later one like Status500:
	// a registry that stays down.
	Outage Kind = "outage"
	// Lost forwards the request, so the registry applies it, and then
	// resets the connection instead of answering: the acknowledgement is
	// lost, and a retry repeats a write that already happened.
	Lost Kind = "lost"
)

// Kinds lists every kind that fails one request.
var Kinds = []Kind{Status500, Reset, Status429, Lost, Stall}

// Request is one request that reached the proxy.
type Request struct {
	N      int // 1-based
	Method string
	Path   string
	Fault  Kind // the fault injected instead of forwarding, or None
}

func (r Request) String() string {
	s := fmt.Sprintf("%d %s %s", r.N, r.Method, r.Path)
	if r.Fault != None {
		s += " [" + string(r.Fault) + "]"
	}
	return s
}

// Proxy forwards to a backend registry and injects at most one fault per arm.
type Proxy struct {
	// Host is "127.0.0.1:PORT", the address clients use.
	Host string

	srv   *httptest.Server
	next  http.Handler
	stall time.Duration

	mu       sync.Mutex
	n        int
	failAt   int
	kind     Kind
	injected bool
	log      []Request
	quirks   Quirks
}

// Start starts a proxy to backend ("127.0.0.1:PORT", plain HTTP) on the
// loopback interface. stall is how long the Stall fault holds a request.
func Start(backend string, stall time.Duration) (*Proxy, error) {
	u, err := url.Parse("http://" + backend)
	if err != nil {
		return nil, fmt.Errorf("backend %q: %w", backend, err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	// The backend sees the proxy's Host header, so the upload locations it
	// returns point back at the proxy.
	p := &Proxy{next: rp, stall: stall}
	p.srv = httptest.NewServer(p)
	p.Host = strings.TrimPrefix(p.srv.URL, "http://")
	return p, nil
}

// Close stops the proxy.
func (p *Proxy) Close() { p.srv.Close() }

// Arm resets the request count and the log and fails the nth request from
// now on with kind (with Outage, the nth and every later one). n < 1 or
// kind None injects nothing.
func (p *Proxy) Arm(n int, kind Kind) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n, p.failAt, p.kind, p.injected, p.log = 0, n, kind, false, nil
}

// Count is the number of requests since the last Arm.
func (p *Proxy) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// Injected reports whether the armed fault has been injected.
func (p *Proxy) Injected() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.injected
}

// Requests returns the requests since the last Arm, in arrival order.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.log...)
}

// ServeHTTP counts the request, then either forwards it or injects the fault.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.n++
	fault := None
	if p.kind != None && p.failAt > 0 && (p.n == p.failAt || p.kind == Outage && p.n > p.failAt) {
		fault, p.injected = p.kind, true
	}
	p.log = append(p.log, Request{N: p.n, Method: r.Method, Path: r.URL.Path, Fault: fault})
	quirks := p.quirks
	p.mu.Unlock()

	switch fault {
	case None:
		w, done := p.serveQuirk(w, r, quirks)
		if !done {
			p.next.ServeHTTP(w, r)
		}
	case Status500, Outage:
		ociError(w, http.StatusInternalServerError, "UNAVAILABLE", "injected fault: service unavailable")
	case Status429:
		w.Header().Set("Retry-After", "1")
		ociError(w, http.StatusTooManyRequests, "TOOMANYREQUESTS", "injected fault: too many requests")
	case Reset:
		hijackAndClose(w, true)
	case Lost:
		p.next.ServeHTTP(httptest.NewRecorder(), r)
		hijackAndClose(w, true)
	case Stall:
		// Read the request as a registry would, then answer nothing until
		// the stall is over or the client gave up.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-time.After(p.stall):
		case <-r.Context().Done():
		}
		hijackAndClose(w, false)
	}
}

func ociError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`, code, msg)
}

// hijackAndClose closes the client's connection without an answer; with
// reset, it sends a TCP RST instead of a FIN.
func hijackAndClose(w http.ResponseWriter, reset bool) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok && reset {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}
