package exporter

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/registry"
)

// CarryProblem is a reused layer whose previous artifacts could not be
// carried: the export goes on, and says so.
type CarryProblem struct {
	Layer artifacts.ReusedLayer
	Err   error
}

func (p CarryProblem) Error() string {
	return fmt.Sprintf("buildpack %q, layer %q: the artifacts of the previous image could not be carried: %v", p.Layer.Buildpack.String(), p.Layer.Layer, p.Err)
}

// Carry returns the previous image's artifacts of the reused layers,
// rebuilt (artifacts.FromManifest) to be published again for the new image:
// same config and layer blobs, which the previous image's repository has
// (the upload mounts them from there), same tag, new subject. A declared
// artifact of the same buildpack and layer wins; a carried tag that
// another buildpack declares is a *CollisionError. Previous artifacts of
// other layers are left to Plan.Stale. Reused layers whose artifacts cannot
// be read (the previous image is gone, the registry cannot tell its
// referrers, a manifest cannot be read) are CarryProblems, each with the
// error: a failed read is never "no artifacts". c is the client of the
// previous image's registry. It writes nothing.
func Carry(ctx context.Context, c *registry.Client, previous name.Digest, reused []artifacts.ReusedLayer, declared []*artifacts.Artifact) ([]*artifacts.Artifact, []CarryProblem, error) {
	if len(reused) == 0 {
		return nil, nil, nil
	}
	// A subject need not exist to have referrers: make sure the previous
	// image is there, or its artifacts cannot be trusted found.
	_, err := c.Head(ctx, previous.Context(), previous.DigestStr())
	var prev []PreviousArtifact
	if err == nil {
		prev, err = DiscoverArtifacts(ctx, c, previous)
	}
	if err != nil {
		var probs []CarryProblem
		for _, l := range reused {
			probs = append(probs, CarryProblem{Layer: l, Err: err})
		}
		return nil, probs, nil
	}
	type key struct{ bp, layer string }
	isReused := map[key]bool{}
	for _, l := range reused {
		isReused[key{l.Buildpack.ID, l.Layer}] = true
	}
	declaredLayer := map[key]bool{}
	declaredTag := map[string]*artifacts.Artifact{}
	for _, a := range declared {
		declaredLayer[key{a.Buildpack.ID, a.Layer}] = true
		declaredTag[a.Tag] = a
	}
	var (
		out   []*artifacts.Artifact
		probs []CarryProblem
		errs  []error
	)
	for _, pa := range prev {
		k := key{pa.Buildpack, pa.Layer}
		if pa.SBOM != "" || !isReused[k] || declaredLayer[k] {
			// An SBOM artifact is never carried: the export makes it again
			// from the layers directory, reused layers' SBOMs included.
			continue
		}
		layer := artifacts.ReusedLayer{Buildpack: artifacts.Buildpack{ID: pa.Buildpack, Version: pa.BuildpackVersion}, Layer: pa.Layer}
		a, err := rebuild(ctx, c, previous.Context(), pa)
		if err != nil {
			probs = append(probs, CarryProblem{Layer: layer, Err: err})
			continue
		}
		if other, ok := declaredTag[a.Tag]; ok {
			errs = append(errs, &CollisionError{Tag: a.Tag, Artifact: other.Declaration,
				With: fmt.Sprintf("the artifact of buildpack %q, layer %q, carried from the previous image (the layer is reused)", pa.Buildpack, pa.Layer),
				Fix:  "change one of the tags"})
			continue
		}
		out = append(out, a)
	}
	return out, probs, errors.Join(errs...)
}

// rebuild reads a previous artifact's manifest from repo and rebuilds it to
// publish for a new subject, its blobs those of repo (mounted from there,
// read through c otherwise).
func rebuild(ctx context.Context, c *registry.Client, repo name.Repository, pa PreviousArtifact) (*artifacts.Artifact, error) {
	m, err := c.Get(ctx, repo, pa.Descriptor.Digest.String())
	if err != nil {
		return nil, err
	}
	a, err := artifacts.FromManifest(m.Raw, func(d v1.Descriptor) (artifacts.Blob, error) {
		return c.Blob(ctx, repo, d), nil
	})
	if err != nil {
		return nil, err
	}
	a.CarriedFrom = repo.Digest(pa.Descriptor.Digest.String()).Name()
	return a, nil
}

// ArtifactsOf returns every artifact the exporter published for the image
// from, rebuilt to be published again for another image (reattach, after a
// rebase): same blobs, tags and annotations, a new subject. c is the client
// of from's registry. An artifact that cannot be read, or a registry that
// cannot tell the referrers (registry.ErrReferrersUnknown), fails it: a
// re-attachment drops nothing silently. signed says whether from has a
// signature this lifecycle wrote (docs/spec.md section 17: what publishes
// it again without a key says that the new digest is not signed).
func ArtifactsOf(ctx context.Context, c *registry.Client, from name.Digest) (arts []*artifacts.Artifact, signed bool, err error) {
	if _, err := c.Head(ctx, from.Context(), from.DigestStr()); err != nil {
		return nil, false, fmt.Errorf("reading %s: %w", from.Name(), err)
	}
	prev, signed, err := discover(ctx, c, from)
	if err != nil {
		return nil, false, err
	}
	var out []*artifacts.Artifact
	for _, pa := range prev {
		a, err := rebuild(ctx, c, from.Context(), pa)
		if err != nil {
			return nil, false, fmt.Errorf("artifact %s of buildpack %q, layer %q: %w", pa.Descriptor.Digest, pa.Buildpack, pa.Layer, err)
		}
		out = append(out, a)
	}
	return out, signed, nil
}
