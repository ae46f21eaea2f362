//go:build acceptance

package acceptance_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// A rebuild that reuses the Helm chart's layer, when the previous chart
// artifact cannot be read (its manifest was deleted; the fallback index
// still lists it), follows the policy: required (the default) fails with
// exit 64 before any write, the app tag still names the previous image;
// best-effort publishes the image and records the chart in report.toml as
// not carried, with the reason. Never a warning alone and exit 0.
func TestCarryFailureFollowsPolicy(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	for _, tc := range []struct {
		policy string
		want   int
	}{
		{"required", platform.CodeRegistryFailed},
		{"best-effort", 0},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			app := reg.Host + "/" + strings.ReplaceAll(tc.policy, "-", "") + ":latest"
			env := []string{platform.EnvPolicy + "=" + tc.policy}
			samples := fixture.Samples()
			first := fixture.NewBuild(t, run, append([]fixture.Buildpack{fixture.Plain()}, samples...)...)
			if out, code := create(t, first, false, "0.13", env, app); code != 0 {
				t.Fatalf("first build: exit %d\n%s", code, out)
			}
			previous := head(t, app)
			chart := manifestOf(t, strings.TrimSuffix(app, ":latest")+":0.1.0")
			d, err := name.NewDigest(strings.TrimSuffix(app, ":latest") + "@" + chart.digest)
			must(t, err)
			must(t, remote.Delete(d))

			plain := fixture.Plain()
			plain.Version = "2.0.0"
			second := fixture.NewBuild(t, run, append([]fixture.Buildpack{plain}, samples...)...)
			keep := "#!/bin/sh\nset -eu\nprintf '[types]\\n  launch = true\\n' > \"$1/chart.toml\"\n"
			must(t, os.WriteFile(filepath.Join(second.Buildpacks, "examples_helm", "1.0.0", "bin", "build"), []byte(keep), 0o755))
			out, code := create(t, second, false, "0.13", env, app)
			if code != tc.want {
				t.Fatalf("second build: exit %d, want %d\n%s", code, tc.want, out)
			}
			if !strings.Contains(out, `Restoring metadata for "examples/helm:chart" from app image`) {
				t.Fatalf("the chart layer's metadata was not restored:\n%s", out)
			}
			if tc.want != 0 {
				if got := head(t, app); got != previous {
					t.Errorf("the app tag moved to %s, want it still at %s", got, previous)
				}
				for _, s := range []string{"examples/helm", "chart", platform.EnvPolicy + "=best-effort"} {
					if !strings.Contains(out, s) {
						t.Errorf("the error lacks %q:\n%s", s, out)
					}
				}
				if _, err := os.Stat(second.Report); err == nil {
					t.Errorf("report.toml written for a refused export")
				}
				return
			}
			if !strings.Contains(out, "Reusing layer 'examples/helm:chart'") {
				t.Fatalf("the chart layer was not reused:\n%s", out)
			}
			if got := head(t, app); got == previous {
				t.Errorf("the app tag did not move")
			}
			rep := readReport(t, second.Report)
			var found bool
			for _, a := range rep.Artifacts {
				if a.Buildpack == "examples/helm" && a.Layer == "chart" {
					found = true
					if !strings.HasPrefix(a.Skipped, "not carried: ") || len(a.Refs) != 0 {
						t.Errorf("the chart: skipped %q, refs %v; want not carried with a reason", a.Skipped, a.Refs)
					}
				}
			}
			if !found {
				t.Errorf("report.toml does not record the chart that was not carried: %+v", rep.Artifacts)
			}
			raw, err := os.ReadFile(second.Report)
			must(t, err)
			if n := strings.Count(string(raw), "digest"); n != 1 {
				t.Errorf("report.toml has %d lines with \"digest\", want 1 (Tekton's grep)\n%s", n, raw)
			}
		})
	}
}
