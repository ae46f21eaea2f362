package artifacts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// within fails the test when f takes longer than d: a FIFO or an endless
// file must never hold the exporter.
func within(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("still running after %v", d)
	}
}

// openRegular never blocks and checks the open descriptor, so a file
// swapped for a FIFO after validation cannot hang the export.
func TestOpenRegular(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"ok": "12345", "sub/x": "x"})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
	must(os.Symlink("ok", filepath.Join(dir, "link")))
	must(os.Symlink("/dev/zero", filepath.Join(dir, "zero")))
	must(os.Symlink("fifo", filepath.Join(dir, "tofifo")))
	root, err := os.OpenRoot(dir)
	must(err)
	defer root.Close()
	for _, tc := range []struct {
		name  string
		limit int64
		want  error
	}{
		{"ok", noSizeLimit, nil},
		{"ok", 5, nil},
		{"ok", 4, ErrLimit},
		{"link", noSizeLimit, nil},
		{"fifo", noSizeLimit, ErrNotRegular},
		{"tofifo", noSizeLimit, ErrNotRegular},
		{"sub", noSizeLimit, ErrNotRegular},
		{"zero", noSizeLimit, ErrPathEscapes},
	} {
		t.Run(fmt.Sprintf("%s limit %d", tc.name, tc.limit), func(t *testing.T) {
			within(t, 5*time.Second, func() {
				f, _, err := openRegular(root, tc.name, tc.limit)
				if f != nil {
					f.Close()
				}
				if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
					t.Errorf("openRegular(%q, %d) error = %v, want %v", tc.name, tc.limit, err, tc.want)
				}
			})
		})
	}
}

// A digest cache file that a buildpack replaced is ignored, with the reason,
// in bounded time; the export reads the file itself, and the save replaces
// the bad cache file with a good one.
func TestDigestCacheHostileFile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, path string)
		want  string
	}{
		{"fifo", func(t *testing.T, p string) { mustDo(t, os.Remove(p)); mustDo(t, syscall.Mkfifo(p, 0o644)) }, "named pipe"},
		{"symlink to /dev/zero", func(t *testing.T, p string) { mustDo(t, os.Remove(p)); mustDo(t, os.Symlink("/dev/zero", p)) }, "symbolic link"},
		{"symlink to a good file", func(t *testing.T, p string) {
			mustDo(t, os.Rename(p, p+".real"))
			mustDo(t, os.Symlink(filepath.Base(p)+".real", p))
		}, "symbolic link"},
		{"too large", func(t *testing.T, p string) { mustDo(t, os.Truncate(p, maxDigestCacheSize+1)) }, "over the limit"},
		{"directory", func(t *testing.T, p string) { mustDo(t, os.Remove(p)); mustDo(t, os.Mkdir(p, 0o755)) }, "directory"},
		{"not json", func(t *testing.T, p string) { mustDo(t, os.WriteFile(p, []byte("{"), 0o644)) }, "unexpected end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newCacheWorkspace(t, "content", noRacyCutoff)
			w.export(t)
			p := filepath.Join(w.layers, ".cnb-artifacts", "digests.json")
			tc.setup(t, p)
			within(t, 10*time.Second, func() {
				a, c := w.open(t)
				ls, _ := a.Layers()
				d, err := ls[0].Digest()
				if err != nil || d != sha(t, "content") {
					t.Errorf("digest %v, %v", d, err)
				}
				prob := c.Problem()
				if prob == nil || !strings.Contains(prob.Error(), tc.want) || !strings.Contains(prob.Error(), p) {
					t.Errorf("problem %v, want one naming %s and %q", prob, p, tc.want)
				}
				if err := c.Save(); err != nil && tc.name != "directory" {
					t.Errorf("save: %v", err)
				}
			})
			if tc.name == "directory" {
				return // a directory is not replaced; the next export ignores it again
			}
			if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() || fi.Size() > 1<<10 {
				t.Fatalf("after the save the cache file is %v, %v", fi, err)
			}
			if _, opens := w.export(t); opens != 0 {
				t.Fatalf("the rewritten cache was not used: %d opens", opens)
			}
		})
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Each limit is enforced when the declarations are loaded, with an error
// that names the buildpack, the layer and the file.
func TestLoadLimits(t *testing.T) {
	t.Parallel()
	many, files := manyArtifactsTOML, manyFilesTOML
	for _, tc := range []struct {
		name  string
		files map[string]string
		setup func(t *testing.T, layers string)
		want  string
	}{
		{name: "artifacts in one file", files: map[string]string{"examples_wasm/a/artifacts.toml": many(MaxArtifacts+1, "a"), "examples_wasm/a/f": "x"},
			want: `layer "a", file "examples_wasm/a/artifacts.toml": over the limit: 1001 artifacts declared, more than 1000 per export`},
		{name: "artifacts across layers", files: map[string]string{
			"examples_wasm/a/artifacts.toml": many(600, "a"), "examples_wasm/a/f": "x",
			"examples_wasm/b/artifacts.toml": many(600, "b"), "examples_wasm/b/f": "x"},
			want: `layer "b", file "examples_wasm/b/artifacts.toml": over the limit: this layer brings the export to 1200 artifacts, more than 1000 per export`},
		{name: "files per artifact", files: map[string]string{"examples_wasm/a/artifacts.toml": files(MaxFilesPerArtifact + 1), "examples_wasm/a/f": "x"},
			want: `artifact 1 (tag "t"): over the limit: 1001 files, more than 1000 per artifact`},
		{name: "annotations", files: map[string]string{"examples_wasm/a/artifacts.toml": limitHead + "tag = \"t\"\nfile = \"f\"\n[artifact.annotations]\n\"k\" = \"" + strings.Repeat("v", MaxAnnotationBytes) + "\"\n", "examples_wasm/a/f": "x"},
			want: `artifact 1 (tag "t"): over the limit: [artifact.annotations] holds 65537 bytes, more than 65536`},
		{name: "config", files: map[string]string{"examples_wasm/a/artifacts.toml": "[[artifact]]\ntag = \"t\"\nfile = \"f\"\nconfig = \"c.json\"\n[artifact.labels]\nConfigMediaType = \"a/b\"\n", "examples_wasm/a/f": "x", "examples_wasm/a/c.json": "{}"},
			setup: func(t *testing.T, layers string) {
				mustDo(t, os.Truncate(filepath.Join(layers, "examples_wasm/a/c.json"), MaxConfigSize+1))
			},
			want: `config "c.json": over the limit: 4194305 bytes, more than 4194304`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			layers := t.TempDir()
			writeTree(t, layers, tc.files)
			if tc.setup != nil {
				tc.setup(t, layers)
			}
			var err error
			within(t, 10*time.Second, func() {
				_, err = Load(layers, []Buildpack{{ID: "examples/wasm", Version: "1"}})
			})
			if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `buildpack "examples/wasm@1"`) {
				t.Fatalf("error %v\nwant ErrLimit and %q", err, tc.want)
			}
		})
	}
}
