package exporter

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"golang.org/x/sync/errgroup"

	"github.com/cnb-artifacts/lifecycle/registry"
)

// Stage 1 of the transaction (docs/spec.md section 7): every blob, to every
// repository.

// pushBlobs uploads every blob to every repository: registries in parallel;
// within a registry the first repository uploads and the others mount from it.
func (t *Transaction) pushBlobs(ctx context.Context, groups []registryGroup, s subject) error {
	blobs, err := t.blobs(s.img)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, rg := range groups {
		g.Go(func() error {
			first := rg.writers[0].repo
			for i, w := range rg.writers {
				ls := blobs
				if i > 0 {
					ls = mountable(blobs, first)
				}
				ug, uctx := errgroup.WithContext(gctx)
				ug.SetLimit(t.jobs)
				for _, l := range ls {
					ug.Go(func() error {
						if err := w.uploadBlob(uctx, l); err != nil {
							return fmt.Errorf("registry %s: upload blob %s to %s: %w", rg.name, blobName(l), w.repo.RepositoryStr(), err)
						}
						return nil
					})
				}
				if err := ug.Wait(); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// blobName is a blob's digest, or "(streamed)" while it is not known.
func blobName(l v1.Layer) string {
	if d, err := l.Digest(); err == nil {
		return d.String()
	}
	return "(streamed)"
}

// blobs lists the app image's layers and config, then every artifact's. An
// artifact's file blobs go through the streaming policy: a big file whose
// digest is not known yet is hashed as it is uploaded, in one read.
func (t *Transaction) blobs(img v1.Image) ([]v1.Layer, error) {
	var out []v1.Layer
	if img != nil {
		ls, err := img.Layers()
		if err != nil {
			return nil, fmt.Errorf("app image layers: %w", err)
		}
		if len(ls) == 0 {
			return nil, errors.New("app image has no layers")
		}
		cl, err := partial.ConfigLayer(img)
		if err != nil {
			return nil, fmt.Errorf("app image config: %w", err)
		}
		out = append(append(out, ls...), cl)
	}
	for _, a := range t.plan.artifacts {
		c, err := a.Config()
		if err != nil {
			return nil, fmt.Errorf("artifact %q config: %w", a.Tag, err)
		}
		out = append(out, t.stream.layer(c))
		al, err := a.Layers()
		if err != nil {
			return nil, fmt.Errorf("artifact %q layers: %w", a.Tag, err)
		}
		for i, l := range al {
			what := fmt.Sprintf("artifact '%s' (%s) file %q", artifactName(a), tagLabel(a), a.Files[i].Title)
			out = append(out, withProgress(t.stream.layer(l), l, what, t.logger, t.progressEvery))
		}
	}
	return distinct(out), nil
}

// distinct drops blobs whose digest is known and already listed: artifacts
// often share a config (`{}`, the empty descriptor) or a file.
func distinct(ls []v1.Layer) []v1.Layer {
	seen := map[v1.Hash]bool{}
	var out []v1.Layer
	for _, l := range ls {
		if d, err := l.Digest(); err == nil {
			if seen[d] {
				continue
			}
			seen[d] = true
		}
		out = append(out, l)
	}
	return out
}

// mountable marks blobs as mountable from repo, keeping a source they
// already have (a run image layer mounts from the run image, go-containerregistry's
// remote.MountableLayer as imgutil makes it; a carried blob from the previous
// image's repository).
func mountable(ls []v1.Layer, from name.Repository) []v1.Layer {
	out := make([]v1.Layer, len(ls))
	for i, l := range ls {
		if registry.Mounts(l) {
			out[i] = l
			continue
		}
		if _, err := l.Digest(); err != nil {
			out[i] = l
			continue
		}
		out[i] = &registry.Mountable{Layer: l, From: from}
	}
	return out
}
