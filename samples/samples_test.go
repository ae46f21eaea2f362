// Package samples holds the sample buildpacks (wasm, helm, tests) and the
// sample app that `make demo` builds. This test runs their scripts and
// checks that they declare exactly the artifacts of the acceptance
// fixture (acceptance/fixture.Samples), with /bin/sh and with
// busybox sh with only busybox applets on PATH (as in a busybox build
// image).
package samples

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
)

// Dirs maps each fixture buildpack ID to its directory here.
var Dirs = map[string]string{
	"examples/wasm":  "wasm",
	"examples/helm":  "helm",
	"examples/tests": "tests",
}

func TestSamplesMatchFixture(t *testing.T) {
	type shell struct {
		argv []string // the shell, to which the script is appended
		path string   // PATH of the scripts
	}
	shells := map[string]shell{"sh": {argv: []string{"sh"}, path: os.Getenv("PATH")}}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatalf("busybox is not installed (Debian package busybox-static; `make unit` installs it as root): %v", err)
	}
	shells["busybox"] = shell{argv: []string{bb, "sh"}, path: busyboxPath(t, bb)}
	for name, sh := range shells {
		t.Run(name, func(t *testing.T) {
			for _, bp := range fixture.Samples() {
				t.Run(bp.ID, func(t *testing.T) {
					dir, ok := Dirs[bp.ID]
					if !ok {
						t.Fatalf("no sample buildpack for %s", bp.ID)
					}
					checkBuildpackTOML(t, dir, bp)
					layers := t.TempDir()
					for _, phase := range []string{"detect", "build"} {
						script, _ := filepath.Abs(filepath.Join(dir, "bin", phase))
						c := exec.Command(sh.argv[0], append(sh.argv[1:], script)...)
						c.Dir = "app"
						c.Env = []string{"PATH=" + sh.path, "CNB_LAYERS_DIR=" + layers, "CNB_PLATFORM_DIR=" + t.TempDir()}
						if out, err := c.CombinedOutput(); err != nil {
							t.Fatalf("bin/%s: %v\n%s", phase, err, out)
						}
					}
					for _, l := range bp.Layers {
						checkLayer(t, layers, l)
					}
					checkSBOMs(t, dir, layers, bp.ID)
				})
			}
		})
	}
}

func checkBuildpackTOML(t *testing.T, dir string, bp fixture.Buildpack) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "buildpack.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`api = "0.10"`, `id = "` + bp.ID + `"`, `version = "` + bp.Version + `"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s/buildpack.toml lacks %s", dir, want)
		}
	}
}

// checkSBOMs checks the SBOMs beside the layers (<layer>.sbom.<format>.json)
// against fixture.SampleSBOMs: only samples/helm writes them, for its chart
// layer, and declares their media types in buildpack.toml (sbom-formats),
// which lifecycle's builder requires.
func checkSBOMs(t *testing.T, dir, layers, id string) {
	t.Helper()
	want := map[string][]byte{}
	if id == "examples/helm" {
		for f, b := range fixture.SampleSBOMs() {
			want["chart.sbom."+f+".json"] = b
		}
		toml, err := os.ReadFile(filepath.Join(dir, "buildpack.toml"))
		if err != nil {
			t.Fatal(err)
		}
		if w := `sbom-formats = ["application/vnd.cyclonedx+json", "application/spdx+json"]`; !strings.Contains(string(toml), w) {
			t.Errorf("%s/buildpack.toml lacks %s", dir, w)
		}
	}
	sboms, err := filepath.Glob(filepath.Join(layers, "*.sbom.*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range sboms {
		name := filepath.Base(p)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if w, ok := want[name]; !ok {
			t.Errorf("unexpected SBOM %s", name)
		} else if !bytes.Equal(b, w) {
			t.Errorf("%s =\n%s\nwant\n%s", name, b, w)
		}
		delete(want, name)
	}
	for name := range want {
		t.Errorf("the buildpack wrote no %s", name)
	}
}

func checkLayer(t *testing.T, layers string, l fixture.Layer) {
	t.Helper()
	types, err := os.ReadFile(filepath.Join(layers, l.Name+".toml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "launch = " + map[bool]string{true: "true", false: "false"}[l.Launch]; !strings.Contains(string(types), want) {
		t.Errorf("%s.toml = %q, want %s", l.Name, types, want)
	}
	got := map[string]bool{}
	entries, err := os.ReadDir(filepath.Join(layers, l.Name))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		got[e.Name()] = true
	}
	for name, want := range l.Files {
		delete(got, name)
		b, err := os.ReadFile(filepath.Join(layers, l.Name, name))
		if err != nil {
			t.Errorf("layer %s: %v", l.Name, err)
			continue
		}
		if strings.HasSuffix(name, ".tgz") {
			// tar implementations differ in bytes; the chart's files must not.
			if g, w := untar(t, b), untar(t, want); !equalMaps(g, w) {
				t.Errorf("layer %s: %s holds %v, want %v", l.Name, name, g, w)
			}
			continue
		}
		if !bytes.Equal(b, want) {
			t.Errorf("layer %s: %s =\n%q\nwant\n%q", l.Name, name, b, want)
		}
	}
	for name := range got {
		t.Errorf("layer %s: unexpected file %s", l.Name, name)
	}
}

func untar(t *testing.T, tgz []byte) map[string]string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = string(b)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// busyboxPath returns a directory of links to busybox, one per applet.
func busyboxPath(t *testing.T, bb string) string {
	t.Helper()
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	dir := t.TempDir()
	for _, a := range strings.Fields(string(out)) {
		if err := os.Symlink(bb, filepath.Join(dir, a)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
