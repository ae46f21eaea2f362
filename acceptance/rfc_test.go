//go:build acceptance

package acceptance_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
)

// The RFC's example, with a label beyond its two media types, publishes:
// the labels' media types give the config and layer types, and the other
// label is a manifest annotation, next to [artifact.annotations]
// (docs/spec.md 2.2 and 2.6).
func TestExportRFCLabels(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	bp := fixture.Buildpack{ID: "examples/rfc", Version: "1.0.0", Layers: []fixture.Layer{{Name: "wasm", Files: map[string][]byte{
		"mywasmprogram.wasm": fixture.WasmModule(),
		"artifacts.toml": []byte(`[[artifact]]
tag = "wasm"
file = "mywasmprogram.wasm"    # Should be a file relative to the current $LAYERS_DIR

[[artifact.labels]]
ConfigMediaType       = "application/vnd.wasm.config.v1+json"
ContentLayerMediaType = "application/vnd.wasm.content.layer.v1+wasm"
"org.opencontainers.image.description" = "a wasm module"

[artifact.annotations]
"org.opencontainers.image.source" = "https://example.com/app"
`)}}}}
	w := fixture.New(t, run, fixture.Plain(), bp)
	if out, code := export(t, w, false, "0.13", nil, reg.Host+"/app:latest"); code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	ref, err := name.ParseReference(reg.Host + "/app:wasm")
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(ref)
	if err != nil {
		t.Fatalf("the artifact is not published: %v", err)
	}
	var m struct {
		ArtifactType string `json:"artifactType"`
		Config       struct{ MediaType string }
		Layers       []struct{ MediaType string }
		Annotations  map[string]string
	}
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	if m.Config.MediaType != "application/vnd.wasm.config.v1+json" || len(m.Layers) != 1 ||
		m.Layers[0].MediaType != "application/vnd.wasm.content.layer.v1+wasm" {
		t.Errorf("media types: %s", desc.Manifest)
	}
	for k, v := range map[string]string{
		"org.opencontainers.image.description": "a wasm module",
		"org.opencontainers.image.source":      "https://example.com/app",
	} {
		if m.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q; manifest %s", k, m.Annotations[k], v, desc.Manifest)
		}
	}
}
