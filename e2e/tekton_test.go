//go:build e2e && tekton

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/internal/stack"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// The Tekton catalog task run here: buildpacks-phases 0.3
// (github.com/tektoncd/catalog task/buildpacks-phases/0.3/buildpacks-phases.yaml,
// commit ec2c3fb2e349d055266b47287ec18eac024872c5), Platform API 0.13.
// Task 0.3 has no LIFECYCLE_IMAGE parameter: every lifecycle step runs in
// CNB_BUILDER_IMAGE, so our lifecycle reaches the task through the builder.
const tektonTask = "buildpacks-phases 0.3"

// tektonParams are the task's params as this run binds them; the others
// keep the task's defaults (listed here too, since steps substitute them).
func tektonParams(builder, app string) map[string]string {
	return map[string]string{
		"CNB_BUILDER_IMAGE":          builder,
		"APP_IMAGE":                  app,
		"CNB_BUILD_IMAGE":            "",
		"CNB_CACHE_IMAGE":            "",
		"CNB_EXPERIMENTAL_MODE":      "silent",
		"CNB_INSECURE_REGISTRIES":    "",
		"CNB_LAYERS_DIR":             "/layers",
		"CNB_LOG_LEVEL":              "info",
		"CNB_PLATFORM_API_SUPPORTED": "0.13",
		"CNB_PLATFORM_API":           "",
		"CNB_PLATFORM_DIR":           "/platform",
		// The task's default is "web"; the samples declare no process, and
		// any lifecycle refuses a default process that does not exist.
		"CNB_PROCESS_TYPE": "",
		"CNB_RUN_IMAGE":    "",
		"CNB_SKIP_LAYERS":  "false",
		"SOURCE_SUBPATH":   "",
		"TAGS":             "",
		"USER_HOME":        "/tekton/home",
	}
}

// tektonStep is a step of the task. Lifecycle steps run in the builder
// image on the Docker Engine with the task's command, args, env and volume
// mounts. The other steps run images this machine cannot pull
// (quay.io/halkyonio/skopeo-jq, ubi8/ubi-minimal, ubi8/python-311); they
// run on the host (host is set), doing what their scripts do with the same
// tools (skopeo, python3's tomllib).
type tektonStep struct {
	Name    string
	Command []string
	Args    []string
	Env     []string
	Mounts  []string // volume name:path
	When    func(results map[string]string) bool
	Host    func(t *testing.T, r *tektonRun)
}

var stepTemplateEnv = []string{"CNB_EXPERIMENTAL_MODE=$(params.CNB_EXPERIMENTAL_MODE)", "HOME=$(params.USER_HOME)"}

const platformAPIResult = "CNB_PLATFORM_API=$(steps.get-labels-and-env.results.CNB_PLATFORM_API)"

