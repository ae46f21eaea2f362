//go:build acceptance

package acceptance_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// A daemon cannot hold OCI artifacts. By default the export succeeds with one
// warning naming every skipped artifact, recorded in report.toml; with
// CNB_ARTIFACTS_DAEMON_REPOSITORY the artifacts go to that repository
// without a subject, annotated with the image ID. Runs against this
// machine's Docker Engine.
func TestExportDaemon(t *testing.T) {
	docker(t, "info")
	reg := harness.StartDistribution(t)
	run, app := dockerName(t, "run"), dockerName(t, "app")
	fixture.LoadRunImage(t, run, app)
	samples := fixture.Samples()

	t.Run("SBOMs skipped with one warning", func(t *testing.T) {
		w := fixture.New(t, run, fixture.Plain())
		writeLaunchSBOM(t, w, "1.3.0")
		out, code := export(t, w, false, "0.13", []string{"CNB_USE_DAEMON=true", platform.EnvSBOM + "=referrers"}, app)
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		if n := strings.Count(out, "Skipping 1 SBOM(s) (cdx): the daemon has no referrers"); n != 1 {
			t.Fatalf("want one warning, got %d:\n%s", n, out)
		}
		rep := readReport(t, w.Report)
		if len(rep.Artifacts) != 1 || rep.Artifacts[0].Type != "application/vnd.cyclonedx+json" || rep.Artifacts[0].Skipped == "" || len(rep.Artifacts[0].Refs) != 0 {
			t.Fatalf("report: %+v", rep.Artifacts)
		}
	})

	t.Run("skipped with a warning", func(t *testing.T) {
		w := fixture.New(t, run, append([]fixture.Buildpack{fixture.Plain()}, samples...)...)
		out, code := export(t, w, false, "0.13", []string{"CNB_USE_DAEMON=true"}, app)
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		if n := strings.Count(out, "Skipping 3 artifact(s), the docker daemon cannot hold OCI artifacts"); n != 1 {
			t.Fatalf("want one warning naming the artifacts, got %d:\n%s", n, out)
		}
		for _, name := range []string{"'examples/wasm:wasm'", "'examples/helm:chart'", "'examples/tests:report'"} {
			if !strings.Contains(out, name) {
				t.Fatalf("warning does not name %s:\n%s", name, out)
			}
		}
		rep := readReport(t, w.Report)
		if rep.Image.ImageID == "" || len(rep.Artifacts) != 3 {
			t.Fatalf("report: %+v", rep)
		}
		for _, a := range rep.Artifacts {
			if a.Skipped == "" || len(a.Refs) != 0 {
				t.Fatalf("artifact not recorded as skipped: %+v", a)
			}
		}
		if id := strings.TrimSpace(docker(t, "image", "inspect", "--format", "{{.Id}}", app)); id != "sha256:"+rep.Image.ImageID {
			t.Fatalf("daemon has %s, report says %s", id, rep.Image.ImageID)
		}
	})

	t.Run("bad input exits 63 and saves no image", func(t *testing.T) {
		bad := fixture.Buildpack{ID: "acme/bad", Version: "1", Layers: []fixture.Layer{{Name: "out", Launch: true,
			Files: map[string][]byte{"artifacts.toml": []byte("[[artifact]]\ntag = \"x\"\nfile = \"missing\"\ntype = \"application/vnd.example\"\n")}}}}
		w := fixture.New(t, run, fixture.Plain(), bad)
		other := dockerName(t, "not-saved")
		out, code := export(t, w, false, "0.13", []string{"CNB_USE_DAEMON=true"}, other)
		if code != platform.CodeInvalidArtifacts || !strings.Contains(out, "acme_bad/out/artifacts.toml") {
			t.Fatalf("exit %d\n%s", code, out)
		}
		inspect, err := exec.Command("docker", "image", "inspect", other).CombinedOutput()
		if err == nil {
			_ = exec.Command("docker", "rmi", "-f", other).Run()
			t.Fatal("the image was saved to the daemon")
		}
		// Only the daemon's own answer counts as "not saved", not any error.
		if !strings.Contains(string(inspect), "No such image") {
			t.Fatalf("docker image inspect %s: %v\n%s", other, err, inspect)
		}
	})

	t.Run("pushed to the repository the platform names", func(t *testing.T) {
		w := fixture.New(t, run, append([]fixture.Buildpack{fixture.Plain()}, samples...)...)
		out, code := export(t, w, false, "0.13",
			[]string{"CNB_USE_DAEMON=true", platform.EnvDaemonRepository + "=" + reg.Host + "/app-artifacts"}, app)
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		rep := readReport(t, w.Report)
		if len(rep.Artifacts) != 3 {
			t.Fatalf("report: %+v", rep.Artifacts)
		}
		for _, a := range rep.Artifacts {
			if !strings.HasPrefix(a.Refs[0], reg.Host+"/app-artifacts:"+a.Tag+"@") {
				t.Fatalf("ref %s", a.Refs[0])
			}
			raw, errOut, code := harness.Run(t, exec.Command(harness.Tool(t, "crane"), "manifest", "--insecure", a.Refs[0]))
			if code != 0 {
				t.Fatalf("crane: %s", errOut)
			}
			var m v1.Manifest
			if err := json.Unmarshal([]byte(raw), &m); err != nil {
				t.Fatal(err)
			}
			if m.Subject != nil || m.Annotations["io.buildpacks.artifact.image.id"] != "sha256:"+rep.Image.ImageID {
				t.Fatalf("manifest %s", raw)
			}
		}
	})
}

// dockerName is a Docker image name of this test only: the test's name, what
// it is and a random suffix, so that tests and runs never share an image.
func dockerName(t *testing.T, what string) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	slug := strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(t.Name()))
	return fmt.Sprintf("cnb-artifacts-test/%s-%s-%x:latest", slug, what, b)
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
