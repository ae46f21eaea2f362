package artifacts

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// AnnotationSBOM marks an artifact the exporter made from the buildpacks'
// launch SBOMs (docs/spec.md section 16): its value is the format's short
// name ("cdx", "spdx", "syft"). Buildpacks cannot set it (the
// io.buildpacks.artifact. prefix is the exporter's), so it tells an SBOM
// artifact from a declared one without trusting anything else.
const AnnotationSBOM = AnnotationPrefix + "sbom"

// SBOMBuildpack and SBOMLayer are the buildpack and layer an SBOM artifact
// is recorded under (report.toml, annotations): the lifecycle, as upstream
// names it in the layers directory (sbom/launch/buildpacksio_lifecycle), and
// the app image's SBOM layer, whose content the artifact describes.
const (
	SBOMBuildpack = "buildpacksio/lifecycle"
	SBOMLayer     = "sbom"
)

// SBOMSpec is what NewSBOM makes an artifact of.
type SBOMSpec struct {
	// Format is the short name, e.g. "cdx".
	Format string
	// MediaType is the format's media type: the artifactType and the one
	// layer's media type.
	MediaType string
	// Title is the layer's title, e.g. "sbom.cdx.json".
	Title string
	// Content is the document.
	Content []byte
	// Tag is the declared tag, before the platform's tag template; "" for
	// none: the artifact is found through the referrers of its subject.
	Tag string
	// Version is the lifecycle's version (the buildpack version recorded).
	Version string
	// Annotations say which buildpacks and layers contributed.
	Annotations map[string]string
}

// NewSBOM returns the artifact that publishes one merged SBOM document: the
// OCI empty config, one layer holding Content, artifactType MediaType.
func NewSBOM(s SBOMSpec) (*Artifact, error) {
	if s.Format == "" || len(s.Content) == 0 {
		return nil, fmt.Errorf("SBOM artifact: format %q with %d bytes", s.Format, len(s.Content))
	}
	if err := validateMediaType(s.MediaType); err != nil {
		return nil, fmt.Errorf("SBOM artifact %s: %w", s.Format, err)
	}
	if s.Tag != "" {
		if err := validateTag(s.Tag); err != nil {
			return nil, fmt.Errorf("SBOM artifact %s: %w", s.Format, err)
		}
	}
	size := 0
	for k, v := range s.Annotations {
		size += len(k) + len(v)
	}
	if size > MaxAnnotationBytes {
		return nil, fmt.Errorf("SBOM artifact %s: %w: annotations hold %d bytes, more than %d", s.Format, ErrLimit, size, MaxAnnotationBytes)
	}
	d := Declaration{
		Buildpack:    Buildpack{ID: SBOMBuildpack, Version: s.Version},
		Layer:        SBOMLayer,
		Source:       "sbom/launch",
		Index:        -1,
		Tag:          s.Tag,
		ArtifactType: s.MediaType,
		Files:        []File{{MediaType: s.MediaType, Title: s.Title}},
		Annotations:  s.Annotations,
	}
	return &Artifact{
		Declaration: d,
		SBOM:        s.Format,
		config:      static.NewLayer(emptyJSON, MediaTypeEmpty),
		layers:      []Blob{static.NewLayer(s.Content, types.MediaType(s.MediaType))},
	}, nil
}
