package registry

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/stream"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// fast is the default policy's shape with millisecond waits, so that a
// table of retried requests runs in a blink.
var fast = retryPolicy{attempts: 5, first: time.Millisecond, max: 10 * time.Millisecond, budget: time.Second}

// faultOnce answers the first request that matches with fault, then lets
// every request through to a real registry (go-containerregistry's
// in-process one), counting the matches.
type faultOnce struct {
	next           http.Handler
	plain, wrapped http.Handler
	mu             sync.Mutex
	match          func(*http.Request) bool
	fault          func(http.ResponseWriter, *http.Request)
	hits           int
}

func (f *faultOnce) set(match func(*http.Request) bool, fault func(http.ResponseWriter, *http.Request)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.match, f.fault, f.hits = match, fault, 0
}

// enable routes every later request through the wrapper.
func (f *faultOnce) enable() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.wrapped != nil {
		f.next = f.wrapped
	}
}

func (f *faultOnce) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits
}

func (f *faultOnce) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	var fault func(http.ResponseWriter, *http.Request)
	if f.match != nil && f.match(r) {
		f.hits++
		if f.hits == 1 {
			fault = f.fault
		}
	}
	next := f.next
	f.mu.Unlock()
	if fault != nil {
		fault(w, r)
		return
	}
	next.ServeHTTP(w, r)
}

// statusFault answers code with a plain-text body: no OCI error code that
// go-containerregistry would judge temporary on its own.
func statusFault(code int) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "injected")
	}
}

// stallMidBody reads a little of an upload, then stops reading for longer
// than the client's stall deadline (500 ms here).
func stallMidBody(_ http.ResponseWriter, r *http.Request) {
	_, _ = io.CopyN(io.Discard, r.Body, 64<<10)
	time.Sleep(2 * time.Second)
}

// unknownDigest is a blob whose digest is computed while it is uploaded
// (as the exporter's streamed files); it can be read again.
type unknownDigest struct{ b []byte }

func (u unknownDigest) Digest() (v1.Hash, error)            { return v1.Hash{}, stream.ErrNotComputed }
func (u unknownDigest) DiffID() (v1.Hash, error)            { return v1.Hash{}, stream.ErrNotComputed }
func (u unknownDigest) Size() (int64, error)                { return 0, stream.ErrNotComputed }
func (u unknownDigest) MediaType() (types.MediaType, error) { return types.OCILayer, nil }
func (u unknownDigest) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(u.b)), nil
}
func (u unknownDigest) Uncompressed() (io.ReadCloser, error) { return u.Compressed() }

func on(method, pathPart string, query ...string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		if r.Method != method || !strings.Contains(r.URL.Path, pathPart) {
			return false
		}
		for _, q := range query {
			if !strings.Contains(r.URL.RawQuery, q) {
				return false
			}
		}
		return true
	}
}

