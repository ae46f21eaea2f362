//go:build acceptance

package acceptance_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// sbomFormats are the formats the SBOM buildpack writes: short name and
// media type.
var sbomFormats = map[string]string{
	"cdx":  "application/vnd.cyclonedx+json",
	"spdx": "application/spdx+json",
	"syft": "application/vnd.syft+json",
}

// sbomReferrer is one published SBOM artifact, read back.
type sbomReferrer struct {
	digest   string
	manifest v1.Manifest
	layers   map[string][]byte // by title
}

// TestSBOMReferrers builds with the creator and CNB_ARTIFACTS_SBOM=referrers
// (a buildpack writes CycloneDX, SPDX and Syft SBOMs for two launch layers),
// on distribution 2.8 and v3 (fallback index) and olareg (referrers API):
// one untagged artifact per format, whose subject is the app image, listed
// in report.toml and found by oras discover --artifact-type; its packages
// are, package for package, those of the app image's own SBOM layer, which
// are the buildpack's. A rebuild that reuses one of the layers publishes
// SBOMs that describe the new image, the reused layer's packages included.
func TestSBOMReferrers(t *testing.T) {
	// The documents' digests by format, from the first registry: the same
	// build gives the same bytes on every registry (R16-6).
	docs := map[string]string{}
	for _, start := range harness.Registries() {
		reg := start(t)
		t.Run(reg.Name, func(t *testing.T) {
			run := fixture.PushRunImage(t, reg.Host+"/run")
			app := reg.Host + "/app"
			env := []string{platform.EnvSBOM + "=referrers"}
			b := fixture.NewBuild(t, run, fixture.Plain(), fixture.SBOMBuildpack())
			out, code := create(t, b, false, "0.13", env, app+":latest")
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, out)
			}
			for f := range sbomFormats {
				if !strings.Contains(out, "Adding SBOM '"+f+"' (untagged, "+sbomFormats[f]+")") {
					t.Errorf("no log line for the %s SBOM:\n%s", f, out)
				}
			}
			first := checkSBOMReferrers(t, app+":latest", b.Report)

			// A scanner finds them: Trivy, offline, reads the app image's
			// SBOM referrers and lists the buildpack's packages.
			format, pkgs := harness.TrivySBOMPackages(t, app+":latest")
			var found []string
			for _, p := range pkgs {
				if strings.HasPrefix(p.PURL, "pkg:npm/") {
					found = append(found, p.PURL)
				}
			}
			sort.Strings(found)
			if want := []string{"pkg:npm/corepack@0.25.2", "pkg:npm/express@4.19.2", "pkg:npm/left-pad@1.3.0", "pkg:npm/npm@10.5.0"}; !slices.Equal(found, want) {
				t.Errorf("trivy read the %s SBOM and lists %v, want %v (all: %v)", format, found, want, pkgs)
			}
			for f, r := range first {
				var ds []string
				for _, l := range r.manifest.Layers {
					ds = append(ds, l.Digest.String())
				}
				d := strings.Join(ds, ",")
				if docs[f] == "" {
					docs[f] = d
				} else if docs[f] != d {
					t.Errorf("%s: documents %s, another registry's build gave %s", f, d, docs[f])
				}
				ann := r.manifest.Annotations
				if ann["io.buildpacks.sbom.sources"] != "examples/sbom@1.0.0:deps,examples/sbom@1.0.0:runtime" ||
					ann["io.buildpacks.sbom.buildpacks"] != "examples/sbom@1.0.0" || !strings.HasPrefix(ann["io.buildpacks.sbom.inputs.digest"], "sha256:") {
					t.Errorf("%s: annotations %v", f, ann)
				}
				// Syft is carried unmerged: one layer per file, titled with
				// its path in the SBOM layer; the others are one document.
				wantLayers, merged := 1, "true"
				if f == "syft" {
					wantLayers, merged = 2, "false"
				}
				if len(r.manifest.Layers) != wantLayers || ann["io.buildpacks.sbom.merged"] != merged {
					t.Errorf("%s: %d layers, merged %q", f, len(r.manifest.Layers), ann["io.buildpacks.sbom.merged"])
				}
				if f == "syft" && r.layers["examples_sbom/deps/sbom.syft.json"] == nil {
					t.Errorf("syft: layer titles %v", keys(r.layers))
				}
			}

			// Rebuild in the same workspace (the SBOM layer's paths are the
			// layers directory's, as /layers on every platform): the deps
			// layer is reused (its buildpack writes only deps.toml; the
			// restorer put back its SBOMs from the previous image), the
			// runtime layer is written again with another version of npm.
			second := b
			second.Reset(t)
			bpDir := filepath.Join(second.Buildpacks, "examples_sbom", "1.0.0")
			for _, f := range []string{"cdx", "spdx", "syft"} {
				p := filepath.Join(bpDir, "layers", "runtime.sbom."+f+".json")
				old, err := os.ReadFile(p)
				must(t, err)
				must(t, os.WriteFile(p, []byte(strings.ReplaceAll(string(old), "10.5.0", "10.6.0")), 0o644))
			}
			keep := "#!/bin/sh\nset -eu\ncp -R \"$(dirname \"$0\")\"/../layers/runtime* \"$1/\"\nprintf '[types]\\n  launch = true\\n' > \"$1/deps.toml\"\n"
			must(t, os.WriteFile(filepath.Join(bpDir, "bin", "build"), []byte(keep), 0o755))
			out, code = create(t, second, false, "0.13", env, app+":latest")
			if code != 0 {
				t.Fatalf("second build: exit %d\n%s", code, out)
			}
			if !strings.Contains(out, "Reusing layer 'examples/sbom:deps'") {
				t.Fatalf("the deps layer was not reused:\n%s", out)
			}
			again := checkSBOMReferrers(t, app+":latest", second.Report)
			cdx := purls(t, "cdx", again["cdx"])
			if !slices.Contains(cdx, "pkg:npm/npm@10.6.0") || !slices.Contains(cdx, "pkg:npm/express@4.19.2") || slices.Contains(cdx, "pkg:npm/npm@10.5.0") {
				t.Errorf("the rebuild's CycloneDX SBOM lists %v: want the reused layer's express and the new npm 10.6.0\n%s", cdx, out)
			}
			if again["cdx"].digest == first["cdx"].digest {
				t.Errorf("the rebuild published the first build's SBOM %s", first["cdx"].digest)
			}
		})
	}
}

