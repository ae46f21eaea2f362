//go:build e2e

package e2e

import (
	"archive/tar"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// pushLayoutIndex pushes the one image index of the OCI layout that
// `make package` writes (out/lifecycle-image) to ref, and returns its digest.
func pushLayoutIndex(t testing.TB, dir, ref string) v1.Hash {
	t.Helper()
	root, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("reading the lifecycle image layout %s (`make package` writes it): %v", dir, err)
	}
	im, err := root.IndexManifest()
	must(t, err)
	if len(im.Manifests) != 1 || !im.Manifests[0].MediaType.IsIndex() {
		t.Fatalf("%s: want one image index in index.json, got %+v", dir, im.Manifests)
	}
	idx, err := root.ImageIndex(im.Manifests[0].Digest)
	must(t, err)
	r, err := name.ParseReference(ref)
	must(t, err)
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatalf("pushing the lifecycle image to %s: %v", ref, err)
	}
	return im.Manifests[0].Digest
}

// lifecycleImageLacksPasswd reports whether the linux/amd64 image of the
// lifecycle image index at ref has no /etc/passwd. pack runs the phases of
// an untrusted builder in that image as User "root", which the Docker Engine
// resolves through the image's /etc/passwd.
func lifecycleImageLacksPasswd(t testing.TB, ref string) bool {
	t.Helper()
	img := amd64Image(t, ref)
	layers, err := img.Layers()
	must(t, err)
	for _, l := range layers {
		rc, err := l.Uncompressed()
		must(t, err)
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			if strings.TrimPrefix(h.Name, "./") == "etc/passwd" {
				rc.Close()
				return false
			}
		}
		rc.Close()
	}
	return true
}

func amd64Image(t testing.TB, ref string) v1.Image {
	t.Helper()
	r, err := name.ParseReference(ref)
	must(t, err)
	idx, err := remote.Index(r)
	must(t, err)
	im, err := idx.IndexManifest()
	must(t, err)
	for _, m := range im.Manifests {
		if m.Platform != nil && m.Platform.OS == "linux" && m.Platform.Architecture == "amd64" {
			img, err := idx.Image(m.Digest)
			must(t, err)
			return img
		}
	}
	t.Fatalf("%s has no linux/amd64 image", ref)
	return nil
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
