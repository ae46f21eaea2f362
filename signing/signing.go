// Package signing signs what an export publishes (docs/spec.md section 17):
// cosign's simple signing payload over a manifest's digest, signed by a
// Signer, packed as cosign's OCI 1.1 signature manifest, a referrer of what
// it signs (artifacts.SignatureManifest). `cosign verify --key`
// (--experimental-oci11, no transparency log) accepts it.
//
// Package signing makes no network request: no transparency log, no
// Fulcio, no registry. Keys and payloads go through sigstore/sigstore; no
// cryptography or key parsing is written here.
package signing

import (
	"context"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore/pkg/signature/payload"

	"github.com/cnb-artifacts/lifecycle/artifacts"
)

// Signer signs payloads. KeySigner (a key as `cosign generate-key-pair`
// writes it) is the one implementation; a keyless signer (a Fulcio
// certificate) would be another, adding its certificate to the signature.
type Signer interface {
	// Sign returns the signature of payload.
	Sign(ctx context.Context, payload []byte) ([]byte, error)
}

// Readier is a Signer that prepares in the background (KeySigner decrypts
// its key): Ready waits until it can sign and says why not. A transaction
// calls it before its first write, so that a key that cannot be used
// writes nothing.
type Readier interface {
	Ready() error
}

// Ready waits for s when it prepares in the background (Readier); other
// signers are ready.
func Ready(s Signer) error {
	if r, ok := s.(Readier); ok {
		return r.Ready()
	}
	return nil
}

// Signature is one signature, ready to push: what it signs, its manifest,
// and the blobs the manifest names.
type Signature struct {
	Subject  v1.Descriptor
	Manifest artifacts.Manifest
	Blobs    []v1.Layer
}

// Sign signs subject, a manifest in repository repo: the payload names
// repo (cosign's docker-reference) and subject's digest; created stamps the
// signature manifest as the export's other manifests are.
func Sign(ctx context.Context, s Signer, repo name.Repository, subject v1.Descriptor, created time.Time) (Signature, error) {
	p, err := Payload(repo, subject.Digest)
	if err != nil {
		return Signature{}, err
	}
	sig, err := s.Sign(ctx, p)
	if err != nil {
		return Signature{}, fmt.Errorf("sign %s: %w", subject.Digest, err)
	}
	m, blobs, err := artifacts.SignatureManifest(subject, p, sig, created)
	if err != nil {
		return Signature{}, err
	}
	return Signature{Subject: subject, Manifest: m, Blobs: blobs}, nil
}

// Payload is cosign's simple signing payload for the manifest d in repo,
// as `cosign sign` writes it (sigstore's payload.Cosign).
func Payload(repo name.Repository, d v1.Hash) ([]byte, error) {
	b, err := payload.Cosign{Image: repo.Digest(d.String())}.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("signature payload of %s: %w", d, err)
	}
	return b, nil
}
