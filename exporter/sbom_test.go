package exporter_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/exporter"
	"github.com/cnb-artifacts/lifecycle/registry"
)

func sbomArtifact(t *testing.T, format, mediaType, tag, content string) *artifacts.Artifact {
	t.Helper()
	a, err := artifacts.NewSBOM(artifacts.SBOMSpec{Format: format, MediaType: mediaType,
		Files: []artifacts.SBOMFile{{Title: "sbom." + format + ".json", Content: []byte(content)}}, Tag: tag, Version: "0.21.17", Annotations: map[string]string{"io.buildpacks.sbom.sources": "examples/node@1.0.0:modules"}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// An untagged artifact (an SBOM, by default) is written as a referrer of
// the app image and moves no tag: no PUT of a manifest by tag other than
// the app's and the fallback index, and its ref names it by digest. A
// tagged SBOM gets its tag like a declared artifact. Rebuilt from its
// manifest (a rebase, reattach) it is the same artifact.
func TestCommitUntaggedSBOM(t *testing.T) {
	t.Parallel()
	for _, referrers := range []bool{true, false} {
		t.Run(fmt.Sprintf("referrers=%v", referrers), func(t *testing.T) {
			rec, host := newRegistry(t, referrers)
			img, _ := random.Image(256, 1)
			app := host + "/app"
			arts := append(fixture(t),
				sbomArtifact(t, "cdx", "application/vnd.cyclonedx+json", "", `{"bomFormat":"CycloneDX"}`),
				sbomArtifact(t, "spdx", "application/spdx+json", "sbom-spdx", `{"spdxVersion":"SPDX-2.3"}`))
			res, err := commit(t, []string{app + ":latest"}, arts, img)
			if err != nil {
				t.Fatal(err)
			}
			tags := map[string]bool{}
			for _, r := range rec.requests() {
				if r.method == http.MethodPut && strings.Contains(r.path, "/manifests/") {
					ref := r.path[strings.LastIndex(r.path, "/")+1:]
					if !strings.HasPrefix(ref, "sha256:") {
						tags[ref] = true
					}
				}
			}
			d, _ := img.Digest()
			want := map[string]bool{"latest": true, "wasm": true, "junit": true, "sarif": true, "sbom-spdx": true}
			if !referrers {
				want["sha256-"+d.Hex] = true
			}
			if fmt.Sprint(tags) != fmt.Sprint(want) {
				t.Fatalf("tags written = %v, want %v", tags, want)
			}
			cdx := res.Artifacts[3]
			if got, wantRef := cdx.Refs, []string{app + "@" + cdx.Manifest.Descriptor.Digest.String()}; fmt.Sprint(got) != fmt.Sprint(wantRef) {
				t.Fatalf("untagged refs = %v, want %v", got, wantRef)
			}
			if got := res.Artifacts[4].Refs[0]; !strings.HasPrefix(got, app+":sbom-spdx@sha256:") {
				t.Fatalf("tagged SBOM ref = %s", got)
			}

			// Both are the app image's referrers, marked as SBOMs.
			c, err := registry.Dial(context.Background(), mustRef(t, app).Context().Registry, registry.Pull(mustRef(t, app).Context()), registry.Options{})
			if err != nil {
				t.Fatal(err)
			}
			prev, err := exporter.DiscoverArtifacts(context.Background(), c, mustRef(t, app).Context().Digest(d.String()))
			if err != nil {
				t.Fatal(err)
			}
			sboms := map[string]string{}
			for _, pa := range prev {
				if pa.SBOM != "" {
					sboms[pa.SBOM] = pa.Tag
				}
			}
			if fmt.Sprint(sboms) != fmt.Sprint(map[string]string{"cdx": "", "spdx": "sbom-spdx"}) {
				t.Fatalf("discovered SBOMs = %v", sboms)
			}

			// Rebuilt for another subject (ArtifactsOf), the SBOMs keep
			// their format, tag, content and annotations.
			again, _, err := exporter.ArtifactsOf(context.Background(), c, mustRef(t, app).Context().Digest(d.String()))
			if err != nil {
				t.Fatal(err)
			}
			created := time.Unix(1700000000, 0)
			var got []*artifacts.Artifact
			for _, a := range again {
				if a.SBOM != "" {
					got = append(got, a)
				}
			}
			if len(got) != 2 {
				t.Fatalf("ArtifactsOf gave %d SBOMs, want 2", len(got))
			}
			for _, a := range got {
				orig := arts[3]
				if a.SBOM == "spdx" {
					orig = arts[4]
				}
				m1, err := orig.Manifest(&v1.Descriptor{Digest: d}, created)
				if err != nil {
					t.Fatal(err)
				}
				m2, err := a.Manifest(&v1.Descriptor{Digest: d}, created)
				if err != nil {
					t.Fatal(err)
				}
				if string(m1.Raw) != string(m2.Raw) {
					t.Fatalf("%s rebuilt differs:\n%s\n%s", a.SBOM, m1.Raw, m2.Raw)
				}
				layers, _ := a.Layers()
				rc, err := layers[0].Compressed()
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(rc)
				rc.Close()
				if !strings.Contains(string(b), map[string]string{"cdx": "CycloneDX", "spdx": "SPDX-2.3"}[a.SBOM]) {
					t.Fatalf("%s content = %s", a.SBOM, b)
				}
			}
		})
	}
}

// An SBOM artifact of a previous image is never carried, even when its
// buildpack and layer are reused: the export makes it again from the layers
// directory.
func TestSBOMIsNotCarried(t *testing.T) {
	t.Parallel()
	_, host := newRegistry(t, true)
	img, _ := random.Image(256, 1)
	app := host + "/app"
	arts := []*artifacts.Artifact{sbomArtifact(t, "cdx", "application/vnd.cyclonedx+json", "", `{"bomFormat":"CycloneDX"}`)}
	if _, err := commit(t, []string{app + ":latest"}, arts, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	prev := mustRef(t, app).Context().Digest(d.String())
	c, err := registry.Dial(context.Background(), prev.Context().Registry, registry.Pull(prev.Context()), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reused := []artifacts.ReusedLayer{{Buildpack: artifacts.Buildpack{ID: artifacts.SBOMBuildpack}, Layer: artifacts.SBOMLayer}}
	carried, probs, err := exporter.Carry(context.Background(), c, prev, reused, nil)
	if err != nil || len(probs) > 0 || len(carried) > 0 {
		t.Fatalf("Carry = %d carried, %v, %v; want none", len(carried), probs, err)
	}
}

// An export whose artifacts are all untagged has no tag to own: the
// ownership check lists no tags.
func TestCommitUntaggedOnlyListsNoTags(t *testing.T) {
	t.Parallel()
	rec, host := newRegistry(t, true)
	img, _ := random.Image(256, 1)
	arts := []*artifacts.Artifact{sbomArtifact(t, "cdx", "application/vnd.cyclonedx+json", "", `{"bomFormat":"CycloneDX"}`)}
	if _, err := commit(t, []string{host + "/app:latest"}, arts, img); err != nil {
		t.Fatal(err)
	}
	for _, r := range rec.requests() {
		if strings.HasSuffix(r.path, "/tags/list") {
			t.Fatalf("listed tags: %s %s", r.method, r.path)
		}
	}
}
