//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// checkRebuildRebaseReattach: two untrusted `pack build --publish` (our
// lifecycle image, with SBOMs on), the second reusing the Helm buildpack's
// launch layer, whose artifact is carried; then `pack rebase` onto a
// patched run image, which leaves the artifacts behind, and
// `lifecycle-artifacts reattach`, which brings them to the rebased image.
// After each step every artifact tag holds an artifact whose subject is the
// current app digest, oras discover on that digest lists them, and helm pull
// works; the SBOM artifacts are referrers of the current app digest and list
// the packages of its SBOM layer (checkSBOMs).
func (e *env) checkRebuildRebaseReattach(t *testing.T) {
	repo := e.registry + "/" + appNamespace + "/app-rebase"
	flags := []string{"--publish", "--lifecycle-image", e.lifecycleImageSBOM}
	out, first := e.build(t, 0, repo, flags...)
	if !runs(out, "exporter") || runs(out, "creator") {
		t.Errorf("pack did not run the separate exporter:\n%s", out)
	}
	e.checkSBOMs(t, repo, out, "Adding", first)
	out, second := e.build(t, 0, repo, flags...)
	if !strings.Contains(out, "Carrying artifact 'examples/helm:chart'") {
		t.Fatalf("the untrusted rebuild did not carry the chart's artifact:\n%s", out)
	}
	for _, a := range declared(second) {
		if (a.Tag == "0.1.0") != (a.CarriedFrom != "") {
			t.Errorf("artifact %s: carried-from %q", a.Tag, a.CarriedFrom)
		}
	}
	e.checkAttached(t, repo, second)
	if !strings.Contains(out, "Reusing layer 'examples/helm:chart'") {
		t.Errorf("the rebuild did not reuse the chart's launch layer:\n%s", out)
	}
	sboms := e.checkSBOMs(t, repo, out, "Adding", second)

	// pack rebase onto a patched run image: a new digest, the artifacts left
	// on the old one.
	old := second.Image.Digest
	rebased := e.packRebase(t, repo, old, "patched")

	reportPath := filepath.Join(t.TempDir(), "report.toml")
	cmd := exec.Command(filepath.Join(harness.LifecycleDir(t), "lifecycle-artifacts"), "reattach", "-from", repo+"@"+old, "-report", reportPath, repo+":latest")
	cmd.Env = os.Environ()
	stdout, stderr, code := harness.Run(t, cmd)
	if code != 0 {
		t.Fatalf("reattach: exit %d\n%s%s", code, stdout, stderr)
	}
	rep := harness.MustReadReport(t, reportPath)
	if rep.Image.Digest != rebased.Digest.String() {
		t.Fatalf("reattach report: image %s, the rebased image is %s", rep.Image.Digest, rebased.Digest)
	}
	e.checkAttached(t, repo, rep)
	// The SBOMs follow: new manifests (new subject), the same documents.
	reattached := e.checkSBOMs(t, repo, stdout+stderr, "Re-attaching", rep)
	for f, d := range reattached {
		if d == sboms[f] {
			t.Errorf("SBOM %s: reattach left %s, whose subject is the old image", f, d)
		}
	}
}

// checkAttached checks that every artifact of rep is at its tag with the
// image repo:latest holds now as subject, that oras discover lists them on
// that digest, and that helm pulls the chart.
func (e *env) checkAttached(t *testing.T, repo string, rep platform.Report) {
	t.Helper()
	app, err := remote.Head(mustRef(t, repo+":latest"))
	must(t, err)
	arts := declared(rep)
	if len(arts) != len(wantArtifacts) {
		t.Fatalf("report lists %d declared artifacts, want %d", len(arts), len(wantArtifacts))
	}
	var digests []string
	for _, a := range arts {
		got, err := remote.Get(mustRef(t, repo+":"+a.Tag))
		if err != nil {
			t.Fatalf("artifact %s: %v", a.Tag, err)
		}
		var m v1.Manifest
		must(t, json.Unmarshal(got.Manifest, &m))
		if m.Subject == nil || m.Subject.Digest != app.Digest {
			t.Errorf("artifact %s: subject %v, want the current app image %s", a.Tag, m.Subject, app.Digest)
		}
		digests = append(digests, got.Digest.String())
	}
	stdout, stderr, code := harness.Run(t, exec.Command(e.oras, "discover", "--plain-http", "--format", "json", repo+"@"+app.Digest.String()))
	if code != 0 {
		t.Fatalf("oras discover: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, d := range digests {
		if !strings.Contains(stdout, d) {
			t.Errorf("oras discover on %s does not list %s:\n%s", app.Digest, d, stdout)
		}
	}
	dir := t.TempDir()
	if stdout, stderr, code := harness.Run(t, exec.Command(e.helm, "pull", "oci://"+repo, "--version", "0.1.0", "--plain-http", "-d", dir)); code != 0 {
		t.Errorf("helm pull: exit %d\n%s%s", code, stdout, stderr)
	}
}

// packRebase runs `pack rebase` on repo:latest, whose digest is old, onto
// the stack's run image with one more layer (pushed as run:<patch>), and
// returns the rebased image's descriptor, which must have a new digest.
func (e *env) packRebase(t *testing.T, repo, old, patch string) *v1.Descriptor {
	t.Helper()
	runImg, err := remote.Image(mustRef(t, e.runImage))
	must(t, err)
	patched, err := mutate.AppendLayers(runImg, static.NewLayer([]byte(patch), types.DockerLayer))
	must(t, err)
	patchedRef := e.registry + "/run:" + patch
	must(t, remote.Write(mustRef(t, patchedRef), patched))
	if out, code := e.runPack(t, "rebase", repo+":latest", "--publish", "--run-image", patchedRef, "--force"); code != 0 {
		t.Fatalf("pack rebase: exit %d\n%s", code, out)
	}
	rebased, err := remote.Head(mustRef(t, repo+":latest"))
	must(t, err)
	if rebased.Digest.String() == old {
		t.Fatalf("pack rebase kept the digest %s", old)
	}
	return rebased
}
