package harness

import (
	"archive/tar"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// maxTestFile bounds what the readers below take of one file or blob.
const maxTestFile = 64 << 20

func parseRef(t testing.TB, ref string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// SBOMLayer reads the regular files of the image's SBOM layer (the one
// io.buildpacks.lifecycle.metadata names in "sbom"), by absolute path, and
// returns them with the image digest. An image without one fails the test.
func SBOMLayer(t testing.TB, ref string) (map[string][]byte, string) {
	t.Helper()
	img, err := remote.Image(parseRef(t, ref))
	if err != nil {
		t.Fatalf("read %s: %v", ref, err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var md struct {
		SBOM *struct {
			SHA string `json:"sha"`
		} `json:"sbom"`
	}
	if err := json.Unmarshal([]byte(cf.Config.Labels["io.buildpacks.lifecycle.metadata"]), &md); err != nil {
		t.Fatalf("lifecycle metadata label: %v", err)
	}
	if md.SBOM == nil || md.SBOM.SHA == "" {
		t.Fatalf("%s has no SBOM layer (lifecycle metadata: %s)", ref, cf.Config.Labels["io.buildpacks.lifecycle.metadata"])
	}
	h, err := v1.NewHash(md.SBOM.SHA)
	if err != nil {
		t.Fatal(err)
	}
	layer, err := img.LayerByDiffID(h)
	if err != nil {
		t.Fatalf("SBOM layer %s: %v", h, err)
	}
	rc, err := layer.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(io.LimitReader(tr, maxTestFile))
			if err != nil {
				t.Fatal(err)
			}
			files["/"+strings.TrimPrefix(hdr.Name, "/")] = b
		}
	}
	return files, digest.String()
}

// ReadReferrer returns an artifact's manifest and its layers by title.
func ReadReferrer(t testing.TB, ref string) (v1.Manifest, map[string][]byte) {
	t.Helper()
	r := parseRef(t, ref)
	desc, err := remote.Get(r)
	if err != nil {
		t.Fatal(err)
	}
	var m v1.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	docs := map[string][]byte{}
	for _, l := range m.Layers {
		blob, err := remote.Layer(r.Context().Digest(l.Digest.String()))
		if err != nil {
			t.Fatal(err)
		}
		rc, err := blob.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxTestFile))
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		docs[l.Annotations["org.opencontainers.image.title"]] = b
	}
	return m, docs
}

// SBOMPURLs lists the package URLs of an SBOM document, read with
// encoding/json alone: CycloneDX ("cdx": components, nested ones too), SPDX
// ("spdx": the packages' purl external references) or Syft JSON ("syft":
// the artifacts). name names the document in a failure.
func SBOMPURLs(t testing.TB, format, name string, b []byte) []string {
	t.Helper()
	var out []string
	switch format {
	case "cdx":
		type comp struct {
			PURL       string `json:"purl"`
			Components []comp `json:"components"`
		}
		var doc struct {
			Components []comp `json:"components"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var walk func([]comp)
		walk = func(cs []comp) {
			for _, c := range cs {
				if c.PURL != "" {
					out = append(out, c.PURL)
				}
				walk(c.Components)
			}
		}
		walk(doc.Components)
	case "spdx":
		var doc struct {
			Packages []struct {
				ExternalRefs []struct {
					Type    string `json:"referenceType"`
					Locator string `json:"referenceLocator"`
				} `json:"externalRefs"`
			} `json:"packages"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, p := range doc.Packages {
			for _, r := range p.ExternalRefs {
				if r.Type == "purl" {
					out = append(out, r.Locator)
				}
			}
		}
	case "syft":
		var doc struct {
			Artifacts []struct {
				PURL string `json:"purl"`
			} `json:"artifacts"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, a := range doc.Artifacts {
			out = append(out, a.PURL)
		}
	default:
		t.Fatalf("%s: unknown SBOM format %q", name, format)
	}
	return out
}
