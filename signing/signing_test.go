package signing_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/signing"
)

// The payload is byte for byte what `cosign sign` signs for the same
// repository and digest (cosign v2.6.1, sigstore's payload.Cosign).
func TestPayload(t *testing.T) {
	d, _ := v1.NewHash("sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	repo, _ := name.NewRepository("127.0.0.1:5000/team/app")
	got, err := signing.Payload(repo, d)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"critical":{"identity":{"docker-reference":"127.0.0.1:5000/team/app"},"image":{"docker-manifest-digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},"type":"cosign container image signature"},"optional":null}`
	if string(got) != want {
		t.Errorf("payload =\n%s\nwant\n%s", got, want)
	}
}

type failingSigner struct{}

func (failingSigner) Sign(context.Context, []byte) ([]byte, error) {
	return nil, errors.New("HSM offline")
}

func TestSign(t *testing.T) {
	key, pub := keyPair(t, t.TempDir(), "")
	k, err := signing.LoadKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := name.NewRepository("registry.example/app")
	subject := v1.Descriptor{MediaType: artifacts.MediaTypeManifest, Size: 10, Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("f", 64)}}
	created := time.Unix(0, 0)
	s, err := signing.Sign(context.Background(), k, repo, subject, created)
	if err != nil {
		t.Fatal(err)
	}
	if s.Subject.Digest != subject.Digest {
		t.Errorf("Subject = %s, want %s", s.Subject.Digest, subject.Digest)
	}
	var m struct {
		Layers []struct {
			Digest      v1.Hash           `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(s.Manifest.Raw, &m); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Blobs[1].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := io.ReadAll(rc)
	want, _ := signing.Payload(repo, subject.Digest)
	if string(payload) != string(want) {
		t.Errorf("the layer is %s, want the payload %s", payload, want)
	}
	sig, err := base64.StdEncoding.DecodeString(m.Layers[0].Annotations[artifacts.AnnotationCosignSig])
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(payload)
	if !ecdsa.VerifyASN1(pub, h[:], sig) {
		t.Error("the annotated signature does not verify over the payload")
	}

	_, err = signing.Sign(context.Background(), failingSigner{}, repo, subject, created)
	if err == nil || !strings.Contains(err.Error(), "HSM offline") || !strings.Contains(err.Error(), subject.Digest.String()) {
		t.Errorf("err = %v, want the signer's error naming what was signed", err)
	}
}
