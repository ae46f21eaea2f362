package artifacts

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// created is the lifecycle's default creation time (1980-01-01T00:00:01Z).
var created = time.Date(1980, 1, 1, 0, 0, 1, 0, time.UTC)

// appImage is the subject: an app image manifest.
var appImage = &v1.Descriptor{
	MediaType: types.OCIManifestSchema1,
	Size:      1234,
	Digest:    v1.Hash{Algorithm: "sha256", Hex: "6f1d8d3b1a1e6a5b9f1d0c2e3b4a5968778695a4b3c2d1e0f9e8d7c6b5a49382"},
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

const wasmModule = "\x00asm\x01\x00\x00\x00"

// goldenCases are manifests of the use cases of RFC 0113.
var goldenCases = []struct {
	name  string
	toml  string
	files map[string]string
}{{
	// The RFC's example, with the older wasm-to-oci / Krustlet media types.
	name: "rfc-wasm",
	toml: rfcTOML,
	files: map[string]string{
		"mywasmprogram.wasm": wasmModule,
	},
}, {
	// The CNCF TAG-Runtime layout (containerd, runwasi, wasmCloud).
	name: "cncf-wasm-v0",
	toml: `
[[artifact]]
tag = "wasm-v0"
config = "oci/config.json"
[[artifact.labels]]
ConfigMediaType = "application/vnd.wasm.config.v0+json"
[[artifact.files]]
path = "app.wasm"
media-type = "application/wasm"
title = "module.wasm"
`,
	files: map[string]string{
		"app.wasm":        wasmModule,
		"oci/config.json": `{"architecture":"wasm","os":"wasip1","layerDigests":["sha256:` + sha256Hex(wasmModule) + `"]}`,
	},
}, {
	// A Helm chart as helm 3 pushes it; `helm pull` accepts it.
	name: "helm",
	toml: helmTOML,
	files: map[string]string{
		"chart/Chart.json":  `{"name":"mychart","version":"0.1.0","apiVersion":"v2"}`,
		"mychart-0.1.0.tgz": "\x1f\x8b\x08\x00 not really a chart",
	},
}, {
	// A JUnit report. No standard type exists; the artifactType is ours and
	// the config is the OCI empty descriptor. The layer is application/xml
	// (RFC 7303).
	name: "junit",
	toml: `
[[artifact]]
tag = "test-report"
type = "application/vnd.cnb.junit.report.v1+xml"
[[artifact.files]]
path = "reports/TEST-app.xml"
media-type = "application/xml"
[artifact.annotations]
"org.opencontainers.image.description" = "unit tests <& results>"
`,
	files: map[string]string{
		"reports/TEST-app.xml": `<testsuite name="app" tests="1" failures="0"><testcase name="ok"/></testsuite>`,
	},
}}

// loadOne writes an artifacts.toml and its files into a layer of wasmBP and
// loads the single declaration.
func loadOne(t *testing.T, toml string, files map[string]string) Declaration {
	t.Helper()
	layers := t.TempDir()
	tree := map[string]string{wasmTOML: toml}
	for name, content := range files {
		tree["examples_wasm/wasm/"+name] = content
	}
	writeTree(t, layers, tree)
	decls, err := Load(layers, []Buildpack{wasmBP})
	if err != nil {
		t.Fatal(err)
	}
	if len(decls) != 1 {
		t.Fatalf("got %d declarations, want 1", len(decls))
	}
	return decls[0]
}

func TestManifestGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range goldenCases {
		for _, subject := range []*v1.Descriptor{appImage, nil} {
			name := tc.name
			if subject == nil {
				name += "-no-subject"
			}
			t.Run(name, func(t *testing.T) {
				d := loadOne(t, tc.toml, tc.files)
				a, err := Build(d)
				if err != nil {
					t.Fatal(err)
				}
				m, err := a.Manifest(subject, created)
				if err != nil {
					t.Fatal(err)
				}
				checkManifest(t, a, m, subject)

				var pretty bytes.Buffer
				if err := json.Indent(&pretty, m.Raw, "", "  "); err != nil {
					t.Fatal(err)
				}
				pretty.WriteByte('\n')
				golden := filepath.Join("testdata", "golden", name+".json")
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./artifacts -update)", err)
				}
				if !bytes.Equal(pretty.Bytes(), want) {
					t.Errorf("manifest differs from %s (run go test ./artifacts -update):\n%s", golden, pretty.Bytes())
				}
				// The golden file pins the exact bytes, not just the JSON value.
				var compact bytes.Buffer
				if err := json.Compact(&compact, want); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(compact.Bytes(), m.Raw) {
					t.Errorf("Raw is not the compact form of %s:\n%s", golden, m.Raw)
				}

				// Determinism: a second build of the same declaration gives the same digest.
				a2, err := Build(d)
				if err != nil {
					t.Fatal(err)
				}
				m2, err := a2.Manifest(subject, created.In(time.FixedZone("CEST", 2*3600)))
				if err != nil {
					t.Fatal(err)
				}
				if m2.Descriptor.Digest != m.Descriptor.Digest || !bytes.Equal(m.Raw, m2.Raw) {
					t.Errorf("two builds differ: %s vs %s", m.Descriptor.Digest, m2.Descriptor.Digest)
				}
			})
		}
	}
}

