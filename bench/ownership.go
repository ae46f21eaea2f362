package main

import (
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// ownershipTag matches the artifact tags of artifactFiles in a manifest path.
var ownershipTag = regexp.MustCompile(`/manifests/a[0-9]{3}$`)

// caseOwnership measures what the tag-ownership check (docs/spec.md, "Tag
// ownership") adds to an export of 200 artifacts: the same export with the
// check and with CNB_ARTIFACTS_OVERWRITE_FOREIGN_TAGS=true, the platform
// input that skips it, through a counting proxy. Once on new repositories,
// where no artifact tag exists (the check is one tag listing), and once as a
// re-export, where all 200 exist and are ours (the listing and 200 HEADs,
// each settled by the HEAD since the tags hold the very manifests about to
// be written: the worst case for one repository). The targets: issue 19's
// time, at most 5 % more than the export that skips the check, and the
// design's requests: one listing per repository, one HEAD per artifact tag
// that exists, no GET, and no write of a tag the check found naming its
// manifest (R7-9), so a re-export writes 200 tags fewer than without it.
func (b *bench) caseOwnership(runs int) []caseResult {
	p, err := harness.StartCountingProxy(b.regHost)
	if err != nil {
		b.t.Fatalf("proxy: %v", err)
	}
	defer p.Close()
	files, _ := artifactFiles(200, 10<<10)
	skip := platform.EnvOverwriteForeignTags + "=true"

	type side struct {
		name string
		env  []string
	}
	// tagRequests counts an export's requests for the artifact tags, by
	// kind: the listing, HEADs, GETs and PUTs of the tags.
	type tagRequests struct{ List, Head, Get, Put int }
	sides := []side{{"check", nil}, {"skip", []string{skip}}}
	var out []caseResult
	for _, again := range []bool{false, true} {
		title, want := "ownership check, 200 tags, new repositories", map[string]tagRequests{
			"check": {List: 1, Put: 200}, "skip": {Put: 200}}
		if again {
			title, want = "ownership check, 200 tags, re-export", map[string]tagRequests{
				"check": {List: 1, Head: 200}, "skip": {Put: 200}}
		}
		c := newCase(title, "added time (check minus skip)", "export that skips the check", "check", "skip")
		requests := map[string][]int{}
		seen := map[string][]tagRequests{}
		var checkSeconds []float64
		reexport := map[string]*fixture.Workspace{}
		if again {
			for _, s := range sides { // the first export is not measured
				w := b.workspace(files)
				reexport[s.name] = w
				b.must(b.exportEnv(w, s.env, fmt.Sprintf("%s/owner-again-%s:latest", p.Host, s.name)))
			}
		}
		var fns []func(int)
		for _, s := range sides {
			fns = append(fns, func(i int) {
				w, ref := reexport[s.name], fmt.Sprintf("%s/owner-again-%s:latest", p.Host, s.name)
				if !again {
					w, ref = b.workspace(files), fmt.Sprintf("%s/owner-new-%s-%d:latest", p.Host, s.name, i)
					defer os.RemoveAll(w.Dir)
				}
				p.Reset()
				c.record(s.name, b.must(b.exportEnv(w, s.env, ref)))
				reqs := p.Requests()
				requests[s.name] = append(requests[s.name], len(reqs))
				var tr tagRequests
				var d time.Duration
				for _, r := range reqs {
					switch {
					case r.Method == "GET" && r.Kind() == "tags-list":
						tr.List++
					case !ownershipTag.MatchString(r.Path):
						continue
					case r.Method == "HEAD":
						tr.Head++
					case r.Method == "GET":
						tr.Get++
					case r.Method == "PUT":
						tr.Put++
						continue
					}
					d += r.Duration
				}
				seen[s.name] = append(seen[s.name], tr)
				if s.name == "check" {
					checkSeconds = append(checkSeconds, d.Seconds())
				}
			})
		}
		alternate(runs, fns...)
		c.finish("check")
		c.ratioTarget(c.Medians["check"]-c.Medians["skip"], c.Medians["skip"], 0.05)
		added := medianInt(requests["check"]) - medianInt(requests["skip"])
		shape := true
		for _, s := range sides {
			for _, tr := range seen[s.name] {
				shape = shape && tr == want[s.name]
			}
		}
		c.Extra["requests"] = requests
		c.Extra["added_requests"] = added
		c.Extra["tag_requests"] = seen
		c.Extra["check_requests_seconds"] = checkSeconds
		c.Target = fmt.Sprintf("ratio <= 0.05; artifact-tag requests %+v", want)
		c.Met = c.Met && shape
		fmt.Printf("  requests per export: check %v, skip %v (added %d); artifact-tag requests: check %+v, skip %+v, want %+v; registry time of the check's reads, median %.3f s\n",
			requests["check"], requests["skip"], added, seen["check"], seen["skip"], want, median(checkSeconds))
		out = append(out, *c)
	}
	return out
}

func medianInt(xs []int) int {
	f := make([]float64, len(xs))
	for i, x := range xs {
		f[i] = float64(x)
	}
	return int(median(f))
}
