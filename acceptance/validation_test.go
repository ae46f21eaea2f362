//go:build acceptance

package acceptance_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// errorFormat is the one format of every declaration error and collision
// (docs/spec.md 2.4):
//
//	buildpack "<id>@<version>", layer "<layer>"[ (directory <layer>.ignore: <why>)], file "<path>": [artifact <n> (tag "<tag>"): ]<what is wrong>[; fix: <how>]
var errorFormat = regexp.MustCompile(`buildpack "[^"@]+@[^"]+", layer "[^"]+"( \(directory [^)]+\.ignore: [^)]+\))?, file "[^"]+": (artifact [1-9][0-9]*( \(tag "[^"]*"\))?: )?[^;]+(; fix: .+)?$`)

// [R2.4-3] Every error the exporter reports about declarations, collisions
// with the app image's tag (section 5) included, has one format: buildpack,
// layer, file, then the artifact and its tag when known, what is wrong and
// the fix where there is one. Each error case sits in a layer of its own, so
// that each line of output naming a buildpack can be told apart; the
// declaration errors are reported at once (exit 63), the collision is
// checked on declarations that validate.
func TestExportErrorsHaveOneFormat(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	const typ = "type = \"application/vnd.example.v1\"\n"
	layer := func(name, toml string) fixture.Layer {
		return fixture.Layer{Name: name, Launch: true, Files: map[string][]byte{"artifacts.toml": []byte(toml), "a.txt": []byte("a")}}
	}
	for _, tc := range []struct {
		name   string
		layers []fixture.Layer
		// want are, per layer, a part of its error that only it says.
		want map[string]string
	}{
		{
			name: "declaration errors",
			layers: []fixture.Layer{
				layer("malformed", "[[artifact]\ntag = \"a\"\n"),
				layer("empty", "# nothing\n"),
				layer("unknown", "[[artifact]]\ntag = \"u\"\nfile = \"a.txt\"\n"+typ+"colour = \"red\"\n"),
				layer("notag", "[[artifact]]\nfile = \"a.txt\"\n"+typ),
				layer("badtag", "[[artifact]]\ntag = \"-bad\"\nfile = \"a.txt\"\n"+typ),
				layer("missing", "[[artifact]]\ntag = \"m\"\nfile = \"nope.txt\"\n"+typ),
				layer("escape", "[[artifact]]\ntag = \"e\"\nfile = \"../a.txt\"\n"+typ),
				layer("mediatype", "[[artifact]]\ntag = \"t\"\nfile = \"a.txt\"\ntype = \"text\"\n"),
				{Name: "hidden", Files: map[string][]byte{"artifacts.toml": []byte("[[artifact]]\ntag = \"h\"\nfile = \"nope.txt\"\n" + typ)}},
			},
			want: map[string]string{
				"malformed": "malformed TOML", "empty": "no [[artifact]] declared", "unknown": `unknown key "artifact.colour"`,
				"notag": "missing required field: tag", "badtag": `invalid tag "-bad"`, "missing": "file does not exist in the layer directory; fix: ",
				"escape": "path leaves the layer directory; fix: ", "mediatype": `invalid media type "text"`, "hidden": "hidden.ignore",
			},
		},
		{
			name:   "collision with the app image's tag",
			layers: []fixture.Layer{layer("collide", "[[artifact]]\ntag = \"latest\"\nfile = \"a.txt\"\n"+typ)},
			want:   map[string]string{"collide": `published tag "latest" collides with app image tag`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bp := fixture.Buildpack{ID: "acme/format", Version: "3.1.4", Layers: tc.layers}
			w := fixture.New(t, run, fixture.Plain(), bp)
			out, code := export(t, w, false, "0.13", nil, reg.Host+"/app:latest")
			if code != platform.CodeInvalidArtifacts {
				t.Fatalf("[R2.4-3] exit %d, want %d\n%s", code, platform.CodeInvalidArtifacts, out)
			}
			var lines []string
			for _, l := range strings.Split(out, "\n") {
				if strings.Contains(l, `buildpack "acme/format@`) {
					lines = append(lines, l)
				}
			}
			for name, part := range tc.want {
				var found []string
				for _, l := range lines {
					if strings.Contains(l, `layer "`+name+`"`) {
						found = append(found, l)
					}
				}
				if len(found) != 1 {
					t.Errorf("[R2.4-3] want one error line for layer %q, got %d:\n%s", name, len(found), out)
					continue
				}
				l := found[0]
				if !strings.Contains(l, part) {
					t.Errorf("[R2.4-3] the error of layer %q does not say %q: %s", name, part, l)
				}
				if !strings.Contains(l, `file "acme_format/`+name) {
					t.Errorf("[R2.4-3] the error of layer %q does not name its artifacts.toml relative to the layers directory: %s", name, l)
				}
				if !errorFormat.MatchString(l) {
					t.Errorf("[R2.4-3] the error of layer %q is not in the one format %s:\n%s", name, errorFormat, l)
				}
			}
		})
	}
}

