package artifacts

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Blob is a config or layer blob of an artifact. It is a go-containerregistry
// v1.Layer so that it can be handed to remote.Pusher.Upload or layout.Write*.
// Blobs are not tarballs: Uncompressed and DiffID equal Compressed and Digest.
type Blob interface {
	v1.Layer
}

// fileBlob is a Blob backed by a file in a layer directory. The file is
// opened through os.Root on every read; it is hashed lazily, at most once, by
// streaming it.
type fileBlob struct {
	layerDir  string
	path      string // slash-separated, relative to layerDir
	mediaType types.MediaType

	// open opens the file; a field so that tests can count opens.
	open func() (io.ReadCloser, error)

	once   sync.Once
	digest v1.Hash
	size   int64
	err    error
}

var _ Blob = (*fileBlob)(nil)

func newFileBlob(layerDir, path string, mt types.MediaType) *fileBlob {
	b := &fileBlob{layerDir: layerDir, path: path, mediaType: mt}
	b.open = b.openFile
	return b
}

// openFile opens the file through an os.Root of the layer directory, after
// checking that it is a regular file (so that a FIFO cannot block).
func (b *fileBlob) openFile() (io.ReadCloser, error) {
	root, err := os.OpenRoot(b.layerDir)
	if err != nil {
		return nil, err
	}
	defer root.Close() // files opened through root stay open
	name := filepath.FromSlash(b.path)
	if err := checkRegular(root, b.path); err != nil {
		return nil, fmt.Errorf("%s: %w", b.describe(), err)
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.describe(), statError(root, err))
	}
	return f, nil
}

func (b *fileBlob) describe() string {
	return fmt.Sprintf("file %q in %s", b.path, b.layerDir)
}

// hashBufSize is the read buffer used for hashing.
const hashBufSize = 1 << 20

func (b *fileBlob) compute() error {
	b.once.Do(func() {
		rc, err := b.open()
		if err != nil {
			b.err = err
			return
		}
		defer rc.Close()
		h := sha256.New()
		n, err := io.CopyBuffer(h, rc, make([]byte, hashBufSize))
		if err != nil {
			b.err = fmt.Errorf("hashing %s: %w", b.describe(), err)
			return
		}
		b.size = n
		b.digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	})
	return b.err
}

// Digest implements v1.Layer. It hashes the file on first use.
func (b *fileBlob) Digest() (v1.Hash, error) {
	if err := b.compute(); err != nil {
		return v1.Hash{}, err
	}
	return b.digest, nil
}

// DiffID implements v1.Layer; it equals Digest.
func (b *fileBlob) DiffID() (v1.Hash, error) { return b.Digest() }

// Size implements v1.Layer. It hashes the file on first use.
func (b *fileBlob) Size() (int64, error) {
	if err := b.compute(); err != nil {
		return 0, err
	}
	return b.size, nil
}

// MediaType implements v1.Layer.
func (b *fileBlob) MediaType() (types.MediaType, error) { return b.mediaType, nil }

// Compressed implements v1.Layer: it opens the file anew. The reader fails
// if the file's size no longer matches the size that was hashed, so that a
// file changed after hashing is not published under a wrong descriptor
// (registries verify the digest on upload).
func (b *fileBlob) Compressed() (io.ReadCloser, error) {
	if err := b.compute(); err != nil {
		return nil, err
	}
	rc, err := b.open()
	if err != nil {
		return nil, err
	}
	return &sizeCheckReader{rc: rc, want: b.size, name: b.describe()}, nil
}

// Uncompressed implements v1.Layer; it equals Compressed.
func (b *fileBlob) Uncompressed() (io.ReadCloser, error) { return b.Compressed() }

// sizeCheckReader fails at EOF, or when reading past want, if the number of
// bytes read differs from want.
type sizeCheckReader struct {
	rc   io.ReadCloser
	want int64
	n    int64
	name string
}

func (r *sizeCheckReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.n += int64(n)
	if r.n > r.want {
		return n, fmt.Errorf("%s: %w: it grew after it was hashed (%d bytes expected)", r.name, ErrFileChanged, r.want)
	}
	if err == io.EOF && r.n != r.want {
		return n, fmt.Errorf("%s: %w: it shrank after it was hashed (%d of %d bytes)", r.name, ErrFileChanged, r.n, r.want)
	}
	return n, err
}

func (r *sizeCheckReader) Close() error { return r.rc.Close() }