var buildpacksPhases = []tektonStep{
	{Name: "get-labels-and-env", Host: getLabelsAndEnv},
	{Name: "prepare", Host: prepare},
	{
		Name:    "analyze",
		Command: []string{"/cnb/lifecycle/analyzer"},
		Env:     []string{platformAPIResult},
		Args: []string{
			"-log-level=$(params.CNB_LOG_LEVEL)",
			"-layers=$(params.CNB_LAYERS_DIR)",
			"-run-image=$(params.CNB_RUN_IMAGE)",
			"-cache-image=$(params.CNB_CACHE_IMAGE)",
			"-uid=$(steps.get-labels-and-env.results.UID)",
			"-gid=$(steps.get-labels-and-env.results.GID)",
			"-insecure-registry=$(params.CNB_INSECURE_REGISTRIES)",
			"-tag=$(params.TAGS)",
			"-skip-layers=$(params.CNB_SKIP_LAYERS)",
			"$(params.APP_IMAGE)",
		},
		Mounts: []string{"layers-dir:/layers"},
	},
	{
		Name:    "detect",
		Command: []string{"/cnb/lifecycle/detector"},
		Env:     []string{platformAPIResult},
		Args: []string{
			"-log-level=$(params.CNB_LOG_LEVEL)",
			"-app=$(workspaces.source.path)/$(params.SOURCE_SUBPATH)",
			"-group=/layers/group.toml",
			"-plan=/layers/plan.toml",
			"-layers=$(params.CNB_LAYERS_DIR)",
			"-platform=$(params.CNB_PLATFORM_DIR)",
		},
		Mounts: []string{"layers-dir:/layers", "platform-dir:$(params.CNB_PLATFORM_DIR)", "tekton-home-dir:/tekton/home"},
	},
	{
		// The task's restore step is a bash script that runs the restorer
		// with these arguments: -build-image is ${CNB_BUILD_IMAGE:-${CNB_BUILDER_IMAGE}}
		// and -layers is ${CNB_LAYERS_DIR}, which that step's env does not
		// set. The builder image has no bash, so the command line it
		// builds runs directly.
		Name:    "restore",
		Command: []string{"/cnb/lifecycle/restorer"},
		Env: []string{
			"UID=$(steps.get-labels-and-env.results.UID)",
			"GID=$(steps.get-labels-and-env.results.GID)",
			"CNB_LOG_LEVEL=$(params.CNB_LOG_LEVEL)",
			"CNB_BUILD_IMAGE=$(params.CNB_BUILD_IMAGE)",
			"CNB_BUILDER_IMAGE=$(params.CNB_BUILDER_IMAGE)",
			"CNB_CACHE_IMAGE=$(params.CNB_CACHE_IMAGE)",
			"CNB_INSECURE_REGISTRIES=$(params.CNB_INSECURE_REGISTRIES)",
			"CNB_SKIP_LAYERS=$(params.CNB_SKIP_LAYERS)",
			platformAPIResult,
		},
		Args: []string{
			"-log-level=$(params.CNB_LOG_LEVEL)",
			"-build-image=$(params.CNB_BUILDER_IMAGE)",
			"-group=/layers/group.toml",
			"-layers=",
			"-cache-dir=$(workspaces.cache.path)",
			"-cache-image=$(params.CNB_CACHE_IMAGE)",
			"-uid=$(steps.get-labels-and-env.results.UID)",
			"-gid=$(steps.get-labels-and-env.results.GID)",
			"-insecure-registry=$(params.CNB_INSECURE_REGISTRIES)",
			"-skip-layers=$(params.CNB_SKIP_LAYERS)",
		},
		Mounts: []string{"layers-dir:/layers", "kaniko-dir:/kaniko"},
	},
	{
		Name:    "extender",
		When:    func(r map[string]string) bool { return r["EXTENSION_LABELS"] != "empty" },
		Command: []string{"/cnb/lifecycle/extender"},
		Env:     []string{platformAPIResult},
		Args: []string{
			"-log-level=$(params.CNB_LOG_LEVEL)",
			"-app=$(workspaces.source.path)/$(params.SOURCE_SUBPATH)",
			"-generated=/layers/generated",
			"-uid=$(steps.get-labels-and-env.results.UID)",
			"-gid=$(steps.get-labels-and-env.results.GID)",
			"-platform=$(params.CNB_PLATFORM_DIR)",
		},
		Mounts: []string{"layers-dir:/layers", "kaniko-dir:/kaniko", "tekton-home-dir:/tekton/home", "platform-dir:$(params.CNB_PLATFORM_DIR)"},
	},
	{
		Name:    "build",
		When:    func(r map[string]string) bool { return r["EXTENSION_LABELS"] == "empty" },
		Command: []string{"/cnb/lifecycle/builder"},
		Env:     []string{platformAPIResult},
		Args: []string{
			"-log-level=$(params.CNB_LOG_LEVEL)",
			"-app=$(workspaces.source.path)/$(params.SOURCE_SUBPATH)",
			"-layers=$(params.CNB_LAYERS_DIR)",
			"-group=/layers/group.toml",
			"-plan=/layers/plan.toml",
			"-platform=$(params.CNB_PLATFORM_DIR)",
		},
		Mounts: []string{"layers-dir:/layers", "platform-dir:$(params.CNB_PLATFORM_DIR)", "tekton-home-dir:/tekton/home"},
	},
	{
		Name:    "export",
		Command: []string{"/cnb/lifecycle/exporter"},
		Env:     []string{platformAPIResult},
		Args: []string{
			"-log-level=$(params.CNB_LOG_LEVEL)",
			"-app=$(workspaces.source.path)/$(params.SOURCE_SUBPATH)",
			"-layers=$(params.CNB_LAYERS_DIR)",
			"-group=/layers/group.toml",
			"-cache-dir=$(workspaces.cache.path)",
			"-cache-image=$(params.CNB_CACHE_IMAGE)",
			"-report=/layers/report.toml",
			"-process-type=$(params.CNB_PROCESS_TYPE)",
			"-uid=$(steps.get-labels-and-env.results.UID)",
			"-gid=$(steps.get-labels-and-env.results.GID)",
			"-insecure-registry=$(params.CNB_INSECURE_REGISTRIES)",
			"$(params.APP_IMAGE)",
		},
		Mounts: []string{"layers-dir:/layers"},
	},
	{Name: "results", Host: results},
}

