package exporter

import (
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/stream"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cnb-artifacts/lifecycle/artifacts"
)

// defaultStreamMinSize is the size from which an artifact file whose digest
// is unknown is streamed (hashed while uploaded) rather than hashed first.
// Hashing a smaller file first costs little (a second read, from the page
// cache) and lets the registry say it has the blob already: a rebuild that
// recreates unchanged small files (pack and kpack start every build with a
// fresh layers directory, so the digest cache cannot know them) uploads
// nothing. A big file is read once, at the price of uploading it again when
// the registry had it and the digest cache did not know it.
const defaultStreamMinSize int64 = 64 << 20

// streamPolicy decides how an artifact blob is uploaded.
type streamPolicy struct{ minSize int64 }

// layer returns b as a layer to upload in one pass. While b is a file whose
// digest is unknown (not read yet, and the digest cache does not know it)
// and that has at least minSize bytes, its Digest and Size return
// stream.ErrNotComputed and its reader hashes the file as it is read, so
// that go-containerregistry's pusher streams it to the registry and
// finalises the upload with the digest computed on the way (the registry
// verifies it). Otherwise, and after that read, it is b itself: the pusher
// asks the registry whether it has the blob before uploading it. A blob that
// is not a file is returned as is.
func (p streamPolicy) layer(b artifacts.Blob) v1.Layer {
	f, ok := b.(artifacts.FileBlob)
	if !ok {
		return b
	}
	return &streamedBlob{f: f, minSize: p.minSize}
}

type streamedBlob struct {
	f       artifacts.FileBlob
	minSize int64
}

// hashFirst reports whether the digest is known or should be computed before
// the upload.
func (s *streamedBlob) hashFirst() bool {
	if _, _, ok := s.f.Known(); ok {
		return true
	}
	n, err := s.f.FileSize()
	return err != nil || n < s.minSize // errors surface from Digest
}

func (s *streamedBlob) Digest() (v1.Hash, error) {
	if s.hashFirst() {
		return s.f.Digest()
	}
	return v1.Hash{}, stream.ErrNotComputed
}

func (s *streamedBlob) DiffID() (v1.Hash, error) { return s.Digest() }

func (s *streamedBlob) Size() (int64, error) {
	if s.hashFirst() {
		return s.f.Size()
	}
	return 0, stream.ErrNotComputed
}

func (s *streamedBlob) MediaType() (types.MediaType, error) { return s.f.MediaType() }

// Compressed reads the file; when its digest is not known yet, the reader
// hashes what it reads and, at the end of the file, makes the digest known.
func (s *streamedBlob) Compressed() (io.ReadCloser, error) {
	if s.hashFirst() {
		return s.f.Compressed()
	}
	return s.f.HashingReader()
}

func (s *streamedBlob) Uncompressed() (io.ReadCloser, error) { return s.Compressed() }

// hashedFirst reports whether every file of a is hashed before its upload
// (its digest is known, or it is smaller than minSize), so that a's manifest
// can be built before the upload without reading a file the upload would
// stream.
func (p streamPolicy) hashedFirst(a *artifacts.Artifact) bool {
	ls, err := a.Layers()
	if err != nil {
		return false
	}
	for _, l := range ls {
		f, ok := l.(artifacts.FileBlob)
		if !ok {
			continue
		}
		if !(&streamedBlob{f: f, minSize: p.minSize}).hashFirst() {
			return false
		}
	}
	return true
}
