package exporter_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/exporter"
	"github.com/cnb-artifacts/lifecycle/platform"
	"github.com/cnb-artifacts/lifecycle/registry"
)

const emptyConfig = `{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}`

// Before any write, every artifact tag is resolved: absent, or one of our
// artifacts, it may move; anything else refuses the export, naming the
// repository, the tag, what it holds and the buildpack.
func TestCheckTagOwnership(t *testing.T) {
	t.Parallel()
	ours := rawManifest{[]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/x","config":` + emptyConfig + `,"layers":[],"annotations":{"` +
		artifacts.AnnotationBuildpackID + `":"examples/wasm","` + artifacts.AnnotationLayer + `":"wasm"}}`), types.OCIManifestSchema1}
	foreignArtifact := rawManifest{[]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/x","config":` + emptyConfig + `,"layers":[]}`), types.OCIManifestSchema1}
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img})

	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, repo string) // repo: host/app
		want  []string                        // substrings of the error; none: allowed
		// ordered: want's substrings appear in this order
		ordered bool
	}{
		{name: "repository absent"},
		{name: "tags absent", setup: func(t *testing.T, repo string) { put(t, repo+":latest", img) }},
		{name: "our artifacts", setup: func(t *testing.T, repo string) {
			put(t, repo+":wasm", ours)
			put(t, repo+":junit", ours)
		}},
		{name: "an image", setup: func(t *testing.T, repo string) { put(t, repo+":junit", img) },
			want: []string{`buildpack "examples/reports@0.1.0", layer "reports"`, `artifact 1 (tag "junit")`, "/app:junit holds application/vnd.docker.distribution.manifest.v2+json sha256:", platform.EnvOverwriteForeignTags}},
		{name: "an index", setup: func(t *testing.T, repo string) {
			if err := remote.WriteIndex(mustRef(t, repo+":sarif"), idx); err != nil {
				t.Fatal(err)
			}
		},
			want: []string{`tag "sarif"`, "/app:sarif holds application/vnd.oci.image.index.v1+json"}},
		{name: "another tool's artifact", setup: func(t *testing.T, repo string) { put(t, repo+":wasm", foreignArtifact) },
			want: []string{`tag "wasm"`, "/app:wasm holds application/vnd.oci.image.manifest.v1+json"}},
		// The reads run concurrently; the refusals are still listed in plan
		// order, so the message is the same on every run.
		{name: "every tag foreign, in plan order", setup: func(t *testing.T, repo string) {
			put(t, repo+":wasm", foreignArtifact)
			put(t, repo+":junit", img)
			if err := remote.WriteIndex(mustRef(t, repo+":sarif"), idx); err != nil {
				t.Fatal(err)
			}
		},
			want: []string{"/app:wasm holds", "/app:junit holds", "/app:sarif holds"}, ordered: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, host := newRegistry(t, false)
			repo := host + "/app"
			if tc.setup != nil {
				tc.setup(t, repo)
			}
			tmpl, _ := platform.ParseTagTemplate("{tag}")
			plan, err := exporter.NewPlan([]string{repo + ":latest"}, fixture(t), tmpl, nil)
			if err != nil {
				t.Fatal(err)
			}
			c := client(t, host)
			_, err = plan.CheckTagOwnership(context.Background(), 2, func(name.Repository) *registry.Client { return c }, nil)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var fe *exporter.ForeignTagError
			if !errors.As(err, &fe) || !errors.Is(err, artifacts.ErrInvalid) {
				t.Fatalf("err %v, want a ForeignTagError that is artifacts.ErrInvalid", err)
			}
			at := -1
			for _, w := range tc.want {
				i := strings.Index(err.Error(), w)
				if i < 0 {
					t.Errorf("error %q\nlacks %q", err, w)
				}
				if tc.ordered && i < at {
					t.Errorf("error %q\nhas %q out of plan order", err, w)
				}
				at = i
			}
		})
	}
}

