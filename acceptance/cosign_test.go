//go:build acceptance

package acceptance_test

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
)

// The OCI empty descriptor (image-spec v1.1 manifest.md, "Guidance for an
// empty descriptor").
const (
	emptyConfigType = "application/vnd.oci.empty.v1+json"
	emptyConfig     = "{}"
)

// TestCosignHarness checks the cosign helpers the signing tests rely on,
// before the exporter signs anything: on olareg (referrers API) and on
// distribution 2.8 (no referrers API: the sha256-<hex> fallback index), a
// signature `cosign sign --registry-referrers-mode=oci-1-1` writes is
// accepted by harness.CosignVerify with the signing key's public key and
// refused with another key pair's; and so is a signature in the shape of
// issue 21 (artifactType, the empty config), made from the payload and
// signature cosign computes without uploading them. Everything runs
// offline (harness.Cosign).
func TestCosignHarness(t *testing.T) {
	const password = "harness-password"
	priv, pub := harness.CosignKeyPair(t, password)
	_, otherPub := harness.CosignKeyPair(t, "other-password")

	for _, start := range []func(testing.TB) *harness.Registry{harness.StartOlareg, harness.StartDistribution} {
		reg := start(t)
		t.Run(reg.Name, func(t *testing.T) {
			t.Parallel()

			t.Run("cosign's referrer", func(t *testing.T) {
				ref := pushRandomImage(t, reg.Host+"/cosign/app:latest")
				harness.CosignSign(t, ref, priv, password)
				m, raw := onlySignatureReferrer(t, reg, ref)
				t.Logf("the signature manifest cosign wrote:\n%s", raw)
				// cosign v2.6.1 names the artifact type with the config's
				// media type and sets no artifactType.
				if m.Config.MediaType != harness.CosignSignatureArtifactType || m.ArtifactType != "" {
					t.Errorf("config media type %q, artifactType %q: cosign's shape changed", m.Config.MediaType, m.ArtifactType)
				}
				checkVerifies(t, ref, pub, otherPub)
			})

			t.Run("issue 21's shape", func(t *testing.T) {
				ref := pushRandomImage(t, reg.Host+"/cosign/shaped:latest")
				payload, sig := cosignSignOffline(t, ref, priv, password)
				pushSignatureReferrer(t, ref, payload, sig)
				m, raw := onlySignatureReferrer(t, reg, ref)
				t.Logf("the signature manifest pushed:\n%s", raw)
				if m.ArtifactType != harness.CosignSignatureArtifactType || m.Config.MediaType != emptyConfigType {
					t.Fatalf("pushed artifactType %q, config %q", m.ArtifactType, m.Config.MediaType)
				}
				checkVerifies(t, ref, pub, otherPub)
			})
		})
	}
}

// checkVerifies requires CosignVerify to accept ref's signature with pub,
// naming ref's digest in the payload it prints, and to refuse it with
// otherPub.
func checkVerifies(t *testing.T, ref, pub, otherPub string) {
	t.Helper()
	desc, err := remote.Head(mustRef(t, ref))
	if err != nil {
		t.Fatal(err)
	}
	out, err := harness.CosignVerify(t, ref, pub)
	if err != nil {
		t.Fatalf("verify with the signing key: %v", err)
	}
	var payloads []struct {
		Critical struct {
			Image struct {
				DockerManifestDigest string `json:"docker-manifest-digest"`
			} `json:"image"`
			Type string `json:"type"`
		} `json:"critical"`
	}
	if err := json.Unmarshal([]byte(out), &payloads); err != nil {
		t.Fatalf("cosign verify output: %v\n%s", err, out)
	}
	if len(payloads) != 1 || payloads[0].Critical.Image.DockerManifestDigest != desc.Digest.String() ||
		payloads[0].Critical.Type != "cosign container image signature" {
		t.Fatalf("cosign verified %s, want one payload for %s", out, desc.Digest)
	}

	_, err = harness.CosignVerify(t, ref, otherPub)
	if err == nil {
		t.Fatal("verify with another key pair succeeded")
	}
	// cosign v2.6.1 drops the OCI 1.1 lookup's error ("no matching
	// signatures") and reports its fallback to the legacy .sig tag, which
	// does not exist: onlySignatureReferrer showed the referrer is there.
	if cerr, ok := err.(*harness.CosignError); !ok || !strings.Contains(cerr.Stderr, "no signatures found") {
		t.Fatalf("verify with another key pair: %v, want cosign's \"no signatures found\"", err)
	}
}