// tektonRun is one TaskRun: its params, the step results, the task's
// results and its volumes (host directories, bind-mounted as Tekton's
// emptyDirs and workspace are).
type tektonRun struct {
	params      map[string]string
	stepResults map[string]string // get-labels-and-env's
	results     map[string]string // the task's
	dirs        map[string]string // volume name (and "source", "results") -> host dir
	docker      *dockerObjects
}

var tektonVar = regexp.MustCompile(`\$\(([^)]+)\)`)

// subst replaces Tekton's $(…) variables as the controller does; an
// unknown one fails the test.
func (r *tektonRun) subst(t *testing.T, s string) string {
	return tektonVar.ReplaceAllStringFunc(s, func(m string) string {
		v := m[2 : len(m)-1]
		switch {
		case strings.HasPrefix(v, "params."):
			if p, ok := r.params[strings.TrimPrefix(v, "params.")]; ok {
				return p
			}
		case strings.HasPrefix(v, "steps.get-labels-and-env.results."):
			if p, ok := r.stepResults[strings.TrimPrefix(v, "steps.get-labels-and-env.results.")]; ok {
				return p
			}
		case v == "workspaces.source.path":
			return "/workspace/source"
		case v == "workspaces.cache.path": // optional, not bound
			return ""
		}
		t.Fatalf("unknown Tekton variable %s", m)
		return ""
	})
}

