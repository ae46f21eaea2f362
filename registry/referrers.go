package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The referrers rule, the one place it is decided (docs/spec.md 6):
//
//   - the referrers API's own answer counts when it is a 200 with an OCI
//     image index: the registry lists the referrers (as oras-go asks);
//   - any other plain answer (404, 400, 405, 406, a redirect to an HTML
//     login page, a 200 that is not an index) means no API: the referrers
//     tag schema's fallback tag <alg>-<hex> holds the list. There, 404 is
//     "no referrers", an OCI image index is the list, and anything else (a
//     tag the registry resolves to the subject manifest itself, as GitLab
//     does, or some other manifest) is "no fallback index"
//     (NoFallbackIndexError);
//   - an answer that cannot tell (errors after the retries, a hang) is an
//     error.
//
// A read that needs the list (Referrers: carry, stale warnings, rebase,
// reattach) gets ErrReferrersUnknown where the rule cannot tell, never an
// empty list. The write path (ProbeReferrersAPI, FallbackIndex) decides
// what to write from the same answers.

// ErrReferrersUnknown reports a registry whose answers do not tell a
// subject's referrers.
var ErrReferrersUnknown = errors.New("the registry cannot tell the referrers")

// ErrNoFallbackIndex reports a fallback tag that holds something other than
// an OCI image index.
var ErrNoFallbackIndex = errors.New("the referrers fallback tag holds no index")

// NoFallbackIndexError is a fallback tag holding something other than an
// OCI image index; IsSubject when it is the subject manifest itself
// (GitLab resolves sha256-<hex> as a digest).
type NoFallbackIndexError struct {
	Tag       name.Tag
	MediaType types.MediaType
	Digest    v1.Hash
	IsSubject bool
}

func (e *NoFallbackIndexError) Error() string {
	if e.IsSubject {
		return fmt.Sprintf("%s: %s resolves the referrers fallback tag to the subject manifest itself", ErrNoFallbackIndex, e.Tag.Name())
	}
	return fmt.Sprintf("%s: %s holds %s %s, not an OCI image index", ErrNoFallbackIndex, e.Tag.Name(), e.MediaType, e.Digest)
}

func (e *NoFallbackIndexError) Is(target error) bool { return target == ErrNoFallbackIndex }

// FallbackTag is the referrers tag schema's tag for a subject: <alg>-<hex>
// (distribution-spec 1.1, "Referrers Tag Schema").
func FallbackTag(subject v1.Hash) string {
	return subject.Algorithm + "-" + subject.Hex
}

// APIAnswer is what the referrers API said about a subject.
type APIAnswer struct {
	// Indexed: 200 with an OCI image index; Index is the first page.
	Indexed bool
	Index   *v1.IndexManifest
	// Absent: a plain 404.
	Absent bool
	// Why says what the registry answered, for the logs.
	Why string
}

// maxReferrerPages bounds the pages of a referrers answer.
const maxReferrerPages = 100

// ProbeReferrersAPI asks the referrers API of repo about subject, with the
// retry policy: a transient failure (5xx, 429, a reset, a stall) is asked
// again. It fails only when the retries end without a plain answer.
func (c *Client) ProbeReferrersAPI(ctx context.Context, repo name.Repository, subject v1.Hash) (APIAnswer, error) {
	var a APIAnswer
	u := c.url(repo, "referrers/"+subject.String())
	for page := 0; u != ""; page++ {
		if page == maxReferrerPages {
			return APIAnswer{}, fmt.Errorf("registry %s: the referrers of %s: more than %d pages", c.reg.RegistryStr(), subject, maxReferrerPages)
		}
		cur := u
		u = ""
		err := c.do(ctx, http.MethodGet, cur, nil, map[string]string{"Accept": string(types.OCIImageIndex)}, func(resp *http.Response) error {
			if resp.StatusCode != http.StatusOK {
				if err := transport.CheckError(resp, http.StatusOK); err != nil && transient(ctx, err) {
					return err
				}
				a = APIAnswer{Absent: resp.StatusCode == http.StatusNotFound, Why: fmt.Sprintf("answered %d", resp.StatusCode)}
				return nil
			}
			ct := mediaType(resp)
			b, err := readBounded(resp.Body, maxManifest)
			if err != nil {
				return err
			}
			var m v1.IndexManifest
			if ct != string(types.OCIImageIndex) || json.Unmarshal(b, &m) != nil || m.MediaType != types.OCIImageIndex {
				a = APIAnswer{Why: fmt.Sprintf("answered 200 with %q, not an OCI image index", resp.Header.Get("Content-Type"))}
				return nil
			}
			if a.Index == nil {
				a = APIAnswer{Indexed: true, Index: &m, Why: "answered 200 with an OCI image index"}
			} else {
				a.Index.Manifests = append(a.Index.Manifests, m.Manifests...)
			}
			u = nextLink(resp)
			return nil
		})
		if err != nil {
			return APIAnswer{}, fmt.Errorf("registry %s: the referrers API of %s about %s: %w: %w", c.reg.RegistryStr(), repo.RepositoryStr(), subject, ErrReferrersUnknown, err)
		}
		if !a.Indexed {
			return a, nil
		}
	}
	return a, nil
}

// FallbackIndex reads the referrers fallback index of subject in repo: nil,
// nil when the tag does not exist; a *NoFallbackIndexError when the tag
// holds something else.
func (c *Client) FallbackIndex(ctx context.Context, repo name.Repository, subject v1.Hash) (*v1.IndexManifest, error) {
	tag := repo.Tag(FallbackTag(subject))
	m, err := c.get(ctx, repo, tag.TagStr(), string(types.OCIImageIndex)+", "+manifestAccept)
	if IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var idx v1.IndexManifest
	if m.Descriptor.Digest == subject || json.Unmarshal(m.Raw, &idx) != nil || idx.MediaType != types.OCIImageIndex {
		mt := m.Descriptor.MediaType
		if idx.MediaType != "" {
			mt = idx.MediaType
		}
		return nil, &NoFallbackIndexError{Tag: tag, MediaType: mt, Digest: m.Descriptor.Digest, IsSubject: m.Descriptor.Digest == subject}
	}
	return &idx, nil
}

// Referrers lists the referrers of subject in repo under the referrers
// rule: the API's list, or the fallback index's, or none when the registry
// has neither the API nor a fallback tag. Where the registry's answers do
// not tell (the fallback tag holds something else, errors, a hang) it fails
// with ErrReferrersUnknown: never an empty list.
func (c *Client) Referrers(ctx context.Context, repo name.Repository, subject v1.Hash) ([]v1.Descriptor, error) {
	a, err := c.ProbeReferrersAPI(ctx, repo, subject)
	if err != nil {
		return nil, err
	}
	if a.Indexed {
		return a.Index.Manifests, nil
	}
	idx, err := c.FallbackIndex(ctx, repo, subject)
	if err != nil {
		return nil, fmt.Errorf("registry %s: the referrers of %s@%s (the referrers API %s): %w: %w", c.reg.RegistryStr(), repo.RepositoryStr(), subject, a.Why, ErrReferrersUnknown, err)
	}
	if idx == nil {
		return nil, nil
	}
	return idx.Manifests, nil
}