// checkManifest checks the manifest against the image-spec rules, apart from
// the golden bytes.
func checkManifest(t *testing.T, a *Artifact, m Manifest, subject *v1.Descriptor) {
	t.Helper()
	digest, size, err := v1.SHA256(bytes.NewReader(m.Raw))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := v1.ParseManifest(bytes.NewReader(m.Raw))
	if err != nil {
		t.Fatal(err)
	}
	wantDesc := v1.Descriptor{
		MediaType:    types.OCIManifestSchema1,
		Size:         size,
		Digest:       digest,
		ArtifactType: a.ArtifactType,
		Annotations:  pm.Annotations,
	}
	if !reflect.DeepEqual(m.Descriptor, wantDesc) {
		t.Errorf("Descriptor = %+v, want %+v", m.Descriptor, wantDesc)
	}
	if pm.SchemaVersion != 2 || pm.MediaType != types.OCIManifestSchema1 || pm.ArtifactType == "" {
		t.Errorf("bad header: %+v", pm)
	}
	if !reflect.DeepEqual(pm.Subject, subject) {
		t.Errorf("subject = %+v, want %+v", pm.Subject, subject)
	}
	for k, want := range map[string]string{
		AnnotationCreated:          "1980-01-01T00:00:01Z",
		AnnotationBuildpackID:      a.Buildpack.ID,
		AnnotationBuildpackVersion: a.Buildpack.Version,
		AnnotationLayer:            a.Layer,
	} {
		if got := pm.Annotations[k]; got != want {
			t.Errorf("annotation %s = %q, want %q", k, got, want)
		}
	}
	config, _ := a.Config()
	cd, _ := config.Digest()
	if pm.Config.Digest != cd {
		t.Errorf("config digest %s, blob digest %s", pm.Config.Digest, cd)
	}
	if a.ConfigMediaType == "" {
		want := v1.Descriptor{MediaType: MediaTypeEmpty, Size: 2, Data: []byte("{}"),
			Digest: v1.Hash{Algorithm: "sha256", Hex: "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"}}
		if !reflect.DeepEqual(pm.Config, want) {
			t.Errorf("config = %+v, want the empty descriptor", pm.Config)
		}
	}
	layers, _ := a.Layers()
	if len(pm.Layers) != len(layers) || len(layers) != len(a.Files) {
		t.Fatalf("%d layers, %d blobs, %d files", len(pm.Layers), len(layers), len(a.Files))
	}
	for i, l := range pm.Layers {
		ld, _ := layers[i].Digest()
		if l.Digest != ld || string(l.MediaType) != a.Files[i].MediaType || l.Annotations[AnnotationTitle] != a.Files[i].Title {
			t.Errorf("layer %d = %+v, file %+v", i, l, a.Files[i])
		}
	}
}

