//go:build acceptance

package acceptance_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// With -layout the artifacts are written into the app image's OCI layout:
// blobs, and manifests in index.json named by their tag with the app image
// as subject; oras reads them from the layout.
func TestExportLayout(t *testing.T) {
	layoutDir, runRef, env := layoutTarget(t)
	samples := fixture.Samples()
	w := fixture.New(t, runRef, append([]fixture.Buildpack{fixture.Plain()}, samples...)...)
	out, code := export(t, w, false, "0.13", env, "example.com/app:latest")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	appLayout := filepath.Join(layoutDir, "example.com", "app", "latest")
	p, err := layout.FromPath(appLayout)
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := p.ImageIndex()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]v1.Descriptor{}
	for _, d := range im.Manifests {
		named[d.Annotations["org.opencontainers.image.ref.name"]] = d
	}
	app, ok := named["latest"]
	if !ok {
		t.Fatalf("no app image entry: %+v", im.Manifests)
	}
	rep := readReport(t, w.Report)
	if len(rep.Artifacts) != 3 {
		t.Fatalf("report: %+v", rep.Artifacts)
	}
	for _, a := range rep.Artifacts {
		d, ok := named[a.Tag]
		if !ok {
			t.Fatalf("index.json has no entry %q: %+v", a.Tag, im.Manifests)
		}
		if want := appLayout + ":" + a.Tag + "@" + d.Digest.String(); a.Refs[0] != want {
			t.Fatalf("ref %s, want %s", a.Refs[0], want)
		}
		raw, err := p.Bytes(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		var m v1.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		if m.Subject == nil || m.Subject.Digest != app.Digest {
			t.Fatalf("%s: subject %+v, want %s", a.Tag, m.Subject, app.Digest)
		}
	}

	// oras reads an artifact back from the layout.
	dir := t.TempDir()
	stdout, stderr, code := harness.Run(t, exec.Command(harness.Tool(t, "oras"), "pull", "--oci-layout", "-o", dir, appLayout+":junit"))
	if code != 0 {
		t.Fatalf("oras pull: exit %d\n%s%s", code, stdout, stderr)
	}
	got, err := os.ReadFile(filepath.Join(dir, "junit.xml"))
	if err != nil || !bytes.Equal(got, samples[2].Layers[0].Files["junit.xml"]) {
		t.Fatalf("pulled junit.xml differs: %v", err)
	}
	// crane reads the whole layout (app image and artifacts) and pushes it;
	// each artifact manifest arrives intact.
	reg := harness.StartDistribution(t)
	stdout, stderr, code = harness.Run(t, exec.Command(harness.Tool(t, "crane"), "push", "--insecure", "--index", appLayout, reg.Host+"/from-layout:latest"))
	if code != 0 {
		t.Fatalf("crane push: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, a := range rep.Artifacts {
		want, _ := p.Bytes(named[a.Tag].Digest)
		got, errOut, code := harness.Run(t, exec.Command(harness.Tool(t, "crane"), "manifest", "--insecure", reg.Host+"/from-layout@"+named[a.Tag].Digest.String()))
		if code != 0 || got != string(want) {
			t.Fatalf("artifact %s via crane: exit %d %s\n%s", a.Tag, code, errOut, got)
		}
	}

	stdout, stderr, code = harness.Run(t, exec.Command(harness.Tool(t, "oras"), "discover", "--oci-layout", "--format", "json", appLayout+"@"+app.Digest.String()))
	if code != 0 {
		t.Fatalf("oras discover: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, a := range rep.Artifacts {
		if !strings.Contains(stdout, named[a.Tag].Digest.String()) {
			t.Fatalf("discover misses %s:\n%s", a.Tag, stdout)
		}
	}
}

// Declarations are validated on the layout target too: exit 63, nothing
// written.
func TestExportLayoutRejectsBadInput(t *testing.T) {
	layoutDir, runRef, env := layoutTarget(t)
	bad := fixture.Buildpack{ID: "acme/bad", Version: "1", Layers: []fixture.Layer{{Name: "out", Launch: true,
		Files: map[string][]byte{"artifacts.toml": []byte("[[artifact]]\ntag = \"x\"\nfile = \"../escape\"\ntype = \"application/vnd.example\"\n")}}}}
	w := fixture.New(t, runRef, fixture.Plain(), bad)
	out, code := export(t, w, false, "0.13", env, "example.com/app:latest")
	if code != platform.CodeInvalidArtifacts || !strings.Contains(out, "acme_bad/out/artifacts.toml") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(layoutDir, "example.com", "app")); !os.IsNotExist(err) {
		t.Fatalf("the app image was written: %v", err)
	}
}

// layoutTarget makes a layout directory with the run image in it, and the
// environment that exports into it. lifecycle parses layout paths as image
// references, which must be lower case: t.TempDir() is not.
func layoutTarget(t *testing.T) (dir, runRef string, env []string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "layout")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	runRef = fixture.WriteRunImageLayout(t, dir, "example.com/run:latest")
	return dir, runRef, []string{"CNB_EXPERIMENTAL_MODE=warn", "CNB_USE_LAYOUT=true", "CNB_LAYOUT_DIR=" + dir}
}