// [R2.4-5] Every declaration that passes validation builds into an
// artifact: declarations of every shape the spec allows (the RFC's labels
// array, labels as a table, a config file, several files with titles and
// media types, annotations, a symbolic link inside the layer, a nested
// path, an empty file, a tag of 128 characters, two artifacts in one file)
// are all published, each manifest with its files as layers.
func TestExportBuildsEveryValidDeclaration(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	const typ = "type = \"application/vnd.example.v1\"\n"
	longTag := "L" + strings.Repeat("x._-", 31) + "end"
	decls := []struct {
		layer, toml string
		files       map[string]string
		// tags and the layer count of each artifact's manifest.
		want map[string]int
	}{
		{"plain", "[[artifact]]\ntag = \"plain\"\nfile = \"a.txt\"\n" + typ, map[string]string{"a.txt": "a"}, map[string]int{"plain": 1}},
		{"rfc", rfcTOML, map[string]string{"mywasmprogram.wasm": "\x00asm"}, map[string]int{"wasm": 1}},
		{"helm", `
[[artifact]]
tag = "0.1.0"
config = "chart/Chart.json"
[artifact.labels]
ConfigMediaType = "application/vnd.cncf.helm.config.v1+json"
[[artifact.files]]
path = "mychart-0.1.0.tgz"
media-type = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
[artifact.annotations]
"org.opencontainers.image.description" = "my chart"
`, map[string]string{"chart/Chart.json": `{"name":"mychart"}`, "mychart-0.1.0.tgz": "tgz"}, map[string]int{"0.1.0": 1}},
		{"several", `
[[artifact]]
tag = "reports"
type = "application/vnd.cnb.test-report.v1"
file = "./junit/a.xml"
[artifact.labels]
ContentLayerMediaType = "application/xml"
[[artifact.files]]
path = "junit/sub/../b.xml"
[[artifact.files]]
path = "link.json"
media-type = "application/json"
title = "reports/summary.json"
[[artifact.files]]
path = "empty.bin"
title = "empty"

[[artifact]]
tag = "` + longTag + `"
type = "application/vnd.example.bin"
file = "deep/er/still/x.bin"
`, map[string]string{"junit/a.xml": "<a/>", "junit/b.xml": "<b/>", "summary.json": "{}", "empty.bin": "", "deep/er/still/x.bin": "x"},
			map[string]int{"reports": 4, longTag: 1}},
	}
	var layers []fixture.Layer
	want := map[string]int{}
	for _, d := range decls {
		files := map[string][]byte{"artifacts.toml": []byte(d.toml)}
		for p, c := range d.files {
			files[p] = []byte(c)
		}
		layers = append(layers, fixture.Layer{Name: d.layer, Launch: true, Files: files})
		for tag, n := range d.want {
			want[tag] = n
		}
	}
	w := fixture.New(t, run, fixture.Plain(), fixture.Buildpack{ID: "acme/shapes", Version: "1.0.0", Layers: layers})
	must(t, os.Symlink("summary.json", filepath.Join(w.Layers, "acme_shapes", "several", "link.json")))
	app := reg.Host + "/app"
	out, code := export(t, w, false, "0.13", nil, app+":latest")
	if code != 0 {
		t.Fatalf("[R2.4-5] declarations that validate were not built: exit %d\n%s", code, out)
	}
	rep := readReport(t, w.Report)
	var got []string
	for _, a := range rep.Artifacts {
		got = append(got, a.Tag)
	}
	wantTags := slices.Sorted(func(yield func(string) bool) {
		for tag := range want {
			if !yield(tag) {
				return
			}
		}
	})
	slices.Sort(got)
	if !slices.Equal(got, wantTags) {
		t.Fatalf("[R2.4-5] report has %d artifacts %v, want %v\n%s", len(got), got, wantTags, out)
	}
	for _, a := range rep.Artifacts {
		var m v1.Manifest
		must(t, json.Unmarshal(rawManifest(t, app+"@"+refDigest(a.Refs[0])), &m))
		if len(m.Layers) != want[a.Tag] {
			t.Errorf("[R2.4-5] artifact %q has %d files, want %d", a.Tag, len(m.Layers), want[a.Tag])
		}
		if d := head(t, app+":"+a.Tag); d.String() != refDigest(a.Refs[0]) {
			t.Errorf("[R2.4-5] tag %q names %s, not the artifact %s", a.Tag, d, refDigest(a.Refs[0]))
		}
	}
}
