package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Options configure the clients of an export, a rebase or a reattach.
type Options struct {
	// Keychain gives the credentials; nil is anonymous.
	Keychain authn.Keychain
	// Insecure lists the insecure registries (CNB_INSECURE_REGISTRIES,
	// -insecure-registry), under the insecure rule (NameOptions).
	Insecure []string
	// Timeout is how long one request may go without progress
	// (CNB_ARTIFACTS_REGISTRY_TIMEOUT); 0 is none.
	Timeout time.Duration

	// dial replaces the connection dialer (tests: a host name resolved to
	// 127.0.0.1).
	dial dialFunc
	// retry replaces the default policy (tests).
	retry *retryPolicy
}

type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Client is one registry: an authenticated transport (one token and one
// connection pool), the one retry policy, the stall deadline and the
// insecure rule, for every request the exporter and the commands make to it.
type Client struct {
	reg      name.Registry
	insecure bool
	http     *http.Client
	retry    retryPolicy
}

// Pull and Push are the token scopes of repositories a client reads, or
// writes.
func Pull(repos ...name.Repository) []string { return scopes(transport.PullScope, repos) }
func Push(repos ...name.Repository) []string { return scopes(transport.PushScope, repos) }

func scopes(action string, repos []name.Repository) []string {
	var out []string
	for _, r := range repos {
		out = append(out, r.Scope(action))
	}
	return out
}

// Dial authenticates to reg with the given token scopes (Pull, Push). The
// ping and the token exchange are retried like any other request.
func Dial(ctx context.Context, reg name.Registry, scopes []string, o Options) (*Client, error) {
	reg, insecure := insecureRegistry(reg, o.Insecure)
	kc := o.Keychain
	if kc == nil {
		kc = authn.NewMultiKeychain()
	}
	auth, err := kc.Resolve(reg)
	if err != nil {
		return nil, fmt.Errorf("resolve credentials for %s: %w", reg.RegistryStr(), err)
	}
	policy := defaultRetry
	if o.retry != nil {
		policy = *o.retry
	}
	base := baseTransport(insecure, o.Timeout, o.dial)
	var rt http.RoundTripper
	err = policy.try(ctx, func() (time.Duration, error) {
		var err error
		rt, err = transport.NewWithContext(ctx, reg, auth, base, scopes)
		return 0, err
	})
	if err != nil {
		return nil, fmt.Errorf("authenticate to %s: %w", reg.RegistryStr(), err)
	}
	return &Client{reg: reg, insecure: insecure, http: &http.Client{Transport: rt}, retry: policy}, nil
}

// Registry is the registry the client talks to.
func (c *Client) Registry() name.Registry { return c.reg }

// Insecure reports whether the insecure rule applies to the registry.
func (c *Client) Insecure() bool { return c.insecure }

func (c *Client) url(repo name.Repository, path string) string {
	return fmt.Sprintf("%s://%s/v2/%s/%s", c.reg.Scheme(), c.reg.RegistryStr(), repo.RepositoryStr(), path)
}

// request makes one request; body, when not nil, is sent whole.
func (c *Client) request(ctx context.Context, method, u string, body []byte, hdr map[string]string) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, permanent(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return c.http.Do(req)
}

// do sends a request (retried as the policy says) and judges each answer
// with check.
func (c *Client) do(ctx context.Context, method, u string, body []byte, hdr map[string]string, check func(*http.Response) error) error {
	return c.retry.do(ctx, func() (*http.Response, error) {
		return c.request(ctx, method, u, body, hdr)
	}, check)
}

// manifestAccept is what a manifest read accepts: every manifest and index
// type the exporter meets.
var manifestAccept = strings.Join([]string{
	string(types.OCIManifestSchema1), string(types.OCIImageIndex),
	string(types.DockerManifestSchema2), string(types.DockerManifestList),
}, ", ")

// maxManifest bounds a manifest read (distribution's own limit is 4 MiB).
const maxManifest = 4 << 20

// Manifest is a manifest as read: its descriptor and bytes.
type Manifest struct {
	Descriptor v1.Descriptor
	Raw        []byte
}

// IsNotFound reports whether err is a registry's 404.
func IsNotFound(err error) bool { return isStatus(err, http.StatusNotFound) }

func isStatus(err error, codes ...int) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return false
	}
	for _, c := range codes {
		if terr.StatusCode == c {
			return true
		}
	}
	return false
}

// Head returns the descriptor of the manifest ref (a tag or a digest) in
// repo, from a HEAD (Docker Hub counts GETs, not HEADs, as pulls). A
// registry that leaves out the digest header is read with a GET. A missing
// manifest is a 404 (IsNotFound).
func (c *Client) Head(ctx context.Context, repo name.Repository, ref string) (v1.Descriptor, error) {
	var d v1.Descriptor
	var noDigest bool
	err := c.do(ctx, http.MethodHead, c.url(repo, "manifests/"+ref), nil, map[string]string{"Accept": manifestAccept}, func(resp *http.Response) error {
		if err := transport.CheckError(resp, http.StatusOK); err != nil {
			return err
		}
		h, err := v1.NewHash(resp.Header.Get("Docker-Content-Digest"))
		if err != nil {
			noDigest = true
			return nil
		}
		d = v1.Descriptor{MediaType: types.MediaType(mediaType(resp)), Digest: h, Size: resp.ContentLength}
		return nil
	})
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("registry %s: HEAD %s:%s: %w", c.reg.RegistryStr(), repo.RepositoryStr(), ref, err)
	}
	if noDigest {
		m, err := c.Get(ctx, repo, ref)
		return m.Descriptor, err
	}
	return d, nil
}

