package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// SmallBlob is the size up to which a blob of known digest is uploaded in
// one request (distribution-spec's monolithic POST): for 10 KiB artifacts
// the POST, PATCH and PUT of a chunked upload cost the registry more than
// the data does.
const SmallBlob = 1 << 20

// Mountable is a blob that repository From of the same registry has: an
// upload mounts it from there (a cross-repository mount) and reads it only
// when the registry does not mount.
type Mountable struct {
	v1.Layer
	From name.Repository
}

// Mounts reports whether l names a repository it can be mounted from
// (a Mountable, or go-containerregistry's remote.MountableLayer).
func Mounts(l v1.Layer) bool {
	_, _, ok := mountSource(l)
	return ok
}

// mountSource returns the repository a blob can be mounted from, and the
// blob itself. imgutil's layers of the run image are go-containerregistry's
// remote.MountableLayer: they mount from the run image's repository.
func mountSource(l v1.Layer) (name.Repository, v1.Layer, bool) {
	switch m := l.(type) {
	case *Mountable:
		return m.From, m.Layer, true
	case *remote.MountableLayer:
		return m.Reference.Context(), m.Layer, true
	}
	return name.Repository{}, l, false
}

// UploadBlob writes the blob l to repo unless it is there: a blob of known
// digest is looked for first (HEAD); a mountable blob is then mounted from
// its repository when the registry is the same; else it is uploaded, in one request up
// to SmallBlob, else in a session (POST, PATCH with the body streamed, PUT
// with the digest). A blob whose digest is not known yet (its Digest says
// stream.ErrNotComputed) is hashed while it is streamed. Every request
// follows the retry policy; a retried upload reopens the blob
// (l.Compressed) and starts a new session.
func (c *Client) UploadBlob(ctx context.Context, repo name.Repository, l v1.Layer) error {
	from, inner, mountable := mountSource(l)
	l = inner
	d, derr := l.Digest()
	n, serr := l.Size()
	if derr != nil || serr != nil {
		return c.retry.try(ctx, func() (time.Duration, error) {
			return c.session(ctx, repo, l, nil)
		})
	}
	// A blob the repository has is neither mounted nor uploaded again (a
	// re-export writes no blob, R7-9).
	exists, err := c.BlobExists(ctx, repo, d)
	if err != nil || exists {
		return err
	}
	if mountable && from.RegistryStr() == c.reg.RegistryStr() && from.Name() != repo.Name() {
		mounted, err := c.mount(ctx, repo, from, d)
		if err != nil || mounted {
			return err
		}
	}
	if n <= SmallBlob {
		body, err := readBlob(l, n)
		if err != nil {
			return permanent(err)
		}
		// The POST and, where the registry asks for it, the PUT to its
		// session are retried together: a failed session is abandoned for
		// a new one.
		return c.retry.try(ctx, func() (time.Duration, error) {
			return c.postBlob(ctx, repo, d, body)
		})
	}
	return c.retry.try(ctx, func() (time.Duration, error) {
		return c.session(ctx, repo, l, &d)
	})
}

// BlobExists asks repo whether it has the blob d (HEAD).
func (c *Client) BlobExists(ctx context.Context, repo name.Repository, d v1.Hash) (bool, error) {
	var exists bool
	err := c.do(ctx, http.MethodHead, c.url(repo, "blobs/"+d.String()), nil, nil, func(resp *http.Response) error {
		if resp.StatusCode == http.StatusNotFound {
			return nil
		}
		if err := transport.CheckError(resp, http.StatusOK); err != nil {
			return err
		}
		exists = true
		return nil
	})
	return exists, err
}

// mount asks the registry to mount blob d from repository from into repo;
// it reports whether it did (201). A registry that will not (202, a
// session) gets the blob uploaded instead.
func (c *Client) mount(ctx context.Context, repo, from name.Repository, d v1.Hash) (bool, error) {
	var mounted bool
	u := c.url(repo, "blobs/uploads/?mount="+url.QueryEscape(d.String())+"&from="+url.QueryEscape(from.RepositoryStr()))
	err := c.do(ctx, http.MethodPost, u, nil, nil, func(resp *http.Response) error {
		if err := transport.CheckError(resp, http.StatusCreated, http.StatusAccepted); err != nil {
			return err
		}
		mounted = resp.StatusCode == http.StatusCreated
		return nil
	})
	return mounted, err
}

// postBlob tries one single-request upload: a POST with the digest and the
// body, then, if the registry opened a session instead (202), a PUT of the
// body to it. It returns how long the registry asked to wait, if it did.
func (c *Client) postBlob(ctx context.Context, repo name.Repository, d v1.Hash, body []byte) (time.Duration, error) {
	u := c.url(repo, "blobs/uploads/?digest="+url.QueryEscape(d.String()))
	resp, err := c.request(ctx, http.MethodPost, u, body, octet)
	if err != nil {
		return 0, err
	}
	defer drain(resp)
	if err := transport.CheckError(resp, http.StatusCreated, http.StatusAccepted); err != nil {
		return retryAfter(resp), err
	}
	if resp.StatusCode == http.StatusCreated {
		return 0, nil
	}
	loc, err := resp.Location()
	if err != nil {
		return 0, permanent(fmt.Errorf("upload session without a location: %w", err))
	}
	q := loc.Query()
	q.Set("digest", d.String())
	loc.RawQuery = q.Encode()
	put, err := c.request(ctx, http.MethodPut, loc.String(), body, octet)
	if err != nil {
		return 0, err
	}
	defer drain(put)
	return retryAfter(put), transport.CheckError(put, http.StatusCreated)
}

