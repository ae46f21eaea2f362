package artifacts

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Blob is a config or layer blob of an artifact. It is a go-containerregistry
// v1.Layer so that it can be handed to remote.Pusher.Upload or layout.Write*.
// Blobs are not tarballs: Uncompressed and DiffID equal Compressed and Digest.
type Blob interface {
	v1.Layer
}

// ErrFile matches every error a file blob returns because its file could not
// be opened or read, or changed while it was read: a problem of the layer
// directory, not of a registry.
var ErrFile = errors.New("artifact file")

// fileError marks an error as ErrFile; its message is the wrapped error's.
type fileError struct{ err error }

func (e *fileError) Error() string        { return e.err.Error() }
func (e *fileError) Unwrap() error        { return e.err }
func (e *fileError) Is(target error) bool { return target == ErrFile }

func asFileError(err error) error {
	if err == nil || errors.Is(err, ErrFile) {
		return err
	}
	return &fileError{err}
}

// fileBlob is a Blob backed by a file in a layer directory. The file is
// opened through os.Root on every read. Its digest and size are known once
// the file has been read through once (by Digest, or by a HashingReader)
// or when the digest cache vouches for them; the file is never hashed twice.
type fileBlob struct {
	layerDir  string
	path      string // slash-separated, relative to layerDir
	mediaType types.MediaType
	limit     int64 // the largest size it may have, or noSizeLimit

	// open opens the file; a field so that tests can count opens.
	open func() (io.ReadCloser, error)
	// cache is the digest cache of the layers directory, or nil.
	cache *DigestCache

	mu     sync.Mutex
	known  bool // digest and size are set
	digest v1.Hash
	size   int64
	err    error // a failed Digest, returned again
}

var _ Blob = (*fileBlob)(nil)

func newFileBlob(layerDir, path string, mt types.MediaType) *fileBlob {
	b := &fileBlob{layerDir: layerDir, path: path, mediaType: mt, limit: noSizeLimit}
	b.open = b.openFile
	return b
}

// openFile opens the file through an os.Root of the layer directory as
// openRegular does: without blocking, checked on the open descriptor (a
// regular file, within the blob's size limit), so that a file swapped for a
// FIFO or a link to a device after validation cannot hang or flood the
// export.
func (b *fileBlob) openFile() (io.ReadCloser, error) {
	root, err := os.OpenRoot(b.layerDir)
	if err != nil {
		return nil, asFileError(err)
	}
	defer root.Close() // files opened through root stay open
	f, _, err := openRegular(root, b.path, b.limit)
	if err != nil {
		return nil, asFileError(fmt.Errorf("%s: %w", b.describe(), err))
	}
	return f, nil
}

// stat stats the file through an os.Root of the layer directory.
func (b *fileBlob) stat() (os.FileInfo, error) {
	root, err := os.OpenRoot(b.layerDir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return root.Stat(filepath.FromSlash(b.path))
}

func (b *fileBlob) describe() string {
	return fmt.Sprintf("file %q in %s", b.path, b.layerDir)
}

// hashBufSize is the read buffer used for hashing.
const hashBufSize = 1 << 20

// hashBufs are the hashing buffers, reused: an export of 200 small files
// would otherwise allocate 200 MiB of buffers for 2 MiB of data.
var hashBufs = sync.Pool{New: func() any { b := make([]byte, hashBufSize); return &b }}

// lookupLocked asks the digest cache about the file as it is now. b.mu is
// held.
func (b *fileBlob) lookupLocked() bool {
	if b.cache == nil {
		return false
	}
	fi, err := b.stat()
	if err != nil {
		return false
	}
	d, ok := b.cache.lookup(b.cacheKey(), fi)
	if !ok {
		return false
	}
	b.known, b.digest, b.size = true, d, fi.Size()
	return true
}

func (b *fileBlob) cacheKey() string {
	return filepath.ToSlash(filepath.Join(b.cache.rel(b.layerDir), filepath.FromSlash(b.path)))
}

// knownDigest returns the digest and size when the file has been hashed or
// the digest cache vouches for it, without reading the file.
func (b *fileBlob) knownDigest() (v1.Hash, int64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.known || b.lookupLocked() {
		return b.digest, b.size, true
	}
	return v1.Hash{}, 0, false
}

// compute makes the digest and size known: from an earlier read, from the
// digest cache, or by reading the file through once.
func (b *fileBlob) compute() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.known {
		return nil
	}
	if b.err != nil {
		return b.err
	}
	if b.lookupLocked() {
		return nil
	}
	rc, err := b.open()
	if err != nil {
		b.err = err
		return err
	}
	defer rc.Close()
	r := newHashingReader(rc)
	buf := hashBufs.Get().(*[]byte)
	defer hashBufs.Put(buf)
	// Not io.Discard itself: it reads from r with its own 8 KiB buffer.
	if _, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, r, *buf); err != nil {
		b.err = asFileError(fmt.Errorf("hashing %s: %w", b.describe(), err))
		return b.err
	}
	b.known, b.digest, b.size = true, r.digest(), r.n
	b.remember(r)
	return nil
}

