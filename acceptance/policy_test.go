//go:build acceptance

package acceptance_test

import (
	"os"
	"strings"
	"testing"

	"github.com/cnb-artifacts/lifecycle/acceptance/faultproxy"
	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// CNB_ARTIFACTS_POLICY against a registry that accepts only Helm charts
// among artifact types (GitLab's allow-list, emulated): required (the
// default) refuses before any tag moves and names the artifact, its type,
// the registry's words and the policy that would publish the image anyway;
// best-effort skips the refused artifacts with a warning each, marks them
// skipped in report.toml, and publishes the app image and the chart; off
// reads no artifacts.toml and exports exactly as stock.
func TestArtifactsPolicy(t *testing.T) {
	reg := harness.StartDistribution(t)
	proxy, err := faultproxy.Start(reg.Host, faultStall)
	must(t, err)
	t.Cleanup(proxy.Close)
	proxy.SetQuirks(faultproxy.Quirks{AllowedTypes: []string{"application/vnd.cncf.helm.config.v1+json"}})
	run := strings.Replace(fixture.PushRunImage(t, reg.Host+"/run"), reg.Host, proxy.Host, 1)
	bps := append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...)

	t.Run("required", func(t *testing.T) {
		w := fixture.New(t, run, bps...)
		out, code := export(t, w, false, "0.13", nil, proxy.Host+"/required:latest")
		if code != platform.CodeRegistryFailed {
			t.Fatalf("exit %d, want %d\n%s", code, platform.CodeRegistryFailed, out)
		}
		for _, s := range []string{"MANIFEST_INVALID", "application/vnd.wasm.config.v0+json", "tag 'wasm'", "CNB_ARTIFACTS_POLICY=best-effort"} {
			if !strings.Contains(out, s) {
				t.Errorf("the error lacks %q:\n%s", s, out)
			}
		}
		if _, err := os.Stat(w.Report); err == nil {
			t.Errorf("report.toml written for a refused export")
		}
	})

	t.Run("best-effort", func(t *testing.T) {
		w := fixture.New(t, run, bps...)
		app := proxy.Host + "/besteffort:latest"
		out, code := export(t, w, false, "0.13", []string{platform.EnvPolicy + "=best-effort"}, app)
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		if n := strings.Count(out, "Skipping artifact"); n != 2 {
			t.Errorf("want 2 skip warnings, got %d:\n%s", n, out)
		}
		rep := readReport(t, w.Report)
		if rep.Image.Digest != head(t, reg.Host+"/besteffort:latest").String() {
			t.Errorf("the app image is not published as reported")
		}
		for _, a := range rep.Artifacts {
			switch a.Tag {
			case "0.1.0":
				if a.Skipped != "" || len(a.Refs) != 1 {
					t.Errorf("the chart: skipped %q refs %v", a.Skipped, a.Refs)
				}
				head(t, reg.Host+"/besteffort:0.1.0")
			default:
				if !strings.Contains(a.Skipped, "MANIFEST_INVALID") || len(a.Refs) != 0 {
					t.Errorf("artifact %s: skipped %q refs %v", a.Tag, a.Skipped, a.Refs)
				}
			}
		}
	})

	t.Run("off", func(t *testing.T) {
		var reports []string
		w := fixture.New(t, run, bps...)
		for i, stock := range []bool{true, false} {
			img := proxy.Host + "/off" + []string{"stock", "ours"}[i] + ":latest"
			out, code := export(t, w, stock, "0.13", []string{platform.EnvPolicy + "=off"}, img)
			if code != 0 {
				t.Fatalf("stock=%v: exit %d\n%s", stock, code, out)
			}
			b, err := os.ReadFile(w.Report)
			must(t, err)
			reports = append(reports, strings.ReplaceAll(string(b), img, "IMAGE"))
			if !stock && strings.Contains(out, "artifact") {
				t.Errorf("policy off still mentions artifacts:\n%s", out)
			}
		}
		if reports[0] != reports[1] {
			t.Fatalf("policy off differs from stock:\n--- stock\n%s\n--- ours\n%s", reports[0], reports[1])
		}
	})
}
