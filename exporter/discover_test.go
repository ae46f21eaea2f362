package exporter_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/exporter"
	"github.com/cnb-artifacts/lifecycle/platform"
	ourregistry "github.com/cnb-artifacts/lifecycle/registry"
)

// The artifacts of a previous image are found by their annotations, through
// the referrers API or the fallback index, and someone else's referrers are
// left out; the plan names those it does not publish again.
func TestDiscoverArtifacts(t *testing.T) {
	t.Parallel()
	for _, api := range []bool{true, false} {
		t.Run(map[bool]string{true: "referrers API", false: "fallback index"}[api], func(t *testing.T) {
			t.Parallel()
			_, host := newRegistry(t, api)
			repo := host + "/app"
			img, err := random.Image(64, 1)
			if err != nil {
				t.Fatal(err)
			}
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(remote.Write(mustRef(t, repo+":latest"), img))
			d, _ := img.Digest()
			subject := `{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"` + d.String() + `","size":1}`
			referrer := func(ann string) rawManifest {
				return rawManifest{[]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/x","config":` + emptyConfig + `,"layers":[],"subject":` + subject + `,"annotations":{` + ann + `}}`), types.OCIManifestSchema1}
			}
			ours := func(bp, layer, tag string) rawManifest {
				return referrer(`"` + artifacts.AnnotationBuildpackID + `":"` + bp + `","` + artifacts.AnnotationLayer + `":"` + layer + `","` + artifacts.AnnotationTag + `":"` + tag + `"`)
			}
			var descs []v1.Descriptor
			for _, m := range []rawManifest{ours("examples/wasm", "wasm", "wasm"), ours("examples/reports", "reports", "junit"), ours("examples/old", "gone", "old"), referrer(`"org.example.signature":"yes"`)} {
				h, size, _ := v1.SHA256(strings.NewReader(string(m.b)))
				must(remote.Put(mustRef(t, repo+"@"+h.String()), m))
				descs = append(descs, v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: h, Size: size, ArtifactType: "application/x"})
			}
			if !api {
				// The fallback index, written as a client without the API
				// writes it: here without annotations, so each manifest is read.
				idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
				for _, d := range descs {
					idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: descOnly{d}, Descriptor: d})
				}
				raw, err := idx.RawManifest()
				must(err)
				must(remote.Put(mustRef(t, repo+":sha256-"+d.Hex), rawManifest{raw, types.OCIImageIndex}))
			}
			subj, err := name.NewDigest(repo + "@" + d.String())
			must(err)
			prev, err := exporter.DiscoverArtifacts(context.Background(), client(t, host), subj)
			must(err)
			var got []string
			for _, p := range prev {
				got = append(got, p.Buildpack+"/"+p.Layer+":"+p.Tag)
			}
			slices.Sort(got) // the referrers API lists in no set order
			if strings.Join(got, " ") != "examples/old/gone:old examples/reports/reports:junit examples/wasm/wasm:wasm" {
				t.Fatalf("discovered %v", got)
			}
			tmpl, _ := platform.ParseTagTemplate("{tag}")
			plan, err := exporter.NewPlan([]string{repo + ":latest"}, fixture(t), tmpl, nil)
			must(err)
			stale := plan.Stale(prev)
			if len(stale) != 1 || stale[0].Tag != "old" {
				t.Fatalf("stale %+v, want the one tagged old", stale)
			}
		})
	}
}

// descOnly is an index entry known only by its descriptor.
type descOnly struct{ d v1.Descriptor }

func (o descOnly) RawManifest() ([]byte, error)        { return nil, nil }
func (o descOnly) MediaType() (types.MediaType, error) { return o.d.MediaType, nil }
func (o descOnly) Digest() (v1.Hash, error)            { return o.d.Digest, nil }
func (o descOnly) Size() (int64, error)                { return o.d.Size, nil }

// putFallback writes, as the fallback index of subject d in repo, an index
// listing descs as given (annotations included).
func putFallback(t *testing.T, repo string, d v1.Hash, descs []v1.Descriptor) {
	t.Helper()
	raw, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: descs})
	if err != nil {
		t.Fatal(err)
	}
	put(t, repo+":sha256-"+d.Hex, rawManifest{raw, types.OCIImageIndex})
}

