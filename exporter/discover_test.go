package exporter_test

import (
	"context"
	"slices"
	"strings"
	"testing"

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
