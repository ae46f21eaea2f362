package exporter_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cnb-artifacts/lifecycle/exporter"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// With best-effort, an artifact that the second repository refuses is still
// published in the first, which already holds its manifest as a referrer of
// the app image: the result says so per repository (refs where published,
// skipped with the registry's words where not), and its tag in the first
// repository moves like any published artifact's; nothing in the second.
func TestCommitBestEffortAcrossRepositories(t *testing.T) {
	t.Parallel()
	for _, referrers := range []bool{true, false} {
		t.Run(fmt.Sprintf("referrers=%v", referrers), func(t *testing.T) {
			rec, host := newRegistry(t, referrers)
			app, mirror := host+"/app", host+"/mirror"
			rec.setFail(func(r *http.Request) int {
				if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v2/mirror/manifests/sha256:") &&
					r.Header.Get("Content-Type") == string(types.OCIManifestSchema1) {
					return http.StatusBadRequest
				}
				return 0
			})
			img, _ := random.Image(512, 1)
			arts := fixture(t)
			plan, err := exporter.NewPlan([]string{app + ":latest", mirror + ":latest"}, arts, platform.TagTemplate{}, nil)
			must(t, err)
			tx, err := exporter.New(plan, exporter.WithBestEffort(true))
			must(t, err)
			res, err := tx.Commit(context.Background(), img)
			must(t, err)
			appDigest, _ := img.Digest()
			for _, n := range []string{app + ":latest", mirror + ":latest"} {
				if d := headDigest(t, n); d != appDigest {
					t.Fatalf("%s -> %s, want the app image", n, d)
				}
			}
			listed := referrersOf(t, app, appDigest)
			for i, p := range res.Artifacts {
				d := p.Manifest.Descriptor.Digest
				want := app + ":" + arts[i].Tag + "@" + d.String()
				if len(p.Refs) != 1 || p.Refs[0] != want {
					t.Errorf("artifact %s: refs %v, want [%s]", arts[i].Tag, p.Refs, want)
				}
				if !strings.Contains(p.Skipped, mirror) || !strings.Contains(p.Skipped, "400") {
					t.Errorf("artifact %s: skipped %q, want the repository %s and the registry's words", arts[i].Tag, p.Skipped, mirror)
				}
				if got, err := remote.Head(mustRef(t, app+":"+arts[i].Tag)); err != nil || got.Digest != d {
					t.Errorf("tag %s:%s -> %v (%v), want %s", app, arts[i].Tag, got, err, d)
				}
				if _, err := remote.Head(mustRef(t, mirror+":"+arts[i].Tag)); err == nil {
					t.Errorf("tag %s:%s exists", mirror, arts[i].Tag)
				}
				if !listed[d] {
					t.Errorf("artifact %s is not a referrer of the app image in %s", arts[i].Tag, app)
				}
			}
			if n := len(referrersOf(t, mirror, appDigest)); n != 0 {
				t.Errorf("%s lists %d referrers, want none", mirror, n)
			}
		})
	}
}

// referrersOf lists the referrers of subject in repo (the API, or the
// fallback index).
func referrersOf(t *testing.T, repo string, subject v1.Hash) map[v1.Hash]bool {
	t.Helper()
	ref, err := name.NewDigest(repo + "@" + subject.String())
	must(t, err)
	idx, err := remote.Referrers(ref)
	must(t, err)
	im, err := idx.IndexManifest()
	must(t, err)
	out := map[v1.Hash]bool{}
	for _, d := range im.Manifests {
		out[d.Digest] = true
	}
	return out
}
