package artifacts

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// countOpens makes every file blob of a count its opens.
func countOpens(t *testing.T, a *Artifact) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	blobs, _ := a.Layers()
	if c, _ := a.Config(); c != nil {
		blobs = append(blobs, c)
	}
	for _, b := range blobs {
		fb, ok := b.(*fileBlob)
		if !ok {
			continue
		}
		open := fb.open
		fb.open = func() (io.ReadCloser, error) {
			n.Add(1)
			return open()
		}
	}
	return &n
}

func buildOne(t *testing.T, toml string, files map[string]string) *Artifact {
	t.Helper()
	a, err := Build(loadOne(t, toml, files))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// buildWithoutFiles builds the declaration with its files moved out of the
// layer directory, so that Build fails or records an error if it opens
// one, and puts them back.
func buildWithoutFiles(t *testing.T, d Declaration) *Artifact {
	t.Helper()
	aside := t.TempDir()
	var paths []string
	if d.Config != nil {
		paths = append(paths, d.Config.Path)
	}
	for _, f := range d.Files {
		paths = append(paths, f.Path)
	}
	for i, p := range paths {
		if err := os.Rename(filepath.Join(d.LayerDir, filepath.FromSlash(p)), filepath.Join(aside, fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	a, err := Build(d)
	if err != nil {
		t.Fatalf("Build read a file: %v", err)
	}
	for i, p := range paths {
		if err := os.Rename(filepath.Join(aside, fmt.Sprint(i)), filepath.Join(d.LayerDir, filepath.FromSlash(p))); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

func TestBlobHashesOnce(t *testing.T) {
	t.Parallel()
	a := buildWithoutFiles(t, loadOne(t, helmTOML, goldenCases[2].files))
	opens := countOpens(t, a)
	blobs, _ := a.Layers()
	if c, _ := a.Config(); c != nil {
		blobs = append(blobs, c)
	}
	files := 0
	for _, b := range blobs {
		if fb, ok := b.(*fileBlob); ok {
			files++
			if fb.known || fb.err != nil {
				t.Fatalf("Build opened %s", fb.path)
			}
		}
	}
	if files != 2 {
		t.Fatalf("%d file blobs, want 2", files)
	}
	layers, _ := a.Layers()
	config, _ := a.Config()

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for _, b := range []Blob{layers[0], config} {
				if _, err := b.Digest(); err != nil {
					t.Error(err)
				}
				if _, err := b.Size(); err != nil {
					t.Error(err)
				}
				if _, err := b.DiffID(); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if _, err := a.Manifest(appImage, created); err != nil {
		t.Fatal(err)
	}
	if got := opens.Load(); got != 2 {
		t.Errorf("hashing opened files %d times, want 2 (once per file)", got)
	}

	// Every read opens the file anew and yields the hashed content.
	for _, read := range []func() (io.ReadCloser, error){layers[0].Compressed, layers[0].Uncompressed} {
		rc, err := read()
		if err != nil {
			t.Fatal(err)
		}
		digest, size, err := v1.SHA256(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		wantDigest, _ := layers[0].Digest()
		wantSize, _ := layers[0].Size()
		if digest != wantDigest || size != wantSize {
			t.Errorf("read %s (%d bytes), want %s (%d)", digest, size, wantDigest, wantSize)
		}
	}
	if got := opens.Load(); got != 4 {
		t.Errorf("opens = %d, want 4", got)
	}
	if mt, _ := layers[0].MediaType(); mt != "application/vnd.cncf.helm.chart.content.v1.tar+gzip" {
		t.Errorf("MediaType() = %s", mt)
	}
}

func TestBlobStreams(t *testing.T) {
	// Not parallel: it measures the process's allocations.
	layerDir := t.TempDir()
	const size = 64 << 20
	f, err := os.Create(filepath.Join(layerDir, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil { // sparse: cheap to create
		t.Fatal(err)
	}
	f.Close()
	b := newFileBlob(layerDir, "big.bin", "application/octet-stream")

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := b.Digest(); err != nil {
		t.Fatal(err)
	}
	rc, err := b.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, rc)
	rc.Close()
	if err != nil || n != size {
		t.Fatalf("read %d bytes, %v", n, err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("hashing and reading %d MiB allocated %d bytes; files must be streamed", size>>20, alloc)
	}
}

func TestBlobDetectsChangedFile(t *testing.T) {
	t.Parallel()
	for name, change := range map[string]func(string) error{
		"grown": func(p string) error {
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteString("more")
			return err
		},
		"shrunk": func(p string) error { return os.Truncate(p, 1) },
	} {
		t.Run(name, func(t *testing.T) {
			layerDir := t.TempDir()
			p := filepath.Join(layerDir, "f")
			if err := os.WriteFile(p, []byte("content"), 0o644); err != nil {
				t.Fatal(err)
			}
			b := newFileBlob(layerDir, "f", "a/b")
			if _, err := b.Digest(); err != nil {
				t.Fatal(err)
			}
			if err := change(p); err != nil {
				t.Fatal(err)
			}
			rc, err := b.Compressed()
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if _, err := io.ReadAll(rc); !errors.Is(err, ErrFileChanged) {
				t.Errorf("read error = %v, want ErrFileChanged", err)
			}
		})
	}
}

func TestBlobRefusesFIFOWithoutBlocking(t *testing.T) {
	t.Parallel()
	layerDir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(layerDir, "f"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := newFileBlob(layerDir, "f", "a/b")
	done := make(chan error, 1)
	go func() { _, err := b.Digest(); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotRegular) {
			t.Errorf("Digest() error = %v, want ErrNotRegular", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Digest() blocked on a FIFO")
	}
}

func TestBlobRefusesSymlinkSwappedOut(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	layerDir := filepath.Join(base, "layer")
	writeTree(t, base, map[string]string{"secret": "s", "layer/f": "x"})
	b := newFileBlob(layerDir, "f", "a/b")
	// The file is replaced by an escaping symlink after Load.
	os.Remove(filepath.Join(layerDir, "f"))
	if err := os.Symlink("../secret", filepath.Join(layerDir, "f")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Digest(); !errors.Is(err, ErrPathEscapes) {
		t.Errorf("Digest() error = %v, want ErrPathEscapes", err)
	}
}

func TestConfigBlobs(t *testing.T) {
	t.Parallel()
	// Without a config file, the config is `{}` in memory, with the declared
	// media type or as the empty descriptor.
	for _, tc := range []struct {
		toml string
		want string
	}{
		{goldenCases[0].toml, "application/vnd.wasm.config.v1+json"},
		{goldenCases[3].toml, string(MediaTypeEmpty)},
	} {
		name := "mywasmprogram.wasm"
		if tc.want == string(MediaTypeEmpty) {
			name = "reports/TEST-app.xml"
		}
		a := buildOne(t, tc.toml, map[string]string{name: "x"})
		c, err := a.Config()
		if err != nil {
			t.Fatal(err)
		}
		mt, _ := c.MediaType()
		rc, _ := c.Compressed()
		body, _ := io.ReadAll(rc)
		rc.Close()
		d, _ := c.Digest()
		if string(mt) != tc.want || string(body) != "{}" || d.Hex != "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a" {
			t.Errorf("config = %s %q %s", mt, body, d)
		}
	}
}
