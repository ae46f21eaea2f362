package artifacts

import (
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// failingReader returns data, then err on every later read.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func (r *failingReader) Close() error { return nil }

// A read error of the file is a file error, for the hashing and the
// size-checking reader; EOF stays io.EOF itself, also when read again.
func TestReadersClassifyErrors(t *testing.T) {
	t.Parallel()
	eio := syscall.EIO
	for _, tc := range []struct {
		name string
		rc   func(err error) io.Reader
	}{
		{"hashing", func(err error) io.Reader {
			return &hashingReader{rc: &failingReader{data: []byte("abc"), err: err}, h: sha256.New()}
		}},
		{"size check", func(err error) io.Reader {
			return &sizeCheckReader{rc: &failingReader{data: []byte("abc"), err: err}, want: 3, name: "f"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.rc(eio)
			if _, err := io.ReadAll(r); !errors.Is(err, ErrFile) || !errors.Is(err, eio) {
				t.Fatalf("read error = %v, want a file error wrapping EIO", err)
			}
			r = tc.rc(io.EOF)
			if b, err := io.ReadAll(r); err != nil || string(b) != "abc" {
				t.Fatalf("ReadAll = %q, %v", b, err)
			}
			for range 2 {
				if _, err := r.Read(make([]byte, 1)); err != io.EOF {
					t.Fatalf("read after EOF = %v, want io.EOF itself", err)
				}
			}
		})
	}
}

// rel names a directory relative to the layers directory; one it cannot
// relate is returned as is.
func TestDigestCacheRel(t *testing.T) {
	t.Parallel()
	c := OpenDigestCache("/layers")
	for dir, want := range map[string]string{
		"/layers/examples_wasm/wasm": "examples_wasm/wasm",
		"/layers":                    ".",
		"relative/dir":               "relative/dir",
	} {
		if got := c.rel(dir); got != want {
			t.Errorf("rel(%q) = %q, want %q", dir, got, want)
		}
	}
}

// A file whose last change is exactly the racy cutoff before the read is cached;
// one a nanosecond later is not.
func TestDigestCacheRacyBoundary(t *testing.T) {
	t.Parallel()
	w := newCacheWorkspace(t, "content")
	fi, err := os.Stat(w.file)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := fileStatus(fi)
	changed := max(st.Mtime, st.Ctime)
	d := sha(t, "content")
	for _, tc := range []struct {
		start  time.Time
		stored bool
	}{
		{time.Unix(0, changed).Add(defaultRacyCutoff), true},
		{time.Unix(0, changed).Add(defaultRacyCutoff - 1), false},
	} {
		c := OpenDigestCache(w.layers)
		c.store("k", fi, d, tc.start)
		if _, ok := c.entries["k"]; ok != tc.stored {
			t.Errorf("read %s after the change: stored %v, want %v", tc.start.Sub(time.Unix(0, changed)), ok, tc.stored)
		}
	}
}

// Storing what the cache already holds leaves it clean: an export of
// unchanged files does not rewrite the cache file.
func TestDigestCacheStoreUnchanged(t *testing.T) {
	t.Parallel()
	w := newCacheWorkspace(t, "content")
	fi, err := os.Stat(w.file)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(time.Hour) // long after the change
	c := OpenDigestCache(w.layers)
	c.store("k", fi, sha(t, "content"), start)
	if !c.dirty {
		t.Fatal("a new entry left the cache clean")
	}
	c.dirty = false
	c.store("k", fi, sha(t, "content"), start)
	if c.dirty {
		t.Fatal("storing the same entry made the cache dirty")
	}
	c.store("k", fi, sha(t, "other"), start)
	if !c.dirty {
		t.Fatal("a changed digest left the cache clean")
	}
}

// buildCached loads and builds the one artifact of w with a fresh digest
// cache and hashes its file; it returns the cache.
func buildCached(t *testing.T, w *cacheWorkspace) *DigestCache {
	t.Helper()
	a, c := w.open(t)
	ls, _ := a.Layers()
	if _, err := ls[0].Digest(); err != nil {
		t.Fatal(err)
	}
	return c
}

// A saved cache is not written again while nothing changed.
func TestSaveDigestsOnlyWhenChanged(t *testing.T) {
	t.Parallel()
	w := newCacheWorkspace(t, "content", noRacyCutoff)
	c := buildCached(t, w)
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(w.layers, ".cnb-artifacts", "digests.json")
	before, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Fatal("an unchanged cache was written again")
	}
}

// A cache that cannot be saved is an error naming its file, wrapping the
// cause.
func TestSaveDigestsErrors(t *testing.T) {
	t.Parallel()
	var caches []*DigestCache
	var paths []string
	for range 2 {
		w := newCacheWorkspace(t, "content", noRacyCutoff)
		caches = append(caches, buildCached(t, w))
		// A non-empty directory where the cache file goes: the rename fails.
		p := filepath.Join(w.layers, ".cnb-artifacts", "digests.json")
		if err := os.MkdirAll(filepath.Join(p, "x"), 0o755); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	for i, c := range caches {
		err := c.Save()
		if err == nil || !strings.HasPrefix(err.Error(), "saving the artifacts digest cache "+paths[i]+": ") || !errors.Is(err, syscall.EEXIST) && !errors.Is(err, syscall.ENOTEMPTY) {
			t.Fatalf("cache %d: err = %v", i, err)
		}
	}
}

// An artifacts.toml of exactly maxDeclFileSize bytes is read; one more byte is
// too large.
func TestDeclFileSizeLimit(t *testing.T) {
	t.Parallel()
	const decl = "[[artifact]]\ntag = 'wasm'\ntype = 'application/wasm'\nfile = 'app.wasm'\n#"
	for _, tc := range []struct {
		size int
		ok   bool
	}{
		{maxDeclFileSize, true},
		{maxDeclFileSize + 1, false},
	} {
		layers := t.TempDir()
		writeTree(t, layers, map[string]string{
			"examples_wasm/wasm/artifacts.toml": decl + strings.Repeat("x", tc.size-len(decl)),
			"examples_wasm/wasm/app.wasm":       "\x00asm",
		})
		_, err := Load(layers, []Buildpack{{ID: "examples/wasm", Version: "1"}})
		if (err == nil) != tc.ok {
			t.Errorf("artifacts.toml of %d bytes: err = %v, want ok=%v", tc.size, err, tc.ok)
		}
	}
}

// An unknown key that cannot be attributed to one artifact (an inline array
// of tables) is named once, at the file level.
func TestUnknownKeyOfInlineArtifactsNamedOnce(t *testing.T) {
	t.Parallel()
	layers := t.TempDir()
	writeTree(t, layers, map[string]string{
		"examples_wasm/wasm/artifacts.toml": "artifact = [{tag = 'a', type = 'a/b', file = 'f', fiel = 'x'}, {tag = 'b', type = 'a/b', file = 'f', fiel = 'y'}]\n",
		"examples_wasm/wasm/f":              "",
	})
	_, err := Load(layers, []Buildpack{{ID: "examples/wasm", Version: "1"}})
	if err == nil {
		t.Fatal("unknown keys accepted")
	}
	if n := strings.Count(err.Error(), `artifacts.toml": unknown key "artifact.fiel"`); n != 1 {
		t.Fatalf("the unknown key is named %d times at the file level, want once:\n%v", n, err)
	}
}

func TestDescribeMode(t *testing.T) {
	t.Parallel()
	for m, want := range map[fs.FileMode]string{
		fs.ModeDir | 0o755:                "a directory",
		fs.ModeNamedPipe | 0o644:          "a named pipe (FIFO)",
		fs.ModeSocket | 0o755:             "a socket",
		fs.ModeDevice | fs.ModeCharDevice: "a device",
		fs.ModeDevice:                     "a device",
		fs.ModeIrregular:                  "type ?---------",
		fs.ModeSymlink | 0o777:            "type L---------",
	} {
		if got := describeMode(m); got != want {
			t.Errorf("describeMode(%v) = %q, want %q", m, got, want)
		}
	}
}

// A layer directory that cannot be opened is an error of its artifacts.toml
// at the file level. Here its path is longer than PATH_MAX: listing the
// buildpack's directory works, opening the layer's fails.
func TestLoadLayerDirectoryUnopenable(t *testing.T) {
	t.Parallel()
	layers := t.TempDir()
	for len(layers) < 3800 {
		layers = filepath.Join(layers, strings.Repeat("d", 200))
	}
	bpDir := filepath.Join(layers, "examples_wasm")
	if err := os.MkdirAll(bpDir, 0o755); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(bpDir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	layer := strings.Repeat("l", 250)
	if err := root.Mkdir(layer, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = Load(layers, []Buildpack{{ID: "examples/wasm", Version: "1"}})
	want := `file "examples_wasm/` + layer + `/artifacts.toml": opening the layer directory: `
	if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want it to contain %q", err, want)
	}
}
