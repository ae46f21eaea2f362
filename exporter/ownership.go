package exporter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/platform"
	"github.com/cnb-artifacts/lifecycle/registry"
)

// Tags that are not ours are never moved (docs/spec.md, "Tag ownership"):
// before any write, every artifact tag is resolved in every repository of
// the plan. A tag may move when it is absent, or when it holds an artifact
// manifest that carries the exporter's io.buildpacks.artifact.* annotations;
// anything else (an image, an index, someone else's artifact) refuses the
// export before any write.

// ForeignTagError reports an artifact tag that holds something the exporter
// did not publish. It is an invalid declaration (artifacts.ErrInvalid, exit
// 63), in the format of every declaration error.
type ForeignTagError struct {
	Tag       name.Tag
	MediaType types.MediaType
	Digest    v1.Hash
	Artifact  artifacts.Declaration
}

func (e *ForeignTagError) Error() string {
	d := e.Artifact
	return (&artifacts.DeclarationError{
		Buildpack: d.Buildpack, Layer: d.Layer, File: d.Source, Tag: d.Tag, Index: d.Index,
		Err: fmt.Errorf("published tag %s holds %s %s, which no buildpack published; it is not overwritten",
			e.Tag.Name(), e.MediaType, e.Digest),
		Fix: fmt.Sprintf("change the tag, have the platform set %s (for example %q), or, to overwrite it, %s=true",
			platform.EnvArtifactTagTemplate, "{image-tag}-{tag}", platform.EnvOverwriteForeignTags),
	}).Error()
}

// Is makes every ForeignTagError an artifacts.ErrInvalid.
func (e *ForeignTagError) Is(target error) bool { return target == artifacts.ErrInvalid }

// CheckTagOwnership resolves every artifact tag of the plan, at most jobs
// at a time: one tag listing per repository, then a HEAD of each artifact
// tag that exists. The HEAD settles it when the tag holds a manifest in
// ours (the previous image's artifacts found by discovery, the manifests
// about to be written) or something other than an OCI image manifest
// (foreign); only the rest is read (GET), for the annotations that make an
// artifact ours. A registry that refuses to list tags (401, 403:
// least-privilege credentials), or whose listing is longer than the client
// reads, gets a HEAD of every planned tag instead. It
// returns every tag that holds something other than an artifact manifest of
// ours (errors.Join of *ForeignTagError, in plan order), or the registry's
// error. It writes nothing. client gives a repository's registry client.
//
// It also returns what each artifact tag of ours it resolved holds, by the
// tag's full name: the tag step writes no tag that already names its
// manifest (a re-export of a reproducible build), so the check's reads
// replace those writes.
func (p *Plan) CheckTagOwnership(ctx context.Context, jobs int, client func(name.Repository) *registry.Client, ours map[v1.Hash]bool) (map[string]v1.Hash, error) {
	var errs []error
	held := map[string]v1.Hash{}
	for _, t := range p.repos {
		if !slices.ContainsFunc(t.artifactTags, tagged) {
			continue // only untagged artifacts here: no tag to own
		}
		c := client(t.repo)
		existing, err := c.ListTags(ctx, t.repo)
		// Without the whole listing, each planned tag is asked for itself.
		denied := errors.Is(err, registry.ErrTagListDenied) || errors.Is(err, registry.ErrTagListIncomplete)
		if err != nil && !denied {
			return nil, fmt.Errorf("listing the tags of %s: %w", t.repo.Name(), err)
		}
		foreign := make([]error, len(t.artifactTags))
		holds := make([]v1.Hash, len(t.artifactTags))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(max(jobs, 1))
		for i, tag := range t.artifactTags {
			if !tagged(tag) || !denied && !slices.Contains(existing, tag.TagStr()) {
				continue
			}
			g.Go(func() error {
				d, f, err := owner(gctx, c, tag, ours)
				if err != nil {
					return fmt.Errorf("reading %s: %w", tag.Name(), err)
				}
				if f != nil {
					f.Artifact = p.artifacts[i].Declaration
					foreign[i] = f
				}
				holds[i] = d
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		errs = append(errs, foreign...)
		for i, d := range holds {
			if foreign[i] == nil && d != (v1.Hash{}) {
				held[t.artifactTags[i].Name()] = d
			}
		}
	}
	return held, errors.Join(errs...)
}

// owner resolves one tag: what it holds (zero when absent), and nil when it
// is absent or holds an artifact of ours, a *ForeignTagError otherwise.
func owner(ctx context.Context, c *registry.Client, tag name.Tag, ours map[v1.Hash]bool) (v1.Hash, *ForeignTagError, error) {
	d, err := c.Head(ctx, tag.Context(), tag.TagStr())
	if registry.IsNotFound(err) {
		return v1.Hash{}, nil, nil // absent, or deleted since the listing
	}
	if err != nil {
		return v1.Hash{}, nil, err
	}
	if ours[d.Digest] {
		return d.Digest, nil, nil
	}
	if d.MediaType != "" && d.MediaType != types.OCIManifestSchema1 {
		return d.Digest, &ForeignTagError{Tag: tag, MediaType: d.MediaType, Digest: d.Digest}, nil
	}
	m, err := c.Get(ctx, tag.Context(), d.Digest.String())
	if registry.IsNotFound(err) {
		return v1.Hash{}, nil, nil
	}
	if err != nil {
		return v1.Hash{}, nil, err
	}
	if !isOurArtifact(m.Descriptor.MediaType, m.Raw) {
		return m.Descriptor.Digest, &ForeignTagError{Tag: tag, MediaType: m.Descriptor.MediaType, Digest: m.Descriptor.Digest}, nil
	}
	return m.Descriptor.Digest, nil, nil
}

// isOurArtifact reports whether a manifest is an OCI image manifest that
// carries the annotations the exporter puts on every artifact.
func isOurArtifact(mt types.MediaType, raw []byte) bool {
	if mt != types.OCIManifestSchema1 {
		return false
	}
	var m struct {
		Annotations map[string]string `json:"annotations"`
	}
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	return artifacts.Published(m.Annotations)
}

// CheckReservedTags refuses an artifact tag equal to the tag of another
// image of the export in the same repository: the cache image, the previous
// image or the run image, which the export reads or writes too. names maps
// a description ("the cache image") to an image reference; empty ones are
// skipped.
func (p *Plan) CheckReservedTags(names map[string]string, insecure []string) error {
	var errs []error
	for _, what := range slices.Sorted(maps.Keys(names)) {
		ref := names[what]
		if ref == "" {
			continue
		}
		tag, err := name.NewTag(ref, registry.NameOptions(ref, insecure)...)
		if err != nil {
			continue // a digest reference holds no tag
		}
		for _, t := range p.repos {
			if t.repo.Name() != tag.Context().Name() {
				continue
			}
			for i, at := range t.artifactTags {
				if tagged(at) && at.TagStr() == tag.TagStr() {
					errs = append(errs, &CollisionError{Tag: at.TagStr(), Artifact: p.artifacts[i].Declaration,
						With: fmt.Sprintf("%s %s", what, tag.Name()), Fix: templateFix})
				}
			}
		}
	}
	return errors.Join(errs...)
}
