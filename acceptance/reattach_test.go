//go:build acceptance

package acceptance_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
)

// The recipe for pack rebase and kpack's rebase, which run lifecycle's
// rebase in their own process: rebase (here upstream's, `lifecycle rebase`,
// onto a patched run image), then `lifecycle-artifacts reattach -from <old
// digest> <image>`. Every artifact then has the rebased image as subject,
// is listed as its referrer, keeps its blobs and tag, and report.toml lists
// it as carried; a second reattach changes nothing. With the referrers API
// (olareg) and the fallback index (distribution).
func TestRebaseThenReattach(t *testing.T) {
	for _, start := range harness.Registries() {
		reg := start(t)
		t.Run(reg.Name, func(t *testing.T) {
			runRef := fixture.PushRunImage(t, reg.Host+"/run")
			app := reg.Host + "/app:latest"
			w := fixture.New(t, runRef, append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...)...)
			if out, code := export(t, w, false, "0.13", nil, app); code != 0 {
				t.Fatalf("export: exit %d\n%s", code, out)
			}
			before := readReport(t, w.Report)
			old := head(t, app)

			patchedRef := patchRunImage(t, runRef, reg.Host+"/run:patched")

			dir := harness.LifecycleDir(t)
			rebase := exec.Command(filepath.Join(dir, "lifecycle"), "rebase", "-force", "-run-image", patchedRef, "-report", filepath.Join(t.TempDir(), "rebase.toml"), app)
			rebase.Env = append(w.Env("0.13"), sourceDateEpoch)
			if stdout, stderr, code := harness.Run(t, rebase); code != 0 {
				t.Fatalf("rebaser: exit %d\n%s%s", code, stdout, stderr)
			}
			rebased := head(t, app)
			if rebased == old {
				t.Fatalf("the rebase kept the digest %s", old)
			}

			report := filepath.Join(t.TempDir(), "report.toml")
			for i := range 2 {
				cmd := exec.Command(harness.Binary(t, "lifecycle-artifacts"), "reattach", "-from", reg.Host+"/app@"+old.String(), "-report", report, app)
				cmd.Env = w.Env("0.13")
				stdout, stderr, code := harness.Run(t, cmd)
				if code != 0 {
					t.Fatalf("reattach %d: exit %d\n%s%s", i+1, code, stdout, stderr)
				}
				rep := readReport(t, report)
				if rep.Image.Digest != rebased.String() || len(rep.Artifacts) != len(before.Artifacts) {
					t.Fatalf("reattach %d: report image %s with %d artifacts, want %s with %d", i+1, rep.Image.Digest, len(rep.Artifacts), rebased, len(before.Artifacts))
				}
				for _, a := range rep.Artifacts {
					if !strings.HasPrefix(a.CarriedFrom, reg.Host+"/app@sha256:") {
						t.Errorf("artifact %s: carried-from %q", a.Tag, a.CarriedFrom)
					}
					after := manifestOf(t, reg.Host+"/app:"+a.Tag)
					if after.Subject.Digest != rebased.String() {
						t.Errorf("artifact %s: subject %s, want the rebased image %s", a.Tag, after.Subject.Digest, rebased)
					}
					if !strings.HasSuffix(a.Refs[0], "@"+after.digest) {
						t.Errorf("artifact %s: tag holds %s, report %s", a.Tag, after.digest, a.Refs[0])
					}
				}
				if head(t, app) != rebased {
					t.Fatalf("reattach moved the image tag")
				}
			}
			d, err := name.NewDigest(reg.Host + "/app@" + rebased.String())
			must(t, err)
			idx, err := remote.Referrers(d)
			must(t, err)
			im, err := idx.IndexManifest()
			must(t, err)
			if len(im.Manifests) != len(before.Artifacts) {
				t.Fatalf("the rebased image has %d referrers, want %d", len(im.Manifests), len(before.Artifacts))
			}
		})
	}
}

func mustRef(t *testing.T, ref string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(ref)
	must(t, err)
	return r
}

// patchRunImage pushes the run image with one more layer, as a patched run
// image, and returns its reference.
func patchRunImage(t *testing.T, runRef, to string) string {
	t.Helper()
	runImg, err := remote.Image(mustRef(t, runRef))
	must(t, err)
	patched, err := mutate.AppendLayers(runImg, static.NewLayer([]byte("patch"), types.DockerLayer))
	must(t, err)
	must(t, remote.Write(mustTag(t, to), patched))
	return to
}

