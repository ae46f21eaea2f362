//go:build acceptance

package acceptance_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
)

// The artifact types of issue 20's SBOM referrers.
const (
	cycloneDXType = "application/vnd.cyclonedx+json"
	spdxType      = "application/spdx+json"
	syftType      = "application/vnd.syft+json"
)

// sbomPackages are the packages of every SBOM this test attaches, as Trivy
// reports them (its report sorts by name, version, purl).
var sbomPackages = []harness.TrivyPackage{
	{Name: "github.com/BurntSushi/toml", Version: "v1.5.0", PURL: "pkg:golang/github.com/BurntSushi/toml@v1.5.0"},
	{Name: "left-pad", Version: "1.3.0", PURL: "pkg:npm/left-pad@1.3.0"},
	{Name: "requests", Version: "2.32.3", PURL: "pkg:pypi/requests@2.32.3"},
}

// TestTrivyReadsSBOMReferrers attaches SBOMs to small app images with
// `oras attach` and checks what Trivy v0.74.0 (tools/bin/trivy, offline:
// harness.Trivy) reads from them with --sbom-sources oci: on olareg through
// the referrers API, on distribution through the sha256-<hex> fallback
// index. Trivy reads CycloneDX and SPDX referrers whose single layer has
// the artifact type as media type; it ignores Syft JSON and refuses a
// layer of another media type, and then scans the image's layers instead,
// which finds none of these packages.
func TestTrivyReadsSBOMReferrers(t *testing.T) {
	files := map[string][]byte{
		"sbom.cdx.json":        cycloneDXDocument(t, true),
		"sbom-noroot.cdx.json": cycloneDXDocument(t, false),
		"sbom.spdx.json":       spdxDocument(t),
		"sbom.syft.json":       []byte(`{"artifacts":[],"source":{"type":"image"},"schema":{"version":"16.0.0"}}`),
	}
	type attach struct{ artifactType, file, layerType string }
	cases := []struct {
		name     string
		attach   []attach
		format   string // the SBOM Trivy reads: "" for none
		rejected bool   // whether Trivy warns about a referrer it cannot use
	}{
		{name: "cyclonedx", attach: []attach{{cycloneDXType, "sbom.cdx.json", cycloneDXType}}, format: "cyclonedx"},
		{name: "cyclonedx without metadata.component", attach: []attach{{cycloneDXType, "sbom-noroot.cdx.json", cycloneDXType}}, format: "cyclonedx"},
		{name: "spdx", attach: []attach{{spdxType, "sbom.spdx.json", spdxType}}, format: "spdx"},
		{name: "all three formats", attach: []attach{
			{cycloneDXType, "sbom.cdx.json", cycloneDXType},
			{spdxType, "sbom.spdx.json", spdxType},
			{syftType, "sbom.syft.json", syftType},
		}, format: "either"},
		{name: "syft only is not read", attach: []attach{{syftType, "sbom.syft.json", syftType}}},
		{name: "layer media type other than the artifact type is refused", attach: []attach{{cycloneDXType, "sbom.cdx.json", ""}}, rejected: true},
	}
	for _, start := range []func(testing.TB) *harness.Registry{harness.StartOlareg, harness.StartDistribution3} {
		reg := start(t)
		t.Run(reg.Name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for f, content := range files {
				if err := os.WriteFile(filepath.Join(dir, f), content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for i, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					ref := pushRandomImage(t, fmt.Sprintf("%s/trivy/app%d:latest", reg.Host, i))
					for _, a := range tc.attach {
						file := a.file
						if a.layerType != "" {
							file += ":" + a.layerType
						}
						cmd := exec.Command(harness.Tool(t, "oras"), "attach", "--plain-http", "--artifact-type", a.artifactType, ref, file)
						cmd.Dir = dir
						if out, errOut, code := harness.Run(t, cmd); code != 0 {
							t.Fatalf("oras attach: exit %d\n%s%s", code, out, errOut)
						}
					}

					scan := harness.TrivyScanImage(t, ref)
					switch {
					case tc.format == "either" && (scan.SBOMFormat == "cyclonedx" || scan.SBOMFormat == "spdx"):
					case scan.SBOMFormat != tc.format:
						t.Fatalf("trivy read SBOM format %q, want %q\n%s", scan.SBOMFormat, tc.format, scan.Stderr)
					}
					if got := len(scan.Rejected) > 0; got != tc.rejected {
						t.Fatalf("trivy rejected %q, want rejections: %v", scan.Rejected, tc.rejected)
					}
					// Trivy lower-cases golang purls (pkg:golang/github.com/burntsushi/toml).
					want := slices.Clone(sbomPackages)
					for i, p := range want {
						if strings.HasPrefix(p.PURL, "pkg:golang/") {
							want[i].PURL = strings.ToLower(p.PURL)
						}
					}
					if tc.format == "" {
						want = []harness.TrivyPackage{}
					}
					if !slices.Equal(scan.Packages, want) {
						t.Fatalf("trivy lists %v\nwant %v", scan.Packages, want)
					}
					if tc.format != "" {
						// The helper the exporter's tests use agrees.
						if format, pkgs := harness.TrivySBOMPackages(t, ref); format != scan.SBOMFormat || !slices.Equal(pkgs, want) {
							t.Fatalf("TrivySBOMPackages = %s %v", format, pkgs)
						}
					}
				})
			}
		})
	}
}

