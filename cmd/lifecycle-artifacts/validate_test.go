package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnb-artifacts/lifecycle/platform"
)

var updateValidate = flag.Bool("update", false, "rewrite testdata/validate-*.golden")

const (
	wasmDecl  = "[[artifact]]\ntag = \"wasm\"\nfile = \"hello.wasm\"\nconfig = \"config.json\"\n[artifact.labels]\nConfigMediaType = \"application/vnd.wasm.config.v0+json\"\nContentLayerMediaType = \"application/wasm\"\n"
	junitDecl = "[[artifact]]\ntag = \"junit\"\ntype = \"application/vnd.cnb.junit.report.v1+xml\"\n[[artifact.files]]\npath = \"junit.xml\"\nmedia-type = \"application/xml\"\n"
	groupTOML = "[[group]]\n  id = \"examples/wasm\"\n  version = \"1.0.0\"\n[[group]]\n  id = \"examples/tests\"\n  version = \"1.0.0\"\n"
)

// goodLayers is a platform layers directory with two buildpacks' artifacts;
// the report layer was renamed .ignore by the builder.
func goodLayers() map[string]string {
	return map[string]string{
		"group.toml":                                  groupTOML,
		"examples_wasm/wasm/artifacts.toml":           wasmDecl,
		"examples_wasm/wasm/hello.wasm":               "\x00asm\x01\x00\x00\x00",
		"examples_wasm/wasm/config.json":              `{"architecture":"wasm","os":"wasip1"}`,
		"examples_tests/report.ignore/artifacts.toml": junitDecl,
		"examples_tests/report.ignore/junit.xml":      "<testsuites/>",
	}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func with(base map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "-" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		files    map[string]string
		args     []string // after -layers <dir>
		env      map[string]string
		wantCode int
		golden   string   // testdata/validate-<golden>.golden: stdout, with the layers directory as <layers>
		want     []string // in stdout+stderr
	}{
		{name: "valid", files: goodLayers(), golden: "valid"},
		{name: "valid json", files: goodLayers(), args: []string{"-json"}, golden: "valid-json"},
		{name: "tag template and image", files: goodLayers(), args: []string{"r.example/app:v1"},
			env: map[string]string{platform.EnvArtifactTagTemplate: "{image-tag}-{tag}"}, want: []string{"artifact v1-wasm", "tag:    v1-junit (declared junit)"}},
		{name: "one buildpack, as in bin/build", files: goodLayers(), args: []string{"-buildpack", "examples/wasm", "-buildpack-version", "1.0.0"},
			want: []string{"artifact wasm (buildpack examples/wasm@1.0.0, layer wasm, wasm/artifacts.toml, artifact 1)", "1 artifact, 0 warnings, 0 errors."}},
		{name: "bad declarations: every error, exit 63", files: with(goodLayers(),
			"examples_wasm/wasm/artifacts.toml", strings.Replace(wasmDecl, "hello.wasm", "nope.wasm", 1)+"media_type = \"x\"\n",
			"examples_tests/report.ignore/artifacts.toml", strings.Replace(junitDecl, "junit.xml", "../junit.xml", 1)),
			wantCode: platform.CodeInvalidArtifacts, golden: "errors"},
		{name: "errors as json", files: with(goodLayers(), "examples_wasm/wasm/artifacts.toml", "[[artifact]\n"), args: []string{"-json"},
			wantCode: platform.CodeInvalidArtifacts, want: []string{`"message": "buildpack \"examples/wasm@1.0.0\", layer \"wasm\", file \"examples_wasm/wasm/artifacts.toml\": malformed TOML`}},
		{name: "tag of the app image", files: with(goodLayers(), "examples_wasm/wasm/artifacts.toml", strings.Replace(wasmDecl, `"wasm"`, `"latest"`, 1)),
			wantCode: platform.CodeInvalidArtifacts, want: []string{`artifact 1 (tag "latest"): published tag "latest" collides with app image tag`, "CNB_ARTIFACTS_TAG_TEMPLATE"}},
		{name: "misplaced declarations are warnings", files: with(goodLayers(),
			"examples_wasm/artifacts.toml", wasmDecl, "examples_wasm/wasm/sub/artifacts.toml", wasmDecl, "examples_tests/report.ignore/artifact.toml", junitDecl),
			want: []string{
				`Warning: buildpack "examples/wasm@1.0.0": examples_wasm/artifacts.toml is not read`,
				`examples_wasm/wasm/sub/artifacts.toml is not read (it is in a nested directory`,
				`examples_tests/report.ignore/artifact.toml is not read (the exporter reads only the name artifacts.toml`,
				"2 artifacts, 3 warnings, 0 errors."}},
		{name: "no group", files: with(goodLayers(), "group.toml", "-"), wantCode: 3, want: []string{"reading the group"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tc.files)
			getenv := func(k string) string { return tc.env[k] }
			args := append([]string{"-layers", dir}, tc.args...)
			if len(tc.args) > 0 && tc.args[0] == "-buildpack" {
				args[1] = filepath.Join(dir, "examples_wasm")
			}
			var stdout, stderr bytes.Buffer
			code := runValidate(args, &stdout, &stderr, getenv)
			out := strings.ReplaceAll(stdout.String(), dir, "<layers>")
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tc.wantCode, out, stderr.String())
			}
			if strings.Contains(stderr.String(), "\x1b[") {
				t.Errorf("color escapes in the output")
			}
			all := out + stderr.String()
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("output lacks %q:\n%s", w, all)
				}
			}
			if slicesContains(tc.args, "-json") && !json.Valid(stdout.Bytes()) {
				t.Errorf("not JSON:\n%s", out)
			}
			if tc.golden != "" {
				if tc.wantCode != 0 {
					out += "--- stderr\n" + strings.ReplaceAll(stderr.String(), dir, "<layers>")
				}
				checkGolden(t, filepath.Join("testdata", "validate-"+tc.golden+".golden"), out)
			}
		})
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *updateValidate {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./cmd/lifecycle-artifacts -run TestValidate -update)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (rerun with -update and review the diff):\n%s", path, got)
	}
}
