package exporter

import (
	"context"
	"net/http"

	"golang.org/x/sync/errgroup"
)

// Stage 2 of the transaction (docs/spec.md section 7): manifests by digest,
// per repository the app image's first, then each artifact's.

// pushManifests writes the app manifest and every artifact manifest by digest
// in every repository, and learns each writer's referrers capability.
//
// A registry that serves the referrers API updates its list of a subject's
// referrers on every manifest write, and some (olareg) lose entries when two
// such writes race. So where the registry indexes referrers, a repository's
// artifact manifests are written one at a time; elsewhere (the fallback
// index is ours, written once in the tag step) they go concurrently.
func (t *Transaction) pushManifests(ctx context.Context, writers []*repoWriter, s subject, ps []Published) error {
	for _, w := range writers {
		put := func(ctx context.Context, p Published) (http.Header, error) {
			d := p.Manifest.Descriptor
			return w.putManifest(ctx, d.Digest.String(), d.MediaType, p.Manifest.Raw)
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
		if len(ps) == 0 {
			continue
		}
		if _, err := put(ctx, ps[0]); err != nil {
			return err
		}
		w.learnReferrers(ctx, s.desc.Digest, t.logger)
		if w.referrers == referrersAPI {
			for _, p := range ps[1:] {
				if _, err := put(ctx, p); err != nil {
					return err
				}
			}
			continue
		}
		if err := t.concurrently(ctx, ps[1:], put); err != nil {
			return err
		}
	}
	return nil
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