func oursDesc(i int, tag string) v1.Descriptor {
	return v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: 100, ArtifactType: "application/x",
		Digest:      v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064x", i)},
		Annotations: map[string]string{artifacts.AnnotationBuildpackID: "examples/many", artifacts.AnnotationLayer: "l", artifacts.AnnotationTag: tag}}
}

// Discovery never truncates: exactly as many artifacts as an export
// publishes are found; one more is an error naming the count. Of the
// referrers, at most 10 × MaxArtifacts are read (others' referrers, not
// ours, count too); one more is an error.
func TestDiscoverArtifactsTooMany(t *testing.T) {
	t.Parallel()
	others := func(n int) []v1.Descriptor { // someone else's referrers: indexes, never read
		var ds []v1.Descriptor
		for i := range n {
			ds = append(ds, v1.Descriptor{MediaType: types.OCIImageIndex, Size: 100, Digest: v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064x", 1<<20+i)}})
		}
		return ds
	}
	ours := func(n int) []v1.Descriptor {
		var ds []v1.Descriptor
		for i := range n {
			ds = append(ds, oursDesc(i, fmt.Sprintf("t%d", i)))
		}
		return ds
	}
	const maxReferrers = 10 * artifacts.MaxArtifacts
	for _, tc := range []struct {
		name     string
		descs    []v1.Descriptor
		wantN    int
		tooMany  bool
		wantRefs bool // the referrers limit refuses
	}{
		{name: "exactly the artifacts an export publishes", descs: ours(artifacts.MaxArtifacts), wantN: artifacts.MaxArtifacts},
		{name: "one artifact more", descs: ours(artifacts.MaxArtifacts + 1), tooMany: true},
		{name: "exactly the referrers read", descs: append(ours(1), others(maxReferrers-1)...), wantN: 1},
		{name: "one referrer more", descs: append(ours(1), others(maxReferrers)...), wantRefs: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: tc.descs})
			must(t, err)
			// The registry serves this fallback index (its entries, which a
			// registry would want to exist, are never read: their
			// annotations say whose they are).
			reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.Contains(r.URL.Path, "/manifests/sha256-") {
					w.Header().Set("Content-Type", string(types.OCIImageIndex))
					_, _ = w.Write(raw)
					return
				}
				reg.ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)
			host := strings.TrimPrefix(srv.URL, "http://")
			repo := host + "/app"
			subj := pushSubject(t, repo)
			prev, err := exporter.DiscoverArtifacts(context.Background(), client(t, host), subj)
			var tm *exporter.TooManyArtifactsError
			switch {
			case tc.tooMany:
				if !errors.As(err, &tm) || tm.Count != artifacts.MaxArtifacts+1 || !strings.Contains(err.Error(), fmt.Sprint(artifacts.MaxArtifacts+1)) {
					t.Fatalf("discovered %d, err %v; want an error naming %d", len(prev), err, artifacts.MaxArtifacts+1)
				}
			case tc.wantRefs:
				if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d referrers, more than %d", maxReferrers+1, maxReferrers)) {
					t.Fatalf("discovered %d, err %v; want the referrers limit", len(prev), err)
				}
			default:
				if err != nil || len(prev) != tc.wantN {
					t.Fatalf("discovered %d, err %v; want %d", len(prev), err, tc.wantN)
				}
			}
		})
	}
}

