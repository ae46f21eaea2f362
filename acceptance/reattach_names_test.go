//go:build acceptance

package acceptance_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// reattach moves no name that names another image: after a rebase of
// app:latest only, app:v1 still names the old image; `reattach -from
// app@old app:latest app:v1` is refused with exit 63 before any write,
// saying which name names which image, and every tag (the image's and the
// artifacts') stays where it was. With only names of the rebased image, or
// names that do not exist yet, it goes on.
func TestReattachRefusesNameOfAnotherImage(t *testing.T) {
	reg := harness.StartDistribution(t)
	runRef := fixture.PushRunImage(t, reg.Host+"/run")
	app, v1 := reg.Host+"/app:latest", reg.Host+"/app:v1"
	w := fixture.New(t, runRef, append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...)...)
	if out, code := export(t, w, false, "0.13", nil, app, v1); code != 0 {
		t.Fatalf("export: exit %d\n%s", code, out)
	}
	old := head(t, app)
	patchedRef := patchRunImage(t, runRef, reg.Host+"/run:patched")
	rebase := exec.Command(filepath.Join(harness.LifecycleDir(t), "lifecycle"), "rebase", "-force", "-run-image", patchedRef, "-report", filepath.Join(t.TempDir(), "rebase.toml"), app)
	rebase.Env = append(w.Env("0.13"), sourceDateEpoch)
	if stdout, stderr, code := harness.Run(t, rebase); code != 0 {
		t.Fatalf("rebase: exit %d\n%s%s", code, stdout, stderr)
	}
	rebased := head(t, app)
	tags := []string{"latest", "v1", "0.1.0", "wasm"}
	before := map[string]string{}
	for _, tag := range tags {
		before[tag] = head(t, reg.Host+"/app:"+tag).String()
	}

	reattach := func(names ...string) (string, int) {
		c := exec.Command(harness.Binary(t, "lifecycle-artifacts"), append([]string{"reattach", "-from", reg.Host + "/app@" + old.String()}, names...)...)
		c.Env = w.Env("0.13")
		stdout, stderr, code := harness.Run(t, c)
		return stdout + stderr, code
	}
	out, code := reattach(app, v1)
	if code != platform.CodeInvalidArtifacts {
		t.Fatalf("reattach with a name of the old image: exit %d, want %d\n%s", code, platform.CodeInvalidArtifacts, out)
	}
	for _, s := range []string{v1, old.String(), rebased.String()} {
		if !strings.Contains(out, s) {
			t.Errorf("the refusal lacks %q:\n%s", s, out)
		}
	}
	for _, tag := range tags {
		if got := head(t, reg.Host+"/app:"+tag).String(); got != before[tag] {
			t.Errorf("tag %s moved from %s to %s", tag, before[tag], got)
		}
	}

	// A name that does not exist yet is created; the rebased image's own
	// names are fine.
	if out, code := reattach(app, reg.Host+"/app:v2"); code != 0 {
		t.Fatalf("reattach with a new name: exit %d\n%s", code, out)
	}
	if got := head(t, reg.Host+"/app:v2"); got != rebased {
		t.Errorf("app:v2 names %s, want the rebased image %s", got, rebased)
	}
	if got := head(t, v1).String(); got != before["v1"] {
		t.Errorf("app:v1 moved")
	}
}