// pushRandomImage pushes a one-layer random image to ref on a plain-HTTP
// registry and returns ref.
func pushRandomImage(t *testing.T, ref string) string {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	return ref
}

// cycloneDXDocument is a CycloneDX 1.6 JSON SBOM of sbomPackages, with or
// without a metadata.component (a container) as its root.
func cycloneDXDocument(t *testing.T, withRoot bool) []byte {
	type component struct {
		Type    string `json:"type"`
		BOMRef  string `json:"bom-ref"`
		Name    string `json:"name"`
		Version string `json:"version,omitempty"`
		PURL    string `json:"purl,omitempty"`
	}
	doc := map[string]any{
		"bomFormat":    "CycloneDX",
		"specVersion":  "1.6",
		"serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
		"version":      1,
	}
	var components []component
	var refs []string
	for _, p := range sbomPackages {
		components = append(components, component{Type: "library", BOMRef: p.PURL, Name: p.Name, Version: p.Version, PURL: p.PURL})
		refs = append(refs, p.PURL)
	}
	doc["components"] = components
	if withRoot {
		doc["metadata"] = map[string]any{"component": component{Type: "container", BOMRef: "app", Name: "app"}}
		doc["dependencies"] = []map[string]any{{"ref": "app", "dependsOn": refs}}
	}
	return sbomJSON(t, doc)
}

// spdxDocument is an SPDX 2.3 JSON SBOM of sbomPackages, each with its purl
// as a PACKAGE-MANAGER external reference, all described by the document.
func spdxDocument(t *testing.T) []byte {
	var packages, relationships []map[string]any
	for i, p := range sbomPackages {
		id := fmt.Sprintf("SPDXRef-Package-%d", i)
		packages = append(packages, map[string]any{
			"SPDXID": id, "name": p.Name, "versionInfo": p.Version,
			"downloadLocation": "NOASSERTION", "filesAnalyzed": false,
			"externalRefs": []map[string]string{{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": p.PURL}},
		})
		relationships = append(relationships, map[string]any{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": id})
	}
	return sbomJSON(t, map[string]any{
		"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
		"name": "app", "documentNamespace": "https://example.com/spdx/app",
		"creationInfo":  map[string]any{"created": "2026-01-01T00:00:00Z", "creators": []string{"Tool: acceptance"}},
		"packages":      packages,
		"relationships": relationships,
	})
}

func sbomJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
