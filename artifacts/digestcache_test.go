package artifacts

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// cacheWorkspace is a layers directory with one artifact of one file.
type cacheWorkspace struct {
	layers, layerDir, file string
	opts                   []DigestCacheOption
}

func newCacheWorkspace(t *testing.T, content string, opts ...DigestCacheOption) *cacheWorkspace {
	t.Helper()
	w := &cacheWorkspace{layers: t.TempDir(), opts: opts}
	w.layerDir = filepath.Join(w.layers, "examples_wasm", "wasm")
	w.file = filepath.Join(w.layerDir, "app.wasm")
	writeTree(t, w.layers, map[string]string{
		"examples_wasm/wasm/artifacts.toml": "[[artifact]]\ntag = \"wasm\"\ntype = \"application/wasm\"\nfile = \"app.wasm\"\n",
		"examples_wasm/wasm/app.wasm":       content,
	})
	return w
}

// open loads the declarations and opens the digest cache as a new exporter
// process would, and builds the artifact with that cache.
func (w *cacheWorkspace) open(t *testing.T) (*Artifact, *DigestCache) {
	t.Helper()
	decls, err := Load(w.layers, []Buildpack{{ID: "examples/wasm", Version: "1"}})
	if err != nil {
		t.Fatal(err)
	}
	c := OpenDigestCache(w.layers, w.opts...)
	a, err := Build(decls[0], WithDigestCache(c))
	if err != nil {
		t.Fatal(err)
	}
	return a, c
}