// completed records the result of a HashingReader that read the file
// through. An earlier result wins: the registry rejects a manifest whose blob
// was not uploaded, so a file that changed between two reads fails the
// export instead of being published under a wrong descriptor.
func (b *fileBlob) completed(r *hashingReader) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.known {
		return
	}
	b.known, b.digest, b.size = true, r.digest(), r.n
	b.remember(r)
}

// remember stores the digest of a complete read in the digest cache when the
// file did not change while it was read. b.mu is held.
func (b *fileBlob) remember(r *hashingReader) {
	if b.cache == nil || r.before == nil {
		return
	}
	after, err := r.statFile()
	if err != nil || !sameFile(r.before, after) || after.Size() != r.n {
		return
	}
	b.cache.store(b.cacheKey(), after, b.digest, r.start)
}

// Digest implements v1.Layer. It hashes the file on first use, unless the
// digest cache knows it.
func (b *fileBlob) Digest() (v1.Hash, error) {
	if err := b.compute(); err != nil {
		return v1.Hash{}, err
	}
	return b.digest, nil
}

// DiffID implements v1.Layer; it equals Digest.
func (b *fileBlob) DiffID() (v1.Hash, error) { return b.Digest() }

// Size implements v1.Layer. It hashes the file on first use, unless the
// digest cache knows it.
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

// FileBlob is a Blob read from a file of a layer directory. Besides v1.Layer it
// lets an uploader decide how to read it (exporter's streaming policy):
// hash it first, or hash it while it is uploaded, in one read.
type FileBlob interface {
	Blob
	// Known returns the digest and size when the file has been read through
	// or the digest cache vouches for it, without reading the file.
	Known() (v1.Hash, int64, bool)
	// FileSize is the file's size now, from its status.
	FileSize() (int64, error)
	// HashingReader opens the file and hashes what it reads; a read through
	// to the end makes the digest and size known (an earlier result wins).
	HashingReader() (io.ReadCloser, error)
}

var _ FileBlob = (*fileBlob)(nil)

// Known implements FileBlob.
func (b *fileBlob) Known() (v1.Hash, int64, bool) { return b.knownDigest() }

// FileSize implements FileBlob.
func (b *fileBlob) FileSize() (int64, error) {
	fi, err := b.stat()
	if err != nil {
		return 0, asFileError(err)
	}
	return fi.Size(), nil
}

// HashingReader implements FileBlob.
func (b *fileBlob) HashingReader() (io.ReadCloser, error) {
	rc, err := b.open()
	if err != nil {
		return nil, err
	}
	r := newHashingReader(rc)
	r.onEOF = b.completed
	return r, nil
}

// hashingReader hashes and counts what it reads. It notes the file's status
// when it is made, so that a complete read can be checked against the file's
// status after it.
type hashingReader struct {
	rc     io.ReadCloser
	h      hash.Hash
	n      int64
	start  time.Time   // when the file was opened
	before os.FileInfo // the file's status when it was opened, or nil
	onEOF  func(*hashingReader)
	done   bool
}

func newHashingReader(rc io.ReadCloser) *hashingReader {
	r := &hashingReader{rc: rc, h: sha256.New(), start: time.Now()}
	r.before, _ = r.statFile()
	return r
}

func (r *hashingReader) statFile() (os.FileInfo, error) {
	f, ok := r.rc.(interface{ Stat() (os.FileInfo, error) })
	if !ok {
		return nil, errors.ErrUnsupported
	}
	return f.Stat()
}

func (r *hashingReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.h.Write(p[:n])
	r.n += int64(n)
	if err == io.EOF && !r.done {
		r.done = true
		if r.onEOF != nil {
			r.onEOF(r)
		}
	} else if err != nil && err != io.EOF {
		err = asFileError(err)
	}
	return n, err
}

func (r *hashingReader) digest() v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(r.h.Sum(nil))}
}

func (r *hashingReader) Close() error { return r.rc.Close() }

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
		return n, asFileError(fmt.Errorf("%s: %w: it grew after it was hashed (%d bytes expected)", r.name, ErrFileChanged, r.want))
	}
	if err == io.EOF && r.n != r.want {
		return n, asFileError(fmt.Errorf("%s: %w: it shrank after it was hashed (%d of %d bytes)", r.name, ErrFileChanged, r.n, r.want))
	}
	if err != nil && err != io.EOF {
		err = asFileError(err)
	}
	return n, err
}

func (r *sizeCheckReader) Close() error { return r.rc.Close() }
