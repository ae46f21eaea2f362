package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildpacks/lifecycle/log"
	lplatform "github.com/buildpacks/lifecycle/platform"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/exporter"
)

// The layers directory comes from CNB_LAYERS_DIR when no -layers is given,
// and each error of the JSON report numbers its artifact from 1 (the first
// artifact is 1, not 0).
func TestValidateLayersFromEnvAndArtifactNumbers(t *testing.T) {
	t.Parallel()
	layers := t.TempDir()
	bp := filepath.Join(layers, "acme_bp", "out")
	if err := os.MkdirAll(bp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(layers, "acme_bp", "out.toml"), []byte("[types]\n  launch = true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(layers, "group.toml"), []byte("[[group]]\n  id = \"acme/bp\"\n  version = \"1.0.0\"\n  api = \"0.10\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bp, "artifacts.toml"), []byte("[[artifact]]\ntag = \"a\"\nfile = \"missing.txt\"\ntype = \"application/vnd.example\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		switch k {
		case lplatform.EnvLayersDir:
			return layers
		case lplatform.EnvGroupPath:
			return filepath.Join(layers, "group.toml")
		}
		return ""
	}
	var stdout, stderr bytes.Buffer
	code := runValidate([]string{"-json"}, &stdout, &stderr, getenv)
	if code == 0 {
		t.Fatalf("a missing file passed:\n%s\n%s", stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "missing.txt") {
		t.Fatalf("the layers directory of CNB_LAYERS_DIR was not read (exit %d):\n%s\n%s", code, stdout.String(), stderr.String())
	}
	var doc map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatalf("%v:\n%s", err, stdout.String())
	}
	if !strings.Contains(stdout.String(), `"artifact": 1`) && !strings.Contains(stdout.String(), `"artifact":1`) {
		t.Fatalf("the error does not number its artifact 1:\n%s", stdout.String())
	}
}

// Without colour, escape sequences are dropped and the write reports the
// bytes it was given.
func TestNoColorWriter(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	in := []byte("\x1b[31mred\x1b[0m plain")
	n, err := (&noColorWriter{w: &buf}).Write(in)
	if err != nil || n != len(in) || buf.String() != "red plain" {
		t.Fatalf("wrote %d, %v: %q", n, err, buf.String())
	}
}

// -no-color defaults to on when CNB_NO_COLOR is true or stderr is not a
// terminal; colour only on a terminal without CNB_NO_COLOR=true.
func TestNoColorDefault(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env      string
		terminal bool
		want     bool
	}{
		{env: "", terminal: true, want: false},
		{env: "false", terminal: true, want: false},
		{env: "true", terminal: true, want: true},
		{env: "", terminal: false, want: true},
		{env: "false", terminal: false, want: true},
		{env: "true", terminal: false, want: true},
	} {
		if got := noColorDefault(tc.env, tc.terminal); got != tc.want {
			t.Errorf("CNB_NO_COLOR=%q, terminal %v: %v, want %v", tc.env, tc.terminal, got, tc.want)
		}
	}
	// A character device counts as a terminal; a buffer does not.
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if !isTerminal(null) || isTerminal(&bytes.Buffer{}) {
		t.Fatalf("isTerminal: %s %v, a buffer %v", os.DevNull, isTerminal(null), isTerminal(&bytes.Buffer{}))
	}
}

// Each joined error is one entry; a declaration error or a tag collision
// gives its buildpack, layer, file, tag and fix, and its artifact numbered
// from 1 (none when the error concerns the whole file).
func TestAddErrors(t *testing.T) {
	t.Parallel()
	bp := artifacts.Buildpack{ID: "acme/a", Version: "1.0.0"}
	collision := &exporter.CollisionError{Tag: "t", With: "the image's tag", Fix: "rename it",
		Artifact: artifacts.Declaration{Buildpack: bp, Layer: "web", Source: "acme_a/web/artifacts.toml", Index: 2, Tag: "t"}}
	decl := func(i int) *artifacts.DeclarationError {
		return &artifacts.DeclarationError{Buildpack: bp, Layer: "web", File: "acme_a/web/artifacts.toml", Tag: "u", Index: i, Err: errors.New("bad"), Fix: "fix it"}
	}
	var r validateResult
	r.addErrors(nil)
	r.addErrors(errors.Join(collision, decl(0), fmt.Errorf("wrapped: %w", decl(-1)), errors.New("plain")))
	want := []errorSummary{
		{Buildpack: "acme/a@1.0.0", Layer: "web", File: "acme_a/web/artifacts.toml", Number: 3, Tag: "t", Fix: "rename it"},
		{Buildpack: "acme/a@1.0.0", Layer: "web", File: "acme_a/web/artifacts.toml", Number: 1, Tag: "u", Fix: "fix it"},
		{Buildpack: "acme/a@1.0.0", Layer: "web", File: "acme_a/web/artifacts.toml", Number: 0, Tag: "u", Fix: "fix it"},
		{},
	}
	if len(r.Errors) != len(want) {
		t.Fatalf("%d entries, want %d: %+v", len(r.Errors), len(want), r.Errors)
	}
	for i, w := range want {
		got := r.Errors[i]
		if got.Message == "" {
			t.Errorf("entry %d has no message", i)
		}
		got.Message = ""
		if got != w {
			t.Errorf("entry %d: %+v, want %+v", i, got, w)
		}
	}
}

// An SBOM artifact's tag: untagged, found through the referrers; its
// published tag; and the declared one beside it when they differ.
func TestWriteSBOMText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		tag, published, want, not string
	}{
		{want: "  tag:    untagged (found through the image's referrers)\n"},
		{tag: "sbom-cdx", published: "sbom-cdx", want: "  tag:    sbom-cdx\n", not: "declared"},
		{tag: "sbom-{format}", published: "sbom-cdx", want: "  tag:    sbom-cdx (declared sbom-{format})\n"},
	} {
		var b bytes.Buffer
		writeSBOMText(&b, artifactSummary{SBOM: "cdx", ArtifactType: "application/vnd.cyclonedx+json", Tag: tc.tag, PublishedTag: tc.published})
		if !strings.Contains(b.String(), tc.want) || tc.not != "" && strings.Contains(b.String(), tc.not) {
			t.Errorf("tag %q, published %q:\n%s\nwant %q", tc.tag, tc.published, b.String(), tc.want)
		}
	}
}

// A file's title is printed only when it is not the file's own name.
func TestWriteTextFileTitle(t *testing.T) {
	t.Parallel()
	r := validateResult{LayersDir: "/layers", TagTemplate: "{image}-{tag}", Artifacts: []artifactSummary{{
		Buildpack: "acme/a@1.0.0", Layer: "web", LayerDir: "web", File: "acme_a/web/artifacts.toml", Number: 1, Tag: "t", PublishedTag: "t",
		Files: []blobSummary{{Path: "out/app.wasm", Title: "app.wasm"}, {Path: "out/report.xml", Title: "junit.xml"}},
	}}}
	var b bytes.Buffer
	r.writeText(&b, log.NewDefaultLogger(&bytes.Buffer{}))
	if !strings.Contains(b.String(), "out/report.xml  ") || !strings.Contains(b.String(), "  title junit.xml\n") || strings.Contains(b.String(), "title app.wasm") {
		t.Fatalf("titles:\n%s", b.String())
	}
}