func TestTektonBuildpacksPhases(t *testing.T) {
	start := time.Now()
	if os.Geteuid() != 0 {
		t.Fatal("the prepare step chowns the volumes to the CNB user, as the task does as root: run as root")
	}
	lifecycleDir := harness.LifecycleDir(t)
	root, err := filepath.Abs("..")
	must(t, err)
	pack := harness.Tool(t, "pack")
	reg := harness.StartDistribution(t).Host
	r := &tektonRun{stepResults: map[string]string{}, results: map[string]string{}, dirs: map[string]string{}}
	r.docker = newDockerObjects(t, "e2e-tekton", reg)

	// A builder of our lifecycle release tarball (out/, `make package`)
	// and the sample buildpacks, made as `make stack` makes it. (pack 0.38.2
	// cannot take the lifecycle from our lifecycle image: for a docker://
	// lifecycle uri it trims "/cnb/" from the layer's entry names, and ours
	// are "cnb/…".)
	var desc struct {
		Lifecycle struct{ Version string } `toml:"lifecycle"`
	}
	if _, err := toml.DecodeFile(filepath.Join(lifecycleDir, "lifecycle.toml"), &desc); err != nil {
		t.Fatal(err)
	}
	tarball := filepath.Join(filepath.Dir(lifecycleDir), "lifecycle-v"+desc.Lifecycle.Version+".linux.x86-64.tgz")
	var bps []stack.Buildpack
	for _, bp := range []string{"wasm", "helm", "tests"} {
		b, err := stack.ReadBuildpack(filepath.Join(root, "samples", bp))
		must(t, err)
		bps = append(bps, b)
	}
	packHome := t.TempDir()
	res, err := stack.Create(context.Background(), stack.Options{
		Registry: reg, LifecycleTarball: tarball, Buildpacks: bps, Dir: t.TempDir(),
		Pack: stack.RunPack(pack, "PACK_HOME="+packHome),
	})
	if err != nil {
		t.Fatalf("making the builder: %v", err)
	}
	builder, err := remoteDigestRef(res.Builder)
	must(t, err)
	t.Logf("builder %s\n%s", builder, res.BuilderTOML)

	app := reg + "/" + appNamespace + "/app-tekton"
	r.params = tektonParams(builder, app)

	// The volumes: emptyDirs, the source workspace and the results.
	for _, v := range []string{"tekton-home-dir", "layers-dir", "kaniko-dir", "platform-dir", "source", "results"} {
		dir := filepath.Join(t.TempDir(), v)
		must(t, os.Mkdir(dir, 0o777))
		must(t, os.Chmod(dir, 0o777))
		r.dirs[v] = dir
	}
	must(t, os.CopyFS(r.dirs["source"], os.DirFS(filepath.Join(root, "samples", "app"))))
	// Tekton's credential initialisation puts the docker config of the
	// TaskRun's service account into $HOME (/tekton/home).
	must(t, os.MkdirAll(filepath.Join(r.dirs["tekton-home-dir"], ".docker"), 0o755))
	must(t, os.WriteFile(filepath.Join(r.dirs["tekton-home-dir"], ".docker", "config.json"),
		fmt.Appendf(nil, `{"auths":{%q:{"auth":"ZTJlOmUyZQ=="}}}`, reg), 0o644))
	t.Logf("setup took %s", time.Since(start).Round(time.Millisecond))

	for i, s := range buildpacksPhases {
		if s.When != nil && !s.When(r.stepResults) {
			t.Logf("--- %s: skipped by its when expression", s.Name)
			continue
		}
		if s.Host != nil {
			s.Host(t, r)
			continue
		}
		c := container{Name: s.Name, Image: r.params["CNB_BUILDER_IMAGE"], Command: s.Command}
		for _, a := range s.Args {
			c.Args = append(c.Args, r.subst(t, a))
		}
		for _, e := range append(append([]string{}, stepTemplateEnv...), s.Env...) {
			c.Env = append(c.Env, r.subst(t, e))
		}
		// Tekton mounts every workspace into every step.
		c.Mounts = []mount{{HostPath: r.dirs["source"], Target: "/workspace/source"}}
		for _, m := range s.Mounts {
			v, p, _ := strings.Cut(m, ":")
			c.Mounts = append(c.Mounts, mount{HostPath: r.dirs[v], Target: r.subst(t, p)})
		}
		out, code := dockerRun(t, fmt.Sprintf("%s-%d-%s", r.docker.prefix, i, s.Name), c)
		if code != 0 {
			t.Fatalf("step %s of %s: exit %d\n%s", s.Name, tektonTask, code, out)
		}
	}

	// The task's result, the app image and its artifacts.
	digest := r.results["APP_IMAGE_DIGEST"]
	var rep platform.Report
	raw, err := os.ReadFile(filepath.Join(r.dirs["layers-dir"], "report.toml"))
	must(t, err)
	if _, err := toml.Decode(string(raw), &rep); err != nil {
		t.Fatalf("report.toml: %v\n%s", err, raw)
	}
	t.Logf("report.toml:\n%s", raw)
	if !strings.HasPrefix(digest, "sha256:") || digest != rep.Image.Digest {
		t.Errorf("APP_IMAGE_DIGEST %q, report.toml digest %q", digest, rep.Image.Digest)
	}
	checkArtifacts(t, app, digest, rep)
	t.Logf("TaskRun of %s took %s", tektonTask, time.Since(start).Round(time.Millisecond))
}

