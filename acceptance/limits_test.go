//go:build acceptance

package acceptance_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// Exactly the limits of docs/spec.md section 14.3 are accepted through the
// built exporter: 1,000 artifacts in one export, 1,000 files in one
// artifact, all published as report.toml says (one more of either is
// TestExportRefusesUnboundedDeclarations's).
func TestExportAcceptsDeclarationsAtTheLimits(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	const typ = "type = \"application/vnd.example.v1\"\n"
	var manyArtifacts, manyFiles strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&manyArtifacts, "[[artifact]]\ntag = \"a%d\"\nfile = \"a.txt\"\n%s", i, typ)
	}
	manyFiles.WriteString("[[artifact]]\ntag = \"a\"\n" + typ)
	for i := range 1000 {
		fmt.Fprintf(&manyFiles, "[[artifact.files]]\npath = \"a.txt\"\ntitle = \"a%d.txt\"\n", i)
	}
	for _, tc := range []struct {
		name      string
		toml      string
		artifacts int
		check     string // a tag that must name the artifact
	}{
		{name: "1000 artifacts", toml: manyArtifacts.String(), artifacts: 1000, check: "a999"},
		{name: "1000 files", toml: manyFiles.String(), artifacts: 1, check: "a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bp := fixture.Buildpack{ID: "acme/greedy", Version: "2.0.0", Layers: []fixture.Layer{{Name: "out", Launch: true,
				Files: map[string][]byte{"artifacts.toml": []byte(tc.toml), "a.txt": []byte("a")}}}}
			w := fixture.New(t, run, fixture.Plain(), bp)
			app := reg.Host + "/" + strings.ReplaceAll(tc.name, " ", "")
			out, code := export(t, w, false, "0.13", nil, app+":latest")
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, out)
			}
			rep := readReport(t, w.Report)
			if len(rep.Artifacts) != tc.artifacts {
				t.Fatalf("report lists %d artifacts, want %d", len(rep.Artifacts), tc.artifacts)
			}
			for _, a := range rep.Artifacts {
				if a.Tag != tc.check {
					continue
				}
				if d := head(t, app+":"+a.Tag); len(a.Refs) != 1 || a.Refs[0] != app+":"+a.Tag+"@"+d.String() {
					t.Fatalf("artifact %s: refs %v, tag names %s", a.Tag, a.Refs, d)
				}
				return
			}
			t.Fatalf("no artifact %s in the report", tc.check)
		})
	}
}

// The artifact limit holds over declared and carried artifacts together
// (R5-5): a rebuild that carries 999 artifacts of a reused layer and
// declares one more publishes all 1,000; the next, declaring two, is
// refused with exit 63 before anything moves.
func TestRebuildHoldsCarriedArtifactsToTheLimit(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	app := reg.Host + "/app:latest"
	const typ = "type = \"application/vnd.example.v1\"\n"
	declare := func(prefix string, n int) []byte {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "[[artifact]]\ntag = \"%s%d\"\nfile = \"a.txt\"\n%s", prefix, i, typ)
		}
		return []byte(b.String())
	}
	bp := func(id string, toml []byte) fixture.Buildpack {
		return fixture.Buildpack{ID: id, Version: "1.0.0", Layers: []fixture.Layer{{Name: "out", Launch: true,
			Files: map[string][]byte{"artifacts.toml": toml, "a.txt": []byte("a")}}}}
	}
	greedy := bp("acme/greedy", declare("g", 999))
	first := fixture.NewBuild(t, run, fixture.Plain(), greedy)
	if out, code := create(t, first, false, "0.13", nil, app); code != 0 {
		t.Fatalf("first build: exit %d\n%s", code, out)
	}
	// Later builds keep the greedy layer: its 999 artifacts are carried.
	rebuild := func(extra int) (*fixture.Build, string, int) {
		b := fixture.NewBuild(t, run, fixture.Plain(), greedy, bp("acme/extra", declare("x", extra)))
		keep := "#!/bin/sh\nset -eu\nprintf '[types]\\n  launch = true\\n' > \"$1/out.toml\"\n"
		must(t, os.WriteFile(filepath.Join(b.Buildpacks, "acme_greedy", "1.0.0", "bin", "build"), []byte(keep), 0o755))
		out, code := create(t, b, false, "0.13", nil, app)
		return b, out, code
	}

	second, out, code := rebuild(1)
	if code != 0 {
		t.Fatalf("999 carried and 1 declared: exit %d\n%s", code, out)
	}
	carried := 0
	for _, a := range readReport(t, second.Report).Artifacts {
		if a.CarriedFrom != "" {
			carried++
		}
	}
	if n := len(readReport(t, second.Report).Artifacts); n != 1000 || carried != 999 {
		t.Fatalf("report lists %d artifacts, %d carried; want 1000, 999 carried\n%s", n, carried, out)
	}
	before := head(t, app)

	_, out, code = rebuild(2)
	if code != platform.CodeInvalidArtifacts {
		t.Fatalf("999 carried and 2 declared: exit %d, want %d\n%s", code, platform.CodeInvalidArtifacts, out)
	}
	if want := "1001 artifacts (declared and carried), more than 1000 per export"; !strings.Contains(out, want) {
		t.Fatalf("the error does not say %q:\n%s", want, out)
	}
	if d := head(t, app); d != before {
		t.Fatalf("%s moved to %s on a refused export", app, d)
	}
	if _, err := remote.Head(mustRef(t, reg.Host+"/app:x1")); err == nil {
		t.Fatalf("the refused export moved tag x1")
	}
}
