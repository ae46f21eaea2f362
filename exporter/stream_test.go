package exporter

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/stream"

	"github.com/cnb-artifacts/lifecycle/artifacts"
)

// streamFixture builds an artifact of one file with the given content.
func streamFixture(t *testing.T, content string) *artifacts.Artifact {
	t.Helper()
	layers := t.TempDir()
	dir := filepath.Join(layers, "examples_wasm", "wasm")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"artifacts.toml": "[[artifact]]\ntag = \"wasm\"\ntype = \"application/wasm\"\nfile = \"app.wasm\"\n",
		"app.wasm":       content,
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	decls, err := artifacts.Load(layers, []artifacts.Buildpack{{ID: "examples/wasm", Version: "1"}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := artifacts.Build(decls[0])
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// A file at least minSize long whose digest is unknown is streamed: its
// digest is not computed until the upload's read, which makes it known.
func TestStreamPolicy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		minSize  int64
		streamed bool
	}{
		{"big file streams", 1, true},
		{"small file is hashed first", 1 << 20, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const content = "streamed content"
			a := streamFixture(t, content)
			ls, _ := a.Layers()
			l := streamPolicy{minSize: tc.minSize}.layer(ls[0])
			want, _, _ := v1.SHA256(strings.NewReader(content))
			_, err := l.Digest()
			if got := errors.Is(err, stream.ErrNotComputed); got != tc.streamed {
				t.Fatalf("Digest before reading: %v, streamed = %v", err, tc.streamed)
			}
			if _, err := l.Size(); errors.Is(err, stream.ErrNotComputed) != tc.streamed {
				t.Fatalf("Size before reading: %v", err)
			}
			rc, err := l.Compressed()
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || string(body) != content {
				t.Fatalf("read %q, %v", body, err)
			}
			if d, err := l.Digest(); err != nil || d != want {
				t.Fatalf("Digest after reading: %s, %v; want %s", d, err, want)
			}
			if n, _ := l.Size(); n != int64(len(content)) {
				t.Fatalf("Size = %d", n)
			}
		})
	}
}

// A blob that is not a file is uploaded as it is.
func TestStreamPolicyKeepsStaticBlobs(t *testing.T) {
	t.Parallel()
	a := streamFixture(t, "x")
	c, _ := a.Config()
	if (streamPolicy{minSize: 1}).layer(c) != v1.Layer(c) {
		t.Fatal("the policy wrapped a static blob")
	}
}

// minSize is the first size that is streamed: a file of exactly that size
// is, one byte smaller is hashed first.
func TestStreamThreshold(t *testing.T) {
	t.Parallel()
	const content = "twelve bytes"
	for _, tc := range []struct {
		min      int64
		streamed bool
	}{
		{int64(len(content)), true},
		{int64(len(content)) + 1, false},
		{int64(len(content)) - 1, true},
	} {
		a := streamFixture(t, content)
		ls, _ := a.Layers()
		_, err := streamPolicy{minSize: tc.min}.layer(ls[0]).Digest()
		if streamed := errors.Is(err, stream.ErrNotComputed); streamed != tc.streamed {
			t.Errorf("minSize %d, file of %d bytes: Digest error %v, want streamed=%v", tc.min, len(content), err, tc.streamed)
		}
	}
}
