package artifacts

import (
	"reflect"
	"strings"
	"testing"

	"github.com/apex/log"
	"github.com/apex/log/handlers/memory"
)

func TestFindMisplaced(t *testing.T) {
	t.Parallel()
	const decl = "[[artifact]]\n"
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string // "path -> want"
	}{
		{name: "in place", files: map[string]string{"examples_wasm/wasm/artifacts.toml": decl}},
		{name: "directly in the buildpack's layers directory",
			files: map[string]string{"examples_wasm/artifacts.toml": decl},
			want:  []string{"examples_wasm/artifacts.toml -> examples_wasm/<layer>/artifacts.toml"}},
		{name: "a layer named artifacts has artifacts.toml as its metadata",
			files: map[string]string{"examples_wasm/artifacts.toml": "[types]\n", "examples_wasm/artifacts/x": "x"}},
		{name: "nested directory of a layer",
			files: map[string]string{"examples_wasm/wasm/sub/artifacts.toml": decl},
			want:  []string{"examples_wasm/wasm/sub/artifacts.toml -> examples_wasm/wasm/artifacts.toml"}},
		{name: "nested in an ignored layer",
			files: map[string]string{"examples_wasm/wasm.ignore/a/b/artifacts.toml": decl},
			want:  []string{"examples_wasm/wasm.ignore/a/b/artifacts.toml -> examples_wasm/wasm.ignore/artifacts.toml"}},
		{name: "deeper than the search goes",
			files: map[string]string{"examples_wasm/wasm/a/b/c/d/artifacts.toml": decl}},
		{name: "singular",
			files: map[string]string{"examples_wasm/wasm/artifact.toml": decl},
			want:  []string{"examples_wasm/wasm/artifact.toml -> examples_wasm/wasm/artifacts.toml"}},
		{name: "other case",
			files: map[string]string{"examples_wasm/wasm/Artifacts.TOML": decl},
			want:  []string{"examples_wasm/wasm/Artifacts.TOML -> examples_wasm/wasm/artifacts.toml"}},
		{name: "yaml, next to a good one",
			files: map[string]string{"examples_wasm/wasm/artifacts.toml": decl, "examples_wasm/wasm/artifacts.yaml": "x"},
			want:  []string{"examples_wasm/wasm/artifacts.yaml -> examples_wasm/wasm/artifacts.toml"}},
		{name: "unrelated names",
			files: map[string]string{"examples_wasm/wasm/artifacts": "x", "examples_wasm/wasm/artifacts.txt": "x", "examples_wasm/wasm.toml": "[types]\n"}},
		{name: "another buildpack is not looked at",
			files: map[string]string{"other/artifacts.toml": decl}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			layers := t.TempDir()
			writeTree(t, layers, tc.files)
			var got []string
			for _, m := range FindMisplaced(layers, []Buildpack{wasmBP}) {
				got = append(got, m.Path+" -> "+m.Want)
				if m.Buildpack != wasmBP || m.Why == "" {
					t.Errorf("got %+v", m)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// In a buildpack's own layers directory the paths are relative to it.
func TestFindMisplacedBuildpack(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"artifacts.toml": "[[artifact]]\n"})
	got := FindMisplacedBuildpack(dir, wasmBP)
	if len(got) != 1 || got[0].Path != "artifacts.toml" || got[0].Want != "<layer>/artifacts.toml" {
		t.Fatalf("got %+v", got)
	}
}

// One warning per file, through the lifecycle logger given.
func TestWarnMisplaced(t *testing.T) {
	t.Parallel()
	h := memory.New()
	l := &log.Logger{Handler: h, Level: log.InfoLevel}
	WarnMisplaced(l, []Misplaced{{Buildpack: wasmBP, Path: "examples_wasm/artifacts.toml", Want: "examples_wasm/<layer>/artifacts.toml", Why: "why"}})
	if len(h.Entries) != 1 || h.Entries[0].Level != log.WarnLevel ||
		!strings.Contains(h.Entries[0].Message, `buildpack "examples/wasm@1.0.0": examples_wasm/artifacts.toml is not read (why); the exporter reads examples_wasm/<layer>/artifacts.toml`) {
		t.Fatalf("got %+v", h.Entries)
	}
}
