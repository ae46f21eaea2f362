package harness

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// LoadPublicKey reads a PEM public key, as cosign.pub is written.
func LoadPublicKey(path string) (crypto.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return cryptoutils.UnmarshalPEMToPublicKey(b)
}

// VerifySignature checks, in Go and without cosign (for loops where a cosign
// run per check costs too much), that the manifest raw is a cosign OCI 1.1
// signature of subject by pub: artifactType, subject, the payload naming
// subject's digest, and the ECDSA signature over it. blob reads a blob of
// the signature's repository (or layout).
func VerifySignature(raw []byte, subject v1.Hash, pub crypto.PublicKey, blob func(v1.Hash) ([]byte, error)) error {
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	if m.ArtifactType != CosignSignatureArtifactType {
		return fmt.Errorf("artifactType %q", m.ArtifactType)
	}
	if m.Subject == nil || m.Subject.Digest != subject {
		return fmt.Errorf("subject %v, want %s", m.Subject, subject)
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != CosignSimpleSigningMediaType {
		return fmt.Errorf("layers %+v, want one simple signing payload", m.Layers)
	}
	payload, err := blob(m.Layers[0].Digest)
	if err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	var p struct {
		Critical struct {
			Image struct {
				Digest string `json:"docker-manifest-digest"`
			} `json:"image"`
		} `json:"critical"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	if p.Critical.Image.Digest != subject.String() {
		return fmt.Errorf("payload signs %s, want %s", p.Critical.Image.Digest, subject)
	}
	sig, err := base64.StdEncoding.DecodeString(m.Layers[0].Annotations[CosignSignatureAnnotation])
	if err != nil {
		return fmt.Errorf("signature annotation: %w", err)
	}
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("public key %T: only ECDSA (cosign's) is checked here", pub)
	}
	h := sha256.Sum256(payload)
	if !ecdsa.VerifyASN1(k, h[:], sig) {
		return errors.New("the signature does not verify with the public key")
	}
	return nil
}

// SignedInRegistry checks that the manifest d has a signature referrer by
// pub (through the referrers API or its fallback index, as cosign finds
// it), and returns that signature's digest.
func SignedInRegistry(d name.Digest, pub crypto.PublicKey) (v1.Hash, error) {
	subject, err := v1.NewHash(d.DigestStr())
	if err != nil {
		return v1.Hash{}, err
	}
	ri, err := remote.Referrers(d)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("referrers of %s: %w", d, err)
	}
	idx, err := ri.IndexManifest()
	if err != nil {
		return v1.Hash{}, err
	}
	blob := func(h v1.Hash) ([]byte, error) {
		l, err := remote.Layer(d.Context().Digest(h.String()))
		if err != nil {
			return nil, err
		}
		rc, err := l.Compressed()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(io.LimitReader(rc, 1<<20))
	}
	var errs []error
	for _, r := range idx.Manifests {
		if r.ArtifactType != CosignSignatureArtifactType {
			continue
		}
		desc, err := remote.Get(d.Context().Digest(r.Digest.String()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := VerifySignature(desc.Manifest, subject, pub, blob); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.Digest, err))
			continue
		}
		return r.Digest, nil
	}
	if len(errs) == 0 {
		return v1.Hash{}, fmt.Errorf("%s has no signature referrer (%d referrers)", d, len(idx.Manifests))
	}
	return v1.Hash{}, fmt.Errorf("%s has no valid signature referrer (%d referrers): %w", d, len(idx.Manifests), errors.Join(errs...))
}

// WriteSigningKey writes an unencrypted ECDSA P-256 private key (PKCS #8
// PEM, which the exporter accepts as cosign's own keys) into dir, mode
// 0600, for tests that sign many exports: an encrypted cosign key costs a
// scrypt derivation per export. It returns the key's path and public key.
func WriteSigningKey(dir string) (string, crypto.PublicKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", nil, err
	}
	b, err := cryptoutils.MarshalPrivateKeyToPEM(k)
	if err != nil {
		return "", nil, err
	}
	p := filepath.Join(dir, "signing.key")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		return "", nil, err
	}
	return p, &k.PublicKey, nil
}
