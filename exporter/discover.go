package exporter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/registry"
)

// PreviousArtifact is an artifact the exporter published for an earlier
// image: a referrer of that image carrying the exporter's annotations.
type PreviousArtifact struct {
	Descriptor       v1.Descriptor // of its manifest
	Buildpack        string
	BuildpackVersion string
	Layer            string
	// Tag is the tag the buildpack declared; empty for an artifact published
	// before manifests carried it, and for an untagged SBOM artifact.
	Tag string
	// SBOM is the format of an SBOM artifact (artifacts.AnnotationSBOM);
	// "" for a declared one.
	SBOM string
}

// maxReferrers bounds the referrers of a subject read to discover its
// artifacts (ours and others', signatures, SBOMs).
const maxReferrers = 10 * artifacts.MaxArtifacts

// TooManyArtifactsError reports a subject with more artifacts of ours than
// an export publishes (artifacts.MaxArtifacts): discovery does not pick
// some of them.
type TooManyArtifactsError struct {
	Subject string
	Count   int
}

func (e *TooManyArtifactsError) Error() string {
	return fmt.Sprintf("%s has %d artifacts of buildpacks as referrers, more than the %d an export publishes", e.Subject, e.Count, artifacts.MaxArtifacts)
}

// DuplicateTagError reports two artifacts of a subject that declare the
// same tag (two exports of the same app image digest whose artifact bytes
// differed) when the tag names neither of them (docs/spec.md 15).
type DuplicateTagError struct {
	Subject string
	Tag     string
	Digests []v1.Hash
}

func (e *DuplicateTagError) Error() string {
	var ds []string
	for _, d := range e.Digests {
		ds = append(ds, d.String())
	}
	return fmt.Sprintf("%s has %d artifacts declaring tag %q (%s), and the tag names none of them: which one to keep cannot be told; "+
		"tag the one to keep, or delete the others", e.Subject, len(e.Digests), e.Tag, strings.Join(ds, ", "))
}

// DiscoverArtifacts lists the artifacts the exporter published with subject
// as their subject, in the subject's repository, under the client's
// referrers rule (the API, or the fallback index): a registry that cannot
// tell is an error (registry.ErrReferrersUnknown), never "no artifacts".
// Only referrers whose annotations mark them as ours are kept. Two that
// declare the same tag are resolved by the tag: the one it names wins;
// when it names neither, a *DuplicateTagError. More than
// artifacts.MaxArtifacts is a *TooManyArtifactsError. It writes nothing.
func DiscoverArtifacts(ctx context.Context, c *registry.Client, subject name.Digest) ([]PreviousArtifact, error) {
	out, _, err := discover(ctx, c, subject)
	return out, err
}

// discover is DiscoverArtifacts, and whether subject has a signature this
// lifecycle wrote (artifacts.SignedByUs, known from the referrers list
// alone).
func discover(ctx context.Context, c *registry.Client, subject name.Digest) (out []PreviousArtifact, signed bool, err error) {
	h, err := v1.NewHash(subject.DigestStr())
	if err != nil {
		return nil, false, err
	}
	repo := subject.Context()
	refs, err := c.Referrers(ctx, repo, h)
	if err != nil {
		return nil, false, fmt.Errorf("listing the referrers of %s: %w", subject.Name(), err)
	}
	if len(refs) > maxReferrers {
		return nil, false, fmt.Errorf("listing the referrers of %s: %d referrers, more than %d are read", subject.Name(), len(refs), maxReferrers)
	}
	for _, d := range refs {
		if d.MediaType != types.OCIManifestSchema1 {
			continue
		}
		if d.ArtifactType == artifacts.MediaTypeCosignSignature {
			// A signature, ours or another's: never an artifact, and its
			// manifest is not read.
			signed = signed || artifacts.SignedByUs(d)
			continue
		}
		ann := d.Annotations
		if ann[artifacts.AnnotationBuildpackID] == "" {
			// A fallback index written without annotations, or a registry
			// that leaves them out: read the manifest itself.
			if ann, err = manifestAnnotations(ctx, c, repo, d.Digest); err != nil {
				return nil, false, err
			}
		}
		if !artifacts.Published(ann) {
			continue // someone else's referrer: a signature, an SBOM
		}
		out = append(out, PreviousArtifact{
			Descriptor:       v1.Descriptor{MediaType: d.MediaType, Size: d.Size, Digest: d.Digest, ArtifactType: d.ArtifactType},
			Buildpack:        ann[artifacts.AnnotationBuildpackID],
			BuildpackVersion: ann[artifacts.AnnotationBuildpackVersion],
			Layer:            ann[artifacts.AnnotationLayer],
			Tag:              ann[artifacts.AnnotationTag],
			SBOM:             ann[artifacts.AnnotationSBOM],
		})
	}
	if out, err = oneByTag(ctx, c, subject, out); err != nil {
		return nil, false, err
	}
	if len(out) > artifacts.MaxArtifacts {
		return nil, false, &TooManyArtifactsError{Subject: subject.Name(), Count: len(out)}
	}
	return out, signed, nil
}