var octet = map[string]string{"Content-Type": "application/octet-stream"}

// session tries one upload in a session: POST to open it, PATCH with the
// blob streamed from a fresh read of l, PUT with the digest (known, or
// computed on the way) to close it.
func (c *Client) session(ctx context.Context, repo name.Repository, l v1.Layer, known *v1.Hash) (time.Duration, error) {
	resp, err := c.request(ctx, http.MethodPost, c.url(repo, "blobs/uploads/"), nil, nil)
	if err != nil {
		return 0, err
	}
	drain(resp)
	if err := transport.CheckError(resp, http.StatusAccepted); err != nil {
		return retryAfter(resp), err
	}
	loc, err := resp.Location()
	if err != nil {
		return 0, permanent(fmt.Errorf("upload session without a location: %w", err))
	}
	rc, err := l.Compressed()
	if err != nil {
		return 0, permanent(err)
	}
	src := &sourceReader{r: rc, h: sha256.New()}
	defer rc.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, loc.String(), src)
	if err != nil {
		return 0, permanent(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if known != nil {
		if n, err := l.Size(); err == nil {
			req.ContentLength = n
		}
	}
	patch, err := c.http.Do(req)
	if serr := src.failed(); serr != nil {
		// The blob, not the registry, failed: a file of a layer directory.
		return 0, permanent(serr)
	}
	if err != nil {
		return 0, err
	}
	drain(patch)
	if err := transport.CheckError(patch, http.StatusAccepted, http.StatusNoContent, http.StatusCreated); err != nil {
		return retryAfter(patch), err
	}
	if loc, err = patch.Location(); err != nil {
		return 0, permanent(fmt.Errorf("upload session without a location: %w", err))
	}
	src.mu.Lock()
	d := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(src.h.Sum(nil))}
	src.mu.Unlock()
	if known != nil {
		d = *known
	}
	q := loc.Query()
	q.Set("digest", d.String())
	loc.RawQuery = q.Encode()
	put, err := c.request(ctx, http.MethodPut, loc.String(), nil, octet)
	if err != nil {
		return 0, err
	}
	defer drain(put)
	return retryAfter(put), transport.CheckError(put, http.StatusCreated)
}

// sourceReader hashes what it reads and keeps the source's error, so that
// a failed read of the blob is told from a failed request. net/http may
// still read it after the request returned, hence the lock.
type sourceReader struct {
	r   io.Reader
	h   hash.Hash
	mu  sync.Mutex
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.r.Read(p)
	s.h.Write(p[:n])
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

func (s *sourceReader) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// readBlob reads a small blob whole, checking its size.
func readBlob(l v1.Layer, size int64) ([]byte, error) {
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, size+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) != size {
		return nil, fmt.Errorf("blob is %d bytes, expected %d", len(b), size)
	}
	return b, nil
}

// ReadBlob opens blob d of repo; the caller closes it. The request is
// retried until the registry answers; the body is under the stall deadline.
func (c *Client) ReadBlob(ctx context.Context, repo name.Repository, d v1.Hash) (io.ReadCloser, error) {
	var body io.ReadCloser
	err := c.retry.try(ctx, func() (time.Duration, error) {
		resp, err := c.request(ctx, http.MethodGet, c.url(repo, "blobs/"+d.String()), nil, nil)
		if err != nil {
			return 0, err
		}
		if err := transport.CheckError(resp, http.StatusOK); err != nil {
			drain(resp)
			return retryAfter(resp), err
		}
		body = resp.Body
		return 0, nil
	})
	if err != nil {
		return nil, fmt.Errorf("registry %s: read blob %s of %s: %w", c.reg.RegistryStr(), d, repo.RepositoryStr(), err)
	}
	return body, nil
}

// Blob is a blob of repo known by its descriptor, read through c: a
// v1.Layer that mounts (Mountable) within the registry and is read only to
// copy it to another.
func (c *Client) Blob(ctx context.Context, repo name.Repository, d v1.Descriptor) *Mountable {
	return &Mountable{Layer: &remoteBlob{ctx: ctx, c: c, repo: repo, desc: d}, From: repo}
}

type remoteBlob struct {
	ctx  context.Context
	c    *Client
	repo name.Repository
	desc v1.Descriptor
}

func (b *remoteBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *remoteBlob) DiffID() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *remoteBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *remoteBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }
func (b *remoteBlob) Compressed() (io.ReadCloser, error) {
	return b.c.ReadBlob(b.ctx, b.repo, b.desc.Digest)
}
func (b *remoteBlob) Uncompressed() (io.ReadCloser, error) { return b.Compressed() }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// sniffMediaType is the mediaType field of a manifest, for a registry that
// answers without a Content-Type.
func sniffMediaType(b []byte) types.MediaType {
	var m struct {
		MediaType types.MediaType `json:"mediaType"`
	}
	_ = json.Unmarshal(b, &m)
	return m.MediaType
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
