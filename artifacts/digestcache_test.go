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
	"github.com/google/go-containerregistry/pkg/v1/stream"
)

// cacheWorkspace is a layers directory with one artifact of one file.
type cacheWorkspace struct {
	layers, layerDir, file string
}

func newCacheWorkspace(t *testing.T, content string) *cacheWorkspace {
	t.Helper()
	w := &cacheWorkspace{layers: t.TempDir()}
	w.layerDir = filepath.Join(w.layers, "examples_wasm", "wasm")
	w.file = filepath.Join(w.layerDir, "app.wasm")
	writeTree(t, w.layers, map[string]string{
		"examples_wasm/wasm/artifacts.toml": "[[artifact]]\ntag = \"wasm\"\ntype = \"application/wasm\"\nfile = \"app.wasm\"\n",
		"examples_wasm/wasm/app.wasm":       content,
	})
	return w
}

// export loads the declarations as a new exporter process would (a fresh
// in-memory cache), reads the file's digest, saves the cache and returns the
// digest and how many times the file was opened.
func (w *cacheWorkspace) export(t *testing.T) (v1.Hash, int64) {
	t.Helper()
	cachesMu.Lock()
	delete(caches, w.layers)
	cachesMu.Unlock()
	decls, err := Load(w.layers, []Buildpack{{ID: "examples/wasm", Version: "1"}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := Build(decls[0])
	if err != nil {
		t.Fatal(err)
	}
	opens := countOpens(t, a)
	ls, _ := a.Layers()
	d, err := ls[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	if err := SaveDigests([]*Artifact{a}); err != nil {
		t.Fatal(err)
	}
	return d, opens.Load()
}

func noRacyCutoff(t *testing.T) {
	old := racyCutoff
	racyCutoff = -time.Hour
	t.Cleanup(func() { racyCutoff = old })
}

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
	noRacyCutoff(t)
	w := newCacheWorkspace(t, "version 1")
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
	noRacyCutoff(t)
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
			w := newCacheWorkspace(t, "version 1")
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
	w := newCacheWorkspace(t, "fresh")
	w.export(t)
	if _, opens := w.export(t); opens != 1 {
		t.Fatalf("a file written just now was served from the cache (%d opens)", opens)
	}
}

func TestDigestCacheIgnoresBadFile(t *testing.T) {
	noRacyCutoff(t)
	w := newCacheWorkspace(t, "content")
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

// A streamed blob is read once: the upload's read makes the digest known.
func TestStreamedHashesWhileReading(t *testing.T) {
	old := streamMinSize
	streamMinSize = 1
	t.Cleanup(func() { streamMinSize = old })
	w := newCacheWorkspace(t, "streamed content")
	decls, err := Load(w.layers, []Buildpack{{ID: "examples/wasm", Version: "1"}})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := Build(decls[0])
	opens := countOpens(t, a)
	ls, _ := a.Layers()
	s := Streamed(ls[0])
	if _, err := s.Digest(); !errors.Is(err, stream.ErrNotComputed) {
		t.Fatalf("Digest before reading: %v, want ErrNotComputed", err)
	}
	if _, err := s.Size(); !errors.Is(err, stream.ErrNotComputed) {
		t.Fatalf("Size before reading: %v, want ErrNotComputed", err)
	}
	// A read that stops early leaves the digest unknown.
	rc, _ := s.Compressed()
	rc.Read(make([]byte, 3))
	rc.Close()
	if _, err := s.Digest(); !errors.Is(err, stream.ErrNotComputed) {
		t.Fatalf("Digest after a partial read: %v", err)
	}
	rc, _ = s.Compressed()
	body, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(body) != "streamed content" {
		t.Fatalf("read %q, %v", body, err)
	}
	n := opens.Load()
	d, err := s.Digest()
	if err != nil || d != sha(t, "streamed content") {
		t.Fatalf("Digest after reading: %s, %v", d, err)
	}
	if size, _ := s.Size(); size != int64(len("streamed content")) {
		t.Fatalf("Size = %d", size)
	}
	if _, err := a.Manifest(appImage, created); err != nil {
		t.Fatal(err)
	}
	if opens.Load() != n {
		t.Fatalf("the manifest read the file again")
	}
	// Once known, reads are size-checked reads of the file.
	rc, _ = s.Compressed()
	if _, ok := rc.(*sizeCheckReader); !ok {
		t.Fatalf("reader %T, want a size-checked one", rc)
	}
	rc.Close()
	// Non-file blobs are returned as they are.
	c, _ := a.Config()
	if Streamed(c) != v1.Layer(c) {
		t.Fatal("Streamed wrapped a static blob")
	}
}

func TestBlobFileErrorsMatchErrFile(t *testing.T) {
	w := newCacheWorkspace(t, "x")
	decls, err := Load(w.layers, []Buildpack{{ID: "examples/wasm", Version: "1"}})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := Build(decls[0])
	ls, _ := a.Layers()
	os.Remove(w.file)
	if _, err := Streamed(ls[0]).Compressed(); !errors.Is(err, ErrFile) {
		t.Fatalf("streamed open of a removed file: %v, want ErrFile", err)
	}
	if _, err := ls[0].Digest(); !errors.Is(err, ErrFile) {
		t.Fatalf("Digest of a removed file: %v, want ErrFile", err)
	}
}

// A file smaller than streamMinSize is hashed before the upload, so the
// registry can say it has the blob.
func TestStreamedHashesSmallFilesFirst(t *testing.T) {
	w := newCacheWorkspace(t, "small")
	decls, err := Load(w.layers, []Buildpack{{ID: "examples/wasm", Version: "1"}})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := Build(decls[0])
	ls, _ := a.Layers()
	if d, err := Streamed(ls[0]).Digest(); err != nil || d != sha(t, "small") {
		t.Fatalf("Digest = %s, %v", d, err)
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
