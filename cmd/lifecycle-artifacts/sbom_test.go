package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildpacks/lifecycle/api"
	"github.com/buildpacks/lifecycle/log"

	"github.com/cnb-artifacts/lifecycle/artifacts"
	"github.com/cnb-artifacts/lifecycle/platform"
	"github.com/cnb-artifacts/lifecycle/sbom"
)

// writeSBOMs lays out <layers>/sbom/launch/examples_a/web with a CycloneDX
// and an SPDX document; spdx is written as given.
func writeSBOMs(t *testing.T, spdx string) string {
	t.Helper()
	layers := t.TempDir()
	dir := filepath.Join(layers, "sbom", "launch", "examples_a", "web")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cdx := `{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[{"type":"library","name":"express","version":"4.19.2","purl":"pkg:npm/express@4.19.2"}]}`
	for f, c := range map[string]string{"sbom.cdx.json": cdx, "sbom.spdx.json": spdx} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return layers
}

const validSPDX = `{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"web","documentNamespace":"https://example.com/web",
"creationInfo":{"created":"2026-01-01T00:00:00Z","creators":["Tool: x"]},"packages":[{"SPDXID":"SPDXRef-p","name":"express","versionInfo":"4.19.2","downloadLocation":"NOASSERTION"}]}`

// sbomArtifacts applies the SBOM mode, the policy and the target kind: the
// one place they decide what an export does with the SBOMs.
func TestSBOMArtifacts(t *testing.T) {
	t.Parallel()
	good := writeSBOMs(t, validSPDX)
	bad := writeSBOMs(t, `{"spdxVersion": not json`)
	none := t.TempDir()
	for _, tc := range []struct {
		name      string
		env       map[string]string
		kind      targetKind
		layers    string
		api       string
		formats   []string // published
		skipped   []string // report entries' types
		err, warn string
	}{
		{name: "unset: nothing", layers: good, api: "0.13"},
		{name: "policy off wins", env: map[string]string{platform.EnvSBOM: "referrers", platform.EnvPolicy: "off"}, layers: good, api: "0.13"},
		{name: "referrers", env: map[string]string{platform.EnvSBOM: "referrers"}, layers: good, api: "0.13", formats: []string{"cdx", "spdx"}},
		{name: "platform API 0.7 has no SBOM layer", env: map[string]string{platform.EnvSBOM: "referrers"}, layers: good, api: "0.7", warn: "platform API 0.7 has no SBOM layer"},
		{name: "required: a bad SBOM fails", env: map[string]string{platform.EnvSBOM: "referrers"}, layers: bad, api: "0.13",
			err: `buildpack "examples/a@1.0.0", layer "web", file "sbom/launch/examples_a/web/sbom.spdx.json"`},
		{name: "best-effort: a bad SBOM is recorded", env: map[string]string{platform.EnvSBOM: "referrers", platform.EnvPolicy: "best-effort"}, layers: bad, api: "0.13",
			formats: []string{"cdx"}, skipped: []string{"application/spdx+json"}, warn: "Skipping SBOM: SBOM format spdx"},
		{name: "daemon: recorded, one warning", env: map[string]string{platform.EnvSBOM: "referrers"}, kind: kindDaemon, layers: good, api: "0.13",
			skipped: []string{"application/vnd.cyclonedx+json", "application/spdx+json"}, warn: "Skipping 2 SBOM(s) (cdx, spdx): the daemon has no referrers"},
		{name: "daemon, no SBOM: nothing to skip, no warning", env: map[string]string{platform.EnvSBOM: "referrers"}, kind: kindDaemon, layers: none, api: "0.13"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := newSettings(nil, nil, func(k string) string { return tc.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if tc.kind != "" {
				s.kind = tc.kind
			}
			var logs bytes.Buffer
			arts, skipped, err := sbomArtifacts(log.NewDefaultLogger(&logs), s, sbomInput{layersDir: tc.layers,
				group: []artifacts.Buildpack{{ID: "examples/a", Version: "1.0.0"}}, platformAPI: api.MustParse(tc.api), launcherSBOMDir: t.TempDir(), image: "app"})
			if tc.err != "" {
				var se *sbomError
				if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want an *sbomError naming %s", err, tc.err)
				}
				if code, _, _ := artifactsCode(err); code != platform.CodeInvalidArtifacts {
					t.Fatalf("exit code %d, want %d", code, platform.CodeInvalidArtifacts)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var formats, types []string
			for _, a := range arts {
				formats = append(formats, a.SBOM)
				if a.Tag != "" {
					t.Errorf("%s: tag %q, want none", a.SBOM, a.Tag)
				}
			}
			for _, r := range skipped {
				types = append(types, r.Type)
				if r.Skipped == "" || r.Buildpack != artifacts.SBOMBuildpack || r.Layer != artifacts.SBOMLayer {
					t.Errorf("report entry %+v", r)
				}
			}
			if strings.Join(formats, ",") != strings.Join(tc.formats, ",") || strings.Join(types, ",") != strings.Join(tc.skipped, ",") {
				t.Fatalf("published %v, skipped %v; want %v, %v", formats, types, tc.formats, tc.skipped)
			}
			if tc.warn != "" && !strings.Contains(logs.String(), tc.warn) || tc.warn == "" && logs.Len() > 0 {
				t.Fatalf("logs:\n%s\nwant %q", logs.String(), tc.warn)
			}
		})
	}
}

// CNB_ARTIFACTS_SBOM_TAG tags each format's artifact.
func TestSBOMArtifactsTagged(t *testing.T) {
	t.Parallel()
	env := map[string]string{platform.EnvSBOM: "referrers", platform.EnvSBOMTag: "sbom-{format}"}
	s, err := newSettings(nil, nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	arts, _, err := sbomArtifacts(log.NewDefaultLogger(&bytes.Buffer{}), s, sbomInput{layersDir: writeSBOMs(t, validSPDX),
		group: []artifacts.Buildpack{{ID: "examples/a", Version: "1.0.0"}}, platformAPI: api.MustParse("0.13"), launcherSBOMDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(arts) != 2 || arts[0].Tag != "sbom-cdx" || arts[1].Tag != "sbom-spdx" {
		t.Fatalf("tags %v", arts)
	}
}

// validate lists the SBOM artifacts an export would publish (format, tag,
// contributors, files and sizes) when CNB_ARTIFACTS_SBOM=referrers, and
// none otherwise; a bad SBOM is an error, exit 63, as in the export.
func TestValidateListsSBOMs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, spdx string
		env        map[string]string
		code       int
		want       []string
		not        []string
	}{
		{name: "unset", spdx: validSPDX, not: []string{"SBOM cdx"}},
		{name: "referrers", spdx: validSPDX, env: map[string]string{platform.EnvSBOM: "referrers"},
			want: []string{"SBOM cdx (application/vnd.cyclonedx+json)", "SBOM spdx (application/spdx+json)", "untagged",
				"io.buildpacks.sbom.sources: examples/a@1.0.0:web", "file:   sbom.cdx.json  application/vnd.cyclonedx+json", "2 artifacts"}},
		{name: "tagged", spdx: validSPDX, env: map[string]string{platform.EnvSBOM: "referrers", platform.EnvSBOMTag: "sbom-{format}"},
			want: []string{"tag:    sbom-cdx", "tag:    sbom-spdx"}},
		{name: "bad SPDX", spdx: "[", env: map[string]string{platform.EnvSBOM: "referrers"}, code: platform.CodeInvalidArtifacts,
			want: []string{`file "sbom/launch/examples_a/web/sbom.spdx.json"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			layers := writeSBOMs(t, tc.spdx)
			writeFiles(t, layers, map[string]string{"group.toml": "[[group]]\n  id = \"examples/a\"\n  version = \"1.0.0\"\n"})
			var stdout, stderr bytes.Buffer
			code := runValidate([]string{"-layers", layers, "-no-color"}, &stdout, &stderr, func(k string) string { return tc.env[k] })
			out := stdout.String() + stderr.String()
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s", code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(out, n) {
					t.Errorf("output has %q:\n%s", n, out)
				}
			}
		})
	}
}

// What a merge leaves out of a source (a CycloneDX signature) is warned of,
// naming the format, buildpack, layer and file (R16-5).
func TestSBOMArtifactsWarnOmitted(t *testing.T) {
	t.Parallel()
	layers := writeSBOMs(t, validSPDX)
	p := filepath.Join(layers, "sbom", "launch", "examples_a", "web", "sbom.cdx.json")
	signed := `{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[],"signature":{"algorithm":"ES256","value":"x"}}`
	if err := os.WriteFile(p, []byte(signed), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{platform.EnvSBOM: "referrers"}
	s, err := newSettings(nil, nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	if _, _, err := sbomArtifacts(log.NewDefaultLogger(&logs), s, sbomInput{layersDir: layers,
		group: []artifacts.Buildpack{{ID: "examples/a", Version: "1.0.0"}}, platformAPI: api.MustParse("0.13"), launcherSBOMDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(logs.String(), "signature is not merged"); got != 1 || !strings.Contains(logs.String(), `SBOM cdx: buildpack "examples/a@1.0.0", layer "web"`) {
		t.Fatalf("logs (%d warnings):\n%s", got, logs.String())
	}
}

// The app's name in the SBOM documents is the image name's repository
// path; a name that does not parse gives none.
func TestAppName(t *testing.T) {
	t.Parallel()
	for ref, want := range map[string]string{
		"registry.example/team/app:latest":                     "team/app",
		"127.0.0.1:5000/app@sha256:" + strings.Repeat("a", 64): "app",
		"app":         "library/app",
		"":            "",
		"Not A Ref!!": "",
	} {
		if got := appName(ref); got != want {
			t.Errorf("appName(%q) = %q, want %q", ref, got, want)
		}
	}
}

// Where the launcher's SBOMs come from: none before platform API 0.11;
// lifecycle's own directory when -launcher-sbom is unset or names it; a
// custom directory's every file otherwise; none when the directory is not
// there.
func TestLauncherSBOMs(t *testing.T) {
	t.Parallel()
	def, custom := t.TempDir(), t.TempDir()
	missing := filepath.Join(t.TempDir(), "missing")
	for _, tc := range []struct {
		name, api, dir, def string
		want                sbom.Launcher
	}{
		{name: "platform API 0.10", api: "0.10", def: def},
		{name: "unset", api: "0.11", def: def, want: sbom.Launcher{Dir: def}},
		{name: "lifecycle's own", api: "0.13", dir: def, def: def, want: sbom.Launcher{Dir: def}},
		{name: "custom", api: "0.13", dir: custom, def: def, want: sbom.Launcher{Dir: custom, Custom: true}},
		{name: "custom, missing", api: "0.13", dir: missing, def: def},
		{name: "unset, lifecycle's missing", api: "0.13", def: missing},
	} {
		got := launcherSBOMs(api.MustParse(tc.api), tc.dir, tc.def)
		if tc.want.Dir != "" {
			tc.want.Version = platform.UpstreamVersion()
		}
		if got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// A merged format is one file, sbom.<format>.json; a format that is not
// merged (Syft) is each source's document under its path in the image's
// SBOM layer: a buildpack's where the builder copied it, the launcher's
// where upstream's exporter copies it (buildpacksio_lifecycle/launcher).
func TestSBOMFiles(t *testing.T) {
	t.Parallel()
	merged := sbomFiles(sbom.Document{Format: sbom.CycloneDX, Content: []byte("{}")})
	if len(merged) != 1 || merged[0].Title != sbom.CycloneDX.Ext || string(merged[0].Content) != "{}" {
		t.Fatalf("merged: %+v", merged)
	}
	bp := artifacts.Buildpack{ID: "examples/a", Version: "1.0.0"}
	lc := artifacts.Buildpack{ID: sbom.LifecycleID, Version: "0.21.17"}
	d := sbom.Document{Format: sbom.Syft, Parts: [][]byte{[]byte("a"), []byte("b"), []byte("c"), []byte("d")}, Sources: []sbom.Source{
		{Buildpack: bp, Layer: "web", Format: sbom.Syft, Path: "sbom/launch/examples_a/web/sbom.syft.json"},
		{Buildpack: lc, Layer: sbom.LauncherLayer, Format: sbom.Syft, Path: "custom.sbom.syft.json"},
		// A buildpack's layer named like the launcher's, and the
		// lifecycle's ID on another layer: where they were found.
		{Buildpack: bp, Layer: sbom.LauncherLayer, Format: sbom.Syft, Path: "sbom/launch/examples_a/launcher/sbom.syft.json"},
		{Buildpack: lc, Layer: "other", Format: sbom.Syft, Path: "sbom/launch/buildpacksio_lifecycle/other/sbom.syft.json"},
	}}
	want := []string{"examples_a/web/sbom.syft.json", "buildpacksio_lifecycle/launcher/sbom.syft.json",
		"examples_a/launcher/sbom.syft.json", "buildpacksio_lifecycle/other/sbom.syft.json"}
	got := sbomFiles(d)
	if len(got) != len(want) {
		t.Fatalf("%d files, want %d: %+v", len(got), len(want), got)
	}
	for i, f := range got {
		if f.Title != want[i] || string(f.Content) != string(d.Parts[i]) {
			t.Errorf("file %d: %q %q, want %q %q", i, f.Title, f.Content, want[i], d.Parts[i])
		}
	}
}
