//go:build acceptance

package acceptance_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
)

// The artifacts are published, with the app image as subject, at every
// platform API the lifecycle supports: 0.7 to 0.15, 0.8 being kpack's.
func TestExportArtifactsEveryPlatformAPI(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	for _, api := range []string{"0.7", "0.8", "0.9", "0.10", "0.11", "0.12", "0.13", "0.14", "0.15"} {
		t.Run("platform "+api, func(t *testing.T) {
			w := fixture.New(t, run, append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...)...)
			app := reg.Host + "/api" + strings.ReplaceAll(api, ".", "-")
			out, code := export(t, w, false, api, nil, app+":latest")
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, out)
			}
			rep := readReport(t, w.Report)
			appDigest := head(t, app+":latest")
			if rep.Image.Digest != appDigest.String() {
				t.Fatalf("report digest %s, registry %s", rep.Image.Digest, appDigest)
			}
			if len(rep.Artifacts) != 3 {
				t.Fatalf("report has %d artifacts", len(rep.Artifacts))
			}
			for _, a := range rep.Artifacts {
				ref, err := name.ParseReference(a.Refs[0])
				must(t, err)
				desc, err := remote.Get(ref)
				must(t, err)
				var m struct {
					Subject struct{ Digest string } `json:"subject"`
				}
				must(t, json.Unmarshal(desc.Manifest, &m))
				if m.Subject.Digest != appDigest.String() {
					t.Errorf("artifact %s: subject %s, app image %s", a.Tag, m.Subject.Digest, appDigest)
				}
				if d := head(t, app+":"+a.Tag); !strings.HasSuffix(a.Refs[0], "@"+d.String()) {
					t.Errorf("tag %s holds %s, report %s", a.Tag, d, a.Refs[0])
				}
			}
		})
	}
}
