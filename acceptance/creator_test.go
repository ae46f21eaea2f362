//go:build acceptance

package acceptance_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
)

// create runs a creator on b: ours (out/lifecycle/creator) or upstream's
// (lifecycle create).
func create(t *testing.T, b *fixture.Build, stock bool, api string, env []string, args ...string) (string, int) {
	t.Helper()
	dir := harness.LifecycleDir(t)
	all := append(b.Args(filepath.Join(dir, "launcher")), args...)
	var bin string
	if !stock {
		bin = harness.Binary(t, "creator")
	} else {
		bin = harness.Binary(t, "lifecycle")
		all = append([]string{"create"}, all...)
	}
	cmd := exec.Command(bin, all...)
	cmd.Env = append(append(b.Env(api), sourceDateEpoch), env...)
	stdout, stderr, code := harness.Run(t, cmd)
	return stdout + stderr, code
}

// Our creator builds like the stock one and publishes the artifacts.
func TestCreatorPublishesArtifacts(t *testing.T) {
	reg := harness.StartOlareg(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	b := fixture.NewBuild(t, run, append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...)...)
	app := reg.Host + "/app"
	out, code := create(t, b, false, "0.13", nil, "-tag", app+":v1", app+":latest")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, phase := range []string{"===> ANALYZING", "===> DETECTING", "===> RESTORING", "===> BUILDING", "===> EXPORTING", "*** Artifacts:"} {
		if !strings.Contains(out, phase) {
			t.Fatalf("log lacks %q:\n%s", phase, out)
		}
	}
	rep := readReport(t, b.Report)
	if len(rep.Artifacts) != 3 {
		t.Fatalf("report has %d artifacts", len(rep.Artifacts))
	}
	if rep.Artifacts[0].Layer != "wasm" {
		t.Fatalf("layer %q: the builder renamed it wasm.ignore, the report keeps its name", rep.Artifacts[0].Layer)
	}
	if d := head(t, app+":latest"); d.String() != rep.Image.Digest {
		t.Fatalf("registry %s, report %s", d, rep.Image.Digest)
	}
	head(t, app+":v1")
	for _, a := range rep.Artifacts {
		head(t, a.Refs[0])
	}
}

// With no artifacts, our creator gives the stock creator's image digest and
// report.toml, byte for byte; so does a build whose buildpack writes SBOMs
// when CNB_ARTIFACTS_SBOM is unset.
func TestCreatorParityWithStock(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	b := fixture.NewBuild(t, run, fixture.Plain(), fixture.SBOMBuildpack())
	var reports [][]byte
	for i, stock := range []bool{true, false} {
		b.Reset(t)
		img := reg.Host + "/parity" + string(rune('a'+i)) + ":latest"
		out, code := create(t, b, stock, "0.13", nil, img)
		if code != 0 {
			t.Fatalf("stock=%v exit %d\n%s", stock, code, out)
		}
		rep, err := os.ReadFile(b.Report)
		if err != nil {
			t.Fatal(err)
		}
		reports = append(reports, bytes.ReplaceAll(rep, []byte(img), []byte("IMAGE")))
	}
	if !bytes.Equal(reports[0], reports[1]) {
		t.Fatalf("report.toml differs\n--- stock\n%s\n--- ours\n%s", reports[0], reports[1])
	}
}

// A failing phase keeps its exit code, as with the stock creator.
func TestCreatorKeepsPhaseExitCodes(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	b := fixture.NewBuild(t, run, fixture.Plain())
	bp := filepath.Join(b.Buildpacks, "examples_node", "1.0.0", "bin", "detect")
	if err := os.WriteFile(bp, []byte("#!/bin/sh\nexit 100\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, stock := range []bool{true, false} {
		b.Reset(t)
		out, code := create(t, b, stock, "0.13", nil, reg.Host+"/app:latest")
		if code != 20 {
			t.Fatalf("stock=%v: exit %d, want 20 (no buildpack group passed detection)\n%s", stock, code, out)
		}
	}
}
