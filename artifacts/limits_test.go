package artifacts

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// limitHead starts every declaration of the limit tests.
const limitHead = "[[artifact]]\ntype = \"application/vnd.example\"\n"

// manyArtifactsTOML declares n artifacts of the file f, tagged <prefix><i>.
func manyArtifactsTOML(n int, prefix string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%stag = \"%s%d\"\nfile = \"f\"\n", limitHead, prefix, i)
	}
	return b.String()
}

// manyFilesTOML declares one artifact of n files (f, titled f<i>).
func manyFilesTOML(n int) string {
	var b strings.Builder
	b.WriteString(limitHead + "tag = \"t\"\n")
	for i := range n {
		fmt.Fprintf(&b, "[[artifact.files]]\npath = \"f\"\ntitle = \"f%d\"\n", i)
	}
	return b.String()
}

// Each limit of limits.go at its boundary: exactly the limit is accepted,
// one more is refused (ErrLimit) or, for the files the exporter reads for
// itself, passed over. (TestLoadLimits checks the errors' wording; the
// artifacts.toml size is TestDeclFileSizeLimit's.)
func TestLimitBoundaries(t *testing.T) {
	t.Parallel()
	many, files := manyArtifactsTOML, manyFilesTOML
	// annotations holds exactly n bytes of keys and values.
	annotations := func(n int) string {
		return limitHead + "tag = \"t\"\nfile = \"f\"\n[artifact.annotations]\n\"k\" = \"" + strings.Repeat("v", n-1) + "\"\n"
	}
	config := func(size int64) func(t *testing.T, layers string) {
		return func(t *testing.T, layers string) {
			mustDo(t, os.Truncate(filepath.Join(layers, "examples_wasm/a/c.json"), size))
		}
	}
	const withConfig = "[[artifact]]\ntag = \"t\"\nfile = \"f\"\nconfig = \"c.json\"\n[artifact.labels]\nConfigMediaType = \"a/b\"\n"
	for _, tc := range []struct {
		name  string
		files map[string]string
		setup func(t *testing.T, layers string)
		ok    bool
	}{
		{name: "artifacts in one file: exactly the limit", ok: true,
			files: map[string]string{"examples_wasm/a/artifacts.toml": many(MaxArtifacts, "a"), "examples_wasm/a/f": "x"}},
		{name: "artifacts in one file: one more",
			files: map[string]string{"examples_wasm/a/artifacts.toml": many(MaxArtifacts+1, "a"), "examples_wasm/a/f": "x"}},
		{name: "artifacts across layers: exactly the limit", ok: true, files: map[string]string{
			"examples_wasm/a/artifacts.toml": many(MaxArtifacts/2, "a"), "examples_wasm/a/f": "x",
			"examples_wasm/b/artifacts.toml": many(MaxArtifacts/2, "b"), "examples_wasm/b/f": "x"}},
		{name: "artifacts across layers: one more", files: map[string]string{
			"examples_wasm/a/artifacts.toml": many(MaxArtifacts/2, "a"), "examples_wasm/a/f": "x",
			"examples_wasm/b/artifacts.toml": many(MaxArtifacts/2+1, "b"), "examples_wasm/b/f": "x"}},
		{name: "files per artifact: exactly the limit", ok: true,
			files: map[string]string{"examples_wasm/a/artifacts.toml": files(MaxFilesPerArtifact), "examples_wasm/a/f": "x"}},
		{name: "files per artifact: one more",
			files: map[string]string{"examples_wasm/a/artifacts.toml": files(MaxFilesPerArtifact + 1), "examples_wasm/a/f": "x"}},
		{name: "annotations: exactly the limit", ok: true,
			files: map[string]string{"examples_wasm/a/artifacts.toml": annotations(MaxAnnotationBytes), "examples_wasm/a/f": "x"}},
		{name: "annotations: one more",
			files: map[string]string{"examples_wasm/a/artifacts.toml": annotations(MaxAnnotationBytes + 1), "examples_wasm/a/f": "x"}},
		{name: "config: exactly the limit", ok: true, setup: config(MaxConfigSize),
			files: map[string]string{"examples_wasm/a/artifacts.toml": withConfig, "examples_wasm/a/f": "x", "examples_wasm/a/c.json": "{}"}},
		{name: "config: one more", setup: config(MaxConfigSize + 1),
			files: map[string]string{"examples_wasm/a/artifacts.toml": withConfig, "examples_wasm/a/f": "x", "examples_wasm/a/c.json": "{}"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			layers := t.TempDir()
			writeTree(t, layers, tc.files)
			if tc.setup != nil {
				tc.setup(t, layers)
			}
			var (
				decls []Declaration
				err   error
			)
			within(t, 20*time.Second, func() {
				decls, err = Load(layers, []Buildpack{{ID: "examples/wasm", Version: "1"}})
			})
			if !tc.ok {
				if !errors.Is(err, ErrLimit) {
					t.Fatalf("err = %v, want ErrLimit", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// What was accepted is also built and read whole.
			for _, d := range decls {
				a, err := Build(d)
				if err != nil {
					t.Fatal(err)
				}
				cfg, _ := a.Config()
				rc, err := cfg.Compressed()
				if err != nil {
					t.Fatal(err)
				}
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
				if err != nil {
					t.Fatalf("reading the config: %v", err)
				}
			}
		})
	}
}

// A digest cache file of exactly maxDigestCacheSize bytes is read; one more
// byte and it is ignored, with the reason.
func TestDigestCacheSizeLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		size int64
		ok   bool
	}{
		{maxDigestCacheSize, true},
		{maxDigestCacheSize + 1, false},
	} {
		t.Run(fmt.Sprint(tc.size), func(t *testing.T) {
			t.Parallel()
			w := newCacheWorkspace(t, "content", noRacyCutoff)
			w.export(t)
			p := filepath.Join(w.layers, ".cnb-artifacts", "digests.json")
			raw, err := os.ReadFile(p)
			mustDo(t, err)
			// Trailing white space keeps the JSON valid at any size.
			mustDo(t, os.WriteFile(p, append(raw, bytes.Repeat([]byte(" "), int(tc.size)-len(raw))...), 0o644))
			a, c := w.open(t)
			ls, _ := a.Layers()
			if _, err := ls[0].Digest(); err != nil {
				t.Fatal(err)
			}
			if prob := c.Problem(); (prob == nil) != tc.ok || !tc.ok && !errors.Is(prob, ErrLimit) {
				t.Fatalf("a cache of %d bytes: problem %v, want ok=%v", tc.size, prob, tc.ok)
			}
		})
	}
}

// A <layer>.toml of exactly maxLayerTOML bytes is read to find a reused
// layer; a larger one is passed over.
func TestReusedLayerTOMLLimit(t *testing.T) {
	t.Parallel()
	const launch = "[types]\n  launch = true\n#"
	for _, tc := range []struct {
		size int
		ok   bool
	}{
		{maxLayerTOML, true},
		{maxLayerTOML + 1, false},
	} {
		layers := t.TempDir()
		writeTree(t, layers, map[string]string{"examples_helm/chart.toml": launch + strings.Repeat("x", tc.size-len(launch))})
		got, err := ReusedLayers(layers, []Buildpack{{ID: "examples/helm", Version: "1"}})
		mustDo(t, err)
		if (len(got) == 1) != tc.ok {
			t.Errorf("a <layer>.toml of %d bytes: reused %v, want ok=%v", tc.size, got, tc.ok)
		}
	}
}
