package exporter

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// registry is one registry the export writes to. Its authenticated transport
// is made once, with push scope on every repository of the export in that
// registry, and shared by the blob pusher and the manifest writes, so the
// token and the connections are shared too.
type registry struct {
	reg    name.Registry
	client *http.Client
	pusher *remote.Pusher
	retry  retryPolicy
}

// baseTransport is the connection layer: TLS verification off for insecure
// registries (as imgutil does), and, for every request (the ping and the
// token exchange too), a deadline that moves while bytes move
// (stallTransport), so that a stalled registry is an error the retry policy
// sees rather than a hang.
func baseTransport(insecure bool, timeout time.Duration) http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if insecure {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} // #nosec G402 -- the platform asked for it
	}
	if timeout <= 0 {
		return t
	}
	return stallTransport{next: t, timeout: timeout}
}

// dial authenticates to reg for the given repositories.
func dial(ctx context.Context, reg name.Registry, repos []name.Repository, kc authn.Keychain, insecure bool, jobs int, timeout time.Duration) (*registry, error) {
	auth, err := kc.Resolve(reg)
	if err != nil {
		return nil, fmt.Errorf("resolve credentials for %s: %w", reg.RegistryStr(), err)
	}
	var scopes []string
	for _, r := range repos {
		scopes = append(scopes, r.Scope(transport.PushScope))
	}
	// The ping and the token exchange are retried like any other request.
	base := baseTransport(insecure, timeout)
	var rt http.RoundTripper
	err = defaultRetry.try(ctx, func() (time.Duration, error) {
		var err error
		rt, err = transport.NewWithContext(ctx, reg, auth, base, scopes)
		return 0, err
	})
	if err != nil {
		return nil, fmt.Errorf("authenticate to %s: %w", reg.RegistryStr(), err)
	}
	policy := defaultRetry
	pusher, err := remote.NewPusher(append([]remote.Option{remote.WithTransport(rt), remote.WithContext(ctx), remote.WithJobs(jobs)},
		policy.remoteOptions()...)...)
	if err != nil {
		return nil, err
	}
	return &registry{reg: reg, client: &http.Client{Transport: rt}, pusher: pusher, retry: policy}, nil
}

func (r *registry) url(repo name.Repository, path string) string {
	return fmt.Sprintf("%s://%s/v2/%s/%s", r.reg.Scheme(), r.reg.RegistryStr(), repo.RepositoryStr(), path)
}

// smallBlob is the size up to which a blob of known digest is uploaded in
// one request (distribution-spec's monolithic POST): for 10 KiB artifacts
// the POST, PATCH and PUT of a chunked upload cost the registry more than
// the data does.
const smallBlob = 1 << 20

// uploadBlob writes a blob unless the repository has it already; a
// MountableLayer is mounted from its source repository instead of uploaded.
// A small blob of known digest goes in one request; anything else, and every
// mount, goes through go-containerregistry's pusher.
func (r *registry) uploadBlob(ctx context.Context, repo name.Repository, l v1.Layer) error {
	if _, ok := l.(*remote.MountableLayer); !ok {
		if d, err := l.Digest(); err == nil {
			if n, err := l.Size(); err == nil && n <= smallBlob {
				return r.uploadSmall(ctx, repo, l, d, n)
			}
		}
	}
	return r.pusher.Upload(ctx, repo, l)
}

// uploadSmall uploads l in a single POST with its digest, unless the
// repository has the blob. A registry that does not finish single-request
// uploads answers 202 with a session, which then gets the body in one PUT.
func (r *registry) uploadSmall(ctx context.Context, repo name.Repository, l v1.Layer, d v1.Hash, size int64) error {
	var exists bool
	err := r.retry.do(ctx, func() (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, r.url(repo, "blobs/"+d.String()), nil)
		if err != nil {
			return nil, err
		}
		return r.client.Do(req)
	}, func(resp *http.Response) error {
		if resp.StatusCode == http.StatusNotFound {
			return nil
		}
		if err := transport.CheckError(resp, http.StatusOK); err != nil {
			return err
		}
		exists = true
		return nil
	})
	if err != nil || exists {
		return err
	}
	body, err := readBlob(l, size)
	if err != nil {
		return err
	}
	// The POST and, where the registry asks for it, the PUT to its session
	// are retried together: a failed session is abandoned for a new one.
	return r.retry.try(ctx, func() (time.Duration, error) {
		return r.postBlob(ctx, repo, d, body)
	})
}

