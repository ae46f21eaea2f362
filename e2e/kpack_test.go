//go:build e2e && kpack

package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/internal/stack"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// kpackStackID is the ClusterStack id; kpack requires the stack images to
// carry it as io.buildpacks.stack.id.
const kpackStackID = "io.buildpacks.stacks.e2e-busybox"

// TestKpack runs what kpack v0.17.0 runs for an Image built from a blob:
// kpack's own code (e2e/kpack, out/kpack/kpack-e2e) resolves the
// ClusterLifecycle from our lifecycle image, the ClusterStack and the
// ClusterStore, creates the builder and generates the build Pod; the Pod's
// init containers and its completion container then run, in order, on the
// Docker Engine. Built twice: the second build is the Image's next build
// (lastBuild set, the same cache volume).
func TestKpack(t *testing.T) {
	start := time.Now()
	k := setupKpack(t)
	t.Logf("setup took %s", time.Since(start).Round(time.Millisecond))

	first := k.build(t, 1, nil)
	if !strings.Contains(first.exportLog, "Adding layer 'examples/helm:chart'") {
		t.Errorf("the first export added no buildpack layer:\n%s", first.exportLog)
	}
	second := k.build(t, 2, &first)
	if !regexp.MustCompile(`Reusing layer 'examples/[a-z]+:`).MatchString(second.exportLog) {
		t.Errorf("the second build reused no layer:\n%s", second.exportLog)
	}
	if first.digest != second.digest {
		t.Errorf("the second build of unchanged sources changed the image digest: %s -> %s", first.digest, second.digest)
	}
	k.rebaseAndReattach(t, 3, second)
	t.Logf("TestKpack took %s", time.Since(start).Round(time.Millisecond))
}

type kpackEnv struct {
	bin        string // out/kpack
	registry   string
	docker     *dockerObjects
	builder    string // tag@digest, from kpack's builder record
	runImage   string
	runBase    v1.Image // the ClusterStack's run image, unpatched
	builderCfg []string // kpack-e2e builder's arguments but -run-image
	busyboxImg string   // for the volume initialisation
	images     map[string]string
	blobURL    string
	app        string
	objects    []byte
	secretDir  string
	cache      string // the Image's cache volume (a PVC in Kubernetes)
}

type kpackBuild struct {
	digest    string
	exportLog string
}

