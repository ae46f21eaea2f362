package exporter_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildpacks/imgutil/layout"
	"github.com/buildpacks/imgutil/remote"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ggcrlayout "github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/exporter"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// A layout export writes the app image and, around it, the artifacts: their
// blobs, and index entries named by their tags with the app image as
// subject. A second export replaces the entries of the same names.
func TestLayoutExport(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "app")
	arts := fixture(t)
	var firstDigests []v1.Hash
	for round := range 2 {
		img, err := layout.NewImage(dir)
		if err != nil {
			t.Fatal(err)
		}
		if round == 1 { // new content: new app image, new artifact manifests
			if err := img.SetLabel("round", "2"); err != nil {
				t.Fatal(err)
			}
		}
		plan, err := exporter.NewPlan([]string{"example.com/app:latest"}, arts, platform.TagTemplate{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		li, err := exporter.WrapLayout(img, plan)
		if err != nil {
			t.Fatal(err)
		}
		if err := li.SaveAs(dir); err != nil {
			t.Fatalf("SaveAs: %v", err)
		}
		res, err := li.Result()
		if err != nil || res == nil {
			t.Fatalf("Result = %v, %v", res, err)
		}
		if len(res.Artifacts) != len(arts) {
			t.Fatalf("%d artifacts published, want %d", len(res.Artifacts), len(arts))
		}
		wantMoved := []string{dir, dir + ":wasm", dir + ":junit", dir + ":sarif"}
		if len(res.Moved) != len(wantMoved) {
			t.Fatalf("moved %v, want %v", res.Moved, wantMoved)
		}
		for k, m := range wantMoved {
			if res.Moved[k] != m {
				t.Fatalf("moved %v, want %v", res.Moved, wantMoved)
			}
		}

		path, err := ggcrlayout.FromPath(dir)
		if err != nil {
			t.Fatal(err)
		}
		idx, err := path.ImageIndex()
		if err != nil {
			t.Fatal(err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string][]v1.Descriptor{}
		for _, d := range im.Manifests {
			n := d.Annotations["org.opencontainers.image.ref.name"]
			byName[n] = append(byName[n], d)
		}
		var digests []v1.Hash
		for k, p := range res.Artifacts {
			tag := arts[k].Tag
			entries := byName[tag]
			if len(entries) != 1 || entries[0].Digest != p.Manifest.Descriptor.Digest {
				t.Fatalf("round %d: index entries named %q: %+v, want one for %s", round, tag, entries, p.Manifest.Descriptor.Digest)
			}
			if want := dir + ":" + tag + "@" + p.Manifest.Descriptor.Digest.String(); len(p.Refs) != 1 || p.Refs[0] != want {
				t.Fatalf("refs %v, want %s", p.Refs, want)
			}
			img, err := path.Image(p.Manifest.Descriptor.Digest)
			if err != nil {
				t.Fatal(err)
			}
			m, err := img.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			if m.Subject == nil || m.Subject.Digest != res.Subject.Digest || m.Subject.Size != res.Subject.Size || m.Subject.MediaType != res.Subject.MediaType {
				t.Fatalf("subject %+v, want %+v", m.Subject, res.Subject)
			}
			for _, l := range append([]v1.Descriptor{m.Config}, m.Layers...) {
				if _, err := path.Blob(l.Digest); err != nil {
					t.Fatalf("artifact %s: blob %s: %v", tag, l.Digest, err)
				}
				// Readable by all, as go-containerregistry writes blobs,
				// also those hashed while written.
				fi, err := os.Stat(filepath.Join(dir, "blobs", l.Digest.Algorithm, l.Digest.Hex))
				if err != nil || fi.Mode().Perm() != 0o644 {
					t.Fatalf("artifact %s: blob %s: %v, %v; want mode 0644", tag, l.Digest, fi.Mode(), err)
				}
			}
			digests = append(digests, p.Manifest.Descriptor.Digest)
		}
		// The app image is in the layout, by the subject's digest.
		if _, err := path.Image(res.Subject.Digest); err != nil {
			t.Fatalf("app image %s: %v", res.Subject.Digest, err)
		}
		if round == 0 {
			firstDigests = digests
		} else {
			for k := range digests {
				if digests[k] == firstDigests[k] {
					t.Fatalf("artifact %d has the same manifest for a new app image", k)
				}
			}
		}
	}
}

// WrapLayout takes only imgutil's layout images.
func TestWrapLayoutRefusesOtherImages(t *testing.T) {
	t.Parallel()
	plan, err := exporter.NewPlan([]string{"example.com/app:latest"}, nil, platform.TagTemplate{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.NewImage("example.com/app:latest", authn.DefaultKeychain)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exporter.WrapLayout(img, plan); err == nil || !strings.Contains(err.Error(), `not a layout image: "remote"`) {
		t.Fatalf("err = %v", err)
	}
}

// An untagged artifact (an SBOM) is an index entry without a name, written
// once however often the same export runs; it moves no name.
func TestLayoutExportUntagged(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "app")
	arts := []*artifacts.Artifact{sbomArtifact(t, "cdx", "application/vnd.cyclonedx+json", "", `{"bomFormat":"CycloneDX"}`)}
	var digest v1.Hash
	for range 2 {
		img, err := layout.NewImage(dir)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := exporter.NewPlan([]string{"example.com/app:latest"}, arts, platform.TagTemplate{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		li, err := exporter.WrapLayout(img, plan)
		if err != nil {
			t.Fatal(err)
		}
		if err := li.SaveAs(dir); err != nil {
			t.Fatalf("SaveAs: %v", err)
		}
		res, err := li.Result()
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(res.Moved) != fmt.Sprint([]string{dir}) {
			t.Fatalf("moved %v, want only %s", res.Moved, dir)
		}
		digest = res.Artifacts[0].Manifest.Descriptor.Digest
		if want := dir + "@" + digest.String(); fmt.Sprint(res.Artifacts[0].Refs) != fmt.Sprint([]string{want}) {
			t.Fatalf("refs %v, want %s", res.Artifacts[0].Refs, want)
		}
	}
	path, err := ggcrlayout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := path.ImageIndex()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range im.Manifests {
		if d.Digest == digest {
			n++
			if name, ok := d.Annotations["org.opencontainers.image.ref.name"]; ok {
				t.Fatalf("untagged entry is named %q", name)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d index entries for the SBOM, want 1", n)
	}
}

// With a signer, the layout holds a signature of the app image and of each
// artifact: unnamed index entries whose manifests (and blobs) are in the
// layout, each signing its subject (docs/spec.md R17-9).
func TestLayoutExportSigned(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "app")
	img, err := layout.NewImage(dir)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := exporter.NewPlan([]string{"example.com/app:latest"}, fixture(t), platform.TagTemplate{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := newSigner(t)
	li, err := exporter.WrapLayout(img, plan, exporter.WithSigner(s))
	if err != nil {
		t.Fatal(err)
	}
	if err := li.SaveAs(dir); err != nil {
		t.Fatalf("SaveAs: %v", err)
	}
	res, err := li.Result()
	if err != nil {
		t.Fatal(err)
	}
	path, err := ggcrlayout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := path.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	want := map[v1.Hash]v1.Hash{res.Signature.Digest: res.Subject.Digest}
	for _, p := range res.Artifacts {
		want[p.Signature.Digest] = p.Manifest.Descriptor.Digest
	}
	if len(want) != 4 {
		t.Fatalf("signatures %v, want 4 (the app image and 3 artifacts)", want)
	}
	for _, d := range im.Manifests {
		subject, ok := want[d.Digest]
		if !ok {
			continue
		}
		delete(want, d.Digest)
		if d.Annotations["org.opencontainers.image.ref.name"] != "" || d.ArtifactType != artifacts.MediaTypeCosignSignature {
			t.Errorf("signature entry %+v: want unnamed, of the signature type", d)
		}
		raw, err := path.Bytes(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if err := harness.VerifySignature(raw, subject, &s.k.PublicKey, path.Bytes); err != nil {
			t.Errorf("signature %s: %v", d.Digest, err)
		}
	}
	if len(want) > 0 {
		t.Fatalf("signatures without an index entry: %v", want)
	}
}
