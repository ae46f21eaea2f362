//go:build acceptance

package acceptance_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// validateRunImage is never pulled: validate needs no registry.
const validateRunImage = "127.0.0.1:1/run@sha256:0000000000000000000000000000000000000000000000000000000000000000"

// validate runs `lifecycle-artifacts validate args...` with env only (plus
// PATH), and returns stdout, stderr and the exit code.
func validate(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(harness.Binary(t, "lifecycle-artifacts"), append([]string{"validate"}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	return harness.Run(t, cmd)
}

// TestValidateCommand: validate checks the samples in well under a second
// and prints what an export would publish, exit 0; JSON gives the same.
func TestValidateCommand(t *testing.T) {
	w := fixture.New(t, validateRunImage, fixture.Samples()...)
	start := time.Now()
	stdout, stderr, code := validate(t, nil, "-layers", w.Layers)
	elapsed := time.Since(start)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Logf("validate on the samples took %s", elapsed)
	if elapsed > time.Second {
		t.Errorf("validate took %s on the samples, want well under a second", elapsed)
	}
	for _, want := range []string{
		"artifact wasm (buildpack examples/wasm@1.0.0, layer wasm", "application/vnd.wasm.config.v0+json", "hello.wasm  application/wasm  8 bytes",
		"artifact 0.1.0 (buildpack examples/helm@1.0.0, layer chart", "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
		"artifact junit (buildpack examples/tests@1.0.0", "application/vnd.cnb.junit.report.v1+xml",
		"3 artifacts, 0 warnings, 0 errors.",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}

	// The same as JSON, with the environment of the exporter.
	stdout, stderr, code = validate(t, []string{"CNB_LAYERS_DIR=" + w.Layers, platform.EnvArtifactTagTemplate + "={image-tag}-{tag}"}, "-json", "r.example/app:v2")
	if code != 0 {
		t.Fatalf("-json: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var res struct {
		Artifacts []struct {
			Buildpack, Layer, Tag string
			Published             string `json:"published-tag"`
			Type                  string `json:"artifact-type"`
			Files                 []struct {
				Path      string
				MediaType string `json:"media-type"`
				Size      int64
			}
		}
		Errors []any
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("-json: %v\n%s", err, stdout)
	}
	if len(res.Artifacts) != 3 || len(res.Errors) != 0 || res.Artifacts[0].Published != "v2-wasm" ||
		res.Artifacts[0].Files[0].Size != 8 || res.Artifacts[2].Layer != "report" {
		t.Errorf("-json: got %+v", res)
	}
}

// TestValidateRejectsBadInput: every bad input of the exporter's
// (TestExportRejectsBadInput) exits 63 from validate too, naming the
// buildpack, the layer and the file.
func TestValidateRejectsBadInput(t *testing.T) {
	const typ = "type = \"application/vnd.example.v1\"\n"
	for _, tc := range []struct {
		name  string
		toml  string
		setup func(t *testing.T, layer string)
		want  string
	}{
		{name: "malformed toml", toml: "[[artifact]\ntag = \"a\"\n", want: "malformed TOML"},
		{name: "unknown key", toml: "[[artifact]]\ntag = \"a\"\nfile = \"a.txt\"\n" + typ + "tags = \"x\"\n", want: `unknown key "artifact.tags"; did you mean "tag"?`},
		{name: "missing tag", toml: "[[artifact]]\nfile = \"a.txt\"\n" + typ, want: "missing required field: tag"},
		{name: "missing file", toml: "[[artifact]]\ntag = \"a\"\n" + typ, want: "file"},
		{name: "absolute path", toml: "[[artifact]]\ntag = \"a\"\nfile = \"/etc/passwd\"\n" + typ, want: "/etc/passwd"},
		{name: "dot dot", toml: "[[artifact]]\ntag = \"a\"\nfile = \"../secret\"\n" + typ, want: "../secret"},
		{name: "symlink out of the layer", toml: "[[artifact]]\ntag = \"a\"\nfile = \"link\"\n" + typ, want: "through a symbolic link",
			setup: func(t *testing.T, layer string) { must(t, os.Symlink("/etc/passwd", filepath.Join(layer, "link"))) }},
		{name: "fifo", toml: "[[artifact]]\ntag = \"a\"\nfile = \"pipe\"\n" + typ, want: "named pipe",
			setup: func(t *testing.T, layer string) { must(t, syscall.Mkfifo(filepath.Join(layer, "pipe"), 0o644)) }},
		{name: "directory", toml: "[[artifact]]\ntag = \"a\"\nfile = \"dir\"\n" + typ, want: "a directory",
			setup: func(t *testing.T, layer string) { must(t, os.Mkdir(filepath.Join(layer, "dir"), 0o755)) }},
		{name: "file does not exist", toml: "[[artifact]]\ntag = \"a\"\nfile = \"nope.txt\"\n" + typ, want: "nope.txt"},
		{name: "invalid tag", toml: "[[artifact]]\ntag = \"-bad\"\nfile = \"a.txt\"\n" + typ, want: "-bad"},
		{name: "fallback tag", toml: "[[artifact]]\ntag = \"sha256-" + strings.Repeat("ab", 32) + "\"\nfile = \"a.txt\"\n" + typ, want: "sha256-"},
		{name: "invalid media type", toml: "[[artifact]]\ntag = \"a\"\nfile = \"a.txt\"\ntype = \"not a type\"\n", want: "not a type"},
		{name: "tag of the app image", toml: "[[artifact]]\ntag = \"latest\"\nfile = \"a.txt\"\n" + typ, want: "collides with app image tag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bp := fixture.Buildpack{ID: "acme/bad", Version: "2.0.0", Layers: []fixture.Layer{{Name: "out", Launch: true,
				Files: map[string][]byte{"artifacts.toml": []byte(tc.toml), "a.txt": []byte("a")}}}}
			w := fixture.New(t, validateRunImage, fixture.Plain(), bp)
			if tc.setup != nil {
				tc.setup(t, filepath.Join(w.Layers, "acme_bad", "out"))
			}
			stdout, stderr, code := validate(t, nil, "-layers", w.Layers)
			if code != platform.CodeInvalidArtifacts {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, platform.CodeInvalidArtifacts, stdout, stderr)
			}
			for _, s := range []string{`ERROR: buildpack "acme/bad@2.0.0", layer "out", file "acme_bad/out/artifacts.toml": `, tc.want} {
				if !strings.Contains(stderr, s) {
					t.Errorf("error does not name %q:\n%s", s, stderr)
				}
			}
			if !strings.Contains(stdout, "An export would fail with exit code 63") {
				t.Errorf("stdout:\n%s", stdout)
			}
		})
	}
}

