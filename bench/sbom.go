package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// sbomWorkspace is an export workspace with fixture.SBOMBuildpack's two
// launch layers and their SBOMs in formats, placed where lifecycle's builder
// puts them (<layers>/sbom/launch/<buildpack>/<layer>/sbom.<format>.json),
// and, with declared, the samples' JUnit report artifact.
func (b *bench) sbomWorkspace(formats []string, declared bool) *fixture.Workspace {
	bp := fixture.SBOMBuildpack()
	bps := []fixture.Buildpack{fixture.Plain(), bp}
	if declared {
		bps = append(bps, fixture.Samples()[2])
	}
	w := fixture.New(b.t, b.runImage, bps...)
	for _, l := range bp.Layers {
		dir := filepath.Join(w.Layers, "sbom", "launch", strings.ReplaceAll(bp.ID, "/", "_"), l.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.t.Fatalf("%v", err)
		}
		for _, f := range formats {
			if err := os.WriteFile(filepath.Join(dir, "sbom."+f+".json"), l.SBOM[f], 0o644); err != nil {
				b.t.Fatalf("%v", err)
			}
		}
	}
	return w
}

// caseSBOM measures what CNB_ARTIFACTS_SBOM=referrers adds to an export
// whose buildpack wrote launch SBOMs for two layers: the same export with
// the input set ("on") and unset ("off"), through the counting proxy, each
// run to a new repository. With a declared artifact in both (so both sides
// run the export transaction and the difference is the SBOM artifacts), for
// each format alone and all three; and all three without a declared
// artifact, where turning SBOMs on also turns the transaction on. It
// reports the added time (medians), the added requests (medians), and the
// added requests beyond the uploads themselves: not counting each blob's
// HEAD, POST and PUT and the manifest PUTs (isUpload). The target is the
// issue's: at most one extra request per format beyond the uploads.
func (b *bench) caseSBOM(runs int) []caseResult {
	p, err := harness.StartCountingProxy(b.regHost)
	if err != nil {
		b.t.Fatalf("proxy: %v", err)
	}
	defer p.Close()
	on := platform.EnvSBOM + "=" + string(platform.SBOMReferrers)
	var out []caseResult
	type variant struct {
		formats  []string
		declared bool
	}
	all := []string{"cdx", "spdx", "syft"}
	for _, v := range []variant{{[]string{"cdx"}, true}, {[]string{"spdx"}, true}, {[]string{"syft"}, true}, {all, true}, {all, false}} {
		formats := v.formats
		label := strings.Join(formats, "+")
		name := "SBOMs on vs off, " + label
		if v.declared {
			name += ", with a declared artifact"
		} else {
			name += ", no declared artifact"
			label += "-only"
		}
		c := newCase(name, "added time (on minus off)", "export with SBOMs off", "on", "off")
		w := b.sbomWorkspace(formats, v.declared)
		requests := map[string][]int{}
		extra := map[string][]int{}
		kinds := map[string][]map[string]int{}
		var fns []func(int)
		for _, side := range []string{"on", "off"} {
			env := []string(nil)
			if side == "on" {
				env = []string{on}
			}
			fns = append(fns, func(i int) {
				p.Reset()
				s := b.must(b.exportEnv(w, env, fmt.Sprintf("%s/sbom-%s-%s-%d:latest", p.Host, strings.ReplaceAll(label, "+", "-"), side, i)))
				if side == "on" && strings.Count(s.Output, "Adding SBOM '") != len(formats) {
					b.t.Fatalf("the export with %s announced no %d SBOMs:\n%s", on, len(formats), tail(s.Output, 4000))
				}
				c.record(side, s)
				reqs := p.Requests()
				requests[side] = append(requests[side], len(reqs))
				extra[side] = append(extra[side], beyondUploads(reqs))
				kinds[side] = append(kinds[side], kindCounts(reqs))
			})
		}
		alternate(runs, fns...)
		c.finish("on")
		c.ratioTarget(c.Medians["on"]-c.Medians["off"], c.Medians["off"], 1)
		added := medianInt(requests["on"]) - medianInt(requests["off"])
		addedExtra := medianInt(extra["on"]) - medianInt(extra["off"])
		c.Extra["requests"] = requests
		c.Extra["requests_beyond_uploads"] = extra
		c.Extra["added_requests"] = added
		c.Extra["added_requests_per_format"] = float64(added) / float64(len(formats))
		c.Extra["added_requests_beyond_uploads"] = addedExtra
		c.Extra["requests_by_kind_last_run"] = map[string]map[string]int{"on": kinds["on"][len(kinds["on"])-1], "off": kinds["off"][len(kinds["off"])-1]}
		c.Target = fmt.Sprintf("<= %d added request(s) beyond the uploads (1 per format)", len(formats))
		c.Met = addedExtra <= len(formats)
		fmt.Printf("  requests per export: on %v, off %v; added %d (%.1f per format); beyond the uploads: on %v, off %v, added %d (budget %d)\n",
			requests["on"], requests["off"], added, float64(added)/float64(len(formats)), extra["on"], extra["off"], addedExtra, len(formats))
		fmt.Printf("  requests by kind, last run: on %v, off %v\n", kinds["on"][len(kinds["on"])-1], kinds["off"][len(kinds["off"])-1])
		os.RemoveAll(w.Dir)
		out = append(out, *c)
	}
	return out
}

// isUpload reports whether r is part of uploading content: a blob's HEAD
// (does the registry have it?), its upload requests (POST, PATCH, PUT under
// /blobs/uploads/), or a manifest PUT.
func isUpload(r harness.Request) bool {
	return r.Kind() == "upload" || (r.Method == "HEAD" && r.Kind() == "blob") ||
		(r.Method == "PUT" && strings.Contains(r.Path, "/manifests/"))
}

// beyondUploads counts the requests that are not uploads (isUpload): tag
// listings, referrers and manifest reads, manifest HEADs.
func beyondUploads(reqs []harness.Request) int {
	n := 0
	for _, r := range reqs {
		if !isUpload(r) {
			n++
		}
	}
	return n
}

// kindCounts counts requests by method and kind ("HEAD blob").
func kindCounts(reqs []harness.Request) map[string]int {
	m := map[string]int{}
	for _, r := range reqs {
		m[r.Method+" "+r.Kind()]++
	}
	return m
}
