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
	// Files are the artifact's layers, in order: one merged document, or
	// (a format that is not merged) one per contributing document.
	Files []SBOMFile
	// Tag is the declared tag, before the platform's tag template; "" for
	// none: the artifact is found through the referrers of its subject.
	Tag string
	// Version is the lifecycle's version (the buildpack version recorded).
	Version string
	// Annotations say which buildpacks and layers contributed.
	Annotations map[string]string
}

// SBOMFile is one layer of an SBOM artifact.
type SBOMFile struct {
	// Title is the layer's org.opencontainers.image.title, the file name
	// a client such as oras writes it to, e.g. "sbom.cdx.json".
	Title   string
	Content []byte
}

// NewSBOM returns the artifact that publishes SBOM documents of one format:
// the OCI empty config, one layer per file (media type MediaType),
// artifactType MediaType.
func NewSBOM(s SBOMSpec) (*Artifact, error) {
	if s.Format == "" || len(s.Files) == 0 || len(s.Files) > MaxFilesPerArtifact {
		return nil, fmt.Errorf("SBOM artifact: format %q with %d files", s.Format, len(s.Files))
	}
	titles := map[string]bool{}
	for _, f := range s.Files {
		if err := validateTitle(f.Title); err != nil {
			return nil, fmt.Errorf("SBOM artifact %s: %w", s.Format, err)
		}
		if titles[f.Title] {
			return nil, fmt.Errorf("SBOM artifact %s: %w %q: two files", s.Format, ErrInvalidTitle, f.Title)
		}
		titles[f.Title] = true
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
	a := &Artifact{
		Declaration: Declaration{
			Buildpack:    Buildpack{ID: SBOMBuildpack, Version: s.Version},
			Layer:        SBOMLayer,
			Source:       "sbom/launch",
			Index:        -1,
			Tag:          s.Tag,
			ArtifactType: s.MediaType,
			Annotations:  s.Annotations,
		},
		SBOM:   s.Format,
		config: static.NewLayer(emptyJSON, MediaTypeEmpty),
	}
	for _, f := range s.Files {
		a.Files = append(a.Files, File{MediaType: s.MediaType, Title: f.Title})
		a.layers = append(a.layers, static.NewLayer(f.Content, types.MediaType(s.MediaType)))
	}
	return a, nil
}
