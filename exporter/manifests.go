package exporter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/sync/errgroup"

	"github.com/cnb-artifacts/lifecycle/platform"
)

// Stage 2 of the transaction (docs/spec.md section 7): manifests by digest,
// per repository the app image's first, then each artifact's.

// pushManifests writes the app manifest and every artifact manifest by digest
// in every repository, and learns each writer's referrers capability.
//
// A registry that serves the referrers API updates its list of a subject's
// referrers on every manifest write, and some (olareg) lose entries when two
// such writes race. So where the registry indexes referrers, or may (its
// referrers API answered neither an index nor a plain 404), a repository's
// artifact manifests are written one at a time; where it plainly does not
// (the fallback index is ours, written once in the tag step) they go
// concurrently.
func (t *Transaction) pushManifests(ctx context.Context, writers []*repoWriter, s subject, ps []Published, sigs signatures, refused *refusals) error {
	for _, w := range writers {
		put := func(ctx context.Context, p Published) (http.Header, error) {
			d := p.Manifest.Descriptor
			h, err := w.putManifest(ctx, d.Digest.String(), d.MediaType, p.Manifest.Raw)
			why, ok := refusal(err)
			switch {
			case ok && t.bestEffort:
				// Skipped in this repository alone: the ones before already
				// hold the manifest, a referrer of the app image that cannot
				// be reliably deleted, so it is published there (R10-6).
				refused.add(w.repo.Name(), d.Digest, fmt.Sprintf("registry %s refused its manifest: %s", w.repo.RegistryStr(), why))
				return nil, nil
			case ok:
				a := p.Artifact
				return nil, fmt.Errorf("artifact '%s:%s' (%s, type %s): %w; %s=%s publishes the app image without the artifacts a registry refuses",
					a.Buildpack.ID, a.Layer, tagLabel(a), a.ArtifactType, err, platform.EnvPolicy, platform.PolicyBestEffort)
			}
			return h, err
		}
		if s.desc == nil {
			// No subject: nothing is indexed, and no app manifest to write.
			if err := t.concurrently(ctx, ps, put); err != nil {
				return err
			}
			continue
		}
		if _, err := w.putManifest(ctx, s.desc.Digest.String(), s.desc.MediaType, s.raw); err != nil {
			return err
		}
		if err := t.pushArtifactManifests(ctx, w, s, ps, put); err != nil {
			return err
		}
		// Signatures after what they sign (section 17).
		if err := t.pushSignatures(ctx, w, sigs.forRepo(w, ps, refused)); err != nil {
			return err
		}
	}
	return nil
}

// pushArtifactManifests writes repository w's artifact manifests with put:
// the first, then what the registry answers about referrers decides whether
// the rest go one at a time.
func (t *Transaction) pushArtifactManifests(ctx context.Context, w *repoWriter, s subject, ps []Published, put func(context.Context, Published) (http.Header, error)) error {
	if len(ps) == 0 {
		return nil
	}
	if _, err := put(ctx, ps[0]); err != nil {
		return err
	}
	w.learnReferrers(ctx, s.desc.Digest, t.logger)
	if w.serial {
		for _, p := range ps[1:] {
			if _, err := put(ctx, p); err != nil {
				return err
			}
		}
		return nil
	}
	return t.concurrently(ctx, ps[1:], put)
}

// refusals are the artifact manifests a registry refused for good, by
// repository and digest, with the registry's words.
type refusals struct {
	mu  sync.Mutex
	why map[refused]string
}

type refused struct {
	repo   string
	digest v1.Hash
}

func (r *refusals) add(repo string, d v1.Hash, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.why == nil {
		r.why = map[refused]string{}
	}
	r.why[refused{repo, d}] = why
}

// get says why repo refused the manifest d, if it did.
func (r *refusals) get(repo string, d v1.Hash) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	why, ok := r.why[refused{repo, d}]
	return why, ok
}

// refusal reports whether err is a registry's permanent refusal of a
// manifest (400 MANIFEST_INVALID, UNSUPPORTED, 405, 413, 415, 422), and its
// message.
func refusal(err error) (string, bool) {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return "", false
	}
	switch terr.StatusCode {
	case http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge,
		http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
		return terr.Error(), true
	}
	return "", false
}

// concurrently writes the artifact manifests with put, at most t.jobs at a
// time, and returns the first error.
func (t *Transaction) concurrently(ctx context.Context, ps []Published, put func(context.Context, Published) (http.Header, error)) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(t.jobs)
	for _, p := range ps {
		g.Go(func() error {
			_, err := put(gctx, p)
			return err
		})
	}
	return g.Wait()
}