func TestManifestFieldOrder(t *testing.T) {
	t.Parallel()
	d := loadOne(t, goldenCases[0].toml, goldenCases[0].files)
	a, err := Build(d)
	if err != nil {
		t.Fatal(err)
	}
	m, err := a.Manifest(appImage, created)
	if err != nil {
		t.Fatal(err)
	}
	last := -1
	for _, key := range []string{`"schemaVersion"`, `"mediaType"`, `"artifactType"`, `"config"`, `"layers"`, `"subject"`, `"annotations"`} {
		i := bytes.Index(m.Raw, []byte(key))
		if key == `"annotations"` { // layers have annotations too
			i = bytes.LastIndex(m.Raw, []byte(key))
		}
		if i <= last {
			t.Errorf("%s at %d, not after %d", key, i, last)
		}
		last = i
	}
	// Descriptors: mediaType, digest, size, as in the image-spec.
	if !bytes.Contains(m.Raw, []byte(`"config":{"mediaType":"application/vnd.wasm.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}`)) {
		t.Errorf("config descriptor not in canonical form: %s", m.Raw)
	}
}

func TestBuildOpensNothing(t *testing.T) {
	t.Parallel()
	d := Declaration{
		Buildpack: wasmBP, Layer: "wasm", LayerDir: filepath.Join(t.TempDir(), "nope"),
		Tag: "t", ArtifactType: "application/vnd.example", Files: []File{{Path: "missing", MediaType: "a/b", Title: "missing"}},
	}
	a, err := Build(d)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if _, err := a.Manifest(nil, created); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Manifest() error = %v, want fs.ErrNotExist", err)
	}
}

func TestBuildValidates(t *testing.T) {
	t.Parallel()
	for name, d := range map[string]Declaration{
		"no files":       {Tag: "t", ArtifactType: "a/b"},
		"no type":        {Tag: "t", Files: []File{{Path: "f", MediaType: "a/b", Title: "f"}}},
		"bad tag":        {Tag: "sha256-" + sha256Hex(""), ArtifactType: "a/b", Files: []File{{Path: "f", MediaType: "a/b", Title: "f"}}},
		"escaping path":  {Tag: "t", ArtifactType: "a/b", Files: []File{{Path: "../f", MediaType: "a/b", Title: "f"}}},
		"reserved annot": {Tag: "t", ArtifactType: "a/b", Files: []File{{Path: "f", MediaType: "a/b", Title: "f"}}, Annotations: map[string]string{AnnotationCreated: "x"}},
	} {
		if _, err := Build(d); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Build() error = %v, want ErrInvalid", name, err)
		}
	}
	// ArtifactType defaults to ConfigMediaType in Build too.
	a, err := Build(Declaration{Tag: "t", ConfigMediaType: "a/b", Files: []File{{Path: "f", MediaType: "a/b", Title: "f"}}})
	if err != nil || a.ArtifactType != "a/b" {
		t.Errorf("Build() = %+v, %v", a, err)
	}
}

// Without a subject (a daemon export) the image ID is recorded instead.
func TestManifestWithImageID(t *testing.T) {
	t.Parallel()
	a, err := Build(loadOne(t, goldenCases[0].toml, goldenCases[0].files))
	if err != nil {
		t.Fatal(err)
	}
	m, err := a.Manifest(nil, created, WithImageID("sha256:1234"))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Subject     *v1.Descriptor    `json:"subject"`
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal(m.Raw, &got); err != nil {
		t.Fatal(err)
	}
	if got.Subject != nil || got.Annotations[AnnotationImageID] != "sha256:1234" || m.Descriptor.Annotations[AnnotationImageID] != "sha256:1234" {
		t.Fatalf("manifest %s", m.Raw)
	}
}
