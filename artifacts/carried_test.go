package artifacts

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// describedBlob is a blob known only by its descriptor, as one the registry
// has: reading it fails.
type describedBlob struct{ d v1.Descriptor }

func (b describedBlob) Digest() (v1.Hash, error)            { return b.d.Digest, nil }
func (b describedBlob) DiffID() (v1.Hash, error)            { return b.d.Digest, nil }
func (b describedBlob) Size() (int64, error)                { return b.d.Size, nil }
func (b describedBlob) MediaType() (types.MediaType, error) { return b.d.MediaType, nil }
func (b describedBlob) Compressed() (io.ReadCloser, error)  { return nil, errors.New("not readable") }
func (b describedBlob) Uncompressed() (io.ReadCloser, error) {
	return nil, errors.New("not readable")
}

// An artifact rebuilt from its published manifest gives, for a new subject,
// the same manifest but for the subject: same type, config, layers with
// titles, author's annotations, buildpack, layer and tag; its blobs are
// not read.
func TestFromManifest(t *testing.T) {
	t.Parallel()
	created := time.Date(1980, 1, 1, 0, 0, 1, 0, time.UTC)
	old := &v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("1", 64)}, Size: 100}
	neu := &v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("2", 64)}, Size: 200}
	for _, tc := range []struct{ name, toml string }{
		{"empty config, two files, annotations", "[[artifact]]\ntag = \"junit\"\ntype = \"application/vnd.cnb.junit.report.v1+xml\"\n[[artifact.files]]\npath = \"a.xml\"\nmedia-type = \"application/xml\"\n[[artifact.files]]\npath = \"b.xml\"\ntitle = \"second.xml\"\n[artifact.annotations]\n\"org.opencontainers.image.description\" = \"results\"\n"},
		{"config file", "[[artifact]]\ntag = \"0.1.0\"\nconfig = \"c.json\"\nfile = \"a.xml\"\n[artifact.labels]\nConfigMediaType = \"application/vnd.cncf.helm.config.v1+json\"\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := buildOne(t, tc.toml, map[string]string{"a.xml": "<a/>", "b.xml": "<b/>", "c.json": "{}"})
			first, err := a.Manifest(old, created)
			if err != nil {
				t.Fatal(err)
			}
			var read int
			c, err := FromManifest(first.Raw, func(d v1.Descriptor) (Blob, error) { read++; return describedBlob{d}, nil })
			if err != nil {
				t.Fatal(err)
			}
			if c.CarriedFrom != first.Descriptor.Digest.String() || c.Tag != a.Tag || c.Buildpack != a.Buildpack || c.Layer != a.Layer {
				t.Fatalf("carried %+v from %s", c.Declaration, c.CarriedFrom)
			}
			again, err := c.Manifest(neu, created)
			if err != nil {
				t.Fatal(err)
			}
			want := bytes.Replace(first.Raw, []byte(old.Digest.Hex), []byte(neu.Digest.Hex), 1)
			want = bytes.Replace(want, []byte(`"size":100}`), []byte(`"size":200}`), 1)
			if !bytes.Equal(again.Raw, want) {
				t.Fatalf("manifest for the new subject:\n%s\nwant\n%s", again.Raw, want)
			}
			var m struct{ Layers []json.RawMessage }
			_ = json.Unmarshal(again.Raw, &m)
			if read != len(m.Layers)+btoi(c.ConfigMediaType != "") {
				t.Fatalf("%d blobs asked for", read)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A manifest that is not one of ours is refused.
func TestFromManifestRefuses(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{
		`not json`,
		`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"}`,
		`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json"},"layers":[]}`,
		`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json"},"layers":[],"annotations":{"io.buildpacks.artifact.buildpack.id":"a","io.buildpacks.artifact.layer":"l"}}`,
	} {
		if _, err := FromManifest([]byte(raw), func(d v1.Descriptor) (Blob, error) { return describedBlob{d}, nil }); err == nil {
			t.Errorf("accepted %s", raw)
		}
	}
}
