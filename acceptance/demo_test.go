//go:build acceptance

package acceptance_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
)

// artifactLine is a branch of the demo's tree: one artifact.
var artifactLine = regexp.MustCompile(`(?m)^(├──|└──) (\S+):(\S+)$`)

func demoBinary(t *testing.T) (demo, lifecycleDir string) {
	t.Helper()
	harness.Implementation(t, "demo (out/demo)")
	lifecycleDir = harness.LifecycleDir(t)
	demo = filepath.Join(filepath.Dir(lifecycleDir), "demo")
	if _, err := os.Stat(demo); err != nil {
		t.Fatalf("%v (run `make demo-bin`)", err)
	}
	if os.Getuid() != 0 {
		// A missing precondition fails, as a missing tool does.
		t.Fatal("the demo's creator drops to a non-root CNB user: run the acceptance tests as root (CI does)")
	}
	return demo, lifecycleDir
}

func checkDemoOutput(t *testing.T, stdout, repo string) {
	t.Helper()
	got := map[string]bool{}
	for _, m := range artifactLine.FindAllStringSubmatch(stdout, -1) {
		if m[2] != repo {
			t.Errorf("artifact %s:%s is not in %s", m[2], m[3], repo)
		}
		got[m[3]] = true
	}
	for _, tag := range []string{"wasm", "0.1.0", "junit"} {
		if !got[tag] {
			t.Errorf("the tree lists no artifact %q", tag)
		}
	}
	if len(got) != 3 {
		t.Errorf("the tree lists %d artifacts, want 3", len(got))
	}
	for _, want := range []string{
		"3 artifacts published with the app image.",
		"the referrers API lists all 3",
		"application/vnd.wasm.config.v0+json", "application/wasm",
		"application/vnd.cncf.helm.config.v1+json", "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
		"application/vnd.cnb.junit.report.v1+xml",
		"helm pull oci://" + repo + " --version 0.1.0 --plain-http",
		"oras pull --plain-http " + repo + ":wasm",
		"[[artifacts]]",
		"-launcher-sbom ",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	checkDemoLauncherSBOMs(t, stdout)
}

// checkDemoLauncherSBOMs checks that the demo gave the creator the
// launcher's SBOMs (-launcher-sbom): none of upstream's "Did not find SBOM
// launcher.sbom.<ext>.json in /cnb/lifecycle" warnings, only the three for
// lifecycle's build SBOMs, which upstream reads from /cnb/lifecycle alone.
func checkDemoLauncherSBOMs(t *testing.T, stdout string) {
	t.Helper()
	warnings := regexp.MustCompile(`Did not find SBOM (\S+) in /cnb/lifecycle`).FindAllStringSubmatch(stdout, -1)
	var missing []string
	for _, w := range warnings {
		missing = append(missing, w[1])
	}
	if want := "lifecycle.sbom.cdx.json lifecycle.sbom.spdx.json lifecycle.sbom.syft.json"; strings.Join(missing, " ") != want {
		t.Errorf("the creator did not find SBOMs %v, want only %s (the launcher's come from -launcher-sbom)", missing, want)
	}
}

// TestDemo runs the demo as `make demo` does: embedded olareg, our creator.
func TestDemo(t *testing.T) {
	demo, lifecycleDir := demoBinary(t)
	cmd := exec.Command(demo, "-lifecycle", lifecycleDir, "-samples", "../samples")
	stdout, stderr, code := harness.Run(t, cmd)
	if code != 0 {
		t.Fatalf("demo exited %d\n%s\n%s", code, stdout, stderr)
	}
	m := regexp.MustCompile(`on http://(127\.0\.0\.1:\d+)`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no embedded registry address in the output:\n%s", stdout)
	}
	checkDemoOutput(t, stdout, m[1]+"/demo/app")
	if t.Failed() {
		t.Logf("output:\n%s", stdout)
	}
}

// TestDemoRegistryFlag exports to a registry of the harness with -registry
// and pulls the artifacts with oras and helm, as the demo tells users to.
func TestDemoRegistryFlag(t *testing.T) {
	demo, lifecycleDir := demoBinary(t)
	reg := harness.StartOlareg(t)
	repo := reg.Host + "/demo/app"
	cmd := exec.Command(demo, "-lifecycle", lifecycleDir, "-samples", "../samples", "-registry", repo)
	stdout, stderr, code := harness.Run(t, cmd)
	if code != 0 {
		t.Fatalf("demo exited %d\n%s\n%s", code, stdout, stderr)
	}
	checkDemoOutput(t, stdout, repo)

	oras := harness.Tool(t, "oras")
	for tag, file := range map[string]string{"wasm": "hello.wasm", "junit": "junit.xml"} {
		dir := t.TempDir()
		if _, stderr, code := harness.Run(t, exec.Command(oras, "pull", "--plain-http", repo+":"+tag, "-o", dir)); code != 0 {
			t.Fatalf("oras pull %s: %s", tag, stderr)
		}
		got, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		want := fixture.Samples()[map[string]int{"wasm": 0, "junit": 2}[tag]].Layers[0].Files[file]
		if !bytes.Equal(got, want) {
			t.Errorf("oras pulled %s = %q, want %q", file, got, want)
		}
	}
	dir := t.TempDir()
	helm := exec.Command(harness.Tool(t, "helm"), "pull", "oci://"+repo, "--version", "0.1.0", "--plain-http", "-d", dir)
	helm.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	if _, stderr, code := harness.Run(t, helm); code != 0 {
		t.Fatalf("helm pull: %s", stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "app-0.1.0.tgz")); err != nil {
		entries, _ := os.ReadDir(dir)
		t.Errorf("helm pull wrote %v: %v", entries, err)
	}
}

// TestDemoSBOM runs the demo with -sbom against a registry of the harness:
// the creator gets CNB_ARTIFACTS_SBOM=referrers, the tree shows the three
// declared artifacts and one untagged SBOM referrer per format (samples/helm
// writes CycloneDX and SPDX for its chart layer, the launcher's SBOMs add
// Syft), each with the oras command that finds it, and oras finds each by
// its artifact type at the digest the tree shows.
func TestDemoSBOM(t *testing.T) {
	demo, lifecycleDir := demoBinary(t)
	reg := harness.StartOlareg(t)
	repo := reg.Host + "/demo/app"
	stdout, stderr, code := harness.Run(t, exec.Command(demo, "-lifecycle", lifecycleDir, "-samples", "../samples", "-registry", repo, "-sbom"))
	if code != 0 {
		t.Fatalf("demo exited %d\n%s\n%s", code, stdout, stderr)
	}
	defer func() {
		if t.Failed() {
			t.Logf("output:\n%s", stdout)
		}
	}()
	checkDemoLauncherSBOMs(t, stdout)
	if got := len(artifactLine.FindAllString(stdout, -1)); got != 3 {
		t.Errorf("the tree lists %d tagged artifacts, want the samples' 3", got)
	}
	for _, want := range []string{
		"$ CNB_PLATFORM_API=0.13 CNB_ARTIFACTS_SBOM=referrers ",
		"6 artifacts published with the app image.",
		"3 of them are SBOMs, untagged: read them with oras discover --plain-http --artifact-type <type> " + repo + "@sha256:",
		"the referrers API lists all 6",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	sbomBranch := regexp.MustCompile(`(?m)^(├──|└──) SBOM \(untagged referrer\)\n[│ ] +type +(\S+)\n[│ ] +digest +(sha256:[0-9a-f]{64})$`)
	branches := sbomBranch.FindAllStringSubmatch(stdout, -1)
	types := map[string]string{}
	for _, m := range branches {
		types[m[2]] = m[3]
	}
	for _, mt := range []string{"application/vnd.cyclonedx+json", "application/spdx+json", "application/vnd.syft+json"} {
		d, ok := types[mt]
		if !ok {
			t.Errorf("the tree shows no SBOM of type %s", mt)
			continue
		}
		find := "find    oras discover --plain-http --artifact-type " + mt + " " + repo + "@sha256:"
		if !strings.Contains(stdout, find) {
			t.Errorf("output lacks %q", find)
		}
		m := regexp.MustCompile(regexp.QuoteMeta(find) + `([0-9a-f]{64})`).FindStringSubmatch(stdout)
		if m == nil {
			continue
		}
		out, errOut, code := harness.Run(t, exec.Command(harness.Tool(t, "oras"), "discover", "--plain-http", "--format", "json",
			"--artifact-type", mt, repo+"@sha256:"+m[1]))
		if code != 0 {
			t.Fatalf("oras discover: exit %d\n%s%s", code, out, errOut)
		}
		// The subject first, then its referrers of that type.
		var found struct {
			Referrers []struct {
				Digest string `json:"digest"`
			} `json:"referrers"`
		}
		if err := json.Unmarshal([]byte(out), &found); err != nil {
			t.Fatalf("oras discover: %v\n%s", err, out)
		}
		if len(found.Referrers) != 1 || found.Referrers[0].Digest != d {
			t.Errorf("oras discover --artifact-type %s: want exactly %s\n%s", mt, d, out)
		}
	}
	if len(branches) != 3 {
		t.Errorf("the tree shows %d SBOM referrers, want 3", len(branches))
	}
}

// TestDemoAuthorBuildpacks runs the demo with -buildpack, repeated and in
// order (a sample and an author's buildpack in a directory of its own), and
// -app; and with -samples naming another directory of buildpacks.
func TestDemoAuthorBuildpacks(t *testing.T) {
	demo, lifecycleDir := demoBinary(t)
	dir := t.TempDir()
	bp, app := filepath.Join(dir, "mine"), filepath.Join(dir, "myapp")
	writeAuthorBuildpack(t, bp)
	must(t, os.MkdirAll(app, 0o755))
	must(t, os.WriteFile(filepath.Join(app, "hello.txt"), []byte("one two three\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(app, "hello.wat"), []byte("(module)\n"), 0o644)) // examples/wasm detects it

	stdout, stderr, code := harness.Run(t, exec.Command(demo, "-lifecycle", lifecycleDir, "-buildpack", "../samples/wasm", "-buildpack", bp, "-app", app))
	if code != 0 {
		t.Fatalf("demo exited %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"buildpacks examples/wasm@1.0.0, example/mine@0.1.0,", // in order
		"app from " + app,
		"/demo/app:wasm\n", "/demo/app:count\n",
		"from    example/mine@0.1.0, layer count",
		"2 artifacts published with the app image.",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}

	// -samples: any directory of buildpack directories with an app/.
	samples := filepath.Join(dir, "samples")
	writeAuthorBuildpack(t, filepath.Join(samples, "mine"))
	must(t, os.MkdirAll(filepath.Join(samples, "app"), 0o755))
	must(t, os.WriteFile(filepath.Join(samples, "app", "hello.txt"), []byte("x\n"), 0o644))
	stdout, stderr, code = harness.Run(t, exec.Command(demo, "-lifecycle", lifecycleDir, "-samples", samples))
	if code != 0 || !strings.Contains(stdout, "1 artifacts published with the app image.") {
		t.Fatalf("demo -samples %s exited %d\n%s\n%s", samples, code, stdout, stderr)
	}
	if t.Failed() {
		t.Logf("output:\n%s", stdout)
	}
}

// writeAuthorBuildpack writes a POSIX sh buildpack, example/mine, that
// publishes a word count of the app's hello.txt with the tag "count".
func writeAuthorBuildpack(t *testing.T, dir string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "buildpack.toml"), []byte("api = \"0.12\"\n[buildpack]\n  id = \"example/mine\"\n  version = \"0.1.0\"\n[[targets]]\n  os = \"linux\"\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "bin", "detect"), []byte("#!/bin/sh\nexit 0\n"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "bin", "build"), []byte(`#!/bin/sh
set -eu
mkdir -p "$CNB_LAYERS_DIR/count"
wc -w < hello.txt > "$CNB_LAYERS_DIR/count/count.txt"
printf '[[artifact]]\ntag = "count"\ntype = "application/vnd.example.count.v1"\nfile = "count.txt"\n' > "$CNB_LAYERS_DIR/count/artifacts.toml"
printf '[types]\n  launch = false\n' > "$CNB_LAYERS_DIR/count.toml"
`), 0o755))
}