// onlySignatureReferrer returns the one referrer of ref with cosign's
// signature artifact type, and its raw manifest, read through the
// referrers API or the fallback tag, whichever reg has.
func onlySignatureReferrer(t *testing.T, reg *harness.Registry, ref string) (v1.Manifest, []byte) {
	t.Helper()
	r := mustRef(t, ref)
	desc, err := remote.Head(r)
	if err != nil {
		t.Fatal(err)
	}
	subject := r.Context().Digest(desc.Digest.String())
	if !reg.Referrers {
		// The fallback index is what distribution 2.8 offers.
		fallback := r.Context().Tag(strings.Replace(desc.Digest.String(), ":", "-", 1))
		if _, err := remote.Head(fallback); err != nil {
			t.Fatalf("no fallback index %s: %v", fallback, err)
		}
	}
	idx, err := remote.Referrers(subject)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var found []v1.Descriptor
	for _, d := range im.Manifests {
		if d.ArtifactType == harness.CosignSignatureArtifactType {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		t.Fatalf("referrers of %s: %+v, want one of artifact type %s", subject, im.Manifests, harness.CosignSignatureArtifactType)
	}
	got, err := remote.Get(r.Context().Digest(found[0].Digest.String()))
	if err != nil {
		t.Fatal(err)
	}
	var m v1.Manifest
	if err := json.Unmarshal(got.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	if m.Subject == nil || m.Subject.Digest != desc.Digest {
		t.Fatalf("signature manifest's subject %v, want %s", m.Subject, desc.Digest)
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != harness.CosignSimpleSigningMediaType ||
		m.Layers[0].Annotations[harness.CosignSignatureAnnotation] == "" {
		t.Fatalf("signature manifest layers %+v, want one %s layer annotated %s", m.Layers, harness.CosignSimpleSigningMediaType, harness.CosignSignatureAnnotation)
	}
	payload, err := remote.Layer(r.Context().Digest(m.Layers[0].Digest.String()))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := payload.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, got.Manifest, "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteString("\npayload: ")
	if _, err := pretty.ReadFrom(io.LimitReader(rc, 64<<10)); err != nil {
		t.Fatal(err)
	}
	return m, pretty.Bytes()
}

// cosignSignOffline has cosign compute ref's simple-signing payload and
// its signature (base64) with priv, uploading nothing.
func cosignSignOffline(t *testing.T, ref, priv, password string) (payload, sig []byte) {
	t.Helper()
	dir := t.TempDir()
	payloadPath, sigPath := filepath.Join(dir, "payload.json"), filepath.Join(dir, "payload.sig")
	_, stderr, code := harness.Cosign(t, []string{"COSIGN_PASSWORD=" + password},
		"sign", "--key", priv, "--allow-http-registry", "--tlog-upload=false", "--upload=false", "--yes",
		"--output-payload", payloadPath, "--output-signature", sigPath, ref)
	if code != 0 {
		t.Fatalf("cosign sign --upload=false: exit %d\n%s", code, stderr)
	}
	payload, err := os.ReadFile(payloadPath)
	if err != nil {
		t.Fatal(err)
	}
	sig, err = os.ReadFile(sigPath)
	if err != nil {
		t.Fatal(err)
	}
	return payload, bytes.TrimSpace(sig)
}

// pushSignatureReferrer pushes issue 21's signature manifest for ref: an
// OCI image manifest with artifactType CosignSignatureArtifactType, the
// empty config, one simple-signing layer (payload) annotated with sig, and
// ref's manifest as subject. go-containerregistry updates the fallback
// index where the registry has no referrers API.
func pushSignatureReferrer(t *testing.T, ref string, payload, sig []byte) {
	t.Helper()
	r := mustRef(t, ref)
	subject, err := remote.Head(r)
	if err != nil {
		t.Fatal(err)
	}
	config := static.NewLayer([]byte(emptyConfig), emptyConfigType)
	layer := static.NewLayer(payload, harness.CosignSimpleSigningMediaType)
	for _, l := range []v1.Layer{config, layer} {
		if err := remote.WriteLayer(r.Context(), l); err != nil {
			t.Fatal(err)
		}
	}
	configDigest, _ := config.Digest()
	layerDigest, _ := layer.Digest()
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  harness.CosignSignatureArtifactType,
		Config: v1.Descriptor{
			MediaType: emptyConfigType, Digest: configDigest, Size: int64(len(emptyConfig)),
			Data: []byte(emptyConfig),
		},
		Layers: []v1.Descriptor{{
			MediaType: harness.CosignSimpleSigningMediaType, Digest: layerDigest, Size: int64(len(payload)),
			Annotations: map[string]string{harness.CosignSignatureAnnotation: string(sig)},
		}},
		Subject: &v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	digest, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(r.Context().Digest(digest.String()), signatureManifest{raw, types.OCIManifestSchema1}); err != nil {
		t.Fatal(err)
	}
}

// signatureManifest is a manifest to push as it is written (remote.Put).
type signatureManifest struct {
	raw       []byte
	mediaType types.MediaType
}

func (m signatureManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m signatureManifest) MediaType() (types.MediaType, error) { return m.mediaType, nil }