// oneByTag keeps one artifact per declared tag: where several declare it,
// the one the tag names in the subject's repository (a HEAD).
func oneByTag(ctx context.Context, c *registry.Client, subject name.Digest, prev []PreviousArtifact) ([]PreviousArtifact, error) {
	byTag := map[string][]int{}
	for i, pa := range prev {
		if pa.Tag != "" {
			byTag[pa.Tag] = append(byTag[pa.Tag], i)
		}
	}
	drop := map[int]bool{}
	var errs []error
	for _, tag := range slices.Sorted(maps.Keys(byTag)) {
		is := byTag[tag]
		if len(is) < 2 {
			continue
		}
		named := v1.Hash{}
		d, err := c.Head(ctx, subject.Context(), tag)
		switch {
		case err == nil:
			named = d.Digest
		case !registry.IsNotFound(err):
			return nil, fmt.Errorf("resolving tag %s, which %d artifacts of %s declare: %w", subject.Context().Tag(tag).Name(), len(is), subject.Name(), err)
		}
		keep := -1
		var ds []v1.Hash
		for _, i := range is {
			ds = append(ds, prev[i].Descriptor.Digest)
			if prev[i].Descriptor.Digest == named {
				keep = i
			}
		}
		if keep < 0 {
			errs = append(errs, &DuplicateTagError{Subject: subject.Name(), Tag: tag, Digests: ds})
			continue
		}
		for _, i := range is {
			drop[i] = i != keep
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var out []PreviousArtifact
	for i, pa := range prev {
		if !drop[i] {
			out = append(out, pa)
		}
	}
	return out, nil
}

func manifestAnnotations(ctx context.Context, c *registry.Client, repo name.Repository, d v1.Hash) (map[string]string, error) {
	m, err := c.Get(ctx, repo, d.String())
	if err != nil {
		return nil, fmt.Errorf("reading referrer %s@%s: %w", repo.Name(), d, err)
	}
	var a struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal(m.Raw, &a); err != nil {
		return nil, fmt.Errorf("reading referrer %s@%s: %w", repo.Name(), d, err)
	}
	return a.Annotations, nil
}

// Stale returns the previous artifacts that this plan neither declares nor
// carries: no artifact of the plan has their declared tag (or, for an
// artifact published before manifests carried the tag, their buildpack and
// layer). Their tags still name the previous image's artifacts; the export
// deletes nothing, but says so (docs/spec.md, "Stale artifacts").
func (p *Plan) Stale(prev []PreviousArtifact) []PreviousArtifact {
	declared := map[string]bool{}
	for _, a := range p.artifacts {
		declared["tag "+a.Tag] = true
		declared["layer "+a.Buildpack.ID+"\x00"+a.Layer] = true
	}
	var out []PreviousArtifact
	for _, pa := range prev {
		key := "tag " + pa.Tag
		if pa.Tag == "" {
			key = "layer " + pa.Buildpack + "\x00" + pa.Layer
		}
		if !declared[key] {
			out = append(out, pa)
		}
	}
	return out
}
