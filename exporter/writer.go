package exporter

import (
	"context"
	"net/http"
	"sync"

	"github.com/buildpacks/lifecycle/log"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cnb-artifacts/lifecycle/registry"
)

// referrers is what a repository's registry does with a manifest's subject.
type referrers int

const (
	// referrersUnknown: not asked yet (before the first artifact manifest).
	referrersUnknown referrers = iota
	// referrersAPI: the registry indexes referrers itself (OCI-Subject, or
	// the referrers API answers); no fallback tag is written.
	referrersAPI
	// referrersFallback: the registry does not; the fallback index, tagged
	// <alg>-<hex>, lists the artifacts.
	referrersFallback
)

func (r referrers) String() string {
	switch r {
	case referrersUnknown:
		return "unknown"
	case referrersAPI:
		return "referrers API"
	default:
		return "fallback tag"
	}
}

// repoWriter writes one repository of the export: its plan (the app image's
// tags there, each artifact's tag), its registry's client (shared with the
// registry's other repositories, so the token and connections are too, and
// carrying the one retry policy of every request), and what the registry
// does with subjects, learnt at the first artifact manifest. Stages pass
// writers, not maps keyed by repository name.
type repoWriter struct {
	*repoPlan
	client    *registry.Client
	referrers referrers
	// serial: artifact manifests and tags are written one at a time (see
	// learnReferrers).
	serial bool
	// uploaded are the blobs this transaction put into (or found in) the
	// repository, so that a later stage (the signatures') does not ask
	// again.
	uploaded sync.Map // v1.Hash -> struct{}
}

func (w *repoWriter) putManifest(ctx context.Context, ref string, mt types.MediaType, body []byte) (http.Header, error) {
	return w.client.PutManifest(ctx, w.repo, ref, mt, body)
}

// uploadBlob puts l into the repository unless this transaction did
// already (the registry client asks the registry first in any case).
func (w *repoWriter) uploadBlob(ctx context.Context, l v1.Layer) error {
	if d, err := l.Digest(); err == nil {
		if _, done := w.uploaded.Load(d); done {
			return nil
		}
	}
	if err := w.client.UploadBlob(ctx, w.repo, l); err != nil {
		return err
	}
	if d, err := l.Digest(); err == nil { // a streamed blob's is known now
		w.uploaded.Store(d, struct{}{})
	}
	return nil
}

// learnReferrers decides, after the first artifact manifest, whether the
// registry indexes referrers: the referrers API's own answer (the client's
// referrers rule, asked as oras-go asks it, retried like any request). An
// OCI-Subject header alone is not trusted: clients read the API, and some
// registries send the header without serving it, or serve it without the
// header (docs/spec.md 6). It never fails: a registry whose API does not
// answer within the retries gets the fallback index, which clients read
// when the API does not answer.
func (w *repoWriter) learnReferrers(ctx context.Context, subject v1.Hash, logger log.Logger) {
	a, err := w.client.ProbeReferrersAPI(ctx, w.repo, subject)
	if err != nil {
		a = registry.APIAnswer{Why: "did not answer: " + err.Error()}
	}
	w.referrers = referrersFallback
	if a.Indexed {
		w.referrers = referrersAPI
	}
	// A registry that may index referrers (it serves the API, or did not
	// plainly say it does not) gets its artifact manifests and tags one at a
	// time: some (olareg) lose a referrer when two such writes race.
	w.serial = a.Indexed || !a.Absent
	logger.Debugf("Registry %s, repository %s: %s, so the referrers %s", w.repo.RegistryStr(), w.repo.RepositoryStr(), "the referrers API "+a.Why,
		map[bool]string{true: "API lists the artifacts", false: "fallback index is written"}[a.Indexed])
}

// registryGroup is the writers of one registry, in plan order; the first
// uploads blobs, the others mount them from it.
type registryGroup struct {
	name    string
	writers []*repoWriter
}

// group sorts writers by registry, keeping the plan's order.
func group(writers []*repoWriter) []registryGroup {
	var out []registryGroup
	at := map[string]int{}
	for _, w := range writers {
		key := w.repo.RegistryStr()
		i, ok := at[key]
		if !ok {
			i = len(out)
			at[key] = i
			out = append(out, registryGroup{name: key})
		}
		out[i].writers = append(out[i].writers, w)
	}
	return out
}
