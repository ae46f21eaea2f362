//go:build acceptance

package acceptance_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	lifecyclecmd "github.com/buildpacks/lifecycle/cmd"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// rfcTOML is RFC 0113's example, verbatim, labels as an array of tables.
const rfcTOML = `
[[artifact]]
tag = "wasm"
file = "mywasmprogram.wasm"    # Should be a file relative to the current $LAYERS_DIR

[[artifact.labels]]
ConfigMediaType       = "application/vnd.wasm.config.v1+json"
ContentLayerMediaType = "application/vnd.wasm.content.layer.v1+wasm"
`

// How the exporter reads declarations. Accepted: RFC 0113's example
// verbatim [R2.2-1], with the defaults applied [R2.3-1] and its
// ConfigMediaType as artifactType [R3-3]; an artifacts.toml outside any
// layer is not read [R2.1-2]. Refused with exit 63 and nothing pushed: an
// artifacts.toml over 1 MiB [R2.1-5], two labels tables [R2.2-2], a tag
// template that makes a referrers fallback tag [R5-2]. The accepted case
// comes first: a lifecycle that publishes no artifacts fails there.
func TestExportReadsDeclarations(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	bp := func(id, layer, toml string, files ...string) fixture.Buildpack {
		f := map[string][]byte{"artifacts.toml": []byte(toml)}
		for _, name := range files {
			f[name] = []byte("\x00asm\x01\x00\x00\x00")
		}
		return fixture.Buildpack{ID: id, Version: "1.0.0", Layers: []fixture.Layer{{Name: layer, Files: f}}}
	}

	t.Run("accepted [R2.2-1] [R2.3-1] [R3-3] [R2.1-2]", func(t *testing.T) {
		w := fixture.New(t, run, fixture.Plain(), bp("examples/rfc", "wasm", rfcTOML, "mywasmprogram.wasm"))
		outside := "[[artifact]]\ntag = \"outside\"\ntype = \"application/vnd.example\"\n[[artifact.files]]\npath = \"wasm/mywasmprogram.wasm\"\nmedia-type = \"text/plain\"\n"
		must(t, os.WriteFile(filepath.Join(w.Layers, "examples_rfc", "artifacts.toml"), []byte(outside), 0o644))
		app := reg.Host + "/accepted"
		out, code := export(t, w, false, "0.13", nil, app+":latest")
		if code != 0 {
			t.Fatalf("[R2.2-1] the RFC's example was not accepted: exit %d\n%s", code, out)
		}
		rep := readReport(t, w.Report)
		if len(rep.Artifacts) != 1 || rep.Artifacts[0].Tag != "wasm" {
			t.Fatalf("[R2.2-1] [R2.1-2] want exactly the RFC's wasm artifact published (not one of the artifacts.toml outside the layer), report has %+v\n%s", rep.Artifacts, out)
		}
		var m v1.Manifest
		must(t, json.Unmarshal(rawManifest(t, app+"@"+refDigest(rep.Artifacts[0].Refs[0])), &m))
		if m.ArtifactType != "application/vnd.wasm.config.v1+json" || m.Config.MediaType != "application/vnd.wasm.config.v1+json" {
			t.Errorf("[R3-3] artifactType %q config %q, want the ConfigMediaType for both", m.ArtifactType, m.Config.MediaType)
		}
		if len(m.Layers) != 1 || m.Layers[0].MediaType != "application/vnd.wasm.content.layer.v1+wasm" ||
			m.Layers[0].Annotations["org.opencontainers.image.title"] != "mywasmprogram.wasm" {
			t.Errorf("[R2.3-1] layers %+v, want one of the ContentLayerMediaType titled mywasmprogram.wasm", m.Layers)
		}
		if _, err := remote.Head(mustTag(t, app+":outside")); err == nil {
			t.Errorf("[R2.1-2] the artifacts.toml outside any layer was read: %s:outside exists", app)
		}
	})

	for _, tc := range []struct {
		name, rule string
		bp         fixture.Buildpack
		env        []string
		want       []string
	}{
		{
			name: "artifacts.toml over 1 MiB", rule: "R2.1-5",
			bp:   bp("examples/big", "big", "# "+strings.Repeat("x", 1<<20)+"\n"),
			want: []string{`"examples/big@1.0.0"`, `layer "big"`, "artifacts.toml", "1048576"},
		},
		{
			name: "two labels tables", rule: "R2.2-2",
			bp:   bp("examples/labels", "labels", rfcTOML+"\n[[artifact.labels]]\nConfigMediaType = \"application/vnd.example.config\"\n", "mywasmprogram.wasm"),
			want: []string{`"examples/labels@1.0.0"`, `layer "labels"`, "[[artifact.labels]]"},
		},
		{
			name: "template makes a fallback tag", rule: "R5-2",
			bp:   bp("examples/hex", "hex", "[[artifact]]\ntag = \""+strings.Repeat("ab", 32)+"\"\nfile = \"a.wasm\"\ntype = \"application/vnd.example\"\n", "a.wasm"),
			env:  []string{platform.EnvArtifactTagTemplate + "=sha256-{tag}"},
			want: []string{"examples/hex", "sha256-" + strings.Repeat("ab", 32)},
		},
	} {
		t.Run(tc.name+" ["+tc.rule+"]", func(t *testing.T) {
			w := fixture.New(t, run, fixture.Plain(), tc.bp)
			repo := strings.ReplaceAll(strings.ToLower(tc.rule), ".", "-")
			out, code := export(t, w, false, "0.13", tc.env, reg.Host+"/"+repo+":latest")
			if code != platform.CodeInvalidArtifacts {
				t.Fatalf("[%s] %s: exit %d, want %d\n%s", tc.rule, tc.name, code, platform.CodeInvalidArtifacts, out)
			}
			for _, s := range tc.want {
				if !strings.Contains(out, s) {
					t.Errorf("[%s] the error does not name %q:\n%s", tc.rule, s, out)
				}
			}
			if slices.Contains(catalog(t, reg.Host), repo) {
				t.Errorf("[%s] something was pushed to %s", tc.rule, repo)
			}
		})
	}
}

// An invalid CNB_ARTIFACTS_TAG_TEMPLATE is an invalid argument, named in the
// error, before anything is pushed: {tag} missing or twice [R10-1], which
// keeps distinct declared tags distinct [R5-3], or an unknown placeholder.
func TestExportRejectsInvalidTemplate(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	for i, tmpl := range []string{"{image-tag}", "{tag}-{tag}", "{tag}-{sha}", "{tag"} {
		t.Run(tmpl, func(t *testing.T) {
			w := fixture.New(t, run, fixture.Plain(), fixture.Samples()[2])
			repo := fmt.Sprintf("template%d", i)
			out, code := export(t, w, false, "0.13", []string{platform.EnvArtifactTagTemplate + "=" + tmpl}, reg.Host+"/"+repo+":latest")
			if code != lifecyclecmd.CodeForInvalidArgs {
				t.Fatalf("[R10-1] template %q: exit %d, want lifecycle's invalid-arguments code %d\n%s", tmpl, code, lifecyclecmd.CodeForInvalidArgs, out)
			}
			if !strings.Contains(out, platform.EnvArtifactTagTemplate) {
				t.Errorf("[R10-1] the error does not name %s:\n%s", platform.EnvArtifactTagTemplate, out)
			}
			if slices.Contains(catalog(t, reg.Host), repo) {
				t.Errorf("[R10-1] something was pushed to %s", repo)
			}
		})
	}
}
