//go:build e2e && kpack

package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/internal/stack"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// rebaseAndReattach is kpack's rebase after a stack update, then our
// reattach: the ClusterStack's run image gets a patch (a new image at its
// tag); kpack's ClusterStack reconciler resolves it and the ClusterBuilder
// reconciler recreates the builder (createBuilder, kpack's code); the Image
// reconciler's next Build has reason STACK, the new run image and lastBuild
// (build number n), and kpack's Build.BuildPod makes it a rebase Pod:
// kpack's own rebase binary (lifecycle v0.20.3's rebaser in process), then
// completion. The rebased image must have a new digest and the artifacts
// must still name the old one; `lifecycle-artifacts reattach -from
// <repo>@<old digest> <tag>` on the host must then put every artifact tag on
// an artifact whose subject is the rebased digest, all three listed by the
// referrers of that digest.
func (k *kpackEnv) rebaseAndReattach(t *testing.T, n int, last kpackBuild) {
	t.Helper()
	start := time.Now()

	// The stack update and kpack's reaction to it.
	patchLayer := static.NewLayer([]byte("run image patch\n"), types.OCILayer)
	patched, err := mutate.AppendLayers(k.runBase, patchLayer)
	must(t, err)
	patchedRef, err := stack.Push(k.registry+"/stack/run:latest", patched)
	must(t, err)
	oldRunImage := k.runImage
	k.createBuilder(t, patchedRef)
	if k.runImage == oldRunImage {
		t.Fatalf("kpack's builder kept the run image %s after the stack update", oldRunImage)
	}
	changes, err := json.Marshal([]map[string]any{{"reason": "STACK", "old": oldRunImage, "new": k.runImage}})
	must(t, err)
	p := k.pod(t, k.buildObject(n, &last, map[string]any{
		"image.kpack.io/reason": "STACK", "image.kpack.io/buildChanges": string(changes)}))
	if len(p.Spec.InitContainers) != 1 || p.Spec.InitContainers[0].Name != "rebase" || p.Spec.InitContainers[0].Image != k.images["rebase"] {
		t.Fatalf("kpack's Build.BuildPod made no rebase Pod for a STACK build: init containers %+v", p.Spec.InitContainers)
	}
	r := k.podRun(p)
	r.run(t, "rebase")
	rebased, rep := k.completed(t, r)
	t.Logf("the stack update, kpack's builder and its rebase Pod took %s", time.Since(start).Round(time.Millisecond))

	old := last.digest
	if rebased == old {
		t.Fatalf("kpack's rebase kept the digest %s", old)
	}
	if d, err := remote.Head(mustRef(t, k.app+":latest")); err != nil || d.Digest.String() != rebased {
		t.Fatalf("%s:latest is %v (%v), want the rebased image %s", k.app, d, err, rebased)
	}
	img, err := remote.Image(mustRef(t, k.app+"@"+rebased))
	must(t, err)
	if !hasLayer(t, img, patchLayer) {
		t.Errorf("the rebased image %s lacks the patched run image's layer", rebased)
	}
	if len(rep.Artifacts) != 0 {
		t.Errorf("kpack's rebase reported artifacts: %+v", rep.Artifacts)
	}
	// kpack's rebase leaves the artifacts on the old digest.
	artifactSubjects(t, k.app, old)

	// Our reattach, on the host.
	reportPath := filepath.Join(t.TempDir(), "reattach.toml")
	reattachStart := time.Now()
	cmd := exec.Command(filepath.Join(harness.LifecycleDir(t), "lifecycle-artifacts"), "reattach",
		"-from", k.app+"@"+old, "-report", reportPath, k.app+":latest")
	cmd.Env = os.Environ()
	if stdout, stderr, code := harness.Run(t, cmd); code != 0 {
		t.Fatalf("reattach: exit %d\n%s%s", code, stdout, stderr)
	}
	t.Logf("reattach took %s", time.Since(reattachStart).Round(time.Millisecond))
	var rr platform.Report
	_, err = toml.DecodeFile(reportPath, &rr)
	must(t, err)
	if rr.Image.Digest != rebased {
		t.Errorf("reattach report: image %s, the rebased image is %s", rr.Image.Digest, rebased)
	}
	digests := artifactSubjects(t, k.app, rebased)
	refs, err := remote.Referrers(mustRef(t, k.app+"@"+rebased).Context().Digest(rebased))
	must(t, err)
	idx, err := refs.IndexManifest()
	must(t, err)
	var listed []string
	for _, m := range idx.Manifests {
		listed = append(listed, m.Digest.String())
	}
	for tag, d := range digests {
		if !slices.Contains(listed, d) {
			t.Errorf("the referrers of %s do not list artifact %s (%s): %v", rebased, tag, d, listed)
		}
	}
	t.Logf("rebase and reattach took %s", time.Since(start).Round(time.Millisecond))
}

// artifactSubjects checks that every artifact tag of repo holds a manifest
// whose subject is digest and returns the artifacts' digests by tag.
func artifactSubjects(t *testing.T, repo, digest string) map[string]string {
	t.Helper()
	digests := map[string]string{}
	for tag := range wantArtifacts {
		got, err := remote.Get(mustRef(t, repo+":"+tag))
		if err != nil {
			t.Errorf("artifact %s: %v", tag, err)
			continue
		}
		var m v1.Manifest
		must(t, json.Unmarshal(got.Manifest, &m))
		if m.Subject == nil || m.Subject.Digest.String() != digest {
			t.Errorf("artifact %s: subject %v, want %s", tag, m.Subject, digest)
		}
		digests[tag] = got.Digest.String()
	}
	return digests
}

func hasLayer(t *testing.T, img v1.Image, l v1.Layer) bool {
	t.Helper()
	want, err := l.Digest()
	must(t, err)
	layers, err := img.Layers()
	must(t, err)
	for _, have := range layers {
		d, err := have.Digest()
		must(t, err)
		if d == want {
			return true
		}
	}
	return false
}
