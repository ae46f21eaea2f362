package exporter

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cnb-artifacts/lifecycle/artifacts"
)

// PreviousArtifact is an artifact the exporter published for an earlier
// image: a referrer of that image carrying the exporter's annotations.
type PreviousArtifact struct {
	Descriptor       v1.Descriptor // of its manifest
	Buildpack        string
	BuildpackVersion string
	Layer            string
	// Tag is the tag the buildpack declared; empty for an artifact published
	// before manifests carried it.
	Tag string
}

// DiscoverArtifacts lists the artifacts the exporter published with subject
// as their subject, in the subject's repository: through the referrers API,
// or the referrers tag schema's fallback index where the registry has no
// API (go-containerregistry's remote.Referrers decides, per request). Only
// referrers whose annotations mark them as ours are kept; at most
// artifacts.MaxArtifacts are returned. It writes nothing.
func DiscoverArtifacts(ctx context.Context, subject name.Digest, opts ...remote.Option) ([]PreviousArtifact, error) {
	idx, err := remote.Referrers(subject, append(opts, remote.WithContext(ctx))...)
	if err != nil {
		return nil, fmt.Errorf("listing the referrers of %s: %w", subject.Name(), err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading the referrers of %s: %w", subject.Name(), err)
	}
	var out []PreviousArtifact
	for _, d := range im.Manifests {
		if len(out) == artifacts.MaxArtifacts {
			break
		}
		if d.MediaType != types.OCIManifestSchema1 {
			continue
		}
		ann := d.Annotations
		if ann[artifacts.AnnotationBuildpackID] == "" {
			// A fallback index written without annotations, or a registry
			// that leaves them out: read the manifest itself.
			if ann, err = manifestAnnotations(subject.Context().Digest(d.Digest.String()), append(opts, remote.WithContext(ctx))...); err != nil {
				return nil, err
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
		})
	}
	return out, nil
}

func manifestAnnotations(ref name.Digest, opts ...remote.Option) (map[string]string, error) {
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("reading referrer %s: %w", ref.Name(), err)
	}
	var m struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		return nil, fmt.Errorf("reading referrer %s: %w", ref.Name(), err)
	}
	return m.Annotations, nil
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
