//go:build acceptance

package acceptance_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cnb-artifacts/lifecycle/acceptance/faultproxy"
	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// [R7-2] Every blob write precedes every manifest write, every manifest by
// digest precedes every tag, and the primary tag is written last; the app
// image manifest is written before any artifact manifest that names it as
// subject. Observed at the registry: a write must not start before the one
// it follows was answered.
func TestExportWriteOrder(t *testing.T) {
	e := newRichExport(t)
	reqs := e.proxy.Requests()
	log := e.proxy.RequestLog()
	// A write that starts before another was answered was not made after it.
	end := func(r harness.Request) time.Time { return r.Responded }
	var blobs, byDigest, tags []harness.Request
	for _, r := range reqs {
		if r.Method == "GET" || r.Method == "HEAD" {
			continue
		}
		switch r.Kind() {
		case "upload":
			blobs = append(blobs, r)
		case "manifest-by-digest":
			byDigest = append(byDigest, r)
		case "manifest-by-tag":
			tags = append(tags, r)
		}
	}
	artifactDigests := map[string]bool{}
	for _, a := range e.rep.Artifacts {
		for _, ref := range a.Refs {
			artifactDigests[refDigest(ref)] = true
		}
	}
	// repo of a request path /v2/<repo>/manifests/<ref>.
	repoOf := func(r harness.Request) string {
		return strings.TrimPrefix(r.Path[:strings.Index(r.Path, "/manifests/")], "/v2/")
	}
	appPut := map[string]harness.Request{} // by repository
	var artifactPuts []harness.Request
	for _, r := range byDigest {
		d := r.Path[strings.LastIndex(r.Path, "/")+1:]
		if _, seen := appPut[repoOf(r)]; d == e.digest.String() && !seen {
			appPut[repoOf(r)] = r
		}
		if artifactDigests[d] {
			artifactPuts = append(artifactPuts, r)
		}
	}
	if len(appPut) != 2 || len(artifactPuts) == 0 {
		t.Fatalf("[R7-2] want a PUT by digest of the app manifest %s in app and in other, and of the artifact manifests, at the registry:\n%s", e.digest, log)
	}
	for _, a := range artifactPuts {
		if app, ok := appPut[repoOf(a)]; !ok || a.Start.Before(end(app)) {
			t.Errorf("[R7-2] artifact manifest %s was written before its subject, the app manifest, was stored in %s:\n%s", a.Path, repoOf(a), log)
		}
	}
	for _, b := range blobs {
		for _, m := range append(append([]harness.Request{}, byDigest...), tags...) {
			if m.Start.Before(end(b)) {
				t.Errorf("[R7-2] manifest write %s began before blob write %s ended:\n%s", m, b, log)
			}
		}
	}
	for _, m := range byDigest {
		for _, tag := range tags {
			if tag.Start.Before(end(m)) {
				t.Errorf("[R7-2] tag %s began before manifest %s was stored:\n%s", tag, m, log)
			}
		}
	}
	var primary *harness.Request
	for i, tag := range tags {
		if tag.Path == "/v2/app/manifests/latest" {
			primary = &tags[i]
		}
	}
	if primary == nil {
		t.Fatalf("[R7-2] no PUT of the primary tag app:latest:\n%s", log)
	}
	for _, w := range append(append(append([]harness.Request{}, blobs...), byDigest...), tags...) {
		if w != *primary && primary.Start.Before(end(w)) {
			t.Errorf("[R7-2] the primary tag was written before %s ended; it must be last:\n%s", w, log)
		}
	}
}

// tagDigests maps every tag of repo to the digest it holds.
func tagDigests(t *testing.T, repo string) map[string]string {
	t.Helper()
	r, err := name.NewRepository(repo)
	must(t, err)
	tags, err := remote.List(r)
	must(t, err)
	out := map[string]string{}
	for _, tag := range tags {
		out[tag] = head(t, repo+":"+tag).String()
	}
	return out
}

