//go:build acceptance

package acceptance_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// TestSBOMFollowsRebase: the SBOM artifacts of an image built with
// CNB_ARTIFACTS_SBOM=referrers are published again, unchanged (same layer
// blobs: the run image's SBOM is never part of them), for the image our
// rebaser makes, and for the image upstream's rebase makes once
// `lifecycle-artifacts reattach` runs; report.toml lists them as carried.
// On distribution 2.8 (fallback index) and olareg (referrers API).
func TestSBOMFollowsRebase(t *testing.T) {
	for _, start := range []func(testing.TB) *harness.Registry{harness.StartDistribution, harness.StartOlareg} {
		reg := start(t)
		t.Run(reg.Name, func(t *testing.T) {
			run := fixture.PushRunImage(t, reg.Host+"/run")
			app := reg.Host + "/app:latest"
			b := fixture.NewBuild(t, run, fixture.Plain(), fixture.SBOMBuildpack())
			if out, code := create(t, b, false, "0.13", []string{platform.EnvSBOM + "=referrers"}, app); code != 0 {
				t.Fatalf("build: exit %d\n%s", code, out)
			}
			built := checkSBOMReferrers(t, app, b.Report)
			dir := harness.LifecycleDir(t)
			// The rebaser writes its report as the CNB user.
			reports, err := os.MkdirTemp("", "sbom-rebase-")
			must(t, err)
			t.Cleanup(func() { os.RemoveAll(reports) })
			must(t, os.Chmod(reports, 0o777))

			// Our rebaser.
			report := filepath.Join(reports, "rebase.toml")
			patched := patchRunImage(t, run, reg.Host+"/run:patched")
			c := exec.Command(harness.Binary(t, "rebaser"), "-force", "-run-image", patched, "-report", report, app)
			c.Env = append(b.Env("0.13"), sourceDateEpoch)
			if stdout, stderr, code := harness.Run(t, c); code != 0 {
				t.Fatalf("rebaser: exit %d\n%s%s", code, stdout, stderr)
			}
			sameSBOMs(t, built, checkSBOMReferrers(t, app, report), report)

			// Upstream's rebase, then reattach.
			old := head(t, app)
			patched2 := patchRunImage(t, patched, reg.Host+"/run:patched-again")
			c = exec.Command(filepath.Join(dir, "lifecycle"), "rebase", "-force", "-run-image", patched2, "-report", filepath.Join(reports, "r.toml"), app)
			c.Env = append(b.Env("0.13"), sourceDateEpoch)
			if stdout, stderr, code := harness.Run(t, c); code != 0 {
				t.Fatalf("lifecycle rebase: exit %d\n%s%s", code, stdout, stderr)
			}
			report = filepath.Join(reports, "reattach.toml")
			c = exec.Command(harness.Binary(t, "lifecycle-artifacts"), "reattach", "-from", reg.Host+"/app@"+old.String(), "-report", report, app)
			c.Env = b.Env("0.13")
			if stdout, stderr, code := harness.Run(t, c); code != 0 {
				t.Fatalf("reattach: exit %d\n%s%s", code, stdout, stderr)
			}
			sameSBOMs(t, built, checkSBOMReferrers(t, app, report), report)
		})
	}
}

// sameSBOMs checks that each format's artifact holds the same documents
// (layer by layer) and that the report marks it carried.
func sameSBOMs(t *testing.T, before, after map[string]sbomReferrer, report string) {
	t.Helper()
	for f, b := range before {
		a := after[f]
		if a.digest == b.digest {
			t.Errorf("%s: the same manifest %s for another subject", f, a.digest)
		}
		if len(a.manifest.Layers) != len(b.manifest.Layers) {
			t.Fatalf("%s: %d layers, were %d", f, len(a.manifest.Layers), len(b.manifest.Layers))
		}
		for i := range b.manifest.Layers {
			if a.manifest.Layers[i].Digest != b.manifest.Layers[i].Digest {
				t.Errorf("%s: layer %d is %s, was %s", f, i, a.manifest.Layers[i].Digest, b.manifest.Layers[i].Digest)
			}
		}
	}
	for _, e := range readReport(t, report).Artifacts {
		if !strings.Contains(e.CarriedFrom, "@"+"sha256:") {
			t.Errorf("report entry %+v: not marked carried", e)
		}
	}
}