// Two artifacts of one subject declaring the same tag (two exports of the
// same app digest whose artifact bytes changed): the one the tag names
// wins; when it names neither, discovery refuses, naming both digests.
func TestDiscoverArtifactsSameTag(t *testing.T) {
	t.Parallel()
	for _, named := range []string{"one", "two", ""} {
		t.Run(map[string]string{"one": "the tag names the first", "two": "the tag names the second", "": "the tag names neither"}[named], func(t *testing.T) {
			t.Parallel()
			_, host := newRegistry(t, false)
			repo := host + "/app"
			img, _ := random.Image(64, 1)
			must(t, remote.Write(mustRef(t, repo+":latest"), img))
			d, _ := img.Digest()
			subject := `{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"` + d.String() + `","size":1}`
			var descs []v1.Descriptor
			for _, v := range []string{"one", "two"} {
				m := rawManifest{[]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/x","config":` + emptyConfig + `,"layers":[],"subject":` + subject +
					`,"annotations":{"` + artifacts.AnnotationBuildpackID + `":"examples/wasm","` + artifacts.AnnotationLayer + `":"wasm","` + artifacts.AnnotationTag + `":"wasm","v":"` + v + `"}}`), types.OCIManifestSchema1}
				h, size, _ := v1.SHA256(strings.NewReader(string(m.b)))
				must(t, remote.Put(mustRef(t, repo+"@"+h.String()), m))
				descs = append(descs, v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: h, Size: size})
				if v == named {
					must(t, remote.Put(mustRef(t, repo+":wasm"), m))
				}
			}
			putFallback(t, repo, d, descs)
			subj, _ := name.NewDigest(repo + "@" + d.String())
			prev, err := exporter.DiscoverArtifacts(context.Background(), client(t, host), subj)
			if named != "" {
				want := descs[map[string]int{"one": 0, "two": 1}[named]].Digest
				if err != nil || len(prev) != 1 || prev[0].Descriptor.Digest != want {
					t.Fatalf("discovered %+v, err %v; want the one tag wasm names, %s", prev, err, want)
				}
				return
			}
			var dt *exporter.DuplicateTagError
			if !errors.As(err, &dt) || !strings.Contains(err.Error(), descs[0].Digest.String()) || !strings.Contains(err.Error(), descs[1].Digest.String()) {
				t.Fatalf("discovered %+v, err %v; want a refusal naming both digests", prev, err)
			}
		})
	}
}

// A registry that resolves the fallback tag to the subject itself (GitLab)
// cannot tell the referrers: discovery fails, and carrying reports a
// problem for each reused layer, never "no artifacts".
func TestDiscoverArtifactsFallbackIsSubject(t *testing.T) {
	t.Parallel()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if i := strings.Index(r.URL.Path, "/manifests/sha256-"); i >= 0 && r.Method != http.MethodPut {
			r = r.Clone(r.Context())
			r.URL.Path = r.URL.Path[:i] + "/manifests/sha256:" + r.URL.Path[i+len("/manifests/sha256-"):]
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	repo := host + "/app"
	subj := pushSubject(t, repo)
	c := client(t, host)
	if prev, err := exporter.DiscoverArtifacts(context.Background(), c, subj); !errors.Is(err, ourregistry.ErrReferrersUnknown) {
		t.Fatalf("discovered %+v, err %v; want ErrReferrersUnknown", prev, err)
	}
	reused := []artifacts.ReusedLayer{{Buildpack: artifacts.Buildpack{ID: "examples/many", Version: "1"}, Layer: "l"}}
	carried, probs, err := exporter.Carry(context.Background(), c, subj, reused, nil)
	if len(carried) != 0 || len(probs) != 1 || !errors.Is(probs[0].Err, ourregistry.ErrReferrersUnknown) || err != nil {
		t.Fatalf("carried %v, problems %v, err %v; want one problem", carried, probs, err)
	}
}

// pushSubject pushes a random image to repo:latest and returns it by digest.
func pushSubject(t *testing.T, repo string) name.Digest {
	t.Helper()
	img, err := random.Image(64, 1)
	must(t, err)
	must(t, remote.Write(mustRef(t, repo+":latest"), img))
	d, err := img.Digest()
	must(t, err)
	subj, err := name.NewDigest(repo + "@" + d.String())
	must(t, err)
	return subj
}

// The previous image's artifacts a plan does not publish again: a tagged one
// by its tag (its layer may publish under another tag now), one without a
// tag by its buildpack and layer.
func TestPlanStale(t *testing.T) {
	t.Parallel()
	tmpl, _ := platform.ParseTagTemplate("{tag}")
	plan, err := exporter.NewPlan([]string{"r.example/app:latest"}, fixture(t), tmpl, nil)
	must(t, err)
	prev := []exporter.PreviousArtifact{
		{Buildpack: "examples/wasm", Layer: "wasm", Tag: "wasm"},
		{Buildpack: "examples/wasm", Layer: "wasm", Tag: "renamed"},
		{Buildpack: "examples/reports", Layer: "reports"},
		{Buildpack: "examples/old", Layer: "gone"},
	}
	var got []string
	for _, pa := range plan.Stale(prev) {
		got = append(got, pa.Buildpack+"/"+pa.Layer+":"+pa.Tag)
	}
	if want := "examples/wasm/wasm:renamed examples/old/gone:"; strings.Join(got, " ") != want {
		t.Fatalf("stale %q, want %q", got, want)
	}
}
