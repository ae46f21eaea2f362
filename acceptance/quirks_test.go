//go:build acceptance

package acceptance_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cnb-artifacts/lifecycle/acceptance/faultproxy"
	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// Each registry quirk users meet ends in a correct, consistent registry
// state (every reported artifact at its tag, with the app image as subject)
// or a clear refusal that moved no tag, never a half-written state. The
// real registry behind the proxy is distribution 2.8 (no referrers API) or
// olareg (the API).
func TestRegistryQuirks(t *testing.T) {
	for _, tc := range []struct {
		name      string
		olareg    bool
		quirks    faultproxy.Quirks
		wantCode  int
		wantInLog []string
	}{
		{name: "GitLab allow-list refuses the artifact types", quirks: faultproxy.Quirks{AllowedTypes: []string{"application/vnd.cncf.helm.config.v1+json"}},
			wantCode: platform.CodeRegistryFailed, wantInLog: []string{"MANIFEST_INVALID", "unknown media type"}},
		{name: "GitLab subject must exist", quirks: faultproxy.Quirks{SubjectMustExist: true}},
		{name: "GitLab fallback tag answers the subject", quirks: faultproxy.Quirks{FallbackTagIsSubject: true}},
		{name: "Artifactory referrers 406", olareg: true, quirks: faultproxy.Quirks{Referrers: faultproxy.Referrers406}},
		{name: "GAR referrers redirect to HTML", olareg: true, quirks: faultproxy.Quirks{Referrers: faultproxy.ReferrersRedirectHTML}},
		{name: "referrers hang", olareg: true, quirks: faultproxy.Quirks{Referrers: faultproxy.ReferrersHang}},
		{name: "Quay no OCI-Subject header", olareg: true, quirks: faultproxy.Quirks{NoSubjectHeader: true}},
		{name: "least-privilege credentials: tag listing refused", quirks: faultproxy.Quirks{TagListDenied: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := harness.StartDistribution(t)
			if tc.olareg {
				reg = harness.StartOlareg(t)
			}
			proxy, err := faultproxy.Start(reg.Host, 5*time.Second)
			must(t, err)
			t.Cleanup(proxy.Close)
			run := strings.Replace(fixture.PushRunImage(t, reg.Host+"/run"), reg.Host, proxy.Host, 1)
			proxy.SetQuirks(tc.quirks)
			w := fixture.New(t, run, append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...)...)
			out, code := export(t, w, false, "0.13", []string{platform.EnvRegistryTimeout + "=2s"}, proxy.Host+"/app:latest")
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\n%s", code, tc.wantCode, out)
			}
			for _, s := range tc.wantInLog {
				if !strings.Contains(out, s) {
					t.Errorf("log lacks %q:\n%s", s, out)
				}
			}
			if code != 0 {
				if _, err := remote.Head(mustTag(t, reg.Host+"/app:latest")); err == nil {
					t.Fatalf("refused, but the app tag moved")
				}
				return
			}
			rep := readReport(t, w.Report)
			app := head(t, reg.Host+"/app:latest")
			for _, a := range rep.Artifacts {
				ref, err := name.ParseReference(strings.Replace(a.Refs[0], proxy.Host, reg.Host, 1))
				must(t, err)
				desc, err := remote.Get(ref)
				must(t, err)
				var m struct{ Subject struct{ Digest string } }
				must(t, json.Unmarshal(desc.Manifest, &m))
				if m.Subject.Digest != app.String() {
					t.Errorf("%s: subject %s, app %s", a.Tag, m.Subject.Digest, app)
				}
			}
			// The referrers of the app image, as a client finds them through
			// the registry as users reach it (the API if it answers with an
			// index, else the fallback tag).
			if tc.quirks.Referrers == faultproxy.ReferrersHang {
				proxy.SetQuirks(faultproxy.Quirks{}) // a client would time out too
			}
			host := proxy.Host
			if tc.quirks.FallbackTagIsSubject {
				// GitLab answers the fallback tag with the subject to every
				// client: what the exporter wrote is read behind it.
				host = reg.Host
			}
			d, _ := name.NewDigest(host + "/app@" + app.String())
			idx, err := remote.Referrers(d)
			must(t, err)
			im, _ := idx.IndexManifest()
			if len(im.Manifests) != len(rep.Artifacts) {
				t.Errorf("a client finds %d referrers, the report has %d artifacts", len(im.Manifests), len(rep.Artifacts))
			}
		})
	}
}

// A registry that resolves the referrers fallback tag to the subject itself
// (GitLab) and has no referrers API cannot tell an image's artifacts:
// reattach must fail, moving nothing, rather than exit 0 having re-attached
// none.
func TestReattachFailsWhenTheFallbackTagIsTheSubject(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	w := fixture.New(t, run, append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...)...)
	app := reg.Host + "/app:latest"
	if out, code := export(t, w, false, "0.13", nil, app); code != 0 {
		t.Fatalf("export: exit %d\n%s", code, out)
	}
	rep := readReport(t, w.Report)
	if len(rep.Artifacts) == 0 {
		t.Fatal("the export published no artifacts")
	}
	old := head(t, app)
	// The image as a rebase elsewhere leaves it: another digest, no referrers.
	img, err := remote.Image(mustRef(t, app))
	must(t, err)
	rebased, err := mutate.AppendLayers(img, static.NewLayer([]byte("patch"), types.DockerLayer))
	must(t, err)
	must(t, remote.Write(mustTag(t, app), rebased))
	rebasedDigest, _ := rebased.Digest()
	tags := map[string]string{}
	for _, a := range rep.Artifacts {
		tags[a.Tag] = head(t, reg.Host+"/app:"+a.Tag).String()
	}

	proxy, err := faultproxy.Start(reg.Host, 5*time.Second)
	must(t, err)
	t.Cleanup(proxy.Close)
	proxy.SetQuirks(faultproxy.Quirks{FallbackTagIsSubject: true})
	cmd := exec.Command(harness.Binary(t, "lifecycle-artifacts"), "reattach", "-from", proxy.Host+"/app@"+old.String(), proxy.Host+"/app:latest")
	cmd.Env = w.Env("0.13")
	stdout, stderr, code := harness.Run(t, cmd)
	if code != platform.CodeRegistryFailed {
		t.Fatalf("reattach exited %d on a registry that cannot tell the referrers, want %d\n%s%s", code, platform.CodeRegistryFailed, stdout, stderr)
	}
	if !strings.Contains(stdout+stderr, "cannot tell the referrers") {
		t.Errorf("the error does not say why:\n%s%s", stdout, stderr)
	}
	for tag, was := range tags {
		if now := head(t, reg.Host+"/app:"+tag).String(); now != was {
			t.Errorf("tag %s moved from %s to %s", tag, was, now)
		}
	}
	if _, err := remote.Head(mustTag(t, reg.Host+"/app:sha256-"+rebasedDigest.Hex)); err == nil {
		t.Error("a fallback index was written for the rebased image")
	}
}
