//go:build acceptance

package acceptance_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// A rebuild whose Helm buildpack keeps its launch layer from the previous
// image (it writes only chart.toml, launch = true, as most buildpacks do for
// an unchanged layer) publishes the chart again for the new image: same
// blobs, new subject, same tag, "carried-from" in report.toml, and no stale
// warning. Upstream's analyzer, restorer and builder run, as in a real
// rebuild. With the referrers API (olareg) and the fallback index
// (distribution).
func TestRebuildCarriesArtifactsOfReusedLayers(t *testing.T) {
	for _, start := range harness.Registries() {
		reg := start(t)
		t.Run(reg.Name, func(t *testing.T) {
			run := fixture.PushRunImage(t, reg.Host+"/run")
			app := reg.Host + "/app:latest"
			samples := fixture.Samples()
			first := fixture.NewBuild(t, run, append([]fixture.Buildpack{fixture.Plain()}, samples...)...)
			if out, code := create(t, first, false, "0.13", nil, app); code != 0 {
				t.Fatalf("first build: exit %d\n%s", code, out)
			}
			before := manifestOf(t, reg.Host+"/app:0.1.0")

			// The second build changes the app's own layer, and the Helm
			// buildpack keeps its chart layer as it is.
			plain := fixture.Plain()
			plain.Version = "2.0.0"
			second := fixture.NewBuild(t, run, append([]fixture.Buildpack{plain}, samples...)...)
			keep := "#!/bin/sh\nset -eu\nprintf '[types]\\n  launch = true\\n' > \"$1/chart.toml\"\n"
			must(t, os.WriteFile(filepath.Join(second.Buildpacks, "examples_helm", "1.0.0", "bin", "build"), []byte(keep), 0o755))
			out, code := create(t, second, false, "0.13", nil, app)
			if code != 0 {
				t.Fatalf("second build: exit %d\n%s", code, out)
			}
			if !strings.Contains(out, "Reusing layer 'examples/helm:chart'") {
				t.Fatalf("the chart layer was not reused:\n%s", out)
			}
			if !strings.Contains(out, "Carrying artifact 'examples/helm:chart' (tag '0.1.0'") {
				t.Fatalf("no carrying log line:\n%s", out)
			}
			if strings.Contains(out, "was not published for this image") {
				t.Fatalf("a carried artifact was warned of as stale:\n%s", out)
			}
			rep := readReport(t, second.Report)
			appDigest := head(t, app)
			var chart *struct{ carried, ref string }
			for _, a := range rep.Artifacts {
				if a.Tag == "0.1.0" {
					chart = &struct{ carried, ref string }{a.CarriedFrom, a.Refs[0]}
				} else if a.CarriedFrom != "" {
					t.Errorf("artifact %s is marked carried", a.Tag)
				}
			}
			if len(rep.Artifacts) != 3 || chart == nil {
				t.Fatalf("report artifacts %+v", rep.Artifacts)
			}
			if chart.carried != reg.Host+"/app@"+before.digest {
				t.Errorf("carried-from %q, want the previous chart %s", chart.carried, before.digest)
			}
			after := manifestOf(t, reg.Host+"/app:0.1.0")
			if !strings.HasSuffix(chart.ref, "@"+after.digest) {
				t.Errorf("tag 0.1.0 holds %s, report %s", after.digest, chart.ref)
			}
			if after.Subject.Digest != appDigest.String() || after.Subject.Digest == before.Subject.Digest {
				t.Errorf("subject %s, want the new app image %s (was %s)", after.Subject.Digest, appDigest, before.Subject.Digest)
			}
			if after.layers() != before.layers() || after.ArtifactType != before.ArtifactType {
				t.Errorf("carried artifact differs:\nbefore %s\nafter  %s", before.raw, after.raw)
			}
		})
	}
}

type manifestView struct {
	raw, digest  string
	ArtifactType string `json:"artifactType"`
	Config       struct{ Digest string }
	Layers       []struct {
		Digest      string
		Annotations map[string]string
	}
	Subject struct{ Digest string }
}

func (m manifestView) layers() string {
	s := m.Config.Digest
	for _, l := range m.Layers {
		s += " " + l.Digest + " " + l.Annotations["org.opencontainers.image.title"]
	}
	return s
}

func manifestOf(t *testing.T, ref string) manifestView {
	t.Helper()
	r, err := name.ParseReference(ref)
	must(t, err)
	desc, err := remote.Get(r)
	must(t, err)
	var m manifestView
	must(t, json.Unmarshal(desc.Manifest, &m))
	m.raw, m.digest = string(desc.Manifest), desc.Digest.String()
	return m
}

// [R15.2-2] A rebuild whose Helm buildpack reuses its chart layer, when the
// previous chart cannot be read (its manifest was deleted from the
// registry), still succeeds and logs one warning naming the buildpack, the
// layer and why.
func TestRebuildWarnsWhenArtifactsCannotBeCarried(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	app := reg.Host + "/app:latest"
	samples := fixture.Samples()
	first := fixture.NewBuild(t, run, append([]fixture.Buildpack{fixture.Plain()}, samples...)...)
	if out, code := create(t, first, false, "0.13", nil, app); code != 0 {
		t.Fatalf("first build: exit %d\n%s", code, out)
	}
	rep := readReport(t, first.Report)
	chart := slices.IndexFunc(rep.Artifacts, func(a platform.ArtifactReport) bool { return a.Tag == "0.1.0" })
	if chart < 0 {
		t.Fatalf("the first build published no chart: report artifacts %+v", rep.Artifacts)
	}
	gone, err := name.NewDigest(reg.Host + "/app@" + refDigest(rep.Artifacts[chart].Refs[0]))
	must(t, err)
	must(t, remote.Delete(gone))

	plain := fixture.Plain()
	plain.Version = "2.0.0"
	second := fixture.NewBuild(t, run, append([]fixture.Buildpack{plain}, samples...)...)
	keep := "#!/bin/sh\nset -eu\nprintf '[types]\\n  launch = true\\n' > \"$1/chart.toml\"\n"
	must(t, os.WriteFile(filepath.Join(second.Buildpacks, "examples_helm", "1.0.0", "bin", "build"), []byte(keep), 0o755))
	out, code := create(t, second, false, "0.13", nil, app)
	if code != 0 {
		t.Fatalf("[R15.2-2] the rebuild failed when the previous chart could not be carried: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "Reusing layer 'examples/helm:chart'") {
		t.Fatalf("the chart layer was not reused:\n%s", out)
	}
	var warnings []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(strings.ToLower(line), "warn") && strings.Contains(line, "examples/helm") && strings.Contains(line, "chart") {
			warnings = append(warnings, line)
		}
	}
	if len(warnings) != 1 {
		t.Fatalf("[R15.2-2] want one warning naming buildpack examples/helm and layer chart, got %d:\n%s", len(warnings), out)
	}
	t.Logf("the warning: %s", warnings[0])
	if !strings.Contains(warnings[0], gone.DigestStr()) && !strings.Contains(warnings[0], "404") && !strings.Contains(warnings[0], "MANIFEST_UNKNOWN") {
		t.Errorf("[R15.2-2] the warning does not say why (the manifest %s is gone): %s", gone.DigestStr(), warnings[0])
	}
}
