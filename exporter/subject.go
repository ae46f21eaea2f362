package exporter

import (
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"

	"github.com/cnb-artifacts/lifecycle/artifacts"
)

// subject is the app image as its artifacts refer to it, computed once per
// export: its descriptor and raw manifest (none for an app image that is not
// in a registry, a daemon export), its creation time, which every artifact's
// created annotation takes, and its image ID, annotated where there is no
// descriptor.
type subject struct {
	img     v1.Image       // nil without an app image
	desc    *v1.Descriptor // nil without an app image
	raw     []byte
	created time.Time
	imageID string
}

// newSubject describes img, the finished app image.
func newSubject(img v1.Image) (subject, error) {
	d, err := partial.Descriptor(img)
	if err != nil {
		return subject{}, fmt.Errorf("describe app image: %w", err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		return subject{}, fmt.Errorf("read app image manifest: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return subject{}, fmt.Errorf("read app image config: %w", err)
	}
	return subject{
		img:     img,
		desc:    &v1.Descriptor{MediaType: d.MediaType, Size: d.Size, Digest: d.Digest},
		raw:     raw,
		created: cf.Created.Time,
	}, nil
}

// manifest builds artifact a's manifest for this subject.
func (s subject) manifest(a *artifacts.Artifact) (artifacts.Manifest, error) {
	var opts []artifacts.ManifestOption
	if s.imageID != "" {
		opts = append(opts, artifacts.WithImageID(s.imageID))
	}
	m, err := a.Manifest(s.desc, s.created, opts...)
	if err != nil {
		return artifacts.Manifest{}, fmt.Errorf("build manifest of artifact %q: %w", a.Tag, err)
	}
	return m, nil
}

// descriptor is the subject's descriptor, or the zero one.
func (s subject) descriptor() v1.Descriptor {
	if s.desc == nil {
		return v1.Descriptor{}
	}
	return *s.desc
}