func mediaType(resp *http.Response) string {
	ct, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	return strings.TrimSpace(ct)
}

// Get reads the manifest ref (a tag or a digest) of repo, at most 4 MiB. A
// manifest read by digest is checked against it.
func (c *Client) Get(ctx context.Context, repo name.Repository, ref string) (Manifest, error) {
	return c.get(ctx, repo, ref, manifestAccept)
}

func (c *Client) get(ctx context.Context, repo name.Repository, ref, accept string) (Manifest, error) {
	var m Manifest
	err := c.do(ctx, http.MethodGet, c.url(repo, "manifests/"+ref), nil, map[string]string{"Accept": accept}, func(resp *http.Response) error {
		if err := transport.CheckError(resp, http.StatusOK); err != nil {
			return err
		}
		b, err := readBounded(resp.Body, maxManifest)
		if err != nil {
			return err
		}
		h, n, _ := v1.SHA256(bytes.NewReader(b))
		if want, err := v1.NewHash(ref); err == nil && want != h {
			return permanent(fmt.Errorf("manifest %s has digest %s", ref, h))
		}
		mt := types.MediaType(mediaType(resp))
		if mt == "" {
			mt = sniffMediaType(b)
		}
		m = Manifest{Descriptor: v1.Descriptor{MediaType: mt, Digest: h, Size: n}, Raw: b}
		return nil
	})
	if err != nil {
		return Manifest{}, fmt.Errorf("registry %s: GET %s:%s: %w", c.reg.RegistryStr(), repo.RepositoryStr(), ref, err)
	}
	return m, nil
}

// readBounded reads r whole, failing past limit bytes.
func readBounded(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, permanent(fmt.Errorf("answer larger than %d bytes", limit))
	}
	return b, nil
}

// PutManifest writes a manifest under ref (a digest or a tag) and returns
// the response headers (OCI-Subject tells whether the registry indexed a
// subject).
func (c *Client) PutManifest(ctx context.Context, repo name.Repository, ref string, mt types.MediaType, body []byte) (http.Header, error) {
	var hdr http.Header
	err := c.do(ctx, http.MethodPut, c.url(repo, "manifests/"+ref), body, map[string]string{"Content-Type": string(mt)}, func(resp *http.Response) error {
		if err := transport.CheckError(resp, http.StatusOK, http.StatusCreated, http.StatusAccepted); err != nil {
			return err
		}
		hdr = resp.Header
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("registry %s refused manifest %s:%s (%s): %w", c.reg.RegistryStr(), repo.RepositoryStr(), ref, mt, err)
	}
	return hdr, nil
}

// ErrTagListDenied is a registry's refusal (401, 403) to list a
// repository's tags, which least-privilege credentials meet.
var ErrTagListDenied = errors.New("the registry refuses to list the tags")

// ErrTagListIncomplete is a tag listing longer than maxTagPages pages: it
// is not read to its end, and a caller that needs to know whether a tag
// exists asks for the tag itself (HEAD).
var ErrTagListIncomplete = errors.New("the tag list is longer than the client reads")

// maxTagPages bounds the pages of a tag listing.
const maxTagPages = 100

// ListTags lists repo's tags, following the registry's pages; a repository
// that does not exist has none. A refusal (401, 403) is ErrTagListDenied.
func (c *Client) ListTags(ctx context.Context, repo name.Repository) ([]string, error) {
	var tags []string
	next := c.url(repo, "tags/list?n=1000")
	for page := 0; next != ""; page++ {
		if page == maxTagPages {
			return nil, fmt.Errorf("registry %s: listing the tags of %s: more than %d pages: %w", c.reg.RegistryStr(), repo.RepositoryStr(), maxTagPages, ErrTagListIncomplete)
		}
		u := next
		next = ""
		var absent bool
		err := c.do(ctx, http.MethodGet, u, nil, nil, func(resp *http.Response) error {
			if resp.StatusCode == http.StatusNotFound {
				absent = true
				return nil
			}
			if err := transport.CheckError(resp, http.StatusOK); err != nil {
				return err
			}
			b, err := readBounded(resp.Body, 16<<20)
			if err != nil {
				return err
			}
			var l struct {
				Tags []string `json:"tags"`
			}
			if err := jsonUnmarshal(b, &l); err != nil {
				return permanent(fmt.Errorf("decode tag list: %w", err))
			}
			tags = append(tags, l.Tags...)
			next = nextLink(resp)
			return nil
		})
		if isStatus(err, http.StatusUnauthorized, http.StatusForbidden) {
			return nil, fmt.Errorf("registry %s: listing the tags of %s: %w: %w", c.reg.RegistryStr(), repo.RepositoryStr(), ErrTagListDenied, err)
		}
		if err != nil {
			return nil, fmt.Errorf("registry %s: listing the tags of %s: %w", c.reg.RegistryStr(), repo.RepositoryStr(), err)
		}
		if absent {
			return nil, nil
		}
	}
	return tags, nil
}

// nextLink is the next page of a paginated answer (RFC 5988 Link, rel
// "next"), resolved against the request, or "".
func nextLink(resp *http.Response) string {
	link := resp.Header.Get("Link")
	if link == "" {
		return ""
	}
	target, rest, ok := strings.Cut(link, ";")
	if !ok || !strings.Contains(rest, `rel="next"`) {
		return ""
	}
	target = strings.Trim(strings.TrimSpace(target), "<>")
	u, err := resp.Request.URL.Parse(target)
	if err != nil {
		return ""
	}
	return u.String()
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
}
