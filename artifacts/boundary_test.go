package artifacts

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Boundary tests of the limits that bound what is read: exactly the limit
// is accepted, one more is refused.

// A published manifest of exactly MaxFilesPerArtifact layers is carried;
// one more is refused. A carried artifact has no place in an artifacts.toml
// (Index -1), so its errors name none.
func TestFromManifestLayerLimit(t *testing.T) {
	t.Parallel()
	a := buildOne(t, "[[artifact]]\ntag = \"junit\"\ntype = \"application/vnd.cnb.junit.report.v1+xml\"\nfile = \"a.xml\"\n", map[string]string{"a.xml": "<a/>"})
	subject := &v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("1", 64)}, Size: 100}
	m, err := a.Manifest(subject, time.Date(1980, 1, 1, 0, 0, 1, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(m.Raw, &raw); err != nil {
		t.Fatal(err)
	}
	layer := raw["layers"].([]any)[0].(map[string]any)
	for _, tc := range []struct {
		layers  int
		refused bool
	}{{MaxFilesPerArtifact, false}, {MaxFilesPerArtifact + 1, true}} {
		t.Run(fmt.Sprint(tc.layers), func(t *testing.T) {
			t.Parallel()
			var layers []any
			for i := range tc.layers {
				l := map[string]any{}
				for k, v := range layer {
					l[k] = v
				}
				l["annotations"] = map[string]string{"org.opencontainers.image.title": fmt.Sprintf("f%04d.xml", i)}
				layers = append(layers, l)
			}
			r := map[string]any{}
			for k, v := range raw {
				r[k] = v
			}
			r["layers"] = layers
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			c, err := FromManifest(b, func(d v1.Descriptor) (Blob, error) { return describedBlob{d}, nil })
			if tc.refused {
				if !errors.Is(err, ErrLimit) {
					t.Fatalf("%d layers: err %v, want ErrLimit", tc.layers, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%d layers refused: %v", tc.layers, err)
			}
			if len(c.Files) != tc.layers {
				t.Fatalf("%d files carried, want %d", len(c.Files), tc.layers)
			}
			if c.Index != -1 {
				t.Fatalf("carried artifact has index %d in an artifacts.toml, want -1 (none)", c.Index)
			}
		})
	}
}

// readAllLimited returns a file of exactly limit bytes whole, and refuses
// one byte more.
func TestReadAllLimitedBoundary(t *testing.T) {
	t.Parallel()
	const limit = 4096
	for _, tc := range []struct {
		size    int
		refused bool
	}{{limit, false}, {limit + 1, true}} {
		p := filepath.Join(t.TempDir(), "f")
		content := []byte(strings.Repeat("x", tc.size-1) + "y")
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := readAllLimited(f, limit)
		f.Close()
		if tc.refused {
			if !errors.Is(err, ErrLimit) {
				t.Errorf("%d bytes: err %v, want ErrLimit", tc.size, err)
			}
			continue
		}
		if err != nil || string(b) != string(content) {
			t.Errorf("%d bytes: read %d bytes, err %v; want the whole file", tc.size, len(b), err)
		}
	}
}

// A digest cache whose file would be exactly maxDigestCacheSize bytes is
// written; one byte more is not.
func TestDigestCacheSaveSizeLimit(t *testing.T) {
	t.Parallel()
	entry := cacheEntry{Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}}
	base, err := json.Marshal(cacheFileJSON{Version: digestCacheVer, Entries: map[string]cacheEntry{"": entry}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		size    int
		refused bool
	}{{maxDigestCacheSize, false}, {maxDigestCacheSize + 1, true}} {
		t.Run(fmt.Sprint(tc.size), func(t *testing.T) {
			t.Parallel()
			layers := t.TempDir()
			c := OpenDigestCache(layers)
			key := strings.Repeat("k", tc.size-len(base)) // a key of plain letters: no escaping
			c.loaded, c.dirty = true, true
			c.entries = map[string]cacheEntry{key: entry}
			c.used = map[string]bool{key: true}
			err := c.Save()
			if tc.refused {
				if !errors.Is(err, ErrLimit) {
					t.Fatalf("err %v, want ErrLimit", err)
				}
				if _, err := os.Stat(c.Path()); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("the cache file was written: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			fi, err := os.Stat(c.Path())
			if err != nil || fi.Size() != int64(tc.size) {
				t.Fatalf("cache file: %v, %v; want %d bytes", fi, err, tc.size)
			}
		})
	}
}

// The search for misplaced declarations looks at exactly maxNestedEntries
// entries of a layer (the layer directory itself counted): one found as the
// last of them is reported, one past them is not looked at. Each says why
// it is not read: its name, or its directory.
func TestFindMisplacedEntryLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		filler int // plain files, sorted before the nested directory "z"
		found  bool
	}{
		// the layer directory, the filler, "z" and "z/artifacts.toml"
		{"the last entry looked at", maxNestedEntries - 3, true},
		{"one entry past the limit", maxNestedEntries - 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			layers := t.TempDir()
			dir := filepath.Join(layers, "examples_wasm", "wasm")
			if err := os.MkdirAll(filepath.Join(dir, "z"), 0o755); err != nil {
				t.Fatal(err)
			}
			for i := range tc.filler {
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%05d", i)), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, "z", "artifacts.toml"), []byte("[[artifact]]\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			got := FindMisplaced(layers, []Buildpack{wasmBP})
			if found := len(got) == 1 && got[0].Path == "examples_wasm/wasm/z/artifacts.toml"; found != tc.found {
				t.Fatalf("found %+v; want it found: %v", got, tc.found)
			}
		})
	}
}

// Why a misplaced file is not read: at the top of the layer, its name; in a
// nested directory, where it is.
func TestFindMisplacedSaysWhy(t *testing.T) {
	t.Parallel()
	layers := t.TempDir()
	writeTree(t, layers, map[string]string{
		"examples_wasm/wasm/Artifacts.toml":     "[[artifact]]\n",
		"examples_wasm/wasm/sub/artifacts.toml": "[[artifact]]\n",
	})
	want := map[string]string{
		"examples_wasm/wasm/Artifacts.toml":     "the exporter reads only the name artifacts.toml, in lower case",
		"examples_wasm/wasm/sub/artifacts.toml": "it is in a nested directory of the layer",
	}
	got := FindMisplaced(layers, []Buildpack{wasmBP})
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for _, m := range got {
		if !strings.HasPrefix(m.Why, want[m.Path]) {
			t.Errorf("%s: why %q, want %q", m.Path, m.Why, want[m.Path])
		}
	}
}

// An SBOM artifact of exactly MaxFilesPerArtifact files, or of annotations
// of exactly MaxAnnotationBytes, is made; one more is refused. It has no
// place in an artifacts.toml (Index -1).
func TestNewSBOMLimits(t *testing.T) {
	t.Parallel()
	spec := func(files, annotationBytes int) SBOMSpec {
		s := SBOMSpec{Format: "cdx", MediaType: "application/vnd.cyclonedx+json", Version: "0.21.17",
			Annotations: map[string]string{"k": strings.Repeat("v", annotationBytes-1)}}
		for i := range files {
			s.Files = append(s.Files, SBOMFile{Title: fmt.Sprintf("sbom%04d.cdx.json", i), Content: []byte("{}")})
		}
		return s
	}
	for _, tc := range []struct {
		name    string
		spec    SBOMSpec
		refused bool
	}{
		{"files: exactly the limit", spec(MaxFilesPerArtifact, 10), false},
		{"files: one more", spec(MaxFilesPerArtifact+1, 10), true},
		{"annotations: exactly the limit", spec(1, MaxAnnotationBytes), false},
		{"annotations: one more", spec(1, MaxAnnotationBytes+1), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, err := NewSBOM(tc.spec)
			if tc.refused {
				if err == nil {
					t.Fatal("accepted")
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if a.Index != -1 {
				t.Fatalf("SBOM artifact has index %d in an artifacts.toml, want -1 (none)", a.Index)
			}
		})
	}
}

// Validation checks every file of an artifact of exactly
// MaxFilesPerArtifact files (a missing one is reported); past the limit it
// reports the limit alone.
func TestValidateChecksFilesAtTheLimit(t *testing.T) {
	t.Parallel()
	layers := t.TempDir()
	var b strings.Builder
	b.WriteString("[[artifact]]\ntag = \"t\"\ntype = \"application/vnd.example\"\n")
	for i := range MaxFilesPerArtifact {
		path := "f"
		if i == MaxFilesPerArtifact-1 {
			path = "missing"
		}
		fmt.Fprintf(&b, "[[artifact.files]]\npath = %q\ntitle = \"f%d\"\n", path, i)
	}
	writeTree(t, layers, map[string]string{"examples_wasm/a/artifacts.toml": b.String(), "examples_wasm/a/f": "x"})
	_, err := Load(layers, []Buildpack{{ID: "examples/wasm", Version: "1"}})
	if err == nil || !strings.Contains(err.Error(), `"missing"`) {
		t.Fatalf("err %v; want the missing file of the 1000th entry reported", err)
	}
}

// Of candidates equally close, the first is suggested.
func TestClosestPrefersTheFirstOfEquals(t *testing.T) {
	t.Parallel()
	if got := closest("ab", []string{"aa", "bb"}); got != "aa" {
		t.Fatalf("closest = %q, want %q", got, "aa")
	}
}