// Our rebaser carries the artifacts itself: after `/cnb/lifecycle/rebaser`
// every artifact has the rebased image as subject and is its referrer, and
// report.toml lists them. Without artifacts it gives the stock rebaser's
// digest and report, byte for byte.
func TestRebaserCarriesArtifacts(t *testing.T) {
	for _, start := range harness.Registries() {
		reg := start(t)
		t.Run(reg.Name, func(t *testing.T) {
			runRef := fixture.PushRunImage(t, reg.Host+"/run")
			patchedRef := patchRunImage(t, runRef, reg.Host+"/run:patched")
			dir := harness.LifecycleDir(t)
			rebase := func(w *fixture.Workspace, stock bool, img string) (string, []byte) {
				t.Helper()
				report := filepath.Join(t.TempDir(), "report.toml")
				args := []string{"-force", "-run-image", patchedRef, "-report", report, img}
				bin := harness.Binary(t, "rebaser")
				if stock {
					bin, args = filepath.Join(dir, "lifecycle"), append([]string{"rebase"}, args...)
				}
				c := exec.Command(bin, args...)
				c.Env = append(w.Env("0.13"), sourceDateEpoch)
				stdout, stderr, code := harness.Run(t, c)
				if code != 0 {
					t.Fatalf("rebase (stock=%v): exit %d\n%s%s", stock, code, stdout, stderr)
				}
				b, err := os.ReadFile(report)
				must(t, err)
				return stdout + stderr, b
			}

			// With artifacts.
			app := reg.Host + "/app:latest"
			w := fixture.New(t, runRef, append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...)...)
			if out, code := export(t, w, false, "0.13", nil, app); code != 0 {
				t.Fatalf("export: exit %d\n%s", code, out)
			}
			n := len(readReport(t, w.Report).Artifacts)
			old := head(t, app)
			out, raw := rebase(w, false, app)
			rebased := head(t, app)
			if rebased == old {
				t.Fatalf("the rebase kept the digest")
			}
			var rep struct {
				Image     struct{ Digest string }
				Artifacts []struct {
					Tag         string
					CarriedFrom string `toml:"carried-from"`
				}
			}
			_, err := toml.Decode(string(raw), &rep)
			must(t, err)
			if rep.Image.Digest != rebased.String() || len(rep.Artifacts) != n || !strings.Contains(out, "*** Artifacts:") {
				t.Fatalf("report %s with %d artifacts, want %s with %d\n%s", rep.Image.Digest, len(rep.Artifacts), rebased, n, raw)
			}
			for _, a := range rep.Artifacts {
				if m := manifestOf(t, reg.Host+"/app:"+a.Tag); m.Subject.Digest != rebased.String() || a.CarriedFrom == "" {
					t.Errorf("artifact %s: subject %s (want %s), carried-from %q", a.Tag, m.Subject.Digest, rebased, a.CarriedFrom)
				}
			}
			d, err := name.NewDigest(reg.Host + "/app@" + rebased.String())
			must(t, err)
			idx, err := remote.Referrers(d)
			must(t, err)
			if im, _ := idx.IndexManifest(); len(im.Manifests) != n {
				t.Fatalf("the rebased image has %d referrers, want %d", len(im.Manifests), n)
			}

			// Without artifacts: the stock rebaser's digest and report, from
			// the same image.
			wp := fixture.New(t, runRef, fixture.Plain())
			stockImg, oursImg := reg.Host+"/plain-stock:latest", reg.Host+"/plain-ours:latest"
			if out, code := export(t, wp, true, "0.13", nil, stockImg); code != 0 {
				t.Fatalf("export: exit %d\n%s", code, out)
			}
			plain, err := remote.Image(mustRef(t, stockImg))
			must(t, err)
			must(t, remote.Write(mustTag(t, oursImg), plain))
			var reports [][]byte
			var digests []string
			for i, stock := range []bool{true, false} {
				img := []string{stockImg, oursImg}[i]
				_, raw := rebase(wp, stock, img)
				reports = append(reports, []byte(strings.ReplaceAll(string(raw), img, "IMAGE")))
				digests = append(digests, head(t, img).String())
			}
			if digests[0] != digests[1] || string(reports[0]) != string(reports[1]) {
				t.Fatalf("without artifacts ours differs from stock: %v\n--- stock\n%s\n--- ours\n%s", digests, reports[0], reports[1])
			}
		})
	}
}