func setupKpack(t *testing.T) *kpackEnv {
	t.Helper()
	bin := os.Getenv("KPACK_DIR")
	layoutDir := os.Getenv(EnvLifecycleImageLayout)
	if bin == "" || layoutDir == "" {
		t.Fatalf("KPACK_DIR or %s is not set; run the test through `make e2e-kpack`", EnvLifecycleImageLayout)
	}
	root, err := filepath.Abs("..")
	must(t, err)
	lifecycleDir := harness.LifecycleDir(t)
	pack := harness.Tool(t, "pack")
	k := &kpackEnv{bin: bin, images: map[string]string{}}
	k.registry = harness.StartDistribution(t).Host
	k.docker = newDockerObjects(t, "e2e-kpack", k.registry)
	k.app = k.registry + "/" + appNamespace + "/app-kpack"

	// The ClusterLifecycle image: our lifecycle image, pinned by digest.
	var desc struct {
		Lifecycle struct{ Version string } `toml:"lifecycle"`
	}
	_, err = toml.DecodeFile(filepath.Join(lifecycleDir, "lifecycle.toml"), &desc)
	must(t, err)
	d := pushLayoutIndex(t, layoutDir, k.registry+"/lifecycle:"+strings.ReplaceAll(desc.Lifecycle.Version, "+", "_"))
	lifecycle := k.registry + "/lifecycle@" + d.String()

	// The ClusterStack: the busybox images of internal/stack with the id.
	stackRefs := map[string]string{}
	for _, role := range []string{"build", "run"} {
		img, err := stack.BaseImage(stack.BusyboxPath, role)
		must(t, err)
		img = withLabel(t, img, "io.buildpacks.stack.id", kpackStackID)
		stackRefs[role], err = stack.Push(k.registry+"/stack/"+role+":latest", img)
		must(t, err)
		if role == "run" {
			k.runBase = img
		}
	}
	k.busyboxImg = stackRefs["build"]

	// The ClusterStore: a buildpackage per sample buildpack, made by pack.
	args := []string{"builder", "-lifecycle", lifecycle, "-stack-id", kpackStackID,
		"-build-image", stackRefs["build"], "-tag", k.registry + "/builder:latest"}
	packHome := t.TempDir()
	for _, name := range []string{"wasm", "helm", "tests"} {
		bp, err := stack.ReadBuildpack(filepath.Join(root, "samples", name))
		must(t, err)
		ref := k.registry + "/buildpacks/" + name + ":latest"
		cfg := filepath.Join(t.TempDir(), "package.toml")
		must(t, os.WriteFile(cfg, fmt.Appendf(nil, "[buildpack]\nuri = %q\n", bp.Dir), 0o644))
		cmd := exec.Command(pack, "buildpack", "package", ref, "--config", cfg, "--publish", "--no-color")
		cmd.Env = append(os.Environ(), "PACK_HOME="+packHome)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("pack buildpack package %s: %v\n%s", ref, err, out)
		}
		args = append(args, "-store", ref, "-buildpack", bp.ID+"@"+bp.Version)
	}
	k.builderCfg = args
	if version := k.createBuilder(t, stackRefs["run"]); version != desc.Lifecycle.Version {
		t.Errorf("kpack read lifecycle version %q from our image, lifecycle.toml says %q", version, desc.Lifecycle.Version)
	}

	// kpack's build-init, completion and rebase, as images named in kpack's
	// config.
	for _, name := range []string{"build-init", "completion", "rebase"} {
		img := processImage(t, filepath.Join(bin, name), name)
		ref, err := stack.Push(k.registry+"/kpack/"+name+":latest", img)
		must(t, err)
		k.images[name] = ref
	}

	// The Image's source: a tarball of samples/app served on 127.0.0.1.
	blob := tarGz(t, filepath.Join(root, "samples", "app"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/gzip")
		w.Write(blob)
	}))
	t.Cleanup(srv.Close)
	k.blobURL = srv.URL + "/app.tar.gz"

	// The namespace's service account with a registry secret (the
	// registry accepts any credentials).
	secret := map[string]string{"username": "e2e", "password": "e2e"}
	k.secretDir = t.TempDir()
	for f, v := range secret {
		must(t, os.WriteFile(filepath.Join(k.secretDir, f), []byte(v), 0o644))
	}
	k.objects, err = json.Marshal(map[string]any{
		"serviceAccounts": []any{map[string]any{
			"metadata": map[string]any{"name": "default", "namespace": "default"},
			"secrets":  []any{map[string]any{"name": "registry-credentials"}},
		}},
		"secrets": []any{map[string]any{
			"metadata": map[string]any{"name": "registry-credentials", "namespace": "default",
				"annotations": map[string]any{"kpack.io/docker": k.registry}},
			"type":       "kubernetes.io/basic-auth",
			"stringData": secret,
			"data":       map[string]any{},
		}},
	})
	must(t, err)
	k.cache = k.docker.volume(t, "cache", k.busyboxImg, "1000")
	return k
}

// createBuilder runs kpack's ClusterLifecycle, ClusterStack and
// ClusterStore readers and its builder creation with the ClusterStack's run
// image runImage, sets k.builder and k.runImage from the builder record and
// returns the lifecycle version kpack read.
func (k *kpackEnv) createBuilder(t *testing.T, runImage string) string {
	t.Helper()
	out := k.kpack(t, append(append([]string{}, k.builderCfg...), "-run-image", runImage)...)
	var res struct {
		Lifecycle struct {
			Version string
			Image   struct{ LatestImage string }
		}
		Builder struct {
			Image string
			Stack struct{ RunImage string }
		}
	}
	must(t, json.Unmarshal([]byte(out), &res))
	t.Logf("kpack resolved the ClusterLifecycle %s (version %s) and created the builder %s (run image %s)",
		res.Lifecycle.Image.LatestImage, res.Lifecycle.Version, res.Builder.Image, res.Builder.Stack.RunImage)
	k.builder, k.runImage = res.Builder.Image, res.Builder.Stack.RunImage
	return res.Lifecycle.Version
}

func (k *kpackEnv) kpack(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(k.bin, "kpack-e2e"), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kpack-e2e %s: %v\n%s", args[0], err, stderr.String())
	}
	return string(out)
}