// [R7-4] A failure before the tag step leaves every tag where it was: the
// app image's, each artifact's and the fallback index's. The second export
// of a changed app is refused by the registry at one artifact manifest
// (GitLab's type allow-list, emulated), with the policy required.
func TestExportFailureBeforeTagsMovesNoTag(t *testing.T) {
	reg := harness.StartDistribution(t)
	proxy, err := faultproxy.Start(reg.Host, faultStall)
	must(t, err)
	t.Cleanup(proxy.Close)
	run := strings.Replace(fixture.PushRunImage(t, reg.Host+"/run"), reg.Host, proxy.Host, 1)
	samples := fixture.Samples()
	w := fixture.New(t, run, append([]fixture.Buildpack{fixture.Plain()}, samples...)...)
	out, code := export(t, w, false, "0.13", nil, proxy.Host+"/app:latest", proxy.Host+"/app:v1")
	if code != 0 {
		t.Fatalf("first export: exit %d\n%s", code, out)
	}
	if rep := readReport(t, w.Report); len(rep.Artifacts) != len(samples) {
		t.Fatalf("the exporter published %d artifacts, want %d", len(rep.Artifacts), len(samples))
	}
	before := tagDigests(t, reg.Host+"/app")

	plain := fixture.Plain()
	plain.Version = "2.0.0"
	plain.Layers[0].Files = map[string][]byte{"node_modules/left-pad/index.js": []byte("module.exports = s => s.trim()\n")}
	w2 := fixture.New(t, run, append([]fixture.Buildpack{plain}, samples...)...)
	proxy.SetQuirks(faultproxy.Quirks{AllowedTypes: []string{"application/vnd.cncf.helm.config.v1+json"}})
	out, code = export(t, w2, false, "0.13", nil, proxy.Host+"/app:latest", proxy.Host+"/app:v1")
	if code != platform.CodeRegistryFailed {
		t.Fatalf("second export: exit %d, want %d (the registry refuses the wasm and junit manifests)\n%s", code, platform.CodeRegistryFailed, out)
	}
	after := tagDigests(t, reg.Host+"/app")
	for tag, d := range before {
		if after[tag] != d {
			t.Errorf("[R7-4] tag %s moved from %s to %s although the export failed before the tag step", tag, d, after[tag])
		}
	}
	for tag := range after {
		if _, ok := before[tag]; !ok {
			t.Errorf("[R7-4] tag %s was created although the export failed before the tag step", tag)
		}
	}
}

// refusingProxy forwards to a registry and refuses, for good (403 DENIED,
// not retried), every PUT of the manifest tag refused.
func refusingProxy(t *testing.T, registryHost, refused string) string {
	t.Helper()
	backend, err := url.Parse("http://" + registryHost)
	must(t, err)
	next := httputil.NewSingleHostReverseProxy(backend)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/"+refused) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `{"errors":[{"code":"DENIED","message":"tag %s is protected"}]}`, refused)
			return
		}
		next.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// [R7-5] A failure in the tag step reports which tags moved, in order, and
// which did not, the primary last; the primary tag does not move. The
// registry refuses the artifact tag junit; the exit code is 65 [R9-3].
func TestExportTagFailureReportsMovedTags(t *testing.T) {
	reg := harness.StartDistribution(t)
	host := refusingProxy(t, reg.Host, "junit")
	run := strings.Replace(fixture.PushRunImage(t, reg.Host+"/run"), reg.Host, host, 1)
	w := fixture.New(t, run, append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...)...)
	out, code := export(t, w, false, "0.13", nil, host+"/app:latest", host+"/app:v1")
	if code != platform.CodeTagsIncomplete {
		t.Fatalf("[R7-5] exit %d, want %d (tags incomplete): the registry refused the tag junit\n%s", code, platform.CodeTagsIncomplete, out)
	}
	m := regexp.MustCompile(`moved: \[([^\]]*)\]; not moved: \[([^\]]*)\]`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("[R7-5] the error does not list the tags moved and not moved:\n%s", out)
	}
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ", ")
	}
	moved, notMoved := split(m[1]), split(m[2])
	if len(notMoved) == 0 || notMoved[len(notMoved)-1] != host+"/app:latest" {
		t.Errorf("[R7-5] not moved: %v, want the primary tag %s last", notMoved, host+"/app:latest")
	}
	if !slices.Contains(notMoved, host+"/app:junit") {
		t.Errorf("[R7-5] not moved: %v, want the refused tag junit among them", notMoved)
	}
	for _, tag := range moved {
		if _, err := remote.Head(mustTag(t, strings.Replace(tag, host, reg.Host, 1))); err != nil {
			t.Errorf("[R7-5] %s is reported moved but the registry does not have it: %v", tag, err)
		}
	}
	for _, tag := range notMoved {
		if _, err := remote.Head(mustTag(t, strings.Replace(tag, host, reg.Host, 1))); err == nil {
			t.Errorf("[R7-5] %s is reported not moved but the registry has it", tag)
		}
	}
}