// getLabelsAndEnv is the get-labels-and-env step: it requires the docker
// config in $HOME, reads the builder's labels and env with skopeo inspect,
// and sets the step results UID, GID, EXTENSION_LABELS and
// CNB_PLATFORM_API as the task does.
func getLabelsAndEnv(t *testing.T, r *tektonRun) {
	authfile := filepath.Join(r.dirs["tekton-home-dir"], ".docker", "config.json")
	if _, err := os.Stat(authfile); err != nil {
		t.Fatalf("get-labels-and-env: the registry creds docker file does not exist: %v", err)
	}
	// The task strips a digest from the builder reference first.
	builder, _, _ := strings.Cut(r.params["CNB_BUILDER_IMAGE"], "@")
	// The test's registry speaks plain HTTP: --tls-verify=false is the
	// one flag added to the task's command.
	cmd := exec.Command("skopeo", "inspect", "--tls-verify=false", "--authfile", authfile, "docker://"+builder)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("get-labels-and-env: skopeo inspect %s: %v\n%s", builder, err, stderr.String())
	}
	var img struct {
		Labels map[string]string
		Env    []string
	}
	must(t, json.Unmarshal(out, &img))
	if md, ok := img.Labels["io.buildpacks.builder.metadata"]; ok && md != "{}" {
		var m struct {
			Lifecycle struct {
				APIs struct {
					Platform struct{ Supported []string } `json:"platform"`
				} `json:"apis"`
			} `json:"lifecycle"`
		}
		must(t, json.Unmarshal([]byte(md), &m))
		api := r.params["CNB_PLATFORM_API"]
		if api == "" {
			api = r.params["CNB_PLATFORM_API_SUPPORTED"]
		}
		// The task matches the platform API as a substring of the list.
		if !strings.Contains(strings.Join(m.Lifecycle.APIs.Platform.Supported, " "), api) || api != r.params["CNB_PLATFORM_API_SUPPORTED"] {
			t.Fatalf("get-labels-and-env: platform API %s is not supported by the lifecycle (%v) and the task", api, m.Lifecycle.APIs.Platform.Supported)
		}
		r.stepResults["CNB_PLATFORM_API"] = api
	}
	// jq -r prints null for a missing label, which is not "{}".
	ext, ok := img.Labels["io.buildpacks.extension.layers"]
	if !ok {
		ext = "null"
	}
	if ext != "{}" {
		r.stepResults["EXTENSION_LABELS"] = ext
	} else {
		r.stepResults["EXTENSION_LABELS"] = "empty"
	}
	for _, e := range img.Env {
		if v, ok := strings.CutPrefix(e, "CNB_USER_ID="); ok {
			r.stepResults["UID"] = v
		}
		if v, ok := strings.CutPrefix(e, "CNB_GROUP_ID="); ok {
			r.stepResults["GID"] = v
		}
	}
	t.Logf("--- get-labels-and-env (host: skopeo inspect docker://%s): results %v", builder, r.stepResults)
}

// prepare is the prepare step: it gives the CNB user the home, the layers
// and the source, and writes CNB_ENV_VARS (none here) to the platform dir.
func prepare(t *testing.T, r *tektonRun) {
	owner := r.stepResults["UID"] + ":" + r.stepResults["GID"]
	for _, d := range []string{r.dirs["tekton-home-dir"], r.dirs["layers-dir"], r.dirs["source"]} {
		if out, err := exec.Command("chown", "-R", owner, d).CombinedOutput(); err != nil {
			t.Fatalf("prepare: chown %s: %v\n%s", d, err, out)
		}
	}
	must(t, os.MkdirAll(filepath.Join(r.dirs["platform-dir"], "env"), 0o755))
	t.Logf("--- prepare (host): chown -R %s on the home, the layers and the source; %s/env", owner, r.params["CNB_PLATFORM_DIR"])
}

// resultsScript is the results step's parsing of report.toml: Python's
// tomllib, the digest of [image], written to the task result.
const resultsScript = `
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    data = tomllib.load(f)
img = data.get("image")
print("tags:", img.get("tags"), "digest:", img.get("digest"))
with open(sys.argv[2], "w") as f:
    f.write(img.get("digest"))
`

func results(t *testing.T, r *tektonRun) {
	path := filepath.Join(r.dirs["results"], "APP_IMAGE_DIGEST")
	out, err := exec.Command("python3", "-c", resultsScript, filepath.Join(r.dirs["layers-dir"], "report.toml"), path).CombinedOutput()
	t.Logf("--- results (host: python3, tomllib)\n%s", out)
	if err != nil {
		t.Fatalf("results: %v", err)
	}
	b, err := os.ReadFile(path)
	must(t, err)
	r.results["APP_IMAGE_DIGEST"] = string(b)
}

func TestTektonSubst(t *testing.T) {
	r := &tektonRun{params: map[string]string{"APP_IMAGE": "reg/app", "SOURCE_SUBPATH": ""},
		stepResults: map[string]string{"UID": "1000"}}
	for in, want := range map[string]string{
		"$(params.APP_IMAGE)": "reg/app",
		"-app=$(workspaces.source.path)/$(params.SOURCE_SUBPATH)": "-app=/workspace/source/",
		"-uid=$(steps.get-labels-and-env.results.UID)":            "-uid=1000",
		"-cache-dir=$(workspaces.cache.path)":                     "-cache-dir=",
		"no variable":                                             "no variable",
	} {
		if got := r.subst(t, in); got != want {
			t.Errorf("subst(%q) = %q, want %q", in, got, want)
		}
	}
}