// startRegistry serves go-containerregistry's in-process registry behind a
// faultOnce, and behind wrap once the test enables it.
func startRegistry(t *testing.T, referrers bool, wrap ...func(http.Handler) http.Handler) (*faultOnce, name.Repository) {
	t.Helper()
	var h http.Handler = ggcrregistry.New(ggcrregistry.WithReferrersSupport(referrers), ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	f := &faultOnce{next: h, plain: h}
	if len(wrap) > 0 && wrap[0] != nil {
		f.wrapped = wrap[0](h)
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://") + "/app")
	if err != nil {
		t.Fatal(err)
	}
	return f, repo
}

func dialFast(t *testing.T, repo name.Repository, timeout time.Duration) *Client {
	t.Helper()
	p := fast
	c, err := Dial(context.Background(), repo.Registry, Push(repo), Options{Timeout: timeout, retry: &p})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The one retry policy reaches every request the client makes, whatever
// its size or kind: a status that go-containerregistry's default list lacks
// (507, 520), a 503, and a stall mid-upload are each retried and the
// operation succeeds.
func TestRetryReachesEveryPath(t *testing.T) {
	t.Parallel()
	big := func() v1.Layer { return static.NewLayer(bytes.Repeat([]byte("b"), SmallBlob+4096), types.OCILayer) }
	small := func() v1.Layer { return static.NewLayer([]byte("small blob"), types.OCILayer) }
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	imgDigest, _ := img.Digest()
	raw, _ := img.RawManifest()
	// ready writes the image, and its tag, before the fault is set.
	ready := func(t *testing.T, repo name.Repository) {
		t.Helper()
		if err := remote.Write(repo.Tag("latest"), img); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name      string
		referrers bool
		setup     func(t *testing.T, repo name.Repository)
		wrap      func(http.Handler) http.Handler // in front of the registry after setup
		match     func(*http.Request) bool
		fault     func(http.ResponseWriter, *http.Request)
		op        func(ctx context.Context, c *Client, repo name.Repository) error
	}{
		{name: "small upload, 520", match: on(http.MethodPost, "/blobs/uploads/", "digest="), fault: statusFault(520),
			op: func(ctx context.Context, c *Client, repo name.Repository) error {
				return c.UploadBlob(ctx, repo, small())
			}},
		{name: "large upload, POST 503", match: on(http.MethodPost, "/blobs/uploads/"), fault: statusFault(503),
			op: func(ctx context.Context, c *Client, repo name.Repository) error {
				return c.UploadBlob(ctx, repo, big())
			}},
		{name: "large upload, PATCH 507", match: on(http.MethodPatch, "/blobs/uploads/"), fault: statusFault(507),
			op: func(ctx context.Context, c *Client, repo name.Repository) error {
				return c.UploadBlob(ctx, repo, big())
			}},
		{name: "large upload, PUT 520", match: on(http.MethodPut, "/blobs/uploads/"), fault: statusFault(520),
			op: func(ctx context.Context, c *Client, repo name.Repository) error {
				return c.UploadBlob(ctx, repo, big())
			}},
		{name: "large upload, stall mid-PATCH", match: on(http.MethodPatch, "/blobs/uploads/"), fault: stallMidBody,
			op: func(ctx context.Context, c *Client, repo name.Repository) error {
				return c.UploadBlob(ctx, repo, big())
			}},
		{name: "streamed upload (digest unknown), PATCH 507", match: on(http.MethodPatch, "/blobs/uploads/"), fault: statusFault(507),
			op: func(ctx context.Context, c *Client, repo name.Repository) error {
				b := bytes.Repeat([]byte("s"), SmallBlob+1)
				if err := c.UploadBlob(ctx, repo, unknownDigest{b}); err != nil {
					return err
				}
				h, _, _ := v1.SHA256(bytes.NewReader(b))
				if ok, err := c.BlobExists(ctx, repo, h); !ok || err != nil {
					t.Errorf("streamed blob %s not there: %v", h, err)
				}
				return nil
			}},
		{name: "blob exists, HEAD 520", match: on(http.MethodHead, "/blobs/sha256:"), fault: statusFault(520),
			op: func(ctx context.Context, c *Client, repo name.Repository) error {
				return c.UploadBlob(ctx, repo, small())
			}},
		{name: "mount, 503", setup: ready, wrap: blobsUnknownIn("other"), match: on(http.MethodPost, "/blobs/uploads/", "mount="), fault: statusFault(503),
			op: func(ctx context.Context, c *Client, repo name.Repository) error {
				ls, _ := img.Layers()
				other, _ := name.NewRepository(repo.RegistryStr() + "/other")
				return c.UploadBlob(ctx, other, &Mountable{Layer: ls[0], From: repo})
			}},
		{name: "manifest PUT, 520", setup: ready, match: on(http.MethodPut, "/manifests/"), fault: statusFault(520),
			op: func(ctx context.Context, c *Client, repo name.Repository) error {
				_, err := c.PutManifest(ctx, repo, "v2", types.DockerManifestSchema2, raw)
				return err
			}},
		{name: "manifest HEAD, 520", setup: ready, match: on(http.MethodHead, "/manifests/"), fault: statusFault(520),
			op: func(ctx context.Context, c *Client, repo name.Repository) error {
				d, err := c.Head(ctx, repo, "latest")
				if err == nil && d.Digest != imgDigest {
					t.Errorf("HEAD digest %s, want %s", d.Digest, imgDigest)
				}
				return err
			}},
		{name: "manifest GET, 507", setup: ready, match: on(http.MethodGet, "/manifests/"), fault: statusFault(507),
			op: func(ctx context.Context, c *Client, repo name.Repository) error {
				_, err := c.Get(ctx, repo, "latest")
				return err
			}},
		{name: "tag list, 520", setup: ready, match: on(http.MethodGet, "/tags/list"), fault: statusFault(520),
			op: func(ctx context.Context, c *Client, repo name.Repository) error {
				tags, err := c.ListTags(ctx, repo)
				if err == nil && len(tags) != 1 {
					t.Errorf("tags %v", tags)
				}
				return err
			}},
		{name: "referrers probe, 503", referrers: true, setup: ready, match: on(http.MethodGet, "/referrers/"), fault: statusFault(503),
			op: func(ctx context.Context, c *Client, repo name.Repository) error {
				a, err := c.ProbeReferrersAPI(ctx, repo, imgDigest)
				if err == nil && !a.Indexed {
					t.Errorf("a 503 then the API: %+v", a)
				}
				return err
			}},
		{name: "blob read, 520", setup: ready, match: on(http.MethodGet, "/blobs/sha256:"), fault: statusFault(520),
			op: func(ctx context.Context, c *Client, repo name.Repository) error {
				ls, _ := img.Layers()
				d, _ := ls[0].Digest()
				rc, err := c.ReadBlob(ctx, repo, d)
				if err != nil {
					return err
				}
				defer rc.Close()
				_, err = io.Copy(io.Discard, rc)
				return err
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, repo := startRegistry(t, tc.referrers, tc.wrap)
			if tc.setup != nil {
				tc.setup(t, repo)
			}
			f.enable()
			c := dialFast(t, repo, 500*time.Millisecond)
			f.set(tc.match, tc.fault)
			if err := tc.op(context.Background(), c, repo); err != nil {
				t.Fatalf("failed: %v", err)
			}
			if n := f.count(); n < 2 {
				t.Fatalf("%d matching requests, want the faulted one retried", n)
			}
		})
	}
}

// blobsUnknownIn answers 404 to a HEAD of any blob of repository repo: the
// in-process registry keeps blobs for every repository, so without it a
// blob another repository has would never need a mount.
func blobsUnknownIn(repo string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodHead && strings.HasPrefix(r.URL.Path, "/v2/"+repo+"/blobs/") {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// A blob the repository has already is neither mounted nor uploaded: a
// re-export writes no blob (R7-9).
func TestUploadBlobSkipsWhatTheRepositoryHas(t *testing.T) {
	t.Parallel()
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	f, repo := startRegistry(t, false)
	if err := remote.Write(repo.Tag("latest"), img); err != nil {
		t.Fatal(err)
	}
	src, err := name.NewRepository(repo.RegistryStr() + "/src")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(src.Tag("latest"), img); err != nil {
		t.Fatal(err)
	}
	c := dialFast(t, repo, time.Second)
	f.set(func(r *http.Request) bool { return r.Method != http.MethodHead }, nil)
	ls, _ := img.Layers()
	for _, l := range []v1.Layer{ls[0], &Mountable{Layer: ls[0], From: src}} {
		if err := c.UploadBlob(context.Background(), repo, l); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.count(); n != 0 {
		t.Fatalf("%d requests besides HEAD for blobs the repository has, want 0", n)
	}
}

func staticBlob(b []byte) v1.Layer { return static.NewLayer(b, types.OCILayer) }