// TestValidateOneBuildpack: in a buildpack's own layers directory, as
// bin/build sees it (CNB_LAYERS_DIR), paths are relative to it.
func TestValidateOneBuildpack(t *testing.T) {
	w := fixture.New(t, validateRunImage, fixture.Samples()...)
	own := filepath.Join(w.Layers, "examples_helm")
	stdout, stderr, code := validate(t, []string{"CNB_LAYERS_DIR=" + own}, "-buildpack", "examples/helm")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"artifact 0.1.0 (buildpack examples/helm, layer chart, chart/artifacts.toml, artifact 1)", "1 artifact, 0 warnings, 0 errors."} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	must(t, os.WriteFile(filepath.Join(own, "chart", "artifacts.toml"), []byte("[[artifact]]\ntag = \"x\"\nfile = \"nope\"\ntype = \"a/b\"\n"), 0o644))
	_, stderr, code = validate(t, []string{"CNB_LAYERS_DIR=" + own}, "-buildpack", "examples/helm", "-json")
	if code != platform.CodeInvalidArtifacts {
		t.Fatalf("exit %d, want 63\n%s", code, stderr)
	}
}

// misplacedCases are declaration files that are not read, each with the
// warning it gets (from the exporter and from validate).
var misplacedCases = []struct {
	name, path, want string
}{
	{"directly in the buildpack's layers directory", "acme_x/artifacts.toml",
		`buildpack "acme/x@1.0.0": acme_x/artifacts.toml is not read (it is directly in the buildpack's layers directory`},
	{"in a nested directory of a layer", "acme_x/out/sub/artifacts.toml",
		`buildpack "acme/x@1.0.0": acme_x/out/sub/artifacts.toml is not read (it is in a nested directory of the layer`},
	{"singular name", "acme_x/out/artifact.toml",
		`buildpack "acme/x@1.0.0": acme_x/out/artifact.toml is not read (the exporter reads only the name artifacts.toml`},
	{"yaml", "acme_x/out/artifacts.yaml", `acme_x/out/artifacts.yaml is not read`},
	{"other case", "acme_x/out/Artifacts.toml", `acme_x/out/Artifacts.toml is not read`},
}

func misplacedWorkspace(t *testing.T, run, path string) *fixture.Workspace {
	t.Helper()
	decl := []byte("[[artifact]]\ntag = \"a\"\nfile = \"a.txt\"\ntype = \"application/vnd.example.v1\"\n")
	bp := fixture.Buildpack{ID: "acme/x", Version: "1.0.0", Layers: []fixture.Layer{{Name: "out", Launch: true, Files: map[string][]byte{"a.txt": []byte("a")}}}}
	w := fixture.New(t, run, fixture.Plain(), bp)
	p := filepath.Join(w.Layers, filepath.FromSlash(path))
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, decl, 0o644))
	return w
}

// TestValidateWarnings: one warning per misplaced file, and no error.
func TestValidateWarnings(t *testing.T) {
	for _, tc := range misplacedCases {
		t.Run(tc.name, func(t *testing.T) {
			w := misplacedWorkspace(t, validateRunImage, tc.path)
			stdout, stderr, code := validate(t, nil, "-layers", w.Layers)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
			}
			if n := strings.Count(stderr, "Warning: "); n != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("want one warning %q, got:\n%s", tc.want, stderr)
			}
		})
	}
}

// TestExportWarnsMisplaced: the exporter warns of each misplaced file once,
// then exports.
func TestExportWarnsMisplaced(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	for _, tc := range misplacedCases {
		t.Run(tc.name, func(t *testing.T) {
			w := misplacedWorkspace(t, run, tc.path)
			out, code := export(t, w, false, "0.13", nil, reg.Host+"/app:latest")
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, out)
			}
			if n := strings.Count(out, tc.want); n != 1 {
				t.Errorf("want the warning %q once, got %d:\n%s", tc.want, n, out)
			}
		})
	}
}
