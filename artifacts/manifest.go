package artifacts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Media types and the OCI empty descriptor (image-spec 1.1).
const (
	MediaTypeManifest = types.OCIManifestSchema1
	MediaTypeEmpty    = types.MediaType("application/vnd.oci.empty.v1+json")
)

// emptyJSON is the content of the empty descriptor and of a config that has a
// media type but no file.
var emptyJSON = []byte("{}")

// Artifact is a declaration turned into OCI blobs. Building it opens no file;
// files are hashed when a digest or size is first needed.
type Artifact struct {
	Declaration
	// CarriedFrom is, for an artifact published again from an earlier
	// image's (FromManifest), that earlier manifest: its digest, or, once
	// the caller knows its repository, "repository@sha256:…".
	CarriedFrom string
	// SBOM is, for an artifact made from the buildpacks' SBOMs (NewSBOM),
	// the format's short name; "" for a declared artifact.
	SBOM string

	config Blob
	layers []Blob
}

// BuildOption configures Build.
type BuildOption func(*buildOptions)

type buildOptions struct{ cache *DigestCache }

// WithDigestCache lets the artifact's file blobs take their digests from c,
// and record them there, when their layer directory is inside c's layers
// directory. The caller saves c.
func WithDigestCache(c *DigestCache) BuildOption {
	return func(o *buildOptions) { o.cache = c }
}

// Build turns a declaration into an artifact. It repeats the checks of Load
// that need no file system, so a hand-made declaration is safe too.
func Build(d Declaration, opts ...BuildOption) (*Artifact, error) {
	var o buildOptions
	for _, opt := range opts {
		opt(&o)
	}
	if d.ArtifactType == "" {
		d.ArtifactType = d.ConfigMediaType
	}
	if errs := validate(d); len(errs) > 0 {
		loc := d.location()
		wrapped := make([]error, len(errs))
		for i, e := range errs {
			wrapped[i] = loc.errorf(d.Index, d.Tag, e)
		}
		return nil, errors.Join(wrapped...)
	}
	a := &Artifact{Declaration: d}
	switch {
	case d.Config != nil:
		cfg := newFileBlob(d.LayerDir, d.Config.Path, types.MediaType(d.ConfigMediaType))
		cfg.limit = MaxConfigSize
		a.config = cfg
	case d.ConfigMediaType != "":
		a.config = static.NewLayer(emptyJSON, types.MediaType(d.ConfigMediaType))
	default:
		a.config = static.NewLayer(emptyJSON, MediaTypeEmpty)
	}
	for _, f := range d.Files {
		a.layers = append(a.layers, newFileBlob(d.LayerDir, f.Path, types.MediaType(f.MediaType)))
	}
	if o.cache.covers(d.LayerDir) {
		for _, b := range append([]Blob{a.config}, a.layers...) {
			if fb, ok := b.(*fileBlob); ok {
				fb.cache = o.cache
			}
		}
	}
	return a, nil
}

// Config returns the config blob: the config file, or `{}` in memory.
func (a *Artifact) Config() (Blob, error) { return a.config, nil }

// Layers returns one blob per file, in declaration order.
func (a *Artifact) Layers() ([]Blob, error) {
	return append([]Blob(nil), a.layers...), nil
}

// Manifest is an artifact's image manifest.
type Manifest struct {
	// Raw is the manifest as pushed.
	Raw []byte
	// Descriptor describes Raw. Its ArtifactType and Annotations are copied
	// from the manifest, as a referrers (fallback) index lists them.
	Descriptor v1.Descriptor
}

// manifestJSON is an OCI image manifest with its fields in the order of the
// image-spec.
type manifestJSON struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     types.MediaType   `json:"mediaType"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Config        descriptorJSON    `json:"config"`
	Layers        []descriptorJSON  `json:"layers"`
	Subject       *descriptorJSON   `json:"subject,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// descriptorJSON is an OCI descriptor with its fields in the order of the
