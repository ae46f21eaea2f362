package artifacts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/static"
)

// FromManifest rebuilds the artifact that an earlier export published as
// raw, so that it can be published again for a new image (a layer reused
// from the previous image, a rebased image): the same buildpack, layer,
// declared tag, artifact type, config, files and author's annotations. blob
// gives the blob of a descriptor; the caller makes it (a blob the registry
// already has, to mount or skip). Its Manifest differs from raw only in the
// subject and the creation time given to it. raw must carry the exporter's
// annotations (buildpack, layer, tag).
func FromManifest(raw []byte, blob func(v1.Descriptor) (Blob, error)) (*Artifact, error) {
	var m manifestJSON
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("decoding manifest: %w", err)
	}
	if m.MediaType != MediaTypeManifest {
		return nil, fmt.Errorf("media type %q: not an OCI image manifest", m.MediaType)
	}
	if !Published(m.Annotations) {
		return nil, fmt.Errorf("no %s and %s annotations: not an artifact this exporter published", AnnotationBuildpackID, AnnotationLayer)
	}
	if m.Annotations[AnnotationTag] == "" && m.Annotations[AnnotationSBOM] == "" {
		return nil, fmt.Errorf("no %s annotation: published before the exporter recorded the declared tag", AnnotationTag)
	}
	digest, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	d := Declaration{
		Buildpack:    Buildpack{ID: m.Annotations[AnnotationBuildpackID], Version: m.Annotations[AnnotationBuildpackVersion]},
		Layer:        m.Annotations[AnnotationLayer],
		Tag:          m.Annotations[AnnotationTag],
		ArtifactType: m.ArtifactType,
		Index:        -1,
		Annotations:  authorAnnotations(m.Annotations),
	}
	a := &Artifact{CarriedFrom: digest.String(), SBOM: m.Annotations[AnnotationSBOM]}
	if m.Config.MediaType == MediaTypeEmpty {
		a.config = static.NewLayer(emptyJSON, MediaTypeEmpty)
	} else {
		d.ConfigMediaType = string(m.Config.MediaType)
		if a.config, err = blob(toV1(m.Config)); err != nil {
			return nil, fmt.Errorf("config %s: %w", m.Config.Digest, err)
		}
	}
	if d.ArtifactType == "" {
		d.ArtifactType = d.ConfigMediaType
	}
	if len(m.Layers) > MaxFilesPerArtifact {
		return nil, fmt.Errorf("%w: %d layers, more than %d", ErrLimit, len(m.Layers), MaxFilesPerArtifact)
	}
	for _, l := range m.Layers {
		b, err := blob(toV1(l))
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", l.Digest, err)
		}
		a.layers = append(a.layers, b)
		d.Files = append(d.Files, File{MediaType: string(l.MediaType), Title: l.Annotations[AnnotationTitle]})
	}
	a.Declaration = d
	return a, nil
}

// authorAnnotations drops the annotations the exporter sets itself.
func authorAnnotations(all map[string]string) map[string]string {
	out := maps.Clone(all)
	for _, k := range []string{AnnotationCreated, AnnotationBuildpackID, AnnotationBuildpackVersion, AnnotationLayer, AnnotationTag, AnnotationImageID, AnnotationSBOM} {
		delete(out, k)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func toV1(d descriptorJSON) v1.Descriptor {
	return v1.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size, URLs: d.URLs,
		Annotations: d.Annotations, Data: d.Data, Platform: d.Platform, ArtifactType: d.ArtifactType}
}