// checkSBOMReferrers checks the SBOM artifacts of the image ref against its
// report and its SBOM layer, and returns them by format.
func checkSBOMReferrers(t *testing.T, ref, reportPath string) map[string]sbomReferrer {
	t.Helper()
	rep := readReport(t, reportPath)
	appDigest := head(t, ref)
	if appDigest.String() != rep.Image.Digest {
		t.Fatalf("registry %s, report %s", appDigest, rep.Image.Digest)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	repo := r.Context()
	got := map[string]sbomReferrer{}
	for _, a := range rep.Artifacts {
		if a.Buildpack != "buildpacksio/lifecycle" || a.Layer != "sbom" {
			t.Fatalf("report entry %+v: the build declares no artifact", a)
		}
		if a.Tag != "" || a.Skipped != "" || len(a.Refs) != 1 || !strings.HasPrefix(a.Refs[0], repo.Name()+"@sha256:") {
			t.Fatalf("report entry %+v: want one untagged ref %s@sha256:…", a, repo.Name())
		}
		format := ""
		for f, mt := range sbomFormats {
			if mt == a.Type {
				format = f
			}
		}
		if format == "" || got[format].digest != "" {
			t.Fatalf("report entry %+v: unknown or repeated type", a)
		}
		d := strings.TrimPrefix(a.Refs[0], repo.Name()+"@")
		got[format] = readSBOMReferrer(t, repo.Digest(d))
	}
	if len(got) != len(sbomFormats) {
		t.Fatalf("report lists %d SBOMs, want %d formats: %+v", len(got), len(sbomFormats), rep.Artifacts)
	}

	// oras, an independent client, finds each by its artifact type.
	for f, mt := range sbomFormats {
		out, errOut, code := harness.Run(t, exec.Command(harness.Tool(t, "oras"), "discover", "--plain-http", "--format", "json",
			"--artifact-type", mt, ref+"@"+appDigest.String()))
		if code != 0 {
			t.Fatalf("oras discover: exit %d\n%s%s", code, out, errOut)
		}
		var tree struct {
			Referrers []struct {
				Digest string `json:"digest"`
			} `json:"referrers"`
		}
		if err := json.Unmarshal([]byte(out), &tree); err != nil {
			t.Fatalf("oras discover: %v\n%s", err, out)
		}
		if len(tree.Referrers) != 1 || tree.Referrers[0].Digest != got[f].digest {
			t.Errorf("oras discover --artifact-type %s: want exactly %s\n%s", mt, got[f].digest, out)
		}
	}

	// The image's own SBOM layer: each format's packages, over every file.
	files, _ := harness.SBOMLayer(t, ref)
	for f := range sbomFormats {
		s := got[f]
		if s.manifest.Subject == nil || s.manifest.Subject.Digest != appDigest {
			t.Errorf("%s: subject %+v, want the app image %s", f, s.manifest.Subject, appDigest)
		}
		if s.manifest.ArtifactType != sbomFormats[f] {
			t.Errorf("%s: artifactType %q", f, s.manifest.ArtifactType)
		}
		var want []string
		for p, b := range files {
			if strings.Contains(p, "/sbom/launch/") && strings.HasSuffix(p, "sbom."+f+".json") {
				want = append(want, purls(t, f, sbomReferrer{layers: map[string][]byte{p: b}})...)
			}
		}
		sort.Strings(want)
		if have := purls(t, f, s); !slices.Equal(have, want) || len(want) != 4 {
			t.Errorf("%s: the referrer lists %v, the image's SBOM layer %v (want the buildpack's 4 packages)", f, have, want)
		}
	}
	return got
}

func readSBOMReferrer(t *testing.T, d name.Digest) sbomReferrer {
	t.Helper()
	m, layers := harness.ReadReferrer(t, d.Name())
	return sbomReferrer{digest: d.DigestStr(), manifest: m, layers: layers}
}

// purls lists, sorted, the package URLs of an SBOM artifact's documents
// (every layer).
func purls(t *testing.T, format string, s sbomReferrer) []string {
	t.Helper()
	var out []string
	for title, b := range s.layers {
		out = append(out, harness.SBOMPURLs(t, format, title, b)...)
	}
	sort.Strings(out)
	return out
}
