package artifacts

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func sbomSpec(tag string, files ...SBOMFile) SBOMSpec {
	return SBOMSpec{Format: "cdx", MediaType: "application/vnd.cyclonedx+json", Tag: tag, Version: "0.21.17",
		Files: files, Annotations: map[string]string{"io.buildpacks.sbom.sources": "examples/node@1.0.0:modules"}}
}

// The SBOM artifact's manifest, untagged and tagged, pinned byte for byte;
// rebuilt from its manifest it is the same artifact (a rebase, reattach).
func TestSBOMManifestGolden(t *testing.T) {
	t.Parallel()
	doc := SBOMFile{Title: "sbom.cdx.json", Content: []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6"}`)}
	for _, tc := range []struct{ name, tag string }{{"sbom-cdx-untagged", ""}, {"sbom-cdx-tagged", "sbom-cdx"}} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := NewSBOM(sbomSpec(tc.tag, doc))
			if err != nil {
				t.Fatal(err)
			}
			m, err := a.Manifest(appImage, created)
			if err != nil {
				t.Fatal(err)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, m.Raw, "", "  "); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			golden := filepath.Join("testdata", "golden", tc.name+".json")
			if *update {
				if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./artifacts -update)", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("manifest differs from %s (run go test ./artifacts -update):\n%s", golden, pretty.Bytes())
			}
			_, hasTag := m.Descriptor.Annotations[AnnotationTag]
			if hasTag != (tc.tag != "") || m.Descriptor.Annotations[AnnotationSBOM] != "cdx" {
				t.Fatalf("annotations %v", m.Descriptor.Annotations)
			}

			b, err := FromManifest(m.Raw, func(d v1.Descriptor) (Blob, error) { return describedBlob{d}, nil })
			if err != nil {
				t.Fatal(err)
			}
			if b.SBOM != "cdx" || b.Tag != tc.tag {
				t.Fatalf("rebuilt SBOM %q tag %q", b.SBOM, b.Tag)
			}
			m2, err := b.Manifest(appImage, created)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m.Raw, m2.Raw) {
				t.Fatalf("rebuilt manifest differs:\n%s\n%s", m.Raw, m2.Raw)
			}
		})
	}
}

func TestNewSBOMRefuses(t *testing.T) {
	t.Parallel()
	doc := SBOMFile{Title: "sbom.cdx.json", Content: []byte("{}")}
	big := map[string]string{"k": strings.Repeat("x", MaxAnnotationBytes)}
	for _, tc := range []struct {
		name string
		spec SBOMSpec
		err  string
	}{
		{"no files", sbomSpec(""), "0 files"},
		{"bad title", sbomSpec("", SBOMFile{Title: "../x.json", Content: []byte("{}")}), "title"},
		{"two files, one title", sbomSpec("", doc, doc), "two files"},
		{"bad tag", sbomSpec("sha256-"+strings.Repeat("a", 64), doc), "fallback"},
		{"bad media type", SBOMSpec{Format: "cdx", MediaType: "cdx", Files: []SBOMFile{doc}}, "media type"},
		{"annotations too big", SBOMSpec{Format: "cdx", MediaType: "application/vnd.cyclonedx+json", Files: []SBOMFile{doc}, Annotations: big}, "annotations hold"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewSBOM(tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.err)
			}
		})
	}
}