// build creates the Build kpack's Image reconciler would create for build
// number n, generates its Pod with kpack's code, runs it and checks it.
func (k *kpackEnv) build(t *testing.T, n int, last *kpackBuild) kpackBuild {
	t.Helper()
	start := time.Now()
	p := k.pod(t, k.buildObject(n, last, map[string]any{"image.kpack.io/reason": "CONFIG"}))
	r := k.podRun(p)
	logs := r.run(t, fmt.Sprintf("b%d", n))
	digest, rep := k.completed(t, r)
	checkArtifacts(t, k.app, digest, rep)
	t.Logf("build %d took %s", n, time.Since(start).Round(time.Millisecond))
	return kpackBuild{digest: digest, exportLog: logs["export"]}
}

// buildObject is the Build kpack's Image reconciler creates for build
// number n of the Image, with the builder and run image of k, lastBuild
// set from last and the given annotations (the reason).
func (k *kpackEnv) buildObject(n int, last *kpackBuild, annotations map[string]any) map[string]any {
	spec := map[string]any{
		"tags":               []string{k.app},
		"builder":            map[string]any{"image": k.builder},
		"serviceAccountName": "default",
		"source":             map[string]any{"blob": map[string]any{"url": k.blobURL}},
		"cache":              map[string]any{"volume": map[string]any{"persistentVolumeClaimName": "app-kpack-cache"}},
		"runImage":           map[string]any{"image": k.runImage},
	}
	if last != nil {
		spec["lastBuild"] = map[string]any{"image": k.app + "@" + last.digest, "stackId": kpackStackID}
	}
	return map[string]any{
		"apiVersion": "kpack.io/v1alpha2", "kind": "Build",
		"metadata": map[string]any{"name": fmt.Sprintf("app-kpack-build-%d", n), "namespace": "default",
			"annotations": annotations},
		"spec": spec,
	}
}

// pod generates the Pod of the Build with kpack's buildpod.Generator.
func (k *kpackEnv) pod(t *testing.T, b map[string]any) pod {
	t.Helper()
	build, err := json.Marshal(b)
	must(t, err)
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "build.json"), build, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "objects.json"), k.objects, 0o644))
	podJSON := k.kpack(t, "pod", "-build", filepath.Join(dir, "build.json"), "-objects", filepath.Join(dir, "objects.json"),
		"-build-init-image", k.images["build-init"], "-completion-image", k.images["completion"],
		"-rebase-image", k.images["rebase"])
	var p pod
	must(t, json.Unmarshal([]byte(podJSON), &p))
	t.Logf("kpack's Pod %s:\n%s", p.Metadata.Name, podJSON)
	return p
}

func (k *kpackEnv) podRun(p pod) *podRun {
	return &podRun{pod: p, docker: k.docker, busybox: k.busyboxImg, claims: map[string]string{"app-kpack-cache": k.cache},
		secrets: map[string]string{"registry-credentials": k.secretDir}, termination: map[string]string{}}
}

// completed checks what the Pod's completion container reported against
// report.toml and returns the app image digest and the report.
func (k *kpackEnv) completed(t *testing.T, r *podRun) (string, platform.Report) {
	t.Helper()
	// What the completion container reported, decoded with kpack's code.
	msg := r.termination["completion"]
	md := k.kpack(t, "termination", "-file", msg)
	var meta struct {
		LatestImage      string
		LifecycleVersion string
	}
	must(t, json.Unmarshal([]byte(md), &meta))
	t.Logf("completion's build metadata: %s", md)

	// report.toml, from the report volume.
	raw := r.readVolumeFile(t, "report-dir", "report.toml")
	t.Logf("report.toml:\n%s", raw)
	var rep platform.Report
	if _, err := toml.Decode(raw, &rep); err != nil {
		t.Fatalf("report.toml: %v", err)
	}
	digest := rep.Image.Digest
	if want := k.app + "@" + digest; meta.LatestImage != want || !strings.HasPrefix(digest, "sha256:") {
		t.Errorf("kpack's completion reports latestImage %q, want %q (report.toml's tag and digest)", meta.LatestImage, want)
	}
	return digest, rep
}

func withLabel(t *testing.T, img v1.Image, key, value string) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	must(t, err)
	cf = cf.DeepCopy()
	if cf.Config.Labels == nil {
		cf.Config.Labels = map[string]string{}
	}
	cf.Config.Labels[key] = value
	img, err = mutate.ConfigFile(img, cf)
	must(t, err)
	return img
}

// tarGz is a tarball of dir, as a user would upload for a blob source.
func tarGz(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	must(t, tw.AddFS(os.DirFS(dir).(fs.FS)))
	must(t, tw.Close())
	must(t, gz.Close())
	return buf.Bytes()
}
