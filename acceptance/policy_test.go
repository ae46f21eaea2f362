//go:build acceptance

package acceptance_test

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"

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

// best-effort with the app image in two repositories, the second refusing
// every artifact type but Helm charts (GitLab's allow-list is a project's
// setting; lifecycle writes an image to one registry only): the first
// repository, written first, holds every artifact manifest as a referrer of
// the app image, so the report says what is true per repository (R10-6).
// Each refused artifact is published in the first (its ref there, its tag
// moved) and skipped in the second, which gets no tag for it; the chart is
// published in both.
func TestArtifactsPolicyAcrossRepositories(t *testing.T) {
	reg := harness.StartDistribution(t)
	proxy, err := faultproxy.Start(reg.Host, faultStall)
	must(t, err)
	t.Cleanup(proxy.Close)
	proxy.SetQuirks(faultproxy.Quirks{AllowedTypes: []string{"application/vnd.cncf.helm.config.v1+json"}, AllowedTypesIn: []string{"gitlab"}})
	run := strings.Replace(fixture.PushRunImage(t, reg.Host+"/run"), reg.Host, proxy.Host, 1)
	w := fixture.New(t, run, append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...)...)
	first, second := proxy.Host+"/app", proxy.Host+"/gitlab"
	out, code := export(t, w, false, "0.13", []string{platform.EnvPolicy + "=best-effort"}, first+":latest", second+":latest")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	rep := readReport(t, w.Report)
	for _, n := range []string{reg.Host + "/app:latest", reg.Host + "/gitlab:latest"} {
		if d := head(t, n); d.String() != rep.Image.Digest {
			t.Errorf("%s is %s, not the reported app image %s", n, d, rep.Image.Digest)
		}
	}
	refused := 0
	for _, a := range rep.Artifacts {
		if a.ManifestSize == 0 {
			t.Errorf("artifact %s: manifest-size 0", a.Tag)
		}
		if a.Tag == "0.1.0" {
			if a.Skipped != "" || len(a.Refs) != 2 {
				t.Errorf("the chart: skipped %q refs %v, want published in both", a.Skipped, a.Refs)
			}
			continue
		}
		refused++
		if len(a.Refs) != 1 || !strings.HasPrefix(a.Refs[0], first+":"+a.Tag+"@") {
			t.Errorf("artifact %s: refs %v, want its ref in %s alone", a.Tag, a.Refs, first)
			continue
		}
		if !strings.Contains(a.Skipped, "in "+second+": ") || !strings.Contains(a.Skipped, "MANIFEST_INVALID") {
			t.Errorf("artifact %s: skipped %q, want the second repository and the registry's words", a.Tag, a.Skipped)
		}
		if d := head(t, reg.Host+"/app:"+a.Tag); a.Refs[0] != first+":"+a.Tag+"@"+d.String() {
			t.Errorf("tag %s:%s is %s, the report says %s", first, a.Tag, d, a.Refs[0])
		}
		// The summary says both: where it is, and where it was skipped.
		if !strings.Contains(out, "      "+a.Refs[0]+" (") || !strings.Contains(out, "skipped '"+a.Buildpack+":"+a.Layer+"' (tag '"+a.Tag+"')") {
			t.Errorf("the *** Artifacts: summary does not list %s both published and skipped:\n%s", a.Tag, out)
		}
		if _, err := remote.Head(mustRef(t, reg.Host+"/gitlab:"+a.Tag)); err == nil {
			t.Errorf("the refusing repository has a tag %s", a.Tag)
		}
	}
	if refused == 0 {
		t.Fatal("no artifact was refused")
	}
	if n := strings.Count(out, "Skipping artifact"); n != refused {
		t.Errorf("want %d skip warnings, got %d:\n%s", refused, n, out)
	}
}
