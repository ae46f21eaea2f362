package artifacts

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Cosign's OCI 1.1 signature form (docs/spec.md section 17): an image
// manifest whose artifactType is MediaTypeCosignSignature, a referrer of
// what it signs, with one layer, the simple signing payload, annotated with
// the base64 signature. `cosign verify --experimental-oci11` reads it.
const (
	MediaTypeCosignSignature = "application/vnd.dev.cosign.artifact.sig.v1+json"
	MediaTypeSimpleSigning   = types.MediaType("application/vnd.dev.cosign.simplesigning.v1+json")
	AnnotationCosignSig      = "dev.cosignproject.cosign/signature"
	// AnnotationSignature marks a signature this lifecycle wrote (value
	// "cosign"), so that a later rebase or reattach without a key can tell
	// that what it publishes again was signed before. Buildpacks cannot set
	// it: the io.buildpacks.artifact. prefix is the exporter's.
	AnnotationSignature = AnnotationPrefix + "signature"
)

// SignatureManifest returns the manifest of one signature of subject: the
// OCI empty config, the payload as its one layer annotated with sig
// (base64), and the blobs it names (the config, the payload). created
// becomes org.opencontainers.image.created, as on the artifacts it signs.
func SignatureManifest(subject v1.Descriptor, payload, sig []byte, created time.Time) (Manifest, []v1.Layer, error) {
	if len(payload) == 0 || len(sig) == 0 {
		return Manifest{}, nil, fmt.Errorf("signature of %s: empty payload or signature", subject.Digest)
	}
	config := static.NewLayer(emptyJSON, MediaTypeEmpty)
	layer := static.NewLayer(payload, MediaTypeSimpleSigning)
	cd, err := describe(config)
	if err != nil {
		return Manifest{}, nil, err
	}
	cd.Data = emptyJSON
	ld, err := describe(layer)
	if err != nil {
		return Manifest{}, nil, err
	}
	ld.Annotations = map[string]string{AnnotationCosignSig: base64.StdEncoding.EncodeToString(sig)}
	s := fromV1(v1.Descriptor{MediaType: subject.MediaType, Size: subject.Size, Digest: subject.Digest})
	m := manifestJSON{
		SchemaVersion: 2,
		MediaType:     MediaTypeManifest,
		ArtifactType:  MediaTypeCosignSignature,
		Config:        cd,
		Layers:        []descriptorJSON{ld},
		Subject:       &s,
		Annotations: map[string]string{
			AnnotationCreated:   created.UTC().Format(time.RFC3339),
			AnnotationSignature: "cosign",
		},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return Manifest{}, nil, fmt.Errorf("encoding signature manifest: %w", err)
	}
	d, size, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return Manifest{}, nil, err
	}
	return Manifest{
		Raw: raw,
		Descriptor: v1.Descriptor{
			MediaType:    MediaTypeManifest,
			Size:         size,
			Digest:       d,
			ArtifactType: MediaTypeCosignSignature,
			Annotations:  map[string]string{AnnotationCreated: m.Annotations[AnnotationCreated], AnnotationSignature: "cosign"},
		},
	}, []v1.Layer{config, layer}, nil
}

// SignedByUs reports whether a referrer's descriptor is a signature this
// lifecycle wrote (its artifactType and marker annotation).
func SignedByUs(d v1.Descriptor) bool {
	return d.ArtifactType == MediaTypeCosignSignature && d.Annotations[AnnotationSignature] != ""
}
