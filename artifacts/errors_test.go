package artifacts

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update-errors", false, "rewrite testdata/errors.golden")

// Every declaration error has one format: buildpack, layer, file, artifact
// number and tag, what is wrong and, where there is one, how to fix it. The
// messages are golden (go test ./artifacts -run TestErrorMessages -update-errors).
func TestErrorMessages(t *testing.T) {
	t.Parallel()
	const typ = "type = \"application/vnd.example.v1\"\n"
	var out strings.Builder
	for _, tc := range []struct {
		name  string
		files map[string]string
	}{
		{"syntax", map[string]string{"l/artifacts.toml": "[[artifact]\n"}},
		{"no artifact", map[string]string{"l/artifacts.toml": "# empty\n"}},
		{"unknown key with a suggestion", map[string]string{"l/artifacts.toml": "[[artifact]]\ntag = \"a\"\nfile = \"a.txt\"\n" + typ + "media_type = \"x\"\n", "l/a.txt": "a"}},
		{"unknown file key with a suggestion", map[string]string{"l/artifacts.toml": "[[artifact]]\ntag = \"a\"\n" + typ + "[[artifact.files]]\npath = \"a.txt\"\nmedia_type = \"text/plain\"\n", "l/a.txt": "a"}},
		{"unknown key without a suggestion", map[string]string{"l/artifacts.toml": "[[artifact]]\ntag = \"a\"\nfile = \"a.txt\"\n" + typ + "colour = \"x\"\n", "l/a.txt": "a"}},
		{"missing tag", map[string]string{"l/artifacts.toml": "[[artifact]]\nfile = \"a.txt\"\n" + typ, "l/a.txt": "a"}},
		{"invalid tag", map[string]string{"l/artifacts.toml": "[[artifact]]\ntag = \"-a\"\nfile = \"a.txt\"\n" + typ, "l/a.txt": "a"}},
		{"invalid media type", map[string]string{"l/artifacts.toml": "[[artifact]]\ntag = \"a\"\nfile = \"a.txt\"\ntype = \"text\"\n", "l/a.txt": "a"}},
		{"missing file", map[string]string{"l/artifacts.toml": "[[artifact]]\ntag = \"a\"\nfile = \"nope.txt\"\n" + typ}},
		{"escaping path", map[string]string{"l/artifacts.toml": "[[artifact]]\ntag = \"a\"\nfile = \"../a.txt\"\n" + typ}},
		{"escaping link", map[string]string{"l/artifacts.toml": "[[artifact]]\ntag = \"a\"\nfile = \"link\"\n" + typ, "l/link": "symlink:/etc/passwd"}},
		{"directory", map[string]string{"l/artifacts.toml": "[[artifact]]\ntag = \"a\"\nfile = \"d\"\n" + typ, "l/d": "dir:"}},
		{"duplicate tag", map[string]string{
			"l/artifacts.toml": "[[artifact]]\ntag = \"a\"\nfile = \"a.txt\"\n" + typ + "[[artifact]]\ntag = \"a\"\nfile = \"a.txt\"\n" + typ, "l/a.txt": "a"}},
		{"layer renamed .ignore", map[string]string{"bundle.ignore/artifacts.toml": "[[artifact]]\ntag = \"a\"\nfile = \"nope\"\n" + typ}},
	} {
		layers := t.TempDir()
		files := map[string]string{}
		for k, v := range tc.files {
			files["examples_wasm/"+k] = v
		}
		writeTree(t, layers, files)
		_, err := Load(layers, []Buildpack{wasmBP})
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		out.WriteString("# " + tc.name + "\n" + err.Error() + "\n\n")
	}
	golden := filepath.Join("testdata", "errors.golden")
	if *updateGolden {
		if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Errorf("messages differ from %s (rerun with -update-errors and review the diff):\n%s", golden, out.String())
	}
}

func TestSuggestKey(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]string{
		"artifact.files.media_type":       `"media-type"`,
		"artifact.media_type":             `"media-type" in [[artifact.files]]`,
		"artifact.tags":                   `"tag"`,
		"artifact.labels.configmediatype": `"ConfigMediaType"`,
		"artifacts":                       `"artifact"`,
		"artifact.colour":                 "",
		"artifact.files.mediatype_of_it":  "",
	} {
		if got := suggestKey(key); got != want {
			t.Errorf("suggestKey(%q) = %q, want %q", key, got, want)
		}
	}
}
