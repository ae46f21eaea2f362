//go:build acceptance

package acceptance_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
)

// firstBuildWithSamples builds app (repository host/<repo>) with the
// samples, so that its image has three artifacts, and returns the app
// image's digest and the raw manifest and digest of its junit artifact.
func firstBuildWithSamples(t *testing.T, rule, run, app string) (subject string, junit []byte, junitDigest v1.Hash) {
	t.Helper()
	first := fixture.NewBuild(t, run, append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...)...)
	if out, code := create(t, first, false, "0.13", nil, app+":latest"); code != 0 {
		t.Fatalf("[%s] first build: exit %d\n%s", rule, code, out)
	}
	rep := readReport(t, first.Report)
	if len(rep.Artifacts) != 3 || rep.Artifacts[2].Tag != "junit" {
		t.Fatalf("[%s] the first build published %d artifacts, want 3, the third junit: %+v", rule, len(rep.Artifacts), rep.Artifacts)
	}
	junitDigest = head(t, app+":junit")
	return head(t, app+":latest").String(), rawManifest(t, app+"@"+junitDigest.String()), junitDigest
}

// variant returns the artifact manifest raw with its annotations changed:
// set are set (a declared tag, a marker), the subject kept. Its digest
// differs from raw's.
func variant(t *testing.T, raw []byte, set map[string]string) []byte {
	t.Helper()
	var m map[string]any
	must(t, json.Unmarshal(raw, &m))
	ann, _ := m["annotations"].(map[string]any)
	if ann == nil {
		ann = map[string]any{}
	}
	for k, v := range set {
		ann[k] = v
	}
	m["annotations"] = ann
	b, err := json.Marshal(m)
	must(t, err)
	return b
}

// putRawManifest PUTs an OCI manifest to host/repo by digest in one plain
// request: go-containerregistry's remote.Put would also rewrite the
// subject's fallback index on a registry without the referrers API, once
// per manifest.
func putRawManifest(t *testing.T, repo, digest string, raw []byte) {
	t.Helper()
	host, path, _ := strings.Cut(repo, "/")
	req, err := http.NewRequest(http.MethodPut, "http://"+host+"/v2/"+path+"/manifests/"+digest, bytes.NewReader(raw))
	must(t, err)
	req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT %s@%s: %s %s", repo, digest, resp.Status, body)
	}
}

// pushReferrers puts the artifact manifests into repo by digest and, on a
// registry without the referrers API, adds them to the subject's fallback
// index in one write, as an exporter would: either way the registry lists
// them as referrers of subject.
func pushReferrers(t *testing.T, reg *harness.Registry, repo, subject string, manifests [][]byte) []v1.Hash {
	t.Helper()
	var entries []map[string]any
	var digests []v1.Hash
	for _, raw := range manifests {
		d, size, err := v1.SHA256(strings.NewReader(string(raw)))
		must(t, err)
		putRawManifest(t, repo, d.String(), raw)
		var m struct {
			ArtifactType string            `json:"artifactType"`
			Config       v1.Descriptor     `json:"config"`
			Annotations  map[string]string `json:"annotations"`
		}
		must(t, json.Unmarshal(raw, &m))
		at := m.ArtifactType
		if at == "" {
			at = string(m.Config.MediaType)
		}
		entries = append(entries, map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d.String(),
			"size": size, "artifactType": at, "annotations": m.Annotations})
		digests = append(digests, d)
	}
	if reg.Referrers {
		return digests
	}
	tag := repo + ":" + strings.Replace(subject, ":", "-", 1)
	var index map[string]any
	must(t, json.Unmarshal(rawManifest(t, tag), &index))
	list, _ := index["manifests"].([]any)
	for _, e := range entries {
		list = append(list, e)
	}
	index["manifests"] = list
	b, err := json.Marshal(index)
	must(t, err)
	putManifest(t, tag, b, "application/vnd.oci.image.index.v1+json")
	return digests
}