func put(t *testing.T, ref string, m remote.Taggable) {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(tag, m); err != nil {
		t.Fatalf("put %s: %v", ref, err)
	}
}

// An artifact tag equal to the tag of the cache, previous or run image in
// the same repository is refused like a collision.
func TestCheckReservedTags(t *testing.T) {
	t.Parallel()
	tmpl, _ := platform.ParseTagTemplate("{tag}")
	plan, err := exporter.NewPlan([]string{"r.example/app:latest"}, fixture(t), tmpl, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		names map[string]string
		want  string
	}{
		{map[string]string{"the cache image": "r.example/app:wasm"}, `published tag "wasm" collides with the cache image r.example/app:wasm`},
		{map[string]string{"the run image": "r.example/app:junit"}, `published tag "junit" collides with the run image r.example/app:junit`},
		{map[string]string{"the previous image": "r.example/other:wasm", "the cache image": "r.example/app:cache", "the run image": "r.example/app@sha256:" + strings.Repeat("a", 64)}, ""},
	} {
		err := plan.CheckReservedTags(tc.names, nil)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%v: %v", tc.names, err)
			}
			continue
		}
		if !errors.Is(err, artifacts.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want %q", tc.names, err, tc.want)
		}
	}
}

// client dials the test registry at host.
func client(t *testing.T, host string) *registry.Client {
	t.Helper()
	reg, err := name.NewRegistry(host)
	if err != nil {
		t.Fatal(err)
	}
	c, err := registry.Dial(context.Background(), reg, nil, registry.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A registry that refuses to list tags (403, least-privilege credentials)
// does not fail the export: every planned tag is resolved with a HEAD
// instead, and a foreign one is still refused.
func TestCheckTagOwnershipWithoutTagListing(t *testing.T) {
	t.Parallel()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, foreign := range []bool{false, true} {
		t.Run(map[bool]string{false: "tags ours or absent", true: "a foreign tag"}[foreign], func(t *testing.T) {
			t.Parallel()
			rec, host := newRegistry(t, false)
			repo := host + "/app"
			ours := rawManifest{[]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/x","config":` + emptyConfig + `,"layers":[],"annotations":{"` +
				artifacts.AnnotationBuildpackID + `":"examples/wasm","` + artifacts.AnnotationLayer + `":"wasm"}}`), types.OCIManifestSchema1}
			put(t, repo+":wasm", ours)
			if foreign {
				put(t, repo+":junit", img)
			}
			rec.setFail(func(r *http.Request) int {
				if strings.HasSuffix(r.URL.Path, "/tags/list") {
					return http.StatusForbidden
				}
				return 0
			})
			tmpl, _ := platform.ParseTagTemplate("{tag}")
			plan, err := exporter.NewPlan([]string{repo + ":latest"}, fixture(t), tmpl, nil)
			must(t, err)
			c := client(t, host)
			_, err = plan.CheckTagOwnership(context.Background(), 2, func(name.Repository) *registry.Client { return c }, nil)
			var fe *exporter.ForeignTagError
			if foreign != errors.As(err, &fe) || (!foreign && err != nil) {
				t.Fatalf("err %v; want a foreign tag refused: %v", err, foreign)
			}
			heads := 0
			for _, r := range rec.requests() {
				if r.method == http.MethodHead && strings.Contains(r.path, "/manifests/") {
					heads++
				}
			}
			if heads < 3 {
				t.Fatalf("%d HEADs; want one per planned tag (3)", heads)
			}
		})
	}
}

// A tag listing longer than the client reads (a registry whose every page
// links to another) is not the end of the check: each planned tag is
// asked for (HEAD), and a foreign one is still refused.
func TestCheckTagOwnershipWithEndlessTagListing(t *testing.T) {
	t.Parallel()
	img, err := random.Image(64, 1)
	must(t, err)
	rec, _ := newRegistry(t, false)
	var pages atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/tags/list") {
			n := pages.Add(1)
			w.Header().Set("Link", fmt.Sprintf(`<%s?n=1000&last=t%d>; rel="next"`, r.URL.Path, n))
			fmt.Fprintf(w, `{"name":"app","tags":["t%d"]}`, n)
			return
		}
		rec.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	repo := host + "/app"
	put(t, repo+":junit", img)
	tmpl, _ := platform.ParseTagTemplate("{tag}")
	plan, err := exporter.NewPlan([]string{repo + ":latest"}, fixture(t), tmpl, nil)
	must(t, err)
	c := client(t, host)
	_, err = plan.CheckTagOwnership(context.Background(), 2, func(name.Repository) *registry.Client { return c }, nil)
	var fe *exporter.ForeignTagError
	if !errors.As(err, &fe) || !strings.Contains(fe.Tag.Name(), ":junit") {
		t.Fatalf("err %v; want the foreign tag junit refused", err)
	}
	heads := 0
	for _, r := range rec.requests() {
		if r.method == http.MethodHead && strings.Contains(r.path, "/manifests/") {
			heads++
		}
	}
	if heads < 3 || pages.Load() == 0 {
		t.Fatalf("%d HEADs after %d listing pages; want one per planned tag (3)", heads, pages.Load())
	}
}

// The ownership check reads (GET) only what a HEAD cannot settle: a tag
// holding a manifest known to be ours (found by discovery, or about to be
// written), or something other than an OCI image manifest, costs a HEAD.
func TestCheckTagOwnershipHeadSettles(t *testing.T) {
	t.Parallel()
	img, err := random.Image(64, 1)
	must(t, err)
	ours := rawManifest{[]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/x","config":` + emptyConfig + `,"layers":[],"annotations":{"` +
		artifacts.AnnotationBuildpackID + `":"examples/wasm","` + artifacts.AnnotationLayer + `":"wasm"}}`), types.OCIManifestSchema1}
	oursDigest, _, _ := v1.SHA256(strings.NewReader(string(ours.b)))
	for _, tc := range []struct {
		name     string
		known    bool
		wantGets int
		foreign  bool
	}{
		{name: "our artifacts, known", known: true, wantGets: 0},
		{name: "our artifacts, not known: read", known: false, wantGets: 2},
		{name: "an image: a HEAD settles it", foreign: true, wantGets: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec, host := newRegistry(t, false)
			repo := host + "/app"
			if tc.foreign {
				put(t, repo+":wasm", img)
			} else {
				put(t, repo+":wasm", ours)
				put(t, repo+":junit", ours)
			}
			tmpl, _ := platform.ParseTagTemplate("{tag}")
			plan, err := exporter.NewPlan([]string{repo + ":latest"}, fixture(t), tmpl, nil)
			must(t, err)
			known := map[v1.Hash]bool{}
			if tc.known {
				known[oursDigest] = true
			}
			c := client(t, host)
			before := len(rec.requests())
			held, err := plan.CheckTagOwnership(context.Background(), 2, func(name.Repository) *registry.Client { return c }, known)
			if tc.foreign != (err != nil) {
				t.Fatalf("err %v", err)
			}
			// What the tags of ours hold, for the tag step; nothing of a
			// foreign one.
			want := map[string]v1.Hash{}
			if !tc.foreign {
				want = map[string]v1.Hash{repo + ":wasm": oursDigest, repo + ":junit": oursDigest}
			}
			if !maps.Equal(held, want) {
				t.Errorf("held %v, want %v", held, want)
			}
			gets := 0
			for _, r := range rec.requests()[before:] {
				if r.method == http.MethodGet && strings.Contains(r.path, "/manifests/") {
					gets++
				}
			}
			if gets != tc.wantGets {
				t.Fatalf("%d manifest GETs, want %d", gets, tc.wantGets)
			}
		})
	}
}
