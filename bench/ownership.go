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
// each settled by the HEAD since the tags hold the previous image's
// artifacts or the very manifests about to be written: the worst case for
// one repository). The target is the design's request budget: one listing
// per repository and one HEAD per artifact tag that exists.
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
	sides := []side{{"check", nil}, {"skip", []string{skip}}}
	var out []caseResult
	for _, again := range []bool{false, true} {
		title, want := "ownership check, 200 tags, new repositories", 1
		if again {
			title, want = "ownership check, 200 tags, re-export", 201
		}
		c := newCase(title, "added time (check minus skip)", "export that skips the check", "check", "skip")
		requests := map[string][]int{}
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
				if s.name == "check" {
					var d time.Duration
					for _, r := range reqs {
						if (r.Method == "GET" || r.Method == "HEAD") && (r.Kind() == "tags-list" || ownershipTag.MatchString(r.Path)) {
							d += r.Duration
						}
					}
					checkSeconds = append(checkSeconds, d.Seconds())
				}
			})
		}
		alternate(runs, fns...)
		c.finish("check")
		c.ratioTarget(c.Medians["check"]-c.Medians["skip"], c.Medians["skip"], 1)
		added := medianInt(requests["check"]) - medianInt(requests["skip"])
		c.Extra["requests"] = requests
		c.Extra["added_requests"] = added
		c.Extra["check_requests_seconds"] = checkSeconds
		c.Target = fmt.Sprintf("%d added request(s): 1 listing + 1 HEAD per existing tag", want)
		c.Met = added == want
		fmt.Printf("  requests per export: check %v, skip %v; added %d (budget %d); registry time of the check's requests, median %.3f s\n",
			requests["check"], requests["skip"], added, want, median(checkSeconds))
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