// [R15.1-2] Two artifacts of the previous image that declare the same tag
// (a second junit report pushed as a referrer of the same image, declaring
// tag junit) are resolved by the tag: where the tag names one of them, the
// rebuild that no longer declares junit warns of that one only; where it
// names neither, discovery refuses, naming both digests, and no stale
// warning picks one. On every registry of the suites (fallback index and
// referrers API).
func TestRebuildResolvesArtifactsOfOneTag(t *testing.T) {
	for _, start := range harness.Registries() {
		reg := start(t)
		t.Run(reg.Name, func(t *testing.T) {
			run := fixture.PushRunImage(t, reg.Host+"/run")
			second := func(app string) string {
				t.Helper()
				b := fixture.NewBuild(t, run, fixture.Plain(), fixture.Samples()[0], fixture.Samples()[1])
				out, code := create(t, b, false, "0.13", nil, app+":latest")
				if code != 0 {
					t.Fatalf("[R15.1-2] second build: exit %d\n%s", code, out)
				}
				return out
			}

			t.Run("the tag names one", func(t *testing.T) {
				app := reg.Host + "/named"
				subject, junit, junitDigest := firstBuildWithSamples(t, "R15.1-2", run, app)
				twin := pushReferrers(t, reg, app, subject, [][]byte{variant(t, junit, map[string]string{"org.example.twin": "1"})})[0]
				out := second(app)
				want := "Artifact 'examples/tests:report' (tag 'junit') was not published for this image: tag " + app + ":junit still names the previous image's artifact " + junitDigest.String()
				if n := strings.Count(out, want); n != 1 {
					t.Fatalf("[R15.1-2] want the warning %q once (the artifact the tag names), got %d:\n%s", want, n, out)
				}
				if strings.Contains(out, twin.String()) {
					t.Fatalf("[R15.1-2] the output names %s, the artifact the tag does not name:\n%s", twin, out)
				}
			})

			t.Run("the tag names neither", func(t *testing.T) {
				app := reg.Host + "/neither"
				subject, junit, junitDigest := firstBuildWithSamples(t, "R15.1-2", run, app)
				twin := pushReferrers(t, reg, app, subject, [][]byte{variant(t, junit, map[string]string{"org.example.twin": "1"})})[0]
				// The tag junit now names a third manifest, not a referrer.
				var m map[string]any
				must(t, json.Unmarshal(junit, &m))
				delete(m, "subject")
				other, err := json.Marshal(m)
				must(t, err)
				putManifest(t, app+":junit", other, "application/vnd.oci.image.manifest.v1+json")
				out := second(app)
				for _, d := range []v1.Hash{junitDigest, twin} {
					if !strings.Contains(out, d.String()) {
						t.Fatalf("[R15.1-2] want an error naming both artifacts that declare tag junit, %s and %s; %s is not named:\n%s", junitDigest, twin, d, out)
					}
				}
				if !strings.Contains(out, `declaring tag "junit"`) {
					t.Fatalf("[R15.1-2] the output does not say that they declare tag junit:\n%s", out)
				}
				if strings.Contains(out, "was not published for this image") {
					t.Fatalf("[R15.1-2] a stale warning picked one of the two:\n%s", out)
				}
			})
		})
	}
}

// [R15.1-3] Discovery does not truncate: a previous image with more
// artifacts of ours as referrers than an export publishes (1,000; here the
// three of the first build and 998 more, each declaring a tag of its own)
// is an error naming the count, and the rebuild gives no stale warning
// picked from a part of them.
func TestRebuildRefusesTooManyPreviousArtifacts(t *testing.T) {
	for _, start := range []func(testing.TB) *harness.Registry{harness.StartDistribution, harness.StartOlareg} {
		reg := start(t)
		t.Run(reg.Name, func(t *testing.T) {
			run := fixture.PushRunImage(t, reg.Host+"/run")
			app := reg.Host + "/app"
			subject, junit, _ := firstBuildWithSamples(t, "R15.1-3", run, app)
			var more [][]byte
			for i := range 998 {
				more = append(more, variant(t, junit, map[string]string{"io.buildpacks.artifact.tag": fmt.Sprintf("junit-%d", i)}))
			}
			pushReferrers(t, reg, app, subject, more)
			if !reg.Referrers {
				ref, err := name.ParseReference(app + ":" + strings.Replace(subject, ":", "-", 1))
				must(t, err)
				idx, err := remote.Index(ref)
				must(t, err)
				im, err := idx.IndexManifest()
				must(t, err)
				if len(im.Manifests) != 1001 {
					t.Fatalf("the fallback index lists %d referrers, want 1001", len(im.Manifests))
				}
			}
			b := fixture.NewBuild(t, run, fixture.Plain(), fixture.Samples()[0], fixture.Samples()[1])
			out, code := create(t, b, false, "0.13", nil, app+":latest")
			if code != 0 {
				t.Fatalf("[R15.1-3] second build: exit %d\n%s", code, out)
			}
			if !strings.Contains(out, "has 1001 artifacts of buildpacks as referrers, more than the 1000") {
				t.Fatalf("[R15.1-3] want an error naming the 1001 artifacts of the previous image:\n%s", out)
			}
			if strings.Contains(out, "was not published for this image") {
				t.Fatalf("[R15.1-3] a stale warning was given from a part of the 1001 artifacts:\n%s", out)
			}
		})
	}
}
