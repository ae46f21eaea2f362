//go:build e2e

package e2e

import (
	"encoding/json"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// sbomOn is the input that turns the SBOM referrers on (issue 20), set where
// the exporting phase reads it (README "Setting the inputs on each
// platform"): the builder image's environment for pack's trusted creator,
// the lifecycle image's for its untrusted exporter.
const sbomOn = "CNB_ARTIFACTS_SBOM=referrers"

// sbomMediaTypes are the SBOM formats lifecycle knows, by the extension of
// their files (<layer>.sbom.<ext>.json).
var sbomMediaTypes = map[string]string{
	"cdx":  "application/vnd.cyclonedx+json",
	"spdx": "application/spdx+json",
	"syft": "application/vnd.syft+json",
}

// The chart's package, in the SBOMs samples/helm writes for its launch layer
// (acceptance/fixture.SampleSBOMs).
const chartPURL = "pkg:generic/hello@0.1.0"

// isSBOM reports whether a report.toml entry is one of the exporter's SBOM
// artifacts rather than a buildpack's declared artifact.
func isSBOM(a platform.ArtifactReport) bool {
	return a.Buildpack == "buildpacksio/lifecycle" && a.Layer == "sbom"
}

// declared is rep's declared artifacts, without the SBOM artifacts.
func declared(rep platform.Report) []platform.ArtifactReport {
	var out []platform.ArtifactReport
	for _, a := range rep.Artifacts {
		if !isSBOM(a) {
			out = append(out, a)
		}
	}
	return out
}

// withEnv pushes to dst the image src (an image or, for an index, its
// linux/amd64 image) with kv added to its config's environment, as an
// operator derives a builder or lifecycle image to set an input, and
// returns dst.
func withEnv(t *testing.T, src, dst string, kv ...string) string {
	t.Helper()
	img, err := remote.Image(mustRef(t, src))
	must(t, err)
	cf, err := img.ConfigFile()
	must(t, err)
	cfg := cf.Config
	cfg.Env = append(slices.Clone(cfg.Env), kv...)
	derived, err := mutate.Config(img, cfg)
	must(t, err)
	must(t, remote.Write(mustRef(t, dst), derived))
	return dst
}

// checkSBOMs checks the SBOM artifacts of the image repo:latest holds, as
// rep lists them: one untagged artifact per SBOM format of the image's own
// SBOM layer (at least CycloneDX and SPDX, which samples/helm writes), each
// a referrer of the image (subject, artifactType; oras discover
// --artifact-type finds exactly it) listing, for CycloneDX and SPDX, the
// same packages as the SBOM layer, the chart's among them. out, the
// phase's output, says "<verb> SBOM '<format>' (untagged, <type>)" and,
// for a build, prints each ref. It returns the artifacts' digests by
// format.
func (e *env) checkSBOMs(t *testing.T, repo, out, verb string, rep platform.Report) map[string]string {
	t.Helper()
	app, err := remote.Head(mustRef(t, repo+":latest"))
	must(t, err)
	if rep.Image.Digest != app.Digest.String() {
		t.Fatalf("report image %s, %s:latest is %s", rep.Image.Digest, repo, app.Digest)
	}
	layer, _ := harness.SBOMLayer(t, repo+"@"+app.Digest.String())
	wantFormats := map[string]bool{}
	for p := range layer {
		for f := range sbomMediaTypes {
			if strings.HasSuffix(p, "sbom."+f+".json") {
				wantFormats[f] = true
			}
		}
	}
	if !wantFormats["cdx"] || !wantFormats["spdx"] {
		t.Fatalf("the image's SBOM layer lacks the chart's CycloneDX or SPDX SBOM: %v", sortedKeys(layer))
	}

	got := map[string]string{}
	for _, a := range rep.Artifacts {
		if !isSBOM(a) {
			continue
		}
		format := ""
		for f, mt := range sbomMediaTypes {
			if mt == a.Type {
				format = f
			}
		}
		if format == "" || got[format] != "" {
			t.Errorf("report entry %+v: unknown or repeated SBOM type", a)
			continue
		}
		if a.Tag != "" || a.Skipped != "" || len(a.Refs) != 1 || !strings.HasPrefix(a.Refs[0], repo+"@sha256:") {
			t.Errorf("report entry %+v: want one untagged ref %s@sha256:…", a, repo)
			continue
		}
		got[format] = strings.TrimPrefix(a.Refs[0], repo+"@")
		line := "SBOM '" + format + "' (untagged, " + a.Type + ")"
		if !strings.Contains(out, verb+" "+line) {
			t.Errorf("the output does not say %q", verb+" "+line)
		}
		if verb == "Adding" && !strings.Contains(out, a.Refs[0]) {
			t.Errorf("the output does not list the SBOM artifact %s", a.Refs[0])
		}
	}
	if len(got) != len(wantFormats) {
		t.Fatalf("report.toml lists SBOM artifacts %v, the image's SBOM layer has formats %v", got, wantFormats)
	}

	for f, d := range got {
		mt := sbomMediaTypes[f]
		stdout, stderr, code := harness.Run(t, exec.Command(e.oras, "discover", "--plain-http", "--format", "json",
			"--artifact-type", mt, repo+"@"+app.Digest.String()))
		if code != 0 {
			t.Fatalf("oras discover: exit %d\n%s%s", code, stdout, stderr)
		}
		var found struct {
			Referrers []struct {
				Digest       string `json:"digest"`
				ArtifactType string `json:"artifactType"`
			} `json:"referrers"`
		}
		if err := json.Unmarshal([]byte(stdout), &found); err != nil {
			t.Fatalf("oras discover: %v\n%s", err, stdout)
		}
		if len(found.Referrers) != 1 || found.Referrers[0].Digest != d || found.Referrers[0].ArtifactType != mt {
			t.Errorf("oras discover --artifact-type %s on %s: want exactly %s, got %+v", mt, app.Digest, d, found.Referrers)
		}
		m, docs := harness.ReadReferrer(t, repo+"@"+d)
		if m.Subject == nil || m.Subject.Digest != app.Digest {
			t.Errorf("%s: subject %+v, want the app image %s", f, m.Subject, app.Digest)
		}
		if m.ArtifactType != mt {
			t.Errorf("%s: artifactType %q, want %q", f, m.ArtifactType, mt)
		}
		if f == "syft" {
			continue // carried unmerged, one layer per source
		}
		var want []string
		for p, b := range layer {
			if strings.HasSuffix(p, "sbom."+f+".json") {
				want = append(want, harness.SBOMPURLs(t, f, p, b)...)
			}
		}
		var have []string
		for title, b := range docs {
			have = append(have, harness.SBOMPURLs(t, f, title, b)...)
		}
		// As sets: the merge is a union (a package two sources list is one).
		sort.Strings(want)
		sort.Strings(have)
		want, have = slices.Compact(want), slices.Compact(have)
		if !slices.Equal(have, want) || !slices.Contains(have, chartPURL) {
			t.Errorf("%s: the referrer lists %v, the image's SBOM layer %v (want the same, %s among them)", f, have, want, chartPURL)
		}
	}
	return got
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
