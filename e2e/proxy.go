//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// countingProxy is a reverse proxy in front of the registry that records
// every completed blob upload: the request that names the digest (the PUT
// that ends a chunked upload, or a monolithic POST) and every cross-repository
// mount (a POST with ?mount=). An upload session that is opened and then
// deleted uploads nothing: lifecycle's analyzer does that to check write
// access. Every client (the test, pack, the Docker daemon and the lifecycle
// containers on the host network) goes through it.
type countingProxy struct {
	next http.Handler

	mu       sync.Mutex
	uploads  []upload
	requests []string // "METHOD path status", for failure messages
}

type upload struct {
	Method, Repo, Digest, Mount string
}

func (u upload) String() string {
	switch {
	case u.Mount != "":
		return fmt.Sprintf("%s %s mount %s", u.Method, u.Repo, u.Mount)
	case u.Digest != "":
		return fmt.Sprintf("%s %s %s", u.Method, u.Repo, u.Digest)
	}
	return u.Method + " " + u.Repo
}

// startProxy serves the proxy on 127.0.0.1 and returns it and its host:port.
func startProxy(t testing.TB, registryHost string) (*countingProxy, string) {
	t.Helper()
	backend, err := url.Parse("http://" + registryHost)
	must(t, err)
	p := &countingProxy{next: httputil.NewSingleHostReverseProxy(backend)}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, strings.TrimPrefix(srv.URL, "http://")
}

func (p *countingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// /v2/<repo>/blobs/uploads/[<id>]
	if repo, _, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v2/"), "/blobs/uploads"); ok && r.Method != http.MethodGet && r.Method != http.MethodHead {
		q := r.URL.Query()
		u := upload{Method: r.Method, Repo: repo, Digest: q.Get("digest"), Mount: q.Get("mount")}
		if (r.Method == http.MethodPost || r.Method == http.MethodPut) && (u.Digest != "" || u.Mount != "") {
			p.mu.Lock()
			p.uploads = append(p.uploads, u)
			p.mu.Unlock()
		}
	}
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	p.next.ServeHTTP(rec, r)
	p.mu.Lock()
	p.requests = append(p.requests, fmt.Sprintf("%s %s %d", r.Method, r.URL.Path, rec.status))
	p.mu.Unlock()
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Requests returns every request since the last Reset, as
// "METHOD path status".
func (p *countingProxy) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.requests...)
}

// Reset forgets the uploads recorded so far.
func (p *countingProxy) Reset() {
	p.mu.Lock()
	p.uploads = nil
	p.requests = nil
	p.mu.Unlock()
}

// Uploads returns the uploads recorded since the last Reset.
func (p *countingProxy) Uploads() []upload {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]upload(nil), p.uploads...)
}
