//go:build acceptance

package acceptance_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/buildpacks/lifecycle/platform/files"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

const sourceDateEpoch = "SOURCE_DATE_EPOCH=1700000000"

// export runs a lifecycle exporter on w the way kpack and Tekton do: the
// phase binary on the host, no Docker. stock selects upstream's binary.
func export(t *testing.T, w *fixture.Workspace, stock bool, api string, env []string, names ...string) (string, int) {
	t.Helper()
	dir := harness.LifecycleDir(t)
	args := w.Args(filepath.Join(dir, "launcher"))
	var bin string
	if !stock {
		bin = harness.Binary(t, "exporter")
	} else {
		bin = harness.Binary(t, "lifecycle")
		args = append([]string{"export"}, args...)
	}
	cmd := exec.Command(bin, append(args, names...)...)
	cmd.Env = append(append(w.Env(api), sourceDateEpoch), env...)
	stdout, stderr, code := harness.Run(t, cmd)
	return stdout + stderr, code
}

func readReport(t *testing.T, path string) platform.Report {
	t.Helper()
	return harness.MustReadReport(t, path)
}

func head(t *testing.T, ref string) v1.Hash {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Head(r)
	if err != nil {
		t.Fatalf("HEAD %s: %v", ref, err)
	}
	return d.Digest
}

// With no artifacts.toml our exporter gives the image the stock exporter's
// digest and writes a byte-identical report.toml, for every platform API.
// Each exporter pushes to its own repository, so each registry check sees
// what that exporter pushed; the reports are compared with the repository
// names swapped.
func TestExportParityWithStock(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	for _, api := range []string{"0.7", "0.8", "0.9", "0.10", "0.11", "0.12", "0.13", "0.14", "0.15"} {
		t.Run("platform "+api, func(t *testing.T) {
			w := fixture.New(t, run, fixture.Plain())
			tag := strings.ReplaceAll(api, ".", "-")
			var reports [2][]byte
			var imgs [2]string
			for i, stock := range []bool{true, false} {
				imgs[i] = reg.Host + "/parity-" + map[bool]string{true: "stock", false: "ours"}[stock] + ":" + tag
				out, code := export(t, w, stock, api, nil, imgs[i], imgs[i]+"-extra")
				if code != 0 {
					t.Fatalf("stock=%v exit %d\n%s", stock, code, out)
				}
				b, err := os.ReadFile(w.Report)
				if err != nil {
					t.Fatal(err)
				}
				reports[i] = b
				must(t, os.Remove(w.Report))
				var rep files.Report
				if _, err := toml.Decode(string(b), &rep); err != nil {
					t.Fatal(err)
				}
				for _, ref := range []string{imgs[i], imgs[i] + "-extra"} {
					if d := head(t, ref); d.String() != rep.Image.Digest {
						t.Fatalf("stock=%v: registry has %s at %s, report says %s", stock, d, ref, rep.Image.Digest)
					}
				}
			}
			stockAsOurs := bytes.ReplaceAll(reports[0], []byte("/parity-stock:"), []byte("/parity-ours:"))
			if !bytes.Equal(stockAsOurs, reports[1]) {
				t.Fatalf("report.toml differs (repository names swapped)\n--- stock\n%s\n--- ours\n%s", reports[0], reports[1])
			}
			if a, b := head(t, imgs[0]), head(t, imgs[1]); a != b {
				t.Fatalf("stock pushed %s, ours %s", a, b)
			}
		})
	}
}

