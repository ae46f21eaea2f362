//go:build acceptance

package acceptance_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// Bad input gets a clear error naming the buildpack, the layer and the file,
// exit code 63, and nothing is pushed: no blob, no manifest, no tag. Each
// case's want is what only its error says (the fixed parts of its message).
func TestExportRejectsBadInput(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	const typ = "type = \"application/vnd.example.v1\"\n"
	for _, tc := range []struct {
		name  string
		toml  string
		setup func(t *testing.T, layer string)
		want  string
	}{
		{name: "malformed toml", toml: "[[artifact]\ntag = \"a\"\n", want: "artifacts.toml\": malformed TOML: line 2"},
		{name: "missing tag", toml: "[[artifact]]\nfile = \"a.txt\"\n" + typ, want: "artifact 1: missing required field: tag"},
		{name: "missing file", toml: "[[artifact]]\ntag = \"a\"\n" + typ, want: "missing required field: file"},
		{name: "absolute path", toml: "[[artifact]]\ntag = \"a\"\nfile = \"/etc/passwd\"\n" + typ, want: `file "/etc/passwd": invalid path`},
		{name: "dot dot", toml: "[[artifact]]\ntag = \"a\"\nfile = \"../secret\"\n" + typ, want: `file "../secret": path leaves the layer directory`},
		{name: "symlink out of the layer", toml: "[[artifact]]\ntag = \"a\"\nfile = \"link\"\n" + typ, want: `file "link": path leaves the layer directory`,
			setup: func(t *testing.T, layer string) { must(t, os.Symlink("/etc/passwd", filepath.Join(layer, "link"))) }},
		{name: "fifo", toml: "[[artifact]]\ntag = \"a\"\nfile = \"pipe\"\n" + typ, want: `file "pipe": not a regular file`,
			setup: func(t *testing.T, layer string) { must(t, syscall.Mkfifo(filepath.Join(layer, "pipe"), 0o644)) }},
		{name: "directory", toml: "[[artifact]]\ntag = \"a\"\nfile = \"dir\"\n" + typ, want: `file "dir": not a regular file`,
			setup: func(t *testing.T, layer string) { must(t, os.Mkdir(filepath.Join(layer, "dir"), 0o755)) }},
		{name: "file does not exist", toml: "[[artifact]]\ntag = \"a\"\nfile = \"nope.txt\"\n" + typ, want: `file "nope.txt": file does not exist`},
		{name: "path relative to $CNB_LAYERS_DIR", toml: "[[artifact]]\ntag = \"a\"\nfile = \"out/a.txt\"\n" + typ,
			want: `file "out/a.txt": file does not exist in the layer directory (paths are relative to the layer directory, not to $CNB_LAYERS_DIR: write "a.txt")`},
		{name: "invalid tag", toml: "[[artifact]]\ntag = \"-bad\"\nfile = \"a.txt\"\n" + typ, want: `invalid tag "-bad"`},
		{name: "fallback tag", toml: "[[artifact]]\ntag = \"sha256-" + strings.Repeat("ab", 32) + "\"\nfile = \"a.txt\"\n" + typ, want: "referrers fallback tag"},
		{name: "invalid media type", toml: "[[artifact]]\ntag = \"a\"\nfile = \"a.txt\"\ntype = \"not a type\"\n", want: `invalid media type "not a type"`},
		{name: "tag of the app image", toml: "[[artifact]]\ntag = \"latest\"\nfile = \"a.txt\"\n" + typ, want: `published tag "latest" collides with app image tag`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bp := fixture.Buildpack{ID: "acme/bad", Version: "2.0.0", Layers: []fixture.Layer{{Name: "out", Launch: true,
				Files: map[string][]byte{"artifacts.toml": []byte(tc.toml), "a.txt": []byte("a")}}}}
			w := fixture.New(t, run, fixture.Plain(), bp)
			if tc.setup != nil {
				tc.setup(t, filepath.Join(w.Layers, "acme_bad", "out"))
			}
			out, code := export(t, w, false, "0.13", nil, reg.Host+"/app:latest")
			if code != platform.CodeInvalidArtifacts {
				t.Fatalf("exit %d, want %d\n%s", code, platform.CodeInvalidArtifacts, out)
			}
			for _, s := range []string{"acme/bad", `"out"`, "acme_bad/out/artifacts.toml", tc.want} {
				if !strings.Contains(out, s) {
					t.Fatalf("error does not name %q:\n%s", s, out)
				}
			}
			if _, err := os.Stat(w.Report); !os.IsNotExist(err) {
				t.Fatalf("report.toml written on failure")
			}
			if repos := catalog(t, reg.Host); !slices.Equal(repos, []string{"run"}) {
				t.Fatalf("something was pushed: repositories %v", repos)
			}
		})
	}
}

// Every error of every buildpack is reported at once, and two declarations
// of one tag are both named.
func TestExportReportsAllErrors(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	decl := func(tag, file string) []byte {
		return []byte("[[artifact]]\ntag = \"" + tag + "\"\nfile = \"" + file + "\"\ntype = \"application/vnd.example.v1\"\n")
	}
	w := fixture.New(t, run,
		fixture.Buildpack{ID: "acme/one", Version: "1.0.0", Layers: []fixture.Layer{{Name: "l1", Launch: true, Files: map[string][]byte{"artifacts.toml": decl("same", "a.txt"), "a.txt": []byte("a")}}}},
		fixture.Buildpack{ID: "acme/two", Version: "1.0.0", Layers: []fixture.Layer{
			{Name: "l2", Launch: true, Files: map[string][]byte{"artifacts.toml": decl("same", "b.txt"), "b.txt": []byte("b")}},
			{Name: "l3", Launch: true, Files: map[string][]byte{"artifacts.toml": decl("other", "missing.txt")}},
		}},
	)
	out, code := export(t, w, false, "0.13", nil, reg.Host+"/app:latest")
	if code != platform.CodeInvalidArtifacts {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, s := range []string{"acme_one/l1/artifacts.toml", "acme_two/l2/artifacts.toml", "acme_two/l3/artifacts.toml",
		`file "missing.txt": file does not exist`, "duplicate tag"} {
		if !strings.Contains(out, s) {
			t.Fatalf("error does not name %q:\n%s", s, out)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// catalog lists the registry's repositories (distribution's _catalog).
func catalog(t *testing.T, host string) []string {
	t.Helper()
	resp, err := http.Get("http://" + host + "/v2/_catalog")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c struct {
		Repositories []string `json:"repositories"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c.Repositories
}
