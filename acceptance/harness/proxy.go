package harness

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// CountingProxy is a reverse proxy in front of a registry that records what
// its clients asked for: every request ("METHOD path status"), every
// completed blob upload or mount (the request that names the digest: the
// PUT that ends a chunked upload, a monolithic POST, or a POST with
// ?mount=), and the bytes sent to upload endpoints. An upload session that
// is opened and then deleted uploads nothing: lifecycle's analyzer does that
// to check write access. The Host header stays the proxy's, so the
// registry's upload Location URLs point back at it. Acceptance tests, e2e
// and the benchmark share it.
type CountingProxy struct {
	// Host is the proxy's host:port on 127.0.0.1.
	Host string

	next     http.Handler
	srv      *http.Server
	uploaded atomic.Int64
	rate     atomic.Int64 // bytes per second of each upload body; 0: unlimited

	mu       sync.Mutex
	uploads  []Upload
	requests []Request
}

// Upload is one completed blob upload or mount.
type Upload struct {
	Method, Repo, Digest, Mount string
}

func (u Upload) String() string {
	switch {
	case u.Mount != "":
		return fmt.Sprintf("%s %s mount %s", u.Method, u.Repo, u.Mount)
	case u.Digest != "":
		return fmt.Sprintf("%s %s %s", u.Method, u.Repo, u.Digest)
	}
	return u.Method + " " + u.Repo
}

// Request is one request the proxy forwarded, with when it arrived, when
// the proxy began to answer it (the client can have seen no answer before
// Responded, so a request that starts after it was sent after this one was
// answered) and how long the registry took to answer it in all.
type Request struct {
	Method, Path string
	Status       int
	Start        time.Time
	Responded    time.Time
	Duration     time.Duration
}

func (r Request) String() string { return fmt.Sprintf("%s %s %d", r.Method, r.Path, r.Status) }

// Kind names the registry API of the request's path: upload, blob,
// manifest-by-digest, manifest-by-tag, referrers, tags-list or other.
func (r Request) Kind() string {
	switch p := r.Path; {
	case strings.Contains(p, "/blobs/uploads/"):
		return "upload"
	case strings.Contains(p, "/blobs/"):
		return "blob"
	case strings.Contains(p, "/manifests/sha256:"):
		return "manifest-by-digest"
	case strings.Contains(p, "/manifests/"):
		return "manifest-by-tag"
	case strings.Contains(p, "/referrers/"):
		return "referrers"
	case strings.HasSuffix(p, "/tags/list"):
		return "tags-list"
	}
	return "other"
}

// StartCountingProxy serves a proxy for registryHost on 127.0.0.1 until
// Close.
func StartCountingProxy(registryHost string) (*CountingProxy, error) {
	backend, err := url.Parse("http://" + registryHost)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &CountingProxy{Host: l.Addr().String(), next: httputil.NewSingleHostReverseProxy(backend)}
	p.srv = &http.Server{Handler: p}
	go func() { _ = p.srv.Serve(l) }()
	return p, nil
}

// NewCountingProxy is StartCountingProxy for a test: it fails the test on
// error and closes the proxy when the test ends.
func NewCountingProxy(t testing.TB, registryHost string) *CountingProxy {
	t.Helper()
	p, err := StartCountingProxy(registryHost)
	if err != nil {
		t.Fatalf("counting proxy: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func (p *CountingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// /v2/<repo>/blobs/uploads/[<id>]
	if repo, _, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v2/"), "/blobs/uploads"); ok && r.Method != http.MethodGet && r.Method != http.MethodHead {
		q := r.URL.Query()
		u := Upload{Method: r.Method, Repo: repo, Digest: q.Get("digest"), Mount: q.Get("mount")}
		if (r.Method == http.MethodPost || r.Method == http.MethodPut) && (u.Digest != "" || u.Mount != "") {
			p.mu.Lock()
			p.uploads = append(p.uploads, u)
			p.mu.Unlock()
		}
		if r.Body != nil {
			r.Body = &countingBody{ReadCloser: r.Body, n: &p.uploaded, rate: p.rate.Load(), start: time.Now()}
		}
	}
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	start := time.Now()
	p.next.ServeHTTP(rec, r)
	d := time.Since(start)
	p.mu.Lock()
	responded := rec.responded
	if responded.IsZero() {
		responded = start.Add(d)
	}
	p.requests = append(p.requests, Request{Method: r.Method, Path: r.URL.Path, Status: rec.status, Start: start, Responded: responded, Duration: d})
	p.mu.Unlock()
}

// Requests returns every request since the last Reset.
func (p *CountingProxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.requests...)
}

// RequestLog is Requests, one per line, for failure messages.
func (p *CountingProxy) RequestLog() string {
	var b strings.Builder
	for _, r := range p.Requests() {
		b.WriteString(r.String() + "\n")
	}
	return b.String()
}

// Counts returns the requests since the last Reset counted by
// "METHOD kind".
func (p *CountingProxy) Counts() map[string]int {
	out := map[string]int{}
	for _, r := range p.Requests() {
		out[r.Method+" "+r.Kind()]++
	}
	return out
}

// Uploads returns the uploads and mounts since the last Reset.
func (p *CountingProxy) Uploads() []Upload {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Upload(nil), p.uploads...)
}

// Uploaded returns the bytes sent to upload endpoints since the proxy
// started.
func (p *CountingProxy) Uploaded() int64 { return p.uploaded.Load() }

// Reset forgets the requests and uploads recorded so far.
func (p *CountingProxy) Reset() {
	p.mu.Lock()
	p.uploads, p.requests = nil, nil
	p.mu.Unlock()
}

// SetUploadRate limits each upload body to bytesPerSecond from now on, as a
// network link would; 0 removes the limit.
func (p *CountingProxy) SetUploadRate(bytesPerSecond int64) { p.rate.Store(bytesPerSecond) }

// Close stops the proxy.
func (p *CountingProxy) Close() error { return p.srv.Close() }

type statusRecorder struct {
	http.ResponseWriter
	status    int
	responded time.Time // when the header was written
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.responded.IsZero() {
		s.responded = time.Now()
	}
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.responded.IsZero() {
		s.responded = time.Now()
	}
	return s.ResponseWriter.Write(b)
}

type countingBody struct {
	io.ReadCloser
	n     *atomic.Int64
	rate  int64 // bytes per second; 0: unlimited
	start time.Time
	read  int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	if b.rate > 0 {
		p = p[:min(len(p), int(max(b.rate/10, 1)))] // about ten reads a second
	}
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	b.read += int64(n)
	if b.rate > 0 {
		due := time.Duration(float64(b.read) / float64(b.rate) * float64(time.Second))
		time.Sleep(due - time.Since(b.start))
	}
	return n, err
}
