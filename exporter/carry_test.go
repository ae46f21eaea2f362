package exporter_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/exporter"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// The artifacts of reused layers are rebuilt for the new image from the
// previous image's manifests, with the same blobs; a declared artifact of
// the same layer wins; a carried tag another buildpack declares collides.
func TestCarry(t *testing.T) {
	t.Parallel()
	_, host := newRegistry(t, true)
	repo := host + "/app"
	img, err := random.Image(64, 1)
	must(t, err)
	must(t, remote.Write(mustRef(t, repo+":latest"), img))
	d, _ := img.Digest()
	subject := `{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"` + d.String() + `","size":1}`
	layerDigest := "sha256:" + strings.Repeat("c", 64)
	ours := func(bp, layer, tag string) rawManifest {
		return rawManifest{[]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.cncf.helm.config.v1+json","config":` + emptyConfig +
			`,"layers":[{"mediaType":"application/vnd.cncf.helm.chart.content.v1.tar+gzip","digest":"` + layerDigest + `","size":42,"annotations":{"org.opencontainers.image.title":"hello-0.1.0.tgz"}}],"subject":` + subject +
			`,"annotations":{"` + artifacts.AnnotationBuildpackID + `":"` + bp + `","` + artifacts.AnnotationLayer + `":"` + layer + `","` + artifacts.AnnotationTag + `":"` + tag + `"}}`), types.OCIManifestSchema1}
	}
	for _, m := range []rawManifest{ours("examples/helm", "chart", "0.1.0"), ours("examples/wasm", "wasm", "wasm-old"), ours("examples/helm", "notes", "junit")} {
		h, _, _ := v1.SHA256(strings.NewReader(string(m.b)))
		must(t, remote.Put(mustRef(t, repo+"@"+h.String()), m))
	}
	prev, err := name.NewDigest(repo + "@" + d.String())
	must(t, err)
	gone, err := name.NewDigest(repo + "@sha256:" + strings.Repeat("0", 64))
	must(t, err)
	layer := func(bp, l string) artifacts.ReusedLayer {
		return artifacts.ReusedLayer{Buildpack: artifacts.Buildpack{ID: bp, Version: "1.0.0"}, Layer: l}
	}
	for _, tc := range []struct {
		name      string
		previous  name.Digest
		reused    []artifacts.ReusedLayer
		wantTags  []string
		wantProbs int
		wantErr   string
	}{
		{name: "nothing reused", previous: prev},
		{name: "a reused layer", previous: prev, reused: []artifacts.ReusedLayer{layer("examples/helm", "chart")}, wantTags: []string{"0.1.0"}},
		{name: "a declared layer wins", previous: prev, reused: []artifacts.ReusedLayer{layer("examples/wasm", "wasm")}},
		{name: "a carried tag another buildpack declares", previous: prev, reused: []artifacts.ReusedLayer{layer("examples/helm", "notes")},
			wantErr: `artifact 1 (tag "junit"): published tag "junit" collides with the artifact of buildpack "examples/helm", layer "notes", carried from the previous image`},
		{name: "the previous image is gone", previous: gone, reused: []artifacts.ReusedLayer{layer("examples/helm", "chart"), layer("examples/helm", "notes")}, wantProbs: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			carried, probs, err := exporter.Carry(context.Background(), client(t, host), tc.previous, tc.reused, fixture(t))
			if tc.wantErr != "" {
				if !errors.Is(err, artifacts.ErrInvalid) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(probs) != tc.wantProbs {
				t.Fatalf("problems %v, err %v; want %d problems", probs, err, tc.wantProbs)
			}
			var tags []string
			for _, c := range carried {
				tags = append(tags, c.Tag)
				if !strings.HasPrefix(c.CarriedFrom, repo+"@sha256:") {
					t.Errorf("carried from %q", c.CarriedFrom)
				}
				newSubject := &v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("e", 64)}, Size: 9}
				m, err := c.Manifest(newSubject, time.Unix(0, 0))
				must(t, err)
				for _, w := range []string{newSubject.Digest.String(), layerDigest, `"org.opencontainers.image.title":"hello-0.1.0.tgz"`, `"` + artifacts.AnnotationTag + `":"0.1.0"`} {
					if !strings.Contains(string(m.Raw), w) {
						t.Errorf("carried manifest lacks %s:\n%s", w, m.Raw)
					}
				}
			}
			if strings.Join(tags, ",") != strings.Join(tc.wantTags, ",") {
				t.Fatalf("carried %v, want %v", tags, tc.wantTags)
			}
		})
	}
}