// The sample artifacts are published next to the app image and read back
// with independent clients, on every registry tested for real: with the
// referrers API (olareg) and without (distribution 2.8 and v3.0.0).
func TestExportArtifacts(t *testing.T) {
	for _, start := range harness.Registries() {
		reg := start(t)
		t.Run(reg.Name, func(t *testing.T) {
			run := fixture.PushRunImage(t, reg.Host+"/run")
			samples := fixture.Samples()
			w := fixture.New(t, run, append([]fixture.Buildpack{fixture.Plain()}, samples...)...)
			app := reg.Host + "/app"
			out, code := export(t, w, false, "0.13", nil, app+":latest", app+":v1")
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, out)
			}
			rep := readReport(t, w.Report)
			appDigest := head(t, app+":latest")
			if rep.Image.Digest != appDigest.String() {
				t.Fatalf("report digest %s, registry %s", rep.Image.Digest, appDigest)
			}
			if len(rep.Artifacts) != 3 {
				t.Fatalf("report has %d artifacts:\n%+v", len(rep.Artifacts), rep.Artifacts)
			}
			if !strings.Contains(out, "*** Artifacts:") {
				t.Fatalf("no artifacts summary in the log:\n%s", out)
			}
			// The wasm layer is not a launch layer: the builder renamed its
			// directory to wasm.ignore, and it is reported by its own name.
			if a := rep.Artifacts[0]; a.Buildpack != "examples/wasm" || a.Layer != "wasm" {
				t.Fatalf("first artifact %s layer %q", a.Buildpack, a.Layer)
			}
			for _, a := range rep.Artifacts {
				if len(a.Refs) != 1 || !strings.HasPrefix(a.Refs[0], app+":"+a.Tag+"@sha256:") {
					t.Fatalf("refs = %v", a.Refs)
				}
				if d := head(t, a.Refs[0]); !strings.HasSuffix(a.Refs[0], d.String()) {
					t.Fatalf("%s resolves to %s", a.Refs[0], d)
				}
				if !strings.Contains(out, a.Refs[0]) {
					t.Fatalf("log does not list %s", a.Refs[0])
				}
			}

			t.Run("oras pull gives back the files", func(t *testing.T) {
				for tag, want := range map[string]map[string][]byte{
					"wasm":  {"hello.wasm": fixture.WasmModule()},
					"0.1.0": {"hello-0.1.0.tgz": samples[1].Layers[0].Files["hello-0.1.0.tgz"]},
					"junit": {"junit.xml": samples[2].Layers[0].Files["junit.xml"]},
				} {
					dir := t.TempDir()
					out, _, code := harness.Run(t, exec.Command(harness.Tool(t, "oras"), "pull", "--plain-http", "-o", dir, app+":"+tag))
					if code != 0 {
						t.Fatalf("oras pull %s: exit %d\n%s", tag, code, out)
					}
					for f, content := range want {
						got, err := os.ReadFile(filepath.Join(dir, f))
						if err != nil {
							t.Fatal(err)
						}
						if !bytes.Equal(got, content) {
							t.Fatalf("%s: pulled %d bytes differ from the %d written", f, len(got), len(content))
						}
					}
				}
			})

			t.Run("oras discover lists the artifacts", func(t *testing.T) {
				out, errOut, code := harness.Run(t, exec.Command(harness.Tool(t, "oras"), "discover", "--plain-http", "--format", "json", app+"@"+appDigest.String()))
				if code != 0 {
					t.Fatalf("exit %d\n%s%s", code, out, errOut)
				}
				for _, a := range rep.Artifacts {
					d := a.Refs[0][strings.LastIndex(a.Refs[0], "@")+1:]
					if !strings.Contains(out, d) || !strings.Contains(out, a.Type) {
						t.Fatalf("discover misses %s (%s):\n%s", d, a.Type, out)
					}
				}
			})

			t.Run("helm pull fetches the chart", func(t *testing.T) {
				dir := t.TempDir()
				out, errOut, code := harness.Run(t, exec.Command(harness.Tool(t, "helm"), "pull", "oci://"+app, "--version", "0.1.0", "--plain-http", "-d", dir))
				if code != 0 {
					t.Fatalf("exit %d\n%s%s", code, out, errOut)
				}
				// helm names the file after the repository, not the chart.
				got, err := os.ReadFile(filepath.Join(dir, "app-0.1.0.tgz"))
				if err != nil {
					t.Fatalf("%v\n%s%s", err, out, errOut)
				}
				if !bytes.Equal(got, samples[1].Layers[0].Files["hello-0.1.0.tgz"]) {
					t.Fatalf("chart differs")
				}
			})

			t.Run("crane and skopeo read the manifests", func(t *testing.T) {
				for _, a := range rep.Artifacts {
					craneOut, errOut, code := harness.Run(t, exec.Command(harness.Tool(t, "crane"), "manifest", "--insecure", a.Refs[0]))
					if code != 0 {
						t.Fatalf("crane: exit %d\n%s", code, errOut)
					}
					var m v1.Manifest
					if err := json.Unmarshal([]byte(craneOut), &m); err != nil {
						t.Fatal(err)
					}
					if m.Subject == nil || m.Subject.Digest != appDigest || m.ArtifactType != a.Type {
						t.Fatalf("manifest subject %+v artifactType %q", m.Subject, m.ArtifactType)
					}
					// The image's time source: SOURCE_DATE_EPOCH=1700000000.
					if got := m.Annotations["org.opencontainers.image.created"]; got != "2023-11-14T22:13:20Z" {
						t.Fatalf("created = %q", got)
					}
					// skopeo takes repo@digest, not repo:tag@digest.
					byDigest := app + a.Refs[0][strings.LastIndex(a.Refs[0], "@"):]
					skopeoOut, errOut, code := harness.Run(t, exec.Command(harness.Tool(t, "skopeo"), "inspect", "--raw", "--tls-verify=false", "docker://"+byDigest))
					if code != 0 {
						t.Fatalf("skopeo: exit %d\n%s", code, errOut)
					}
					if strings.TrimSpace(skopeoOut) != strings.TrimSpace(craneOut) {
						t.Fatalf("skopeo and crane disagree:\n%s\n%s", skopeoOut, craneOut)
					}
				}
			})

			t.Run("referrers fallback tag only without the referrers API", func(t *testing.T) {
				req, _ := http.NewRequest(http.MethodHead, fmt.Sprintf("http://%s/v2/app/manifests/sha256-%s", reg.Host, appDigest.Hex), nil)
				req.Header.Set("Accept", "application/vnd.oci.image.index.v1+json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if reg.Referrers && resp.StatusCode != http.StatusNotFound {
					t.Fatalf("fallback tag written on a registry with the referrers API: %d", resp.StatusCode)
				}
				if !reg.Referrers && resp.StatusCode != http.StatusOK {
					t.Fatalf("no fallback tag: %d", resp.StatusCode)
				}
			})

			t.Run("a second export of the same inputs gives the same digests", func(t *testing.T) {
				os.Remove(w.Report)
				out, code := export(t, w, false, "0.13", nil, app+":latest", app+":v1")
				if code != 0 {
					t.Fatalf("exit %d\n%s", code, out)
				}
				again := readReport(t, w.Report)
				for i := range rep.Artifacts {
					if again.Artifacts[i].Refs[0] != rep.Artifacts[i].Refs[0] {
						t.Fatalf("artifact %s: %s then %s", rep.Artifacts[i].Tag, rep.Artifacts[i].Refs[0], again.Artifacts[i].Refs[0])
					}
				}
			})
		})
	}
}

// The image tag scheme publishes artifacts under <image-tag>-<tag>. (The
// image name is given twice, which lifecycle accepts.)
func TestExportTagTemplate(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	w := fixture.New(t, run, fixture.Samples()[2])
	out, code := export(t, w, false, "0.13", []string{platform.EnvArtifactTagTemplate + "={image-tag}-{tag}"}, reg.Host+"/app:build-7", reg.Host+"/app:build-7")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	rep := readReport(t, w.Report)
	if len(rep.Artifacts) != 1 || len(rep.Artifacts[0].Refs) != 1 {
		t.Fatalf("report has %d artifacts, want 1 with one ref: %+v", len(rep.Artifacts), rep.Artifacts)
	}
	if got := rep.Artifacts[0].Refs[0]; !strings.HasPrefix(got, reg.Host+"/app:build-7-junit@") {
		t.Fatalf("ref = %s", got)
	}
	head(t, reg.Host+"/app:build-7-junit")
}
