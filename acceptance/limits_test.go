//go:build acceptance

package acceptance_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
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
