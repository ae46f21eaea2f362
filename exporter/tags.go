package exporter

import (
	"context"
	"errors"
	"slices"

	"github.com/buildpacks/lifecycle/log"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cnb-artifacts/lifecycle/registry"
)

// Stage 3 of the transaction (docs/spec.md section 7): tags, in waves.

// moveTags moves every tag in waves: the referrers fallback indexes of the
// artifacts' signatures (so an artifact's tag names a signed artifact), the
// artifacts' tags, then the app image's referrers fallback indexes, then its
// additional names, and last its primary name. A wave starts only when
// every move of the one before succeeded, so a failure leaves the primary
// tag where it was. It returns the tags moved, in order.
//
// An artifact tag that the ownership check found naming the very manifest
// it is to name (held, by tag name: a re-export of a reproducible build) is
// not written again; it counts as moved.
func (t *Transaction) moveTags(ctx context.Context, writers []*repoWriter, s subject, ps []Published, sigs signatures, refused *refusals, held map[string]v1.Hash) ([]string, error) {
	var sigFallbacks, artifactTags, fallbacks, additional, primary wave
	for _, w := range writers {
		// Where the registry indexes referrers, a repository's artifact
		// tags move one after the other, as its manifests were written.
		serial := w.serial
		var kept []v1.Descriptor // the referrers of the app image this repository took
		for i, p := range ps {
			if _, ok := refused.get(w.repo.Name(), p.Manifest.Descriptor.Digest); ok {
				continue
			}
			kept = append(kept, p.Manifest.Descriptor)
			if sigs.app != nil && w.referrers == referrersFallback {
				d, sd := p.Manifest.Descriptor.Digest, sigs.arts[i].Manifest.Descriptor
				ft := registry.FallbackTag(d)
				sigFallbacks = append(sigFallbacks, move{ref: w.repo.Tag(ft).Name(), do: func() error {
					return w.updateFallback(ctx, ft, d, []v1.Descriptor{sd}, t.logger)
				}})
			}
			tag := w.artifactTags[i]
			if !tagged(tag) {
				continue // found through the referrers of its subject
			}
			artifactTags = append(artifactTags, move{ref: tag.Name(), serial: serial, group: w.repo.Name(), do: func() error {
				if held[tag.Name()] == p.Manifest.Descriptor.Digest {
					t.logger.Debugf("Tag %s already names %s", tag.Name(), p.Manifest.Descriptor.Digest)
					return nil
				}
				_, err := w.putManifest(ctx, tag.TagStr(), p.Manifest.Descriptor.MediaType, p.Manifest.Raw)
				return err
			}})
		}
		if sigs.app != nil {
			kept = append(kept, sigs.app.Manifest.Descriptor)
		}
		if w.referrers == referrersFallback {
			ft := registry.FallbackTag(s.desc.Digest)
			fallbacks = append(fallbacks, move{ref: w.repo.Tag(ft).Name(), do: func() error {
				return w.updateFallback(ctx, ft, s.desc.Digest, kept, t.logger)
			}})
		}
	}
	byRepo := map[string]*repoWriter{}
	for _, w := range writers {
		byRepo[w.repo.Name()] = w
	}
	for k, n := range t.plan.names {
		w := byRepo[n.Context().Name()]
		m := move{ref: n.Name(), do: func() error {
			_, err := w.putManifest(ctx, n.TagStr(), s.desc.MediaType, s.raw)
			return err
		}}
		if k == 0 {
			primary = append(primary, m)
		} else {
			additional = append(additional, m)
		}
	}
	return runWaves(t.jobs, []wave{sigFallbacks, artifactTags, fallbacks, additional, primary})
}

// updateFallback adds the referrers add (those the repository took) to the
// referrers fallback index of subject, tagged ft, keeping what it lists
// (docs/spec.md section 6).
func (w *repoWriter) updateFallback(ctx context.Context, ft string, subject v1.Hash, add []v1.Descriptor, logger log.Logger) error {
	existing, err := w.client.FallbackIndex(ctx, w.repo, subject)
	var nf *registry.NoFallbackIndexError
	if errors.As(err, &nf) && nf.IsSubject {
		logger.Warnf("Registry %s resolves %s to %s itself: treating the referrers fallback index as absent and writing it", w.repo.RegistryStr(), w.repo.Tag(ft).Name(), subject)
		existing, err = nil, nil
	}
	if err != nil {
		return err
	}
	b, err := mergeReferrers(existing, add)
	if err != nil {
		return err
	}
	_, err = w.putManifest(ctx, ft, types.OCIImageIndex, b)
	return err
}

// runWaves runs the waves in order and stops at the first that fails: its
// CommitError lists the tags moved, in order, and those that did not.
func runWaves(jobs int, waves []wave) ([]string, error) {
	var moved []string
	for w, wv := range waves {
		done, err := wv.run(jobs)
		moved = append(moved, done...)
		if err != nil {
			var rest []string
			for _, m := range wv {
				if !slices.Contains(done, m.ref) {
					rest = append(rest, m.ref)
				}
			}
			for _, later := range waves[w+1:] {
				for _, m := range later {
					rest = append(rest, m.ref)
				}
			}
			return moved, &CommitError{Stage: StageTags, Moved: moved, NotMoved: rest, Err: err}
		}
	}
	return moved, nil
}
