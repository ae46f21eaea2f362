package registry

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var fallbackPath = regexp.MustCompile(`/manifests/sha256-([a-f0-9]{64})$`)

// The referrers rule (docs/spec.md 6): the API's own answer, else the
// fallback tag: 404 is none, an index is the list, anything else (GitLab's
// subject) cannot tell; an answer that cannot tell is
// ErrReferrersUnknown for a read, never an empty list.
func TestReferrersRule(t *testing.T) {
	t.Parallel()
	const emptyConfig = `{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}`
	for _, tc := range []struct {
		name      string
		api       bool
		fallback  bool                                     // write a fallback index listing the referrer
		fault     func(http.ResponseWriter, *http.Request) // answers every request that match matches
		match     func(*http.Request) bool
		wantCount int
		wantErr   error
	}{
		{name: "API", api: true, wantCount: 1},
		{name: "no API, fallback index", fallback: true, wantCount: 1},
		{name: "no API, no fallback tag", wantCount: 0},
		{name: "no API, the fallback tag resolves to the subject (GitLab)", fallback: true,
			match:   func(r *http.Request) bool { return fallbackPath.MatchString(r.URL.Path) },
			wantErr: ErrReferrersUnknown},
		{name: "API answers 503 every time", api: true, match: on(http.MethodGet, "/referrers/"), fault: statusFault(503), wantErr: ErrReferrersUnknown},
		{name: "fallback tag answers 500 every time", fallback: true, match: on(http.MethodGet, "/manifests/sha256-"), fault: statusFault(500), wantErr: ErrReferrersUnknown},
		{name: "API hangs", api: true, match: on(http.MethodGet, "/referrers/"), fault: func(w http.ResponseWriter, r *http.Request) { time.Sleep(time.Second) },
			wantErr: ErrReferrersUnknown},
		{name: "API redirects to an HTML login page: the fallback index", fallback: true, match: on(http.MethodGet, "/referrers/"),
			fault: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				_, _ = w.Write([]byte("<html>sign in</html>"))
			}, wantCount: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var wrap func(http.Handler) http.Handler
			switch {
			case tc.match != nil && tc.fault == nil:
				wrap = func(next http.Handler) http.Handler { return gitlab{next: next} }
			case tc.match != nil:
				wrap = func(next http.Handler) http.Handler { return always{match: tc.match, fault: tc.fault, next: next} }
			}
			f, repo := startRegistry(t, tc.api, wrap)
			c := dialFast(t, repo, 300*time.Millisecond)
			ctx := context.Background()
			img, _ := random.Image(64, 1)
			must(t, remote.Write(repo.Tag("latest"), img))
			d, _ := img.Digest()
			subject := `{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"` + d.String() + `","size":1}`
			ref := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/x","config":` + emptyConfig + `,"layers":[],"subject":` + subject + `}`)
			h, size, _ := v1.SHA256(bytes.NewReader(ref))
			// Written with the client, which (unlike go-containerregistry's
			// remote.Put) writes no fallback index of its own.
			_, err := c.PutManifest(ctx, repo, h.String(), types.OCIManifestSchema1, ref)
			must(t, err)
			if tc.fallback {
				desc := v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: h, Size: size, ArtifactType: "application/x"}
				idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), mutate.IndexAddendum{Add: descOnly{desc}, Descriptor: desc})
				raw, _ := idx.RawManifest()
				_, err := c.PutManifest(ctx, repo, FallbackTag(d), types.OCIImageIndex, raw)
				must(t, err)
			}
			f.enable()
			got, err := c.Referrers(ctx, repo, d)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || got != nil {
					t.Fatalf("referrers %v, err %v; want %v", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || len(got) != tc.wantCount {
				t.Fatalf("referrers %v, err %v; want %d", got, err, tc.wantCount)
			}
		})
	}
}

// gitlab answers a fallback tag with the subject manifest, as GitLab does.
type gitlab struct{ next http.Handler }

func (g gitlab) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if m := fallbackPath.FindStringSubmatch(r.URL.Path); m != nil {
		r = r.Clone(r.Context())
		r.URL.Path = strings.TrimSuffix(r.URL.Path, "sha256-"+m[1]) + "sha256:" + m[1]
	}
	g.next.ServeHTTP(w, r)
}

// always answers every matching request with fault.
type always struct {
	match func(*http.Request) bool
	fault func(http.ResponseWriter, *http.Request)
	next  http.Handler
}

func (a always) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.match(r) {
		a.fault(w, r)
		return
	}
	a.next.ServeHTTP(w, r)
}

// descOnly is an index entry known only by its descriptor.
type descOnly struct{ d v1.Descriptor }

func (o descOnly) RawManifest() ([]byte, error)        { return nil, nil }
func (o descOnly) MediaType() (types.MediaType, error) { return o.d.MediaType, nil }
func (o descOnly) Digest() (v1.Hash, error)            { return o.d.Digest, nil }
func (o descOnly) Size() (int64, error)                { return o.d.Size, nil }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
