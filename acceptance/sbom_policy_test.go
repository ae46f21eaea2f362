//go:build acceptance

package acceptance_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// badSBOMBuildpack is the SBOM buildpack with its deps layer's CycloneDX
// SBOM broken.
func badSBOMBuildpack() fixture.Buildpack {
	bp := fixture.SBOMBuildpack()
	for i := range bp.Layers {
		if bp.Layers[i].Name == "deps" {
			bp.Layers[i].SBOM["cdx"] = []byte(`{"bomFormat": "CycloneDX", "components": [`)
		}
	}
	return bp
}

// TestSBOMPolicy: an SBOM that cannot be merged fails the export under
// CNB_ARTIFACTS_POLICY=required with exit 63, an error naming the
// buildpack, layer and file, and nothing pushed; under best-effort the
// image and the other formats are published and report.toml records the
// format that was not. CNB_ARTIFACTS_SBOM_TAG tags every format.
func TestSBOMPolicy(t *testing.T) {
	reg := harness.StartOlareg(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")

	t.Run("required", func(t *testing.T) {
		app := reg.Host + "/required:latest"
		b := fixture.NewBuild(t, run, fixture.Plain(), badSBOMBuildpack())
		out, code := create(t, b, false, "0.13", []string{platform.EnvSBOM + "=referrers"}, app)
		if code != platform.CodeInvalidArtifacts {
			t.Fatalf("exit %d, want %d\n%s", code, platform.CodeInvalidArtifacts, out)
		}
		for _, want := range []string{`SBOM format cdx: buildpack "examples/sbom@1.0.0", layer "deps", file "sbom/launch/examples_sbom/deps/sbom.cdx.json"`, "nothing was written"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if _, err := remote.Head(mustRef(t, app)); err == nil {
			t.Fatalf("%s exists after a failed export", app)
		}
	})

	t.Run("best-effort", func(t *testing.T) {
		app := reg.Host + "/best-effort:latest"
		b := fixture.NewBuild(t, run, fixture.Plain(), badSBOMBuildpack())
		out, code := create(t, b, false, "0.13", []string{platform.EnvSBOM + "=referrers", platform.EnvPolicy + "=best-effort"}, app)
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		rep := readReport(t, b.Report)
		got := map[string]string{}
		for _, a := range rep.Artifacts {
			got[a.Type] = a.Skipped
		}
		if !strings.Contains(got["application/vnd.cyclonedx+json"], "SBOM not published: SBOM format cdx") ||
			got["application/spdx+json"] != "" || got["application/vnd.syft+json"] != "" || len(got) != 3 {
			t.Fatalf("report: %+v", rep.Artifacts)
		}
		if d := head(t, app); d.String() != rep.Image.Digest {
			t.Fatalf("image %s, report %s", d, rep.Image.Digest)
		}
	})

	t.Run("tagged", func(t *testing.T) {
		app := reg.Host + "/tagged:latest"
		b := fixture.NewBuild(t, run, fixture.Plain(), fixture.SBOMBuildpack())
		out, code := create(t, b, false, "0.13", []string{platform.EnvSBOM + "=referrers", platform.EnvSBOMTag + "=sbom-{format}"}, app)
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		for _, a := range readReport(t, b.Report).Artifacts {
			want := map[string]string{"application/vnd.cyclonedx+json": "sbom-cdx", "application/spdx+json": "sbom-spdx", "application/vnd.syft+json": "sbom-syft"}[a.Type]
			if a.Tag != want || !strings.HasPrefix(a.Refs[0], reg.Host+"/tagged:"+want+"@") {
				t.Errorf("entry %+v, want tag %s", a, want)
			}
			if m := manifestOf(t, reg.Host+"/tagged:"+want); m.Subject.Digest != head(t, app).String() {
				t.Errorf("tag %s: subject %s", want, m.Subject.Digest)
			}
		}
	})
}

// TestSBOMLayout: with -layout the SBOM artifacts are in the app image's
// OCI layout, unnamed index entries whose subject is the app image, and
// report.toml names them by digest.
func TestSBOMLayout(t *testing.T) {
	layoutDir, runRef, env := layoutTarget(t)
	w := fixture.New(t, runRef, fixture.Plain())
	writeLaunchSBOM(t, w, "1.3.0")
	out, code := export(t, w, false, "0.13", append(env, platform.EnvSBOM+"=referrers"), "example.com/app:latest")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	appLayout := filepath.Join(layoutDir, "example.com", "app", "latest")
	rep := readReport(t, w.Report)
	if len(rep.Artifacts) != 1 || rep.Artifacts[0].Type != "application/vnd.cyclonedx+json" || !strings.HasPrefix(rep.Artifacts[0].Refs[0], appLayout+"@sha256:") {
		t.Fatalf("report: %+v", rep.Artifacts)
	}
	lp, err := layout.FromPath(appLayout)
	must(t, err)
	idx, err := lp.ImageIndex()
	must(t, err)
	im, err := idx.IndexManifest()
	must(t, err)
	d := strings.TrimPrefix(rep.Artifacts[0].Refs[0], appLayout+"@")
	appDigest := ""
	for _, e := range im.Manifests {
		if e.Annotations["org.opencontainers.image.ref.name"] == "latest" {
			appDigest = e.Digest.String()
		}
	}
	found := false
	for _, e := range im.Manifests {
		if e.Digest.String() == d {
			found = true
			if _, named := e.Annotations["org.opencontainers.image.ref.name"]; named {
				t.Errorf("the SBOM's index entry is named: %+v", e)
			}
			img, err := lp.Image(e.Digest)
			must(t, err)
			m, err := img.Manifest()
			must(t, err)
			if m.Subject == nil || appDigest == "" || m.Subject.Digest.String() != appDigest {
				t.Errorf("subject %+v, want the app image %q", m.Subject, appDigest)
			}
		}
	}
	if !found {
		t.Fatalf("index.json has no entry %s: %+v", d, im.Manifests)
	}
}

// writeLaunchSBOM writes, into an export workspace, what the builder copies
// for examples/node's launch layer: a CycloneDX SBOM listing left-pad at
// version.
func writeLaunchSBOM(t *testing.T, w *fixture.Workspace, version string) {
	t.Helper()
	p := filepath.Join(w.Layers, "sbom", "launch", "examples_node", "modules", "sbom.cdx.json")
	must(t, os.MkdirAll(filepath.Dir(p), 0o777))
	must(t, os.WriteFile(p, []byte(`{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[{"type":"library","name":"left-pad","version":"`+version+`","purl":"pkg:npm/left-pad@`+version+`"}]}`), 0o644))
}

// TestValidateCommandListsSBOMs: `lifecycle-artifacts validate`, with
// CNB_ARTIFACTS_SBOM=referrers, lists the SBOM artifact an export would
// publish (format, tag, contributors, the file with its size); unset, none;
// a broken SBOM is an error, exit 63.
func TestValidateCommandListsSBOMs(t *testing.T) {
	w := fixture.New(t, validateRunImage, fixture.Plain())
	writeLaunchSBOM(t, w, "1.3.0")
	on := []string{platform.EnvSBOM + "=referrers"}
	stdout, stderr, code := validate(t, on, "-layers", w.Layers)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"SBOM cdx (application/vnd.cyclonedx+json)", "untagged", "io.buildpacks.sbom.sources: examples/node@1.0.0:modules",
		"file:   sbom.cdx.json  application/vnd.cyclonedx+json", "1 artifact, 0 warnings, 0 errors."} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if stdout, _, _ := validate(t, nil, "-layers", w.Layers); strings.Contains(stdout, "SBOM cdx") {
		t.Errorf("SBOM listed with the input unset:\n%s", stdout)
	}
	must(t, os.WriteFile(filepath.Join(w.Layers, "sbom", "launch", "examples_node", "modules", "sbom.cdx.json"), []byte("{"), 0o644))
	stdout, stderr, code = validate(t, on, "-layers", w.Layers)
	if code != platform.CodeInvalidArtifacts || !strings.Contains(stdout+stderr, `file "sbom/launch/examples_node/modules/sbom.cdx.json"`) {
		t.Fatalf("broken SBOM: exit %d\n%s\n%s", code, stdout, stderr)
	}
}
