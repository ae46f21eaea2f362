//go:build acceptance

package acceptance_test

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// A tag that holds something no buildpack published is never moved: the
// export is refused before any write, with exit 63 and an error naming the
// repository, the tag, what it holds and the buildpack; the tag keeps its
// image. The platform can allow overwriting. A tag of the cache image in the
// same repository is refused the same way.
func TestExportNeverMovesForeignTags(t *testing.T) {
	for _, start := range harness.Registries() {
		reg := start(t)
		t.Run(reg.Name, func(t *testing.T) {
			run := fixture.PushRunImage(t, reg.Host+"/run")
			app := reg.Host + "/app"
			// A user's release image sits at the tag the junit artifact takes.
			release, err := random.Image(256, 1)
			must(t, err)
			releaseRef, err := name.NewTag(app + ":junit")
			must(t, err)
			must(t, remote.Write(releaseRef, release))
			releaseDigest, err := release.Digest()
			must(t, err)

			w := fixture.New(t, run, fixture.Plain(), fixture.Samples()[2])
			out, code := export(t, w, false, "0.13", nil, app+":latest")
			if code != platform.CodeInvalidArtifacts {
				t.Fatalf("exit %d, want %d\n%s", code, platform.CodeInvalidArtifacts, out)
			}
			for _, s := range []string{`"examples/tests@1.0.0"`, `layer "report"`, `tag "junit"`, app + ":junit holds application/vnd.docker.distribution.manifest.v2+json " + releaseDigest.String(),
				platform.EnvOverwriteForeignTags} {
				if !strings.Contains(out, s) {
					t.Fatalf("error does not name %q:\n%s", s, out)
				}
			}
			if d := head(t, app+":junit"); d != releaseDigest {
				t.Fatalf("the release tag moved to %s", d)
			}
			if _, err := remote.Head(mustTag(t, app+":latest")); err == nil {
				t.Fatalf("the app image was written although the export was refused")
			}

			// Allowed by the platform, the tag moves to the artifact.
			out, code = export(t, w, false, "0.13", []string{platform.EnvOverwriteForeignTags + "=true"}, app+":latest")
			if code != 0 {
				t.Fatalf("exit %d with %s=true\n%s", code, platform.EnvOverwriteForeignTags, out)
			}
			rep := readReport(t, w.Report)
			if got := head(t, app+":junit"); !strings.HasSuffix(rep.Artifacts[0].Refs[0], "@"+got.String()) {
				t.Fatalf("tag holds %s, report %v", got, rep.Artifacts[0].Refs)
			}

			// Our artifact at the tag moves without the input.
			w2 := fixture.New(t, run, fixture.Buildpack{ID: "examples/node", Version: "2.0.0", Layers: fixture.Plain().Layers}, fixture.Samples()[2])
			if out, code := export(t, w2, false, "0.13", nil, app+":latest"); code != 0 {
				t.Fatalf("re-export over our own artifact: exit %d\n%s", code, out)
			}
		})
	}
}

// An artifact tag that is the cache image's tag in the same repository is
// refused before anything is written: the cache export, after the commit,
// would otherwise overwrite the artifact.
func TestExportRefusesCacheImageTag(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	app := reg.Host + "/app"
	w := fixture.New(t, run, fixture.Plain(), fixture.Samples()[2])
	out, code := export(t, w, false, "0.13", []string{"CNB_CACHE_IMAGE=" + app + ":junit"}, app+":latest")
	if code != platform.CodeInvalidArtifacts {
		t.Fatalf("exit %d, want %d\n%s", code, platform.CodeInvalidArtifacts, out)
	}
	if !strings.Contains(out, `published tag "junit" collides with the cache image `+app+":junit") {
		t.Fatalf("error does not name the cache image:\n%s", out)
	}
	if repos := catalog(t, reg.Host); len(repos) != 1 {
		t.Fatalf("something was pushed: repositories %v", repos)
	}
}

func mustTag(t *testing.T, ref string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(ref)
	must(t, err)
	return tag
}