// postBlob tries one single-request upload: a POST with the digest and the
// body, then, if the registry opened a session instead (202), a PUT of the
// body to it. It returns how long the registry asked to wait, if it did.
func (r *registry) postBlob(ctx context.Context, repo name.Repository, d v1.Hash, body []byte) (time.Duration, error) {
	u := r.url(repo, "blobs/uploads/?digest="+url.QueryEscape(d.String()))
	resp, err := r.send(ctx, http.MethodPost, u, body)
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
	put, err := r.send(ctx, http.MethodPut, loc.String(), body)
	if err != nil {
		return 0, err
	}
	defer drain(put)
	return retryAfter(put), transport.CheckError(put, http.StatusCreated)
}

// send makes one request with a blob body.
func (r *registry) send(ctx context.Context, method, u string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	return r.client.Do(req)
}

// drain reads what is left of a response so its connection is reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
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

// putManifest writes a manifest under ref (a digest or a tag) and returns the
// response headers (OCI-Subject tells whether the registry indexed a subject).
func (r *registry) putManifest(ctx context.Context, repo name.Repository, ref string, mt types.MediaType, body []byte) (http.Header, error) {
	var hdr http.Header
	err := r.retry.do(ctx, func() (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, r.url(repo, "manifests/"+ref), bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", string(mt))
		return r.client.Do(req)
	}, func(resp *http.Response) error {
		if err := transport.CheckError(resp, http.StatusOK, http.StatusCreated, http.StatusAccepted); err != nil {
			return err
		}
		hdr = resp.Header
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("registry %s refused manifest %s:%s (%s): %w", r.reg.RegistryStr(), repo.RepositoryStr(), ref, mt, err)
	}
	return hdr, nil
}

// errFallbackIsSubject reports a fallback tag that a registry resolves to
// the subject manifest itself instead of answering 404 (GitLab).
var errFallbackIsSubject = errors.New("the registry resolves the referrers fallback tag to the subject manifest itself")

// getIndex reads the OCI image index tagged tag; it returns nil, nil when the
// tag does not exist. A tag that the registry resolves to subject itself is
// absent too, with errFallbackIsSubject for a warning.
func (r *registry) getIndex(ctx context.Context, repo name.Repository, tag string, subject v1.Hash) (*v1.IndexManifest, error) {
	var idx *v1.IndexManifest
	var isSubject bool
	err := r.retry.do(ctx, func() (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url(repo, "manifests/"+tag), nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", string(types.OCIImageIndex))
		return r.client.Do(req)
	}, func(resp *http.Response) error {
		if resp.StatusCode == http.StatusNotFound {
			return nil
		}
		if err := transport.CheckError(resp, http.StatusOK); err != nil {
			return err
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		if err != nil {
			return err
		}
		if h, _, err := v1.SHA256(bytes.NewReader(b)); err == nil && h == subject {
			isSubject = true
			return nil
		}
		var m v1.IndexManifest
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("decode index: %w", err)
		}
		if m.MediaType != types.OCIImageIndex {
			return permanent(fmt.Errorf("tag %s holds %q, not an OCI image index", tag, m.MediaType))
		}
		idx = &m
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("registry %s: read %s:%s: %w", r.reg.RegistryStr(), repo.RepositoryStr(), tag, err)
	}
	if isSubject {
		return nil, errFallbackIsSubject
	}
	return idx, nil
}

// supportsReferrers asks the referrers API of repo about subject, once, and
// says whether the registry serves it, and why it decided so. Only a 200
// answer that is an OCI image index counts as the API (distribution-spec
// 1.1); anything else (404, 400, 406, a redirect to a login page, HTML, an
// error, no answer within the timeout) means the referrers tag schema's
// fallback index. It never fails: a registry that cannot say gets the
// fallback index, which clients read when the API does not answer.
// absent is true only when the registry said so plainly (404): any other
// answer leaves open that it indexes referrers anyway.
func (r *registry) supportsReferrers(ctx context.Context, repo name.Repository, subject v1.Hash) (indexed, absent bool, why string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url(repo, "referrers/"+subject.String()), nil)
	if err != nil {
		return false, false, err.Error()
	}
	req.Header.Set("Accept", string(types.OCIImageIndex))
	resp, err := r.client.Do(req)
	if err != nil {
		return false, false, "no answer: " + err.Error()
	}
	defer resp.Body.Close()
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode != http.StatusOK {
		return false, resp.StatusCode == http.StatusNotFound, fmt.Sprintf("answered %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return false, false, "reading the answer: " + err.Error()
	}
	var m v1.IndexManifest
	if !strings.HasPrefix(ct, string(types.OCIImageIndex)) || json.Unmarshal(b, &m) != nil || m.MediaType != types.OCIImageIndex {
		return false, false, fmt.Sprintf("answered 200 with %q, not an OCI image index", ct)
	}
	return true, false, "answered 200 with an OCI image index"
}