// image-spec (go-containerregistry's v1.Descriptor orders size before digest).
type descriptorJSON struct {
	MediaType    types.MediaType   `json:"mediaType"`
	Digest       v1.Hash           `json:"digest"`
	Size         int64             `json:"size"`
	URLs         []string          `json:"urls,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Data         []byte            `json:"data,omitempty"`
	Platform     *v1.Platform      `json:"platform,omitempty"`
	ArtifactType string            `json:"artifactType,omitempty"`
}

func fromV1(d v1.Descriptor) descriptorJSON {
	return descriptorJSON{
		MediaType:    d.MediaType,
		Digest:       d.Digest,
		Size:         d.Size,
		URLs:         d.URLs,
		Annotations:  d.Annotations,
		Data:         d.Data,
		Platform:     d.Platform,
		ArtifactType: d.ArtifactType,
	}
}

// Manifest returns the image manifest and its descriptor. subject may be nil
// (daemon mode). created is the export's creation time, the app image's; it
// becomes org.opencontainers.image.created in RFC 3339, UTC. The same inputs
// give the same bytes. It hashes every file that is not hashed yet.
func (a *Artifact) Manifest(subject *v1.Descriptor, created time.Time, opts ...ManifestOption) (Manifest, error) {
	var o manifestOptions
	for _, opt := range opts {
		opt(&o)
	}
	config, err := describe(a.config)
	if err != nil {
		return Manifest{}, fmt.Errorf("artifact %q: config: %w", a.Tag, err)
	}
	if config.MediaType == MediaTypeEmpty {
		config.Data = emptyJSON
	}
	m := manifestJSON{
		SchemaVersion: 2,
		MediaType:     MediaTypeManifest,
		ArtifactType:  a.ArtifactType,
		Config:        config,
		Layers:        make([]descriptorJSON, len(a.layers)),
		Annotations:   a.annotations(created),
	}
	if o.imageID != "" {
		m.Annotations[AnnotationImageID] = o.imageID
	}
	for i, l := range a.layers {
		desc, err := describe(l)
		if err != nil {
			return Manifest{}, fmt.Errorf("artifact %q: %w", a.Tag, err)
		}
		desc.Annotations = map[string]string{AnnotationTitle: a.Files[i].Title}
		m.Layers[i] = desc
	}
	if subject != nil {
		s := fromV1(*subject)
		m.Subject = &s
	}

	raw, err := json.Marshal(m)
	if err != nil {
		return Manifest{}, fmt.Errorf("artifact %q: encoding manifest: %w", a.Tag, err)
	}
	digest, size, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return Manifest{}, err
	}
	return Manifest{
		Raw: raw,
		Descriptor: v1.Descriptor{
			MediaType:    MediaTypeManifest,
			Size:         size,
			Digest:       digest,
			ArtifactType: a.ArtifactType,
			Annotations:  maps.Clone(m.Annotations),
		},
	}, nil
}

// ManifestOption adjusts a manifest.
type ManifestOption func(*manifestOptions)

type manifestOptions struct{ imageID string }

// WithImageID records the app image's ID in the manifest's annotations, for
// artifacts published without a subject.
func WithImageID(id string) ManifestOption {
	return func(o *manifestOptions) { o.imageID = id }
}

// annotations returns the author's annotations plus those the exporter sets.
func (a *Artifact) annotations(created time.Time) map[string]string {
	out := maps.Clone(a.Annotations)
	if out == nil {
		out = map[string]string{}
	}
	out[AnnotationCreated] = created.UTC().Format(time.RFC3339)
	out[AnnotationBuildpackID] = a.Buildpack.ID
	out[AnnotationBuildpackVersion] = a.Buildpack.Version
	out[AnnotationLayer] = a.Layer
	out[AnnotationTag] = a.Tag
	if a.SBOM != "" {
		out[AnnotationSBOM] = a.SBOM
		if a.Tag == "" {
			delete(out, AnnotationTag)
		}
	}
	return out
}

func describe(b Blob) (descriptorJSON, error) {
	mt, err := b.MediaType()
	if err != nil {
		return descriptorJSON{}, err
	}
	digest, err := b.Digest()
	if err != nil {
		return descriptorJSON{}, err
	}
	size, err := b.Size()
	if err != nil {
		return descriptorJSON{}, err
	}
	return descriptorJSON{MediaType: mt, Digest: digest, Size: size}, nil
}