// export opens the workspace, reads the file's digest, saves the cache and
// returns the digest and how many times the file was opened.
func (w *cacheWorkspace) export(t *testing.T) (v1.Hash, int64) {
	t.Helper()
	a, c := w.open(t)
	opens := countOpens(t, a)
	ls, _ := a.Layers()
	d, err := ls[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	return d, opens.Load()
}

// noRacyCutoff lets the cache store files written just now.
var noRacyCutoff = WithRacyCutoff(-time.Hour)

func sha(t *testing.T, s string) v1.Hash {
	h, _, err := v1.SHA256(stringReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

type stringReaderT struct{ s string }

func stringReader(s string) io.Reader { return &stringReaderT{s} }
func (r *stringReaderT) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	n := copy(p, r.s)
	r.s = r.s[n:]
	return n, nil
}

func TestDigestCacheHitSkipsReading(t *testing.T) {
	t.Parallel()
	w := newCacheWorkspace(t, "version 1", noRacyCutoff)
	d1, opens := w.export(t)
	if opens != 1 || d1 != sha(t, "version 1") {
		t.Fatalf("first export: %s, %d opens", d1, opens)
	}
	d2, opens := w.export(t)
	if opens != 0 || d2 != d1 {
		t.Fatalf("unchanged file: %s, %d opens; want the cached digest and no open", d2, opens)
	}
	// The cache is stored outside the layer directory.
	if _, err := os.Stat(filepath.Join(w.layers, ".cnb-artifacts", "digests.json")); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(w.layerDir)
	if len(entries) != 2 {
		t.Fatalf("layer directory holds %d entries, want artifacts.toml and app.wasm only", len(entries))
	}
}

func TestDigestCacheMissesChangedFiles(t *testing.T) {
	t.Parallel()
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, change := range map[string]func(t *testing.T, w *cacheWorkspace){
		// Same size, new mtime.
		"rewritten, same size": func(t *testing.T, w *cacheWorkspace) {
			if err := os.WriteFile(w.file, []byte("version 2"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(w.file, old, old.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		},
		// Same size and mtime put back: ctime still moves.
		"rewritten, mtime restored": func(t *testing.T, w *cacheWorkspace) {
			if err := os.WriteFile(w.file, []byte("version 2"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(w.file, old, old); err != nil {
				t.Fatal(err)
			}
		},
		// Replaced by another file (new inode) with the same size and mtime.
		"replaced, mtime restored": func(t *testing.T, w *cacheWorkspace) {
			tmp := w.file + ".new"
			if err := os.WriteFile(tmp, []byte("version 2"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(tmp, old, old); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, w.file); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newCacheWorkspace(t, "version 1", noRacyCutoff)
			if err := os.Chtimes(w.file, old, old); err != nil {
				t.Fatal(err)
			}
			if d, _ := w.export(t); d != sha(t, "version 1") {
				t.Fatalf("first export: %s", d)
			}
			// ctime granularity is a clock tick: the change must land in a
			// later one than the ctime the cache recorded.
			waitCtimePast(t, w.file)
			change(t, w)
			d, opens := w.export(t)
			if opens != 1 || d != sha(t, "version 2") {
				t.Fatalf("changed file: %s after %d opens; want a fresh hash of the new content", d, opens)
			}
		})
	}
}

// A file changed less than racyCutoff before it is read is not cached: a
// write in the same timestamp tick as the read would go unnoticed.
func TestDigestCacheSkipsRacyFiles(t *testing.T) {
	t.Parallel()
	w := newCacheWorkspace(t, "fresh")
	w.export(t)
	if _, opens := w.export(t); opens != 1 {
		t.Fatalf("a file written just now was served from the cache (%d opens)", opens)
	}
}

func TestDigestCacheIgnoresBadFile(t *testing.T) {
	t.Parallel()
	w := newCacheWorkspace(t, "content", noRacyCutoff)
	w.export(t)
	p := filepath.Join(w.layers, ".cnb-artifacts", "digests.json")
	for _, bad := range []string{"not json", `{"version":99,"entries":{}}`, `{"version":1,"entries":{"examples_wasm/wasm/app.wasm":{"digest":"sha256:abc"}}}`} {
		if err := os.WriteFile(p, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if d, opens := w.export(t); opens != 1 || d != sha(t, "content") {
			t.Fatalf("cache file %q: %s, %d opens", bad, d, opens)
		}
	}
	// Entries of files no longer declared are dropped.
	var f cacheFileJSON
	data, _ := os.ReadFile(p)
	if err := json.Unmarshal(data, &f); err != nil || len(f.Entries) != 1 {
		t.Fatalf("cache file %s: %v", data, err)
	}
}

// A hashing read makes the digest known: the file is read once.
func TestHashingReaderMakesDigestKnown(t *testing.T) {
	t.Parallel()
	w := newCacheWorkspace(t, "streamed content")
	a, _ := w.open(t)
	opens := countOpens(t, a)
	ls, _ := a.Layers()
	f := ls[0].(FileBlob)
	if _, _, ok := f.Known(); ok {
		t.Fatal("digest known before any read")
	}
	if n, err := f.FileSize(); err != nil || n != int64(len("streamed content")) {
		t.Fatalf("FileSize = %d, %v", n, err)
	}
	// A read that stops early leaves the digest unknown.
	rc, _ := f.HashingReader()
	rc.Read(make([]byte, 3))
	rc.Close()
	if _, _, ok := f.Known(); ok {
		t.Fatal("digest known after a partial read")
	}
	rc, _ = f.HashingReader()
	body, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(body) != "streamed content" {
		t.Fatalf("read %q, %v", body, err)
	}
	n := opens.Load()
	d, size, ok := f.Known()
	if !ok || d != sha(t, "streamed content") || size != int64(len("streamed content")) {
		t.Fatalf("Known after reading: %s, %d, %v", d, size, ok)
	}
	if _, err := a.Manifest(appImage, created); err != nil {
		t.Fatal(err)
	}
	if opens.Load() != n {
		t.Fatalf("the manifest read the file again")
	}
	// Once known, reads are size-checked reads of the file.
	rc, _ = f.Compressed()
	if _, ok := rc.(*sizeCheckReader); !ok {
		t.Fatalf("reader %T, want a size-checked one", rc)
	}
	rc.Close()
	// A config without a file is not a FileBlob.
	if c, _ := a.Config(); c != nil {
		if _, ok := c.(FileBlob); ok {
			t.Fatal("a static config is a FileBlob")
		}
	}
}

func TestBlobFileErrorsMatchErrFile(t *testing.T) {
	t.Parallel()
	w := newCacheWorkspace(t, "x")
	a, _ := w.open(t)
	ls, _ := a.Layers()
	os.Remove(w.file)
	if _, err := ls[0].(FileBlob).HashingReader(); !errors.Is(err, ErrFile) {
		t.Fatalf("hashing open of a removed file: %v, want ErrFile", err)
	}
	if _, err := ls[0].(FileBlob).FileSize(); !errors.Is(err, ErrFile) {
		t.Fatalf("FileSize of a removed file: %v, want ErrFile", err)
	}
	if _, err := ls[0].Digest(); !errors.Is(err, ErrFile) {
		t.Fatalf("Digest of a removed file: %v, want ErrFile", err)
	}
}

// waitCtimePast polls, by touching a probe file next to path, until the
// file system's clock has passed path's ctime, so that any change of path
// from now on gives it a new ctime.
func waitCtimePast(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st, ok := fileStatus(fi)
	if !ok {
		t.Fatalf("no ctime for %s", path)
	}
	probe := filepath.Join(t.TempDir(), "probe")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := os.WriteFile(probe, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		pi, err := os.Stat(probe)
		if err != nil {
			t.Fatal(err)
		}
		if ps, _ := fileStatus(pi); ps.Ctime > st.Ctime {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ctime clock did not move past %d in 5s", st.Ctime)
		}
		time.Sleep(time.Millisecond) // poll interval
	}
}
