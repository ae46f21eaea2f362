package artifacts

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The signature manifest is cosign's OCI 1.1 form with the OCI empty config
// and the artifactType field (docs/spec.md section 17); its bytes are
// golden (go test ./artifacts -update).
func TestSignatureManifest(t *testing.T) {
	subject := v1.Descriptor{MediaType: MediaTypeManifest, Size: 1234, Digest: v1.Hash{Algorithm: "sha256", Hex: "ab" + string(bytes.Repeat([]byte("0"), 62))},
		ArtifactType: "application/vnd.example", Annotations: map[string]string{"x": "y"}}
	payload := []byte(`{"critical":{"identity":{"docker-reference":"registry.example/app"},"image":{"docker-manifest-digest":"sha256:ab00"},"type":"cosign container image signature"},"optional":null}`)
	sig := []byte("not a real signature")
	created := time.Date(2026, 12, 2, 6, 0, 0, 0, time.FixedZone("x", 3600))
	m, blobs, err := SignatureManifest(subject, payload, sig, created)
	if err != nil {
		t.Fatal(err)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, m.Raw, "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	golden := filepath.Join("testdata", "golden", "signature.json")
	if *update {
		if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./artifacts -update)", err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Errorf("signature manifest differs from %s (run go test ./artifacts -update):\n%s", golden, pretty.Bytes())
	}

	var got manifestJSON
	if err := json.Unmarshal(m.Raw, &got); err != nil {
		t.Fatal(err)
	}
	if got.Subject == nil || got.Subject.Digest != subject.Digest || got.Subject.ArtifactType != "" || got.Subject.Annotations != nil {
		t.Errorf("subject = %+v, want the bare descriptor of %s", got.Subject, subject.Digest)
	}
	if len(got.Layers) != 1 || got.Layers[0].Annotations[AnnotationCosignSig] != base64.StdEncoding.EncodeToString(sig) {
		t.Errorf("layers = %+v, want one annotated with the base64 signature", got.Layers)
	}
	if len(blobs) != 2 {
		t.Fatalf("blobs = %d, want the config and the payload", len(blobs))
	}
	for i, b := range blobs {
		d, _ := b.Digest()
		want := got.Config.Digest
		if i == 1 {
			want = got.Layers[0].Digest
		}
		if d != want {
			t.Errorf("blob %d is %s, the manifest names %s", i, d, want)
		}
	}
	if !SignedByUs(m.Descriptor) {
		t.Error("SignedByUs(descriptor) = false for our signature")
	}
	if SignedByUs(v1.Descriptor{ArtifactType: MediaTypeCosignSignature}) {
		t.Error("a signature without our marker (cosign's, another tool's) counts as ours")
	}
	if _, _, err := SignatureManifest(subject, payload, nil, created); err == nil {
		t.Error("an empty signature makes a manifest")
	}
}
