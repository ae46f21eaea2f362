//go:build acceptance

package acceptance_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cnb-artifacts/lifecycle/acceptance/faultproxy"
	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
)

// An export to two repositories of one registry uploads each blob once: the
// second repository gets every blob (image layers and artifact blobs) by a
// cross-repository mount, with no upload of data.
func TestExportMountsAcrossRepositories(t *testing.T) {
	reg := harness.StartDistribution(t)
	proxy, err := faultproxy.Start(reg.Host, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	run := strings.Replace(fixture.PushRunImage(t, reg.Host+"/run"), reg.Host, proxy.Host, 1)
	w := fixture.New(t, run, append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...)...)

	out, code := export(t, w, false, "0.13", nil, proxy.Host+"/a:latest", proxy.Host+"/b:latest")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	var uploadsA, mountsB int
	for _, r := range proxy.Requests() {
		switch {
		case strings.HasPrefix(r.Path, "/v2/b/blobs/uploads/") && (r.Method == http.MethodPatch || r.Method == http.MethodPut):
			t.Errorf("blob data uploaded again to the second repository: %s", r)
		case strings.HasPrefix(r.Path, "/v2/b/blobs/uploads/") && r.Method == http.MethodPost:
			mountsB++
		case strings.HasPrefix(r.Path, "/v2/a/blobs/uploads/") && r.Method == http.MethodPut:
			uploadsA++
		}
	}
	if uploadsA == 0 || mountsB == 0 {
		t.Fatalf("uploads to a: %d, mount requests to b: %d; want both > 0", uploadsA, mountsB)
	}
	rep := readReport(t, w.Report)
	for _, a := range rep.Artifacts {
		if len(a.Refs) != 2 {
			t.Fatalf("refs %v, want one per repository", a.Refs)
		}
		for _, ref := range a.Refs {
			head(t, strings.Replace(ref, proxy.Host, reg.Host, 1))
		}
	}
}
