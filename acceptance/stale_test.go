//go:build acceptance

package acceptance_test

import (
	"strings"
	"testing"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
)

// A rebuild whose buildpacks no longer declare an artifact of the previous
// image deletes nothing and says so: one warning naming the artifact, its
// tag and that the tag still names the previous image's artifact. The
// creator runs upstream's analyzer, so the previous image is found as on a
// real rebuild. Checked with the referrers API (olareg) and the fallback
// index (distribution).
func TestRebuildWarnsOfStaleArtifacts(t *testing.T) {
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
			junit := readReport(t, first.Report).Artifacts[2]
			if junit.Tag != "junit" {
				t.Fatalf("artifact 3 is %q", junit.Tag)
			}
			junitDigest := head(t, reg.Host+"/app:junit")

			// The tests buildpack is gone from the second build.
			second := fixture.NewBuild(t, run, fixture.Plain(), samples[0], samples[1])
			out, code := create(t, second, false, "0.13", nil, app)
			if code != 0 {
				t.Fatalf("second build: exit %d\n%s", code, out)
			}
			want := "Artifact 'examples/tests:report' (tag 'junit') was not published for this image: tag " + reg.Host + "/app:junit still names the previous image's artifact " + junitDigest.String()
			if n := strings.Count(out, want); n != 1 {
				t.Fatalf("want the warning %q once, got %d:\n%s", want, n, out)
			}
			if strings.Count(out, "was not published for this image") != 1 {
				t.Fatalf("only the junit artifact is stale:\n%s", out)
			}
			if d := head(t, reg.Host+"/app:junit"); d != junitDigest {
				t.Fatalf("the stale tag moved to %s", d)
			}
		})
	}
}

// A rebuild that declares no artifact at all warns of every artifact of the
// previous image, as one that declares some does (R15.1-1): the export
// without artifacts still looks for them.
func TestRebuildWithoutArtifactsWarnsOfStaleArtifacts(t *testing.T) {
	for _, start := range harness.Registries() {
		reg := start(t)
		t.Run(reg.Name, func(t *testing.T) {
			run := fixture.PushRunImage(t, reg.Host+"/run")
			app := reg.Host + "/app:latest"
			first := fixture.NewBuild(t, run, append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...)...)
			if out, code := create(t, first, false, "0.13", nil, app); code != 0 {
				t.Fatalf("first build: exit %d\n%s", code, out)
			}
			published := readReport(t, first.Report).Artifacts
			if len(published) == 0 {
				t.Fatal("the first build published no artifact")
			}

			second := fixture.NewBuild(t, run, fixture.Plain())
			out, code := create(t, second, false, "0.13", nil, app)
			if code != 0 {
				t.Fatalf("second build: exit %d\n%s", code, out)
			}
			for _, a := range published {
				ref := a.Refs[0][:strings.LastIndex(a.Refs[0], "@")]
				want := "Artifact '" + a.Buildpack + ":" + a.Layer + "' (tag '" + a.Tag + "') was not published for this image: tag " + ref + " still names the previous image's artifact " + head(t, ref).String()
				if n := strings.Count(out, want); n != 1 {
					t.Fatalf("want the warning %q once, got %d:\n%s", want, n, out)
				}
			}
			if n := strings.Count(out, "was not published for this image"); n != len(published) {
				t.Fatalf("%d stale warnings, want %d:\n%s", n, len(published), out)
			}
		})
	}
}
