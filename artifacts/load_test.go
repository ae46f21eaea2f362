package artifacts

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/buildpacks/lifecycle/launch"
)

var (
	wasmBP = Buildpack{ID: "examples/wasm", Version: "1.0.0"}
	helmBP = Buildpack{ID: "examples/helm", Version: "0.2.0"}
)

const wasmTOML = "examples_wasm/wasm/artifacts.toml"

// writeTree creates files under dir. A value "symlink:T" makes a symbolic
// link to T, "fifo:" a named pipe, "dir:" a directory.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasPrefix(content, "symlink:"):
			err = os.Symlink(strings.TrimPrefix(content, "symlink:"), p)
		case content == "fifo:":
			err = syscall.Mkfifo(p, 0o644)
		case content == "dir:":
			err = os.MkdirAll(p, 0o755)
		default:
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

const rfcTOML = `
[[artifact]]
tag = "wasm"
file = "mywasmprogram.wasm"    # Should be a file relative to the current $LAYERS_DIR

[[artifact.labels]]
ConfigMediaType       = "application/vnd.wasm.config.v1+json"
ContentLayerMediaType = "application/vnd.wasm.content.layer.v1+wasm"
`

const helmTOML = `
[[artifact]]
tag = "0.1.0"
type = "application/vnd.cncf.helm.config.v1+json"
config = "chart/Chart.json"
[artifact.labels]
ConfigMediaType = "application/vnd.cncf.helm.config.v1+json"
[[artifact.files]]
path = "mychart-0.1.0.tgz"
media-type = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
[artifact.annotations]
"org.opencontainers.image.description" = "my chart"
`

func TestLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string // relative to the layers dir
		bps   []Buildpack       // default: wasmBP
		want  []Declaration     // LayerDir is filled in relative to the layers dir
		// wantErrs are substrings that must each appear in the error; every
		// error must also name the buildpack, layer and file of errFile.
		wantErrs []string
		wantNot  []string // substrings that must not appear in the error
		wantIs   []error
	}{
		{
			name:  "no file",
			files: map[string]string{"examples_wasm/wasm/x": ""},
		},
		{
			name:  "buildpack without layers",
			files: map[string]string{"other/x": ""},
		},
		{
			name: "file outside a layer is not read",
			files: map[string]string{
				"examples_wasm/artifacts.toml": "garbage [[",
				"examples_wasm/wasm.toml":      "",
			},
		},
		{
			name: "RFC verbatim",
			files: map[string]string{
				wasmTOML:                                rfcTOML,
				"examples_wasm/wasm/mywasmprogram.wasm": "\x00asm",
			},
			want: []Declaration{{
				Buildpack: wasmBP, Layer: "wasm", LayerDir: "examples_wasm/wasm", Source: wasmTOML, Index: 0,
				Tag:             "wasm",
				ArtifactType:    "application/vnd.wasm.config.v1+json",
				ConfigMediaType: "application/vnd.wasm.config.v1+json",
				Files: []File{{
					Path: "mywasmprogram.wasm", MediaType: "application/vnd.wasm.content.layer.v1+wasm", Title: "mywasmprogram.wasm",
				}},
			}},
		},
		{
			name: "labels as a table, helm with config file and annotations",
			bps:  []Buildpack{helmBP},
			files: map[string]string{
				"examples_helm/chart/artifacts.toml":    helmTOML,
				"examples_helm/chart/chart/Chart.json":  `{"name":"mychart"}`,
				"examples_helm/chart/mychart-0.1.0.tgz": "tgz",
			},
			want: []Declaration{{
				Buildpack: helmBP, Layer: "chart", LayerDir: "examples_helm/chart", Source: "examples_helm/chart/artifacts.toml",
				Tag:             "0.1.0",
				ArtifactType:    "application/vnd.cncf.helm.config.v1+json",
				ConfigMediaType: "application/vnd.cncf.helm.config.v1+json",
				Config:          &File{Path: "chart/Chart.json", MediaType: "application/vnd.cncf.helm.config.v1+json"},
				Files: []File{{
					Path: "mychart-0.1.0.tgz", MediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip", Title: "mychart-0.1.0.tgz",
				}},
				Annotations: map[string]string{"org.opencontainers.image.description": "my chart"},
			}},
		},
		{
			name: "RFC labels beyond the media types become annotations",
			files: map[string]string{
				wasmTOML: `
[[artifact]]
tag = "wasm"
file = "m.wasm"
[[artifact.labels]]
ConfigMediaType = "application/vnd.wasm.config.v1+json"
"org.opencontainers.image.description" = "from labels"
Team = "payments"
[artifact.annotations]
"org.opencontainers.image.source" = "from annotations"
`,
				"examples_wasm/wasm/m.wasm": "w",
			},
			want: []Declaration{{
				Buildpack: wasmBP, Layer: "wasm", LayerDir: "examples_wasm/wasm", Source: wasmTOML,
				Tag:             "wasm",
				ArtifactType:    "application/vnd.wasm.config.v1+json",
				ConfigMediaType: "application/vnd.wasm.config.v1+json",
				Files:           []File{{Path: "m.wasm", MediaType: DefaultMediaType, Title: "m.wasm"}},
				Annotations: map[string]string{
					"org.opencontainers.image.description": "from labels",
					"Team":                                 "payments",
					"org.opencontainers.image.source":      "from annotations",
				},
			}},
		},
		{
			name: "labels: misspelt media type, not a string, also an annotation, reserved key",
			files: map[string]string{
				wasmTOML: `
[[artifact]]
tag = "t"
type = "a/b"
file = "f"
[artifact.labels]
contentlayermediatyp = "a/b"
media_type = "a/b"
Count = 3
"org.example.x" = "a"
"io.buildpacks.artifact.tag" = "x"
[artifact.annotations]
"org.example.x" = "b"
`,
				"examples_wasm/wasm/f": "",
			},
			wantErrs: []string{
				`unknown key "artifact.labels.contentlayermediatyp"; did you mean "ContentLayerMediaType"?`,
				`unknown key "artifact.labels.media_type"; did you mean "media-type" in [[artifact.files]]?`,
				`invalid labels: labels.Count: want a string, got int64`,
				`invalid labels: "org.example.x" is both a label and an annotation; keep one`,
				`invalid annotation "io.buildpacks.artifact.tag": the prefix`,
			},
			wantIs: []error{ErrUnknownKey, ErrInvalidLabels, ErrInvalidAnnotation},
		},
		{
			name: "several files, file first, defaults, titles, symlink inside the layer, two artifacts",
			files: map[string]string{
				wasmTOML: `
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
path = "raw.bin"
title = "raw"

[[artifact]]
tag = "bin"
type = "application/vnd.example.bin"
file = "raw.bin"
`,
				"examples_wasm/wasm/junit/a.xml":   "<a/>",
				"examples_wasm/wasm/junit/b.xml":   "<b/>",
				"examples_wasm/wasm/junit/sub/x":   "",
				"examples_wasm/wasm/data/s.json":   "{}",
				"examples_wasm/wasm/link.json":     "symlink:data/s.json",
				"examples_wasm/wasm/raw.bin":       "raw",
				"examples_wasm/wasm/artifacts.bak": "",
			},
			want: []Declaration{{
				Buildpack: wasmBP, Layer: "wasm", LayerDir: "examples_wasm/wasm", Source: wasmTOML,
				Tag:          "reports",
				ArtifactType: "application/vnd.cnb.test-report.v1",
				Files: []File{
					{Path: "junit/a.xml", MediaType: "application/xml", Title: "a.xml"},
					{Path: "junit/b.xml", MediaType: "application/xml", Title: "b.xml"},
					{Path: "link.json", MediaType: "application/json", Title: "reports/summary.json"},
					{Path: "raw.bin", MediaType: "application/xml", Title: "raw"},
				},
			}, {
				Buildpack: wasmBP, Layer: "wasm", LayerDir: "examples_wasm/wasm", Source: wasmTOML, Index: 1,
				Tag:          "bin",
				ArtifactType: "application/vnd.example.bin",
				Files:        []File{{Path: "raw.bin", MediaType: DefaultMediaType, Title: "raw.bin"}},
			}},
		},
		{
			name: "group order, then lexical layer order",
			bps:  []Buildpack{helmBP, wasmBP},
			files: map[string]string{
				"examples_wasm/a/artifacts.toml": "[[artifact]]\ntag='w-a'\ntype='a/b'\nfile='f'\n",
				"examples_wasm/a/f":              "",
				"examples_helm/b/artifacts.toml": "[[artifact]]\ntag='h-b'\ntype='a/b'\nfile='f'\n",
				"examples_helm/b/f":              "",
				"examples_helm/a/artifacts.toml": "[[artifact]]\ntag='h-a'\ntype='a/b'\nfile='f'\n",
				"examples_helm/a/f":              "",
			},
			want: []Declaration{
				{Buildpack: helmBP, Layer: "a", LayerDir: "examples_helm/a", Source: "examples_helm/a/artifacts.toml", Tag: "h-a", ArtifactType: "a/b", Files: []File{{Path: "f", MediaType: DefaultMediaType, Title: "f"}}},
				{Buildpack: helmBP, Layer: "b", LayerDir: "examples_helm/b", Source: "examples_helm/b/artifacts.toml", Tag: "h-b", ArtifactType: "a/b", Files: []File{{Path: "f", MediaType: DefaultMediaType, Title: "f"}}},
				{Buildpack: wasmBP, Layer: "a", LayerDir: "examples_wasm/a", Source: "examples_wasm/a/artifacts.toml", Tag: "w-a", ArtifactType: "a/b", Files: []File{{Path: "f", MediaType: DefaultMediaType, Title: "f"}}},
			},
		},
		{
			name:     "malformed TOML names the line",
			files:    map[string]string{wasmTOML: "[[artifact]]\ntag = \"wasm\"\nfile = \n"},
			wantErrs: []string{`artifacts.toml": malformed TOML`, "line 3"}, // no "artifact N"
			wantIs:   []error{ErrSyntax},
		},
		{
			name:     "wrong type",
			files:    map[string]string{wasmTOML: "[[artifact]]\ntag = 1\n"},
			wantErrs: []string{"malformed TOML", "line 2", "artifact.tag"},
			wantIs:   []error{ErrSyntax},
		},
		{
			name:     "only an unknown key",
			files:    map[string]string{wasmTOML: "top = 1\n"},
			wantErrs: []string{`artifacts.toml": unknown key "top"`},
			wantNot:  []string{"no [[artifact]] declared"},
			wantIs:   []error{ErrUnknownKey},
		},
		{
			name: "unknown keys at the top and in an artifact",
			files: map[string]string{
				wasmTOML:               "top = 1\nother = 2\n[[artifact]]\ntag = 't'\ntype = 'a/b'\nfile = 'f'\nfiel = 'g'\n",
				"examples_wasm/wasm/f": "",
			},
			wantErrs: []string{`artifacts.toml": unknown key "top"`, `artifacts.toml": unknown key "other"`, `artifact 1 (tag "t"): unknown key "artifact.fiel"`},
			wantIs:   []error{ErrUnknownKey},
		},
		{
			name:     "empty file",
			files:    map[string]string{wasmTOML: "# nothing\n"},
			wantErrs: []string{`artifacts.toml": missing required field: no [[artifact]] declared`},
			wantIs:   []error{ErrMissingField},
		},
		{
			name: "missing tag, file and type",
			files: map[string]string{
				wasmTOML: "[[artifact]]\n[artifact.annotations]\na = 'b'\n",
			},
			wantErrs: []string{"artifact 1: missing required field: tag", "missing required field: file", "missing required field: type"},
			wantIs:   []error{ErrMissingField},
		},
		{
			name: "files entry without path",
			files: map[string]string{
				wasmTOML: "[[artifact]]\ntag='t'\ntype='a/b'\n[[artifact.files]]\nmedia-type='a/b'\n",
			},
			wantErrs: []string{"missing required field: file path"},
			wantIs:   []error{ErrMissingField},
		},
		{
			name: "config without ConfigMediaType",
			files: map[string]string{
				wasmTOML: "[[artifact]]\ntag='t'\ntype='a/b'\nconfig='c.json'\nfile='f'\n", "examples_wasm/wasm/c.json": "{}", "examples_wasm/wasm/f": "",
			},
			wantErrs: []string{`labels.ConfigMediaType, required with config "c.json"`},
			wantIs:   []error{ErrMissingField},
		},
		{
			name:     "absolute path",
			files:    map[string]string{wasmTOML: "[[artifact]]\ntag='t'\ntype='a/b'\nfile='/etc/passwd'\n"},
			wantErrs: []string{`artifact 1 (tag "t"): file "/etc/passwd": invalid path: absolute`},
			wantIs:   []error{ErrInvalidPath},
		},
		{
			name:     "dot dot",
			files:    map[string]string{wasmTOML: "[[artifact]]\ntag='wasm'\ntype='a/b'\nfile='../x.wasm'\n", "examples_wasm/x.wasm": ""},
			wantErrs: []string{`buildpack "examples/wasm@1.0.0", layer "wasm", file "examples_wasm/wasm/artifacts.toml": artifact 1 (tag "wasm"): file "../x.wasm": path leaves the layer directory`},
			wantIs:   []error{ErrPathEscapes},
		},
		{
			name:     "dot dot in the middle",
			files:    map[string]string{wasmTOML: "[[artifact]]\ntag='wasm'\ntype='a/b'\nfile='a/../../x.wasm'\n", "examples_wasm/x.wasm": ""},
			wantErrs: []string{`file "../x.wasm": path leaves the layer directory`},
			wantIs:   []error{ErrPathEscapes},
		},
		{
			name: "symlink escaping the layer",
			files: map[string]string{
				wasmTOML:                      "[[artifact]]\ntag='t'\ntype='a/b'\nfile='sub/link'\n",
				"examples_wasm/secret":        "s",
				"examples_wasm/wasm/sub/link": "symlink:../../secret",
			},
			wantErrs: []string{`file "sub/link": path leaves the layer directory (through a symbolic link)`},
			wantIs:   []error{ErrPathEscapes},
		},
		{
			name: "absolute symlink",
			files: map[string]string{
				wasmTOML:                  "[[artifact]]\ntag='t'\ntype='a/b'\nfile='link'\n",
				"examples_wasm/wasm/link": "symlink:/etc/hostname",
			},
			wantErrs: []string{`file "link": path leaves the layer directory`},
			wantIs:   []error{ErrPathEscapes},
		},
		{
			name: "artifacts.toml itself a symlink out of the layer",
			files: map[string]string{
				wasmTOML:                       "symlink:../elsewhere.toml",
				"examples_wasm/elsewhere.toml": "[[artifact]]\n",
			},
			wantErrs: []string{`artifacts.toml": artifacts.toml: path leaves the layer directory`},
			wantIs:   []error{ErrPathEscapes},
		},
		{
			name:     "artifacts.toml a dangling symlink",
			files:    map[string]string{wasmTOML: "symlink:gone.toml"},
			wantErrs: []string{`artifacts.toml": artifacts.toml: invalid path: a symbolic link to a file that does not exist`},
			wantIs:   []error{ErrInvalidPath},
		},
		{
			name: "FIFO",
			files: map[string]string{
				wasmTOML:                  "[[artifact]]\ntag='t'\ntype='a/b'\nfile='pipe'\n",
				"examples_wasm/wasm/pipe": "fifo:",
			},
			wantErrs: []string{`file "pipe": not a regular file: a named pipe (FIFO)`},
			wantIs:   []error{ErrNotRegular},
		},
		{
			name: "directory",
			files: map[string]string{
				wasmTOML:                 "[[artifact]]\ntag='t'\ntype='a/b'\nfile='dir'\n",
				"examples_wasm/wasm/dir": "dir:",
			},
			wantErrs: []string{`file "dir": not a regular file: a directory`},
			wantIs:   []error{ErrNotRegular},
		},
		{
			name:     "missing file",
			files:    map[string]string{wasmTOML: "[[artifact]]\ntag='t'\ntype='a/b'\nfile='nope.wasm'\n"},
			wantErrs: []string{`file "nope.wasm": file does not exist in the layer directory`},
			wantIs:   []error{fs.ErrNotExist},
		},
		{
			name: "path relative to $CNB_LAYERS_DIR, as the RFC's wording reads",
			files: map[string]string{
				wasmTOML:                    "[[artifact]]\ntag='t'\ntype='a/b'\nfile='wasm/m.wasm'\n",
				"examples_wasm/wasm/m.wasm": "w",
			},
			wantErrs: []string{`file "wasm/m.wasm": file does not exist in the layer directory (paths are relative to the layer directory, not to $CNB_LAYERS_DIR: write "m.wasm")`},
			wantIs:   []error{fs.ErrNotExist},
		},
		{
			name:     "missing file named like the layer gets no RFC hint",
			files:    map[string]string{wasmTOML: "[[artifact]]\ntag='t'\ntype='a/b'\nfile='wasm/nope.wasm'\n"},
			wantErrs: []string{`file "wasm/nope.wasm": file does not exist in the layer directory; fix`},
			wantIs:   []error{fs.ErrNotExist},
		},
		{
			name: "missing config",
			files: map[string]string{
				wasmTOML:               "[[artifact]]\ntag='t'\nconfig='c.json'\nfile='f'\n[artifact.labels]\nConfigMediaType='a/b'\n",
				"examples_wasm/wasm/f": "",
			},
			wantErrs: []string{`config "c.json": file does not exist`},
			wantIs:   []error{fs.ErrNotExist},
		},
		{
			name:     "path through a regular file",
			files:    map[string]string{wasmTOML: "[[artifact]]\ntag='t'\ntype='a/b'\nfile='f/x'\n", "examples_wasm/wasm/f": ""},
			wantErrs: []string{`file "f/x": file does not exist`},
			wantIs:   []error{fs.ErrNotExist},
		},
		{
			name:     "artifacts.toml too large",
			files:    map[string]string{wasmTOML: "#" + strings.Repeat("x", maxDeclFileSize)},
			wantErrs: []string{`artifacts.toml": artifacts.toml: over the limit: 1048577 bytes, more than 1048576`},
			wantIs:   []error{ErrLimit},
		},
		{
			name:     "artifacts.toml a directory",
			files:    map[string]string{wasmTOML: "dir:"},
			wantErrs: []string{`artifacts.toml": artifacts.toml: not a regular file: a directory`}, // no "artifact N"
			wantIs:   []error{ErrNotRegular},
		},
		{
			name:     "invalid tag",
			files:    map[string]string{wasmTOML: "[[artifact]]\ntag='-bad'\ntype='a/b'\nfile='f'\n", "examples_wasm/wasm/f": ""},
			wantErrs: []string{`invalid tag "-bad"`},
			wantIs:   []error{ErrInvalidTag},
		},
		{
			name:     "tag too long",
			files:    map[string]string{wasmTOML: "[[artifact]]\ntag='" + strings.Repeat("a", 129) + "'\ntype='a/b'\nfile='f'\n", "examples_wasm/wasm/f": ""},
			wantErrs: []string{`invalid tag`},
			wantIs:   []error{ErrInvalidTag},
		},
		{
			name:     "fallback-form tag",
			files:    map[string]string{wasmTOML: "[[artifact]]\ntag='sha256-" + strings.Repeat("ab", 32) + "'\ntype='a/b'\nfile='f'\n", "examples_wasm/wasm/f": ""},
			wantErrs: []string{"referrers fallback tag"},
			wantIs:   []error{ErrInvalidTag},
		},
		{
			name: "invalid media types",
			files: map[string]string{
				wasmTOML: `
[[artifact]]
tag = "t"
type = "application/json; charset=utf-8"
file = "f"
[artifact.labels]
ConfigMediaType = "nope"
ContentLayerMediaType = "a/b/c"
[[artifact.files]]
path = "g"
media-type = "text/ plain"
`,
				"examples_wasm/wasm/f": "", "examples_wasm/wasm/g": "",
			},
			wantErrs: []string{
				`labels.ConfigMediaType: invalid media type "nope"`,
				`type: invalid media type "application/json; charset=utf-8": parameters are not allowed`,
				`file "f": invalid media type "a/b/c"`,
				`file "g": invalid media type "text/ plain"`,
			},
			wantIs: []error{ErrInvalidMediaType},
		},
		{
			name: "unknown keys",
			files: map[string]string{
				wasmTOML: `
top = 1
[[artifact]]
tag = "t"
type = "a/b"
file = "f"
fiel = "g"
[[artifact.labels]]
ConfigMediaTyp = "a/b"
[[artifact.files]]
path = "f"
mediatype = "a/b"
[artifact.extra]
x = 1
`,
				"examples_wasm/wasm/f": "",
			},
			wantErrs: []string{
				`file "examples_wasm/wasm/artifacts.toml": unknown key "top"`,
				`artifact 1 (tag "t"): unknown key "artifact.fiel"`,
				`unknown key "artifact.labels.ConfigMediaTyp"; did you mean "ConfigMediaType"?`,
				`unknown key "artifact.files.mediatype"; did you mean "media-type"?`,
				`unknown key "artifact.files.mediatype"`,
				`unknown key "artifact.extra"`,
			},
			wantNot: []string{"artifact.extra.x"}, // only the unknown table is named
			wantIs:  []error{ErrUnknownKey},
		},
		{
			name: "two labels tables",
			files: map[string]string{
				wasmTOML:               "[[artifact]]\ntag='t'\ntype='a/b'\nfile='f'\n[[artifact.labels]]\nConfigMediaType='a/b'\n[[artifact.labels]]\nConfigMediaType='a/c'\n",
				"examples_wasm/wasm/f": "",
			},
			wantErrs: []string{"invalid labels: 2 [[artifact.labels]] tables, want at most one"},
			wantIs:   []error{ErrInvalidLabels},
		},
		{
			name: "reserved annotations",
			files: map[string]string{
				wasmTOML: `
[[artifact]]
tag = "t"
type = "a/b"
file = "f"
[artifact.annotations]
"org.opencontainers.image.created" = "x"
"org.opencontainers.image.title" = "x"
"io.buildpacks.artifact.layer" = "x"
"" = "x"
"io.buildpacks.other" = "fine"
`,
				"examples_wasm/wasm/f": "",
			},
			wantErrs: []string{
				`invalid annotation "org.opencontainers.image.created": reserved`,
				`invalid annotation "org.opencontainers.image.title": reserved; use ` + "`title`",
				`invalid annotation "io.buildpacks.artifact.layer": the prefix`,
				`invalid annotation: empty key`,
			},
			wantIs: []error{ErrInvalidAnnotation},
		},
		{
			name: "duplicate title",
			files: map[string]string{
				wasmTOML:                 "[[artifact]]\ntag='t'\ntype='a/b'\nfile='a/x'\n[[artifact.files]]\npath='b/x'\n",
				"examples_wasm/wasm/a/x": "", "examples_wasm/wasm/b/x": "",
			},
			wantErrs: []string{`file "b/x": invalid title "x": also the title of file "a/x"`},
			wantIs:   []error{ErrInvalidTitle},
		},
		{
			name: "title with dot dot",
			files: map[string]string{
				wasmTOML:               "[[artifact]]\ntag='t'\ntype='a/b'\n[[artifact.files]]\npath='f'\ntitle='../f'\n",
				"examples_wasm/wasm/f": "",
			},
			wantErrs: []string{`invalid title "../f"`},
			wantIs:   []error{ErrInvalidTitle},
		},
		{
			name: "duplicate tag across two buildpacks names both",
			bps:  []Buildpack{wasmBP, helmBP},
			files: map[string]string{
				wasmTOML:                         "[[artifact]]\ntag='same'\ntype='a/b'\nfile='f'\n",
				"examples_wasm/wasm/f":           "",
				"examples_helm/h/artifacts.toml": "[[artifact]]\ntag='other'\ntype='a/b'\nfile='f'\n[[artifact]]\ntag='same'\ntype='a/b'\nfile='f'\n",
				"examples_helm/h/f":              "",
			},
			wantErrs: []string{
				`buildpack "examples/helm@0.2.0", layer "h", file "examples_helm/h/artifacts.toml": artifact 2 (tag "same"): duplicate tag "same": also declared by buildpack "examples/wasm@1.0.0", layer "wasm", file "examples_wasm/wasm/artifacts.toml", artifact 1`,
			},
			wantIs: []error{ErrDuplicateTag},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			layers := t.TempDir()
			writeTree(t, layers, tt.files)
			bps := tt.bps
			if bps == nil {
				bps = []Buildpack{wasmBP}
			}
			got, err := Load(layers, bps)
			if len(tt.wantErrs) > 0 {
				if err == nil {
					t.Fatalf("Load() = %+v, want an error", got)
				}
				if got != nil {
					t.Errorf("Load() returned declarations with an error")
				}
				msg := err.Error()
				for _, want := range tt.wantErrs {
					if !strings.Contains(msg, want) {
						t.Errorf("error does not contain %q:\n%s", want, msg)
					}
				}
				for _, not := range tt.wantNot {
					if strings.Contains(msg, not) {
						t.Errorf("error contains %q:\n%s", not, msg)
					}
				}
				checkDeclarationErrors(t, err)
				for _, target := range append(tt.wantIs, ErrInvalid) {
					if !errors.Is(err, target) {
						t.Errorf("errors.Is(err, %v) = false", target)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Load() error: %v", err)
			}
			for i := range tt.want {
				tt.want[i].LayerDir = filepath.Join(layers, filepath.FromSlash(tt.want[i].LayerDir))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Load() =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// checkDeclarationErrors asserts that every joined error is a
// *DeclarationError naming the buildpack, the layer and the file.
func checkDeclarationErrors(t *testing.T, err error) {
	t.Helper()
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var de *DeclarationError
		if !errors.As(e, &de) {
			t.Errorf("%v is not a *DeclarationError", e)
			continue
		}
		prefix := `buildpack "` + de.Buildpack.String() + `", layer "` + de.Layer + `", file "` + de.File + `": `
		if de.Buildpack.ID == "" || de.Layer == "" || de.File == "" || !strings.HasPrefix(e.Error(), prefix) {
			t.Errorf("error does not name buildpack, layer and file: %v", e)
		}
	}
}

func TestLoadReturnsAllErrors(t *testing.T) {
	t.Parallel()
	layers := t.TempDir()
	writeTree(t, layers, map[string]string{
		wasmTOML:                             "[[artifact]]\ntag='-x'\ntype='a/b'\nfile='missing'\n[[artifact]]\ntag='ok'\ntype='bad'\nfile='../x'\n",
		"examples_wasm/other/artifacts.toml": "not toml",
		"examples_helm/h/artifacts.toml":     "[[artifact]]\ntag='ok'\ntype='a/b'\nfile='f'\n",
		"examples_helm/h/f":                  "",
	})
	_, err := Load(layers, []Buildpack{wasmBP, helmBP})
	if err == nil {
		t.Fatal("no error")
	}
	errs := err.(interface{ Unwrap() []error }).Unwrap()
	for _, want := range []error{ErrInvalidTag, fs.ErrNotExist, ErrInvalidMediaType, ErrPathEscapes, ErrSyntax, ErrDuplicateTag} {
		n := 0
		for _, e := range errs {
			if errors.Is(e, want) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d errors match %v, want 1:\n%v", n, want, err)
		}
	}
	if len(errs) != 6 {
		t.Errorf("got %d errors, want 6:\n%v", len(errs), err)
	}
	checkDeclarationErrors(t, err)
}

func TestEscapeIDMatchesLifecycle(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"a", "examples/wasm", "a/b/c", "paketo-buildpacks/node_js"} {
		if got, want := EscapeID(id), launch.EscapeID(id); got != want {
			t.Errorf("EscapeID(%q) = %q, want %q", id, got, want)
		}
	}
}

func TestDeclarationErrorFormat(t *testing.T) {
	t.Parallel()
	e := &DeclarationError{Buildpack: wasmBP, Layer: "wasm", File: wasmTOML, Index: -1, Err: ErrSyntax}
	if got, want := e.Error(), `buildpack "examples/wasm@1.0.0", layer "wasm", file "examples_wasm/wasm/artifacts.toml": malformed TOML`; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	e.Index = 2
	if got, want := e.Error(), `buildpack "examples/wasm@1.0.0", layer "wasm", file "examples_wasm/wasm/artifacts.toml": artifact 3: malformed TOML`; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

// lifecycle's builder renames a layer that is neither launch, build nor cache
// to <layer>.ignore; its artifacts are still published under the layer's name.
func TestLoadIgnoredLayer(t *testing.T) {
	t.Parallel()
	layers := t.TempDir()
	writeTree(t, layers, map[string]string{
		"examples_wasm/wasm.ignore/artifacts.toml":     rfcTOML,
		"examples_wasm/wasm.ignore/mywasmprogram.wasm": "\x00asm",
	})
	decls, err := Load(layers, []Buildpack{wasmBP})
	if err != nil {
		t.Fatal(err)
	}
	if len(decls) != 1 || decls[0].Layer != "wasm" || filepath.Base(decls[0].LayerDir) != "wasm.ignore" ||
		decls[0].Source != "examples_wasm/wasm.ignore/artifacts.toml" {
		t.Fatalf("got %+v", decls)
	}
}
