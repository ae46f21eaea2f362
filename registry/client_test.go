package registry

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/static"
)

// faulty serves a registry and answers the first request that matches with
// fault instead.
type faulty struct {
	next  http.Handler
	match func(*http.Request) bool
	fault func(http.ResponseWriter, *http.Request)
	hits  atomic.Int32
	done  atomic.Bool
}

func (f *faulty) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.match(r) {
		f.hits.Add(1)
		if f.done.CompareAndSwap(false, true) {
			f.fault(w, r)
			return
		}
	}
	f.next.ServeHTTP(w, r)
}

func startFaulty(t *testing.T, match func(*http.Request) bool, fault func(http.ResponseWriter, *http.Request)) (*faulty, name.Repository) {
	t.Helper()
	f := &faulty{next: ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))), match: match, fault: fault}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://") + "/app")
	if err != nil {
		t.Fatal(err)
	}
	return f, repo
}

func unavailable(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = io.WriteString(w, `{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}`)
}

// stall reads the request and answers nothing until the client gives up:
// its timeout closes the connection, which cancels the request's context
// (the server notices once the body is read). Past a minute it gives up
// itself, so a client without a timeout fails instead of hanging.
func stall(_ http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(time.Minute):
	}
}

// A transient failure of the ping that starts the transaction is retried,
// not an export failure.
func TestDialRetriesPing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		fault func(http.ResponseWriter, *http.Request)
	}{
		{"500", unavailable},
		{"stall", stall},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, repo := startFaulty(t, func(r *http.Request) bool { return r.URL.Path == "/v2/" }, tc.fault)
			if _, err := Dial(context.Background(), repo.Registry, Push(repo), Options{Timeout: 100 * time.Millisecond}); err != nil {
				t.Fatalf("dial: %v", err)
			}
			if n := f.hits.Load(); n < 2 {
				t.Fatalf("%d pings, want a retry", n)
			}
		})
	}
}

// A blob upload whose answer stalls past the timeout is retried.
func TestUploadRetriesStall(t *testing.T) {
	t.Parallel()
	f, repo := startFaulty(t, func(r *http.Request) bool {
		return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/blobs/uploads/")
	}, stall)
	reg, err := Dial(context.Background(), repo.Registry, Push(repo), Options{Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	l, err := random.Layer(100, "application/octet-stream")
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.UploadBlob(context.Background(), repo, l); err != nil {
		t.Fatalf("upload: %v", err)
	}
	if n := f.hits.Load(); n < 2 {
		t.Fatalf("%d upload starts, want a retry", n)
	}
}

// A blob of up to SmallBlob bytes goes up in one POST with its digest; a
// bigger one through the pusher's session (POST, PATCH, PUT).
func TestUploadSmallBlobBoundary(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		size    int
		oneShot bool
	}{
		{SmallBlob, true},
		{SmallBlob + 1, false},
	} {
		t.Run(fmt.Sprint(tc.size), func(t *testing.T) {
			var patches, digestPosts atomic.Int32
			_, repo := startFaulty(t, func(r *http.Request) bool {
				if r.Method == http.MethodPatch {
					patches.Add(1)
				}
				if r.Method == http.MethodPost && r.URL.Query().Get("digest") != "" {
					digestPosts.Add(1)
				}
				return false
			}, nil)
			reg, err := Dial(context.Background(), repo.Registry, Push(repo), Options{Timeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			l := static.NewLayer(make([]byte, tc.size), "application/octet-stream")
			if err := reg.UploadBlob(context.Background(), repo, l); err != nil {
				t.Fatal(err)
			}
			if oneShot := digestPosts.Load() == 1 && patches.Load() == 0; oneShot != tc.oneShot {
				t.Fatalf("%d bytes: %d POSTs with the digest, %d PATCHes; want a single-request upload: %v", tc.size, digestPosts.Load(), patches.Load(), tc.oneShot)
			}
		})
	}
}