// [R7-1] Within a step, writes run concurrently, at most 4 at a time; where
// the registry serves the referrers API (olareg), a repository's artifact
// manifests and artifact tags are written one at a time, in declaration
// order, and its referrers API then lists every artifact. Observed at the
// registry, through a proxy that times each request.
func TestExportWritesOneAtATimeWhereReferrersAreIndexed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		start   func(testing.TB) *harness.Registry
		indexed bool
	}{
		{"olareg, referrers API", harness.StartOlareg, true},
		{"distribution 2.8, fallback index", harness.StartDistribution, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := tc.start(t)
			proxy := harness.NewCountingProxy(t, reg.Host)
			run := strings.Replace(fixture.PushRunImage(t, reg.Host+"/run"), reg.Host, proxy.Host, 1)
			bps := append(append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...), twoLayers())
			w := fixture.New(t, run, bps...)
			app := proxy.Host + "/app"
			proxy.Reset()
			out, code := export(t, w, false, "0.13", nil, app+":latest")
			if code != 0 {
				t.Fatalf("[R7-1] exit %d\n%s", code, out)
			}
			rep := readReport(t, w.Report)
			if len(rep.Artifacts) < 2 {
				t.Fatalf("[R7-1] %d artifacts published, want the 5 declared\n%s", len(rep.Artifacts), out)
			}
			reqs, log := proxy.Requests(), proxy.RequestLog()
			// The artifact manifests and tags, in declaration order (the
			// report's), as the registry saw them.
			order := map[string]int{}
			for i, a := range rep.Artifacts {
				ref := a.Refs[0]
				order["/manifests/"+refDigest(ref)] = i
				if tag, err := name.NewTag(ref[:strings.LastIndex(ref, "@")], name.StrictValidation); err == nil {
					order["/manifests/"+tag.TagStr()] = i
				}
			}
			var writes, manifests, tags []harness.Request
			for _, r := range reqs {
				if r.Method == http.MethodGet || r.Method == http.MethodHead {
					continue
				}
				writes = append(writes, r)
				i := strings.LastIndex(r.Path, "/manifests/")
				if i < 0 {
					continue
				}
				if _, ok := order[r.Path[i:]]; !ok {
					continue
				}
				if r.Kind() == "manifest-by-digest" {
					manifests = append(manifests, r)
				} else {
					tags = append(tags, r)
				}
			}
			if len(manifests) != len(rep.Artifacts) || len(tags) == 0 {
				t.Fatalf("[R7-1] saw %d artifact manifest writes and %d artifact tag writes, want %d and some:\n%s", len(manifests), len(tags), len(rep.Artifacts), log)
			}
			// At no instant are more than 4 writes in flight.
			for _, r := range writes {
				inFlight := 0
				for _, o := range writes {
					if !o.Start.After(r.Start) && o.Responded.After(r.Start) {
						inFlight++
					}
				}
				if inFlight > 4 {
					t.Fatalf("[R7-1] %d writes in flight when %s started, want at most 4:\n%s", inFlight, r, log)
				}
			}
			if !tc.indexed {
				return
			}
			for what, rs := range map[string][]harness.Request{"artifact manifest": manifests, "artifact tag": tags} {
				slices.SortFunc(rs, func(a, b harness.Request) int { return a.Start.Compare(b.Start) })
				for i := 1; i < len(rs); i++ {
					p, r := rs[i-1], rs[i]
					if r.Start.Before(p.Responded) {
						t.Errorf("[R7-1] %s write %s started before %s was answered: the registry indexes referrers, so they go one at a time:\n%s", what, r.Path, p.Path, log)
					}
					pi, ri := order[p.Path[strings.LastIndex(p.Path, "/manifests/"):]], order[r.Path[strings.LastIndex(r.Path, "/manifests/"):]]
					if ri < pi {
						t.Errorf("[R7-1] %s %s (declared %d) was written before %s (declared %d): not in declaration order", what, r.Path, ri, p.Path, pi)
					}
				}
			}
			d := head(t, app+":latest")
			repo, err := name.NewRepository(app)
			must(t, err)
			idx, err := remote.Referrers(repo.Digest(d.String()))
			must(t, err)
			im, err := idx.IndexManifest()
			must(t, err)
			listed := map[string]bool{}
			for _, m := range im.Manifests {
				listed[m.Digest.String()] = true
			}
			for _, a := range rep.Artifacts {
				if !listed[refDigest(a.Refs[0])] {
					t.Errorf("[R7-1] the referrers API does not list artifact %s (%s): a referrer was lost", a.Tag, a.Refs[0])
				}
			}
		})
	}
}
