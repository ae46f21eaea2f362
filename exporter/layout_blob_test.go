package exporter

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/stream"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cnb-artifacts/lifecycle/artifacts"
)

// failingFile is an artifact file whose read fails after a few bytes.
type failingFile struct{ err error }

func (failingFile) Digest() (v1.Hash, error)               { return v1.Hash{}, stream.ErrNotComputed }
func (failingFile) DiffID() (v1.Hash, error)               { return v1.Hash{}, stream.ErrNotComputed }
func (failingFile) Size() (int64, error)                   { return 0, stream.ErrNotComputed }
func (failingFile) MediaType() (types.MediaType, error)    { return types.OCILayer, nil }
func (f failingFile) Compressed() (io.ReadCloser, error)   { return f.HashingReader() }
func (f failingFile) Uncompressed() (io.ReadCloser, error) { return f.HashingReader() }
func (failingFile) Known() (v1.Hash, int64, bool)          { return v1.Hash{}, 0, false }
func (failingFile) FileSize() (int64, error)               { return 1 << 20, nil }
func (f failingFile) HashingReader() (io.ReadCloser, error) {
	return io.NopCloser(io.MultiReader(io.LimitReader(zeros{}, 1000), errReader(f))), nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

var _ artifacts.FileBlob = failingFile{}

// A layout blob whose file fails while it is read fails with that error, and
// leaves no blob behind.
func TestWriteBlobKeepsTheReadError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	readErr := errors.New("the disk went away")
	if _, err := writeBlob(path, failingFile{readErr}); !errors.Is(err, readErr) {
		t.Fatalf("writeBlob: %v, want the read error", err)
	}
	left, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if len(left) != 0 {
		t.Fatalf("left in the layout: %v", left)
	}
}
