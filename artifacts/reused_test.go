package artifacts

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A launch layer with a <layer>.toml and no directory is reused from the
// previous image; a written layer, a non-launch one, and hostile files are
// not.
func TestReusedLayers(t *testing.T) {
	t.Parallel()
	layers := t.TempDir()
	write := func(p, c string) {
		t.Helper()
		mustNil(t, os.MkdirAll(filepath.Dir(filepath.Join(layers, p)), 0o755))
		mustNil(t, os.WriteFile(filepath.Join(layers, p), []byte(c), 0o644))
	}
	write("examples_helm/chart.toml", "[types]\n  launch = true\n")
	write("examples_helm/written.toml", "[types]\n  launch = true\n")
	write("examples_helm/written/artifacts.toml", "")
	write("examples_helm/cached.toml", "[types]\n  cache = true\n")
	write("examples_helm/launch.toml", "[types]\n  launch = true\n")
	mustNil(t, syscall.Mkfifo(filepath.Join(layers, "examples_helm", "fifo.toml"), 0o644))
	mustNil(t, os.Symlink("/dev/zero", filepath.Join(layers, "examples_helm", "zero.toml")))
	write("other_bp/x.toml", "[types]\n  launch = true\n")
	got, err := ReusedLayers(layers, []Buildpack{{ID: "examples/helm", Version: "1"}, {ID: "examples/none", Version: "1"}})
	mustNil(t, err)
	if len(got) != 1 || got[0].Layer != "chart" || got[0].Buildpack.ID != "examples/helm" {
		t.Fatalf("reused %+v, want examples/helm's chart alone", got)
	}
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
