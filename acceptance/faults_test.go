//go:build acceptance

package acceptance_test

import (
	"crypto"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/cnb-artifacts/lifecycle/acceptance/faultproxy"
	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

const (
	faultTimeout = 2 * time.Second // CNB_ARTIFACTS_REGISTRY_TIMEOUT of fault runs
	faultStall   = 3 * time.Second // longer than faultTimeout
	// faultBudget bounds the fault matrix; past it the stall kind is sampled.
	faultBudget = 8 * time.Minute
	// codeStockFailed is lifecycle's exit code when the exporter fails to
	// start, e.g. cannot read the run image (cmd.CodeForFailed).
	codeStockFailed = 1
)

var (
	appTags      = []string{"latest", "v1"} // primary first
	artifactTags = []string{"wasm", "0.1.0", "junit"}
	movedRE      = regexp.MustCompile(`; moved: \[([^\]]*)\]; not moved: \[([^\]]*)\]`)
)

// nonceBuildpacks are the plain buildpack and the three samples, with nonce
// written into an app layer file and into the JUnit report, so each run
// makes a new app image and new artifacts.
func nonceBuildpacks(nonce string) []fixture.Buildpack {
	return nonceBuildpacks2(nonce, nonce)
}

// nonceBuildpacks2 writes appNonce into the app layer and artifactNonce
// into the JUnit report.
func nonceBuildpacks2(appNonce, artifactNonce string) []fixture.Buildpack {
	plain := fixture.Plain()
	plain.Layers[0].Files["node_modules/left-pad/nonce.txt"] = []byte(appNonce + "\n")
	samples := fixture.Samples()
	junit := samples[2].Layers[0].Files
	junit["junit.xml"] = []byte(strings.Replace(string(junit["junit.xml"]), `name="ok"`, `name="ok-`+artifactNonce+`"`, 1))
	return append([]fixture.Buildpack{plain}, samples...)
}

// backend reads the registry directly, not through the proxy.
// backend reads the registry behind the fault proxy; sbom says the exports
// also publish one (untagged) SBOM artifact.
type backend struct {
	host string
	sbom bool
	// pub, when the exports sign, is the key every tag that moved must name
	// a manifest signed by (docs/spec.md R17-3).
	pub crypto.PublicKey
}

// unsigned lists the watched tags that moved (after differs from before)
// to a manifest without a valid signature referrer by b.pub.
func (b backend) unsigned(before, after map[string]string) []string {
	if b.pub == nil {
		return nil
	}
	var bad []string
	for tag, d := range after {
		if d == "" || d == before[tag] || strings.HasPrefix(tag, "sha256-") {
			continue
		}
		ref, err := name.NewDigest(b.host + "/app@" + d)
		if err == nil {
			_, err = harness.SignedInRegistry(ref, b.pub)
		}
		if err != nil {
			bad = append(bad, fmt.Sprintf("app:%s names %s, which is not signed: %v", tag, d, err))
		}
	}
	return bad
}

// digest is the digest tag points to in app, "" when the tag does not exist.
func (b backend) digest(tag string) (string, error) {
	ref, err := name.NewTag(b.host + "/app:" + tag)
	if err != nil {
		return "", err
	}
	d, err := remote.Head(ref)
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("HEAD %s: %w", ref, err)
	}
	return d.Digest.String(), nil
}

// manifest reads app@digest (remote.Get sends the OCI Accept types).
func (b backend) manifest(digest string) (*remote.Descriptor, error) {
	ref, err := name.NewDigest(b.host + "/app@" + digest)
	if err != nil {
		return nil, err
	}
	return remote.Get(ref)
}

func (b backend) hasBlob(d v1.Hash) (bool, error) {
	req, err := http.NewRequest(http.MethodHead, fmt.Sprintf("http://%s/v2/app/blobs/%s", b.host, d), nil)
	if err != nil {
		return false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}

// snapshot maps each watched tag to its digest ("" when absent).
func (b backend) snapshot(tags []string) (map[string]string, error) {
	s := map[string]string{}
	for _, tag := range tags {
		d, err := b.digest(tag)
		if err != nil {
			return nil, err
		}
		s[tag] = d
	}
	return s, nil
}

func fallbackTag(digest string) string { return strings.Replace(digest, ":", "-", 1) }

// checkPublished checks what a successful export's report claims against
// the registry: both app tags at the report's digest, every artifact ref
// resolving by tag and digest with the app image as subject and all its
// blobs, and the fallback index listing every artifact.
func (b backend) checkPublished(rep platform.Report, wantTags bool) []string {
	var bad []string
	app := rep.Image.Digest
	if _, err := b.manifest(app); err != nil {
		bad = append(bad, fmt.Sprintf("app image %s: %v", app, err))
	}
	if wantTags {
		for _, tag := range appTags {
			if d, err := b.digest(tag); err != nil || d != app {
				bad = append(bad, fmt.Sprintf("app:%s = %q (%v), report says %s", tag, d, err, app))
			}
		}
	}
	want := len(artifactTags)
	if b.sbom {
		want++
	}
	if b.pub != nil {
		if rep.ImageSignature == nil || rep.ImageSignature.Signed != app {
			bad = append(bad, fmt.Sprintf("report's [image-signature] = %+v, want one of %s", rep.ImageSignature, app))
		}
		for _, a := range rep.Artifacts {
			if len(a.Refs) != 1 {
				continue
			}
			ref, err := name.NewDigest(b.host + "/app@" + a.Refs[0][strings.LastIndex(a.Refs[0], "@")+1:])
			if err != nil {
				bad = append(bad, err.Error())
				continue
			}
			if sig, err := harness.SignedInRegistry(ref, b.pub); err != nil || sig.String() != a.Signature {
				bad = append(bad, fmt.Sprintf("artifact %q: signature %v (%v), report says %q", a.Tag, sig, err, a.Signature))
			}
		}
	}
	if len(rep.Artifacts) != want {
		bad = append(bad, fmt.Sprintf("report lists %d artifacts, want %d", len(rep.Artifacts), want))
	}
	var digests []string
	for _, a := range rep.Artifacts {
		if len(a.Refs) != 1 {
			bad = append(bad, fmt.Sprintf("artifact %s: refs %v", a.Tag, a.Refs))
			continue
		}
		at := strings.LastIndex(a.Refs[0], "@")
		d := a.Refs[0][at+1:]
		digests = append(digests, d)
		if wantTags && a.Tag != "" {
			if got, err := b.digest(a.Tag); err != nil || got != d {
				bad = append(bad, fmt.Sprintf("app:%s = %q (%v), report says %s", a.Tag, got, err, d))
			}
		}
		desc, err := b.manifest(d)
		if err != nil {
			bad = append(bad, fmt.Sprintf("artifact %s %s: %v", a.Tag, d, err))
			continue
		}
		m, err := v1.ParseManifest(strings.NewReader(string(desc.Manifest)))
		if err != nil {
			bad = append(bad, fmt.Sprintf("artifact %s: %v", a.Tag, err))
			continue
		}
		if m.Subject == nil || m.Subject.Digest.String() != app {
			bad = append(bad, fmt.Sprintf("artifact %s: subject %+v, want %s", a.Tag, m.Subject, app))
		}
		for _, l := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			if ok, err := b.hasBlob(l.Digest); !ok {
				bad = append(bad, fmt.Sprintf("artifact %s: blob %s missing (%v)", a.Tag, l.Digest, err))
			}
		}
	}
	idx, err := b.fallbackIndex(app)
	if err != nil {
		return append(bad, err.Error())
	}
	for _, d := range digests {
		if !slices.Contains(idx, d) {
			bad = append(bad, fmt.Sprintf("fallback index of %s misses %s", app, d))
		}
	}
	return bad
}

// fallbackIndex lists the manifests of the referrers fallback index of the
// app digest.
func (b backend) fallbackIndex(app string) ([]string, error) {
	ref, err := name.NewTag(b.host + "/app:" + fallbackTag(app))
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(ref)
	if err != nil {
		return nil, fmt.Errorf("fallback index of %s: %w", app, err)
	}
	idx, err := v1.ParseIndexManifest(strings.NewReader(string(desc.Manifest)))
	if err != nil {
		return nil, fmt.Errorf("fallback index of %s: %w", app, err)
	}
	var out []string
	for _, m := range idx.Manifests {
		out = append(out, m.Digest.String())
	}
	return out, nil
}

func readReportFile(path string) (platform.Report, error) {
	return harness.ReadReport(path)
}

// outcome is how one export ended, judged against the registry.
type outcome string

const (
	succeeded      outcome = "ok"
	cleanFailure   outcome = "clean-failure"
	tagStepFailure outcome = "tag-step-failure"
	inconsistent   outcome = "inconsistent"
)

// judge checks the registry after an export that exited with code and wrote
// out, given the watched tags' digests before it.
func (b backend) judge(code int, out, reportPath, proxyHost string, before map[string]string) (outcome, []string) {
	watched := make([]string, 0, len(before))
	for tag := range before {
		watched = append(watched, tag)
	}
	after, err := b.snapshot(watched)
	if err != nil {
		return inconsistent, []string{err.Error()}
	}
	// Whatever the outcome, a tag that moved names a signed manifest.
	if bad := b.unsigned(before, after); len(bad) > 0 {
		return inconsistent, bad
	}
	_, statErr := os.Stat(reportPath)
	reportWritten := statErr == nil
	var bad []string
	switch code {
	case 0:
		if !reportWritten {
			return inconsistent, []string{"exit 0 without report.toml"}
		}
		rep, err := readReportFile(reportPath)
		if err != nil {
			return inconsistent, []string{err.Error()}
		}
		bad = b.checkPublished(rep, true)
		for tag, d := range before {
			if !slices.Contains(appTags, tag) && !slices.Contains(artifactTags, tag) && after[tag] != d {
				bad = append(bad, fmt.Sprintf("app:%s moved from %q to %q", tag, d, after[tag]))
			}
		}
		if len(bad) > 0 {
			return inconsistent, bad
		}
		return succeeded, nil
	case codeStockFailed, platform.CodeExportFailed, platform.CodeRegistryFailed:
		if reportWritten {
			bad = append(bad, "report.toml written for a failed export")
		}
		for tag, d := range before {
			if after[tag] != d {
				bad = append(bad, fmt.Sprintf("exit %d but app:%s moved from %q to %q", code, tag, d, after[tag]))
			}
		}
		if len(bad) > 0 {
			return inconsistent, bad
		}
		return cleanFailure, nil
	case platform.CodeTagsIncomplete:
		if reportWritten {
			bad = append(bad, "report.toml written for a failed export")
		}
		m := movedRE.FindStringSubmatch(out)
		if m == nil {
			return inconsistent, append(bad, "exit 65 but the log lists no moved tags")
		}
		var moved []string
		for _, n := range strings.Split(m[1], ", ") {
			if n == "" {
				continue
			}
			tag, ok := strings.CutPrefix(n, proxyHost+"/app:")
			if !ok {
				bad = append(bad, "moved tag "+n+" is not in the app repository")
			}
			moved = append(moved, tag)
		}
		if len(moved) == 0 {
			bad = append(bad, "exit 65 with no tag moved")
		}
		if slices.Contains(moved, appTags[0]) {
			bad = append(bad, "the primary tag is listed as moved")
		}
		for tag, d := range before {
			switch {
			case slices.Contains(moved, tag) && after[tag] == d:
				bad = append(bad, fmt.Sprintf("app:%s listed as moved but still %q", tag, d))
			case !slices.Contains(moved, tag) && after[tag] != d:
				bad = append(bad, fmt.Sprintf("app:%s not listed as moved but moved from %q to %q", tag, d, after[tag]))
			}
		}
		for _, tag := range moved {
			if _, ok := before[tag]; ok {
				continue
			}
			if d, err := b.digest(tag); err != nil || d == "" {
				bad = append(bad, fmt.Sprintf("app:%s listed as moved but absent (%v)", tag, err))
			}
		}
		if len(bad) > 0 {
			return inconsistent, bad
		}
		return tagStepFailure, nil
	}
	return inconsistent, []string{fmt.Sprintf("undocumented exit code %d", code)}
}

// tally counts the outcomes of the runs of one fault kind.
type tally struct {
	runs, injected, retriedOK, ok, clean, tagStep, inconsistent int
}

// count records one run that ended in o; injected: the fault was injected.
func (t *tally) count(o outcome, injected bool) {
	t.runs++
	if injected {
		t.injected++
	}
	switch o {
	case succeeded:
		t.ok++
		if injected {
			t.retriedOK++
		}
	case cleanFailure:
		t.clean++
	case tagStepFailure:
		t.tagStep++
	case inconsistent:
		t.inconsistent++
	}
}

func (t *tally) add(o tally) {
	t.runs += o.runs
	t.injected += o.injected
	t.retriedOK += o.retriedOK
	t.ok += o.ok
	t.clean += o.clean
	t.tagStep += o.tagStep
	t.inconsistent += o.inconsistent
}

// TestExportUnderFaults fails the Nth request of an export with each fault
// kind, for every other N (1, 3, 5, …: a sample since Trivy's build joined
// CI's time) up to the request count of a clean export, and checks
// after each run that the registry is in a state the exit code allows:
// everything published (exit 0), every tag where it was (62, 64), or
// exactly the tags the log lists as moved (65).
func TestExportUnderFaults(t *testing.T) {
	exportUnderFaults(t, harness.StartDistribution(t), 2, "faults-summary.txt", faultFeatures{})
}

// TestExportUnderFaultsSBOM runs the matrix with CNB_ARTIFACTS_SBOM=referrers
// (one more, untagged, artifact per export) and a signing key (a signature
// per manifest, R17-3: every tag that moved names a signed manifest,
// whatever the outcome) against distribution 2.8, on every eighth request (a
// sample, for time: signing made the clean export 92 requests long; one
// matrix for both, for CI's time).
func TestExportUnderFaultsSBOM(t *testing.T) {
	exportUnderFaults(t, harness.StartDistribution(t), 8, "faults-summary-sbom.txt", faultFeatures{sbom: true, sign: true})
}

// TestExportUnderFaultsDistribution3 runs the same matrix against CNCF
// distribution v3.0.0, on every fourth request (a sample, for time).
func TestExportUnderFaultsDistribution3(t *testing.T) {
	exportUnderFaults(t, harness.StartDistribution3(t), 4, "faults-summary-distribution3.txt", faultFeatures{})
}

// faultFeatures are what the exports of a fault matrix publish besides the
// artifacts: SBOM referrers, signatures.
type faultFeatures struct{ sbom, sign bool }

// exportUnderFaults runs the fault matrix against reg, at every sample-th
// request, and writes its totals to summary next to out/lifecycle.
func exportUnderFaults(t *testing.T, reg *harness.Registry, sample int, summaryFile string, feat faultFeatures) {
	start := time.Now()
	proxy, err := faultproxy.Start(reg.Host, faultStall)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	b := backend{host: reg.Host, sbom: feat.sbom}
	run := strings.Replace(fixture.PushRunImage(t, reg.Host+"/run"), reg.Host, proxy.Host, 1)
	var names []string
	for _, tag := range appTags {
		names = append(names, proxy.Host+"/app:"+tag)
	}
	env := []string{platform.EnvRegistryTimeout + "=" + faultTimeout.String()}
	if feat.sbom {
		env = append(env, platform.EnvSBOM+"=referrers")
	}
	if feat.sign {
		key, pub, err := harness.WriteSigningKey(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		b.pub = pub
		env = append(env, platform.EnvSigningKey+"="+key)
	}

	runNo := 0
	// exportRun exports new content with the fault armed and judges it.
	exportRun := func(n int, kind faultproxy.Kind) (outcome, int, bool, time.Duration) {
		t.Helper()
		runNo++
		w := fixture.New(t, run, nonceBuildpacks(fmt.Sprintf("run-%d", runNo))...)
		if feat.sbom {
			writeLaunchSBOM(t, w, fmt.Sprintf("run-%d", runNo))
		}
		watched := append(append([]string(nil), appTags...), artifactTags...)
		if d, err := b.digest(appTags[0]); err != nil {
			t.Fatal(err)
		} else if d != "" {
			watched = append(watched, fallbackTag(d))
		}
		before, err := b.snapshot(watched)
		if err != nil {
			t.Fatal(err)
		}
		proxy.Arm(n, kind)
		began := time.Now()
		out, code := export(t, w, false, "0.13", env, names...)
		took := time.Since(began)
		injected := proxy.Injected()
		o, bad := b.judge(code, out, w.Report, proxy.Host, before)
		if o != succeeded || (injected && took > faultTimeout+faultStall) {
			t.Logf("fault %s at request %d (%s): exit %d, %s, after %s: %s", kind, n, faultedRequest(proxy), code, o, took.Round(time.Millisecond), errorLine(out))
		}
		if o == inconsistent {
			var reqs []string
			for _, r := range proxy.Requests() {
				reqs = append(reqs, r.String())
			}
			t.Errorf("fault %s at request %d: exit %d, inconsistent:\n  %s\nrequests:\n  %s\noutput:\n%s",
				kind, n, code, strings.Join(bad, "\n  "), strings.Join(reqs, "\n  "), out)
		}
		return o, code, injected, took
	}

	// A first export fills the registry; the third, with new content like
	// every fault run, is the one whose requests are counted.
	if o, _, _, _ := exportRun(0, faultproxy.None); o != succeeded {
		t.Fatalf("clean export: %s", o)
	}
	first := proxy.Count()
	var took time.Duration
	for range 2 { // the second export with new content still makes a few more requests
		var o outcome
		if o, _, _, took = exportRun(0, faultproxy.None); o != succeeded {
			t.Fatalf("clean export: %s", o)
		}
	}
	k := proxy.Count()
	var reqs []string
	for _, r := range proxy.Requests() {
		reqs = append(reqs, r.String())
	}
	t.Logf("requests of the clean export:\n  %s", strings.Join(reqs, "\n  "))
	t.Logf("clean export: %d requests the first time, K=%d with new content, %s", first, k, took)

	// A registry that goes down at request N and stays down: the export
	// must fail cleanly, or in the tag step with the moved tags listed.
	// Before the first manifest write only every outageStride-th N runs.
	firstManifest := k
	for _, r := range proxy.Requests() {
		if r.Method == http.MethodPut && strings.Contains(r.Path, "/manifests/") {
			firstManifest = r.N
			break
		}
	}
	const outageStride = 6
	// The exporter reads the run image first (lifecycle's own code, which
	// exits 1 when it cannot: spec 9); an outage from any later request
	// must end with 64 or 65.
	lastRunRead := 0
	for _, r := range proxy.Requests() {
		if strings.HasPrefix(r.Path, "/v2/run/") {
			lastRunRead = r.N
		}
	}
	if lastRunRead == 0 || lastRunRead >= firstManifest {
		t.Fatalf("the clean export read the run image at requests up to %d, its first manifest write is %d", lastRunRead, firstManifest)
	}

	// The stall kind, the slowest, runs last, on every N if the time left
	// of faultBudget allows, else on every stride-th N.
	stride := 1
	totals := map[faultproxy.Kind]*tally{}
	var lines []string
	for _, kind := range []faultproxy.Kind{faultproxy.Status500, faultproxy.Reset, faultproxy.Status429, faultproxy.Lost, faultproxy.Outage, faultproxy.Stall} {
		if kind == faultproxy.Stall {
			need := time.Duration(k) * (took + faultStall + faultTimeout/4)
			if left := faultBudget - time.Since(start); need > left {
				stride = int((need + left - 1) / max(left, time.Second))
			}
			t.Logf("stall runs need about %s, %s left of the budget: stride %d", need, faultBudget-time.Since(start), stride)
		}
		c := &tally{}
		totals[kind] = c
		for n := 1; n <= k; n++ {
			if (n-1)%sample != 0 ||
				kind == faultproxy.Stall && (n-1)%stride != 0 ||
				kind == faultproxy.Outage && n < firstManifest && (n-1)%outageStride != 0 {
				continue
			}
			o, code, injected, _ := exportRun(n, kind)
			checkFaultRun(t, kind, n, o, code, injected, kind == faultproxy.Outage && n <= lastRunRead)
			c.count(o, injected)
		}
		line := fmt.Sprintf("faults[%s]: runs=%d injected=%d ok=%d retried-ok=%d clean-failures=%d tag-step-failures=%d inconsistent=%d",
			kind, c.runs, c.injected, c.ok, c.retriedOK, c.clean, c.tagStep, c.inconsistent)
		t.Log(line)
		lines = append(lines, line)
		if bad := c.check(kind); bad != "" {
			t.Errorf("faults[%s]: %s", kind, bad)
		}
	}
	var all tally
	for _, c := range totals {
		all.add(*c)
	}
	summary := fmt.Sprintf(reg.Name+" faults: runs=%d injected=%d retried-ok=%d clean-failures=%d tag-step-failures=%d inconsistent=%d k=%d stall-stride=%d outage-stride=%d-before-request-%d wall=%s",
		all.runs, all.injected, all.retriedOK, all.clean, all.tagStep, all.inconsistent, k, stride, outageStride, firstManifest, time.Since(start).Round(time.Second))
	t.Log(summary)
	// go test shows a passing test's output only with -v: the totals go to
	// a file next to the built lifecycle, which `make acceptance` prints.
	lines = append(lines, summary)
	out := filepath.Join(filepath.Dir(harness.LifecycleDir(t)), summaryFile)
	if err := os.WriteFile(out, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Errorf("write %s: %v", out, err)
	}
	if all.inconsistent > 0 {
		t.Fatalf("%d inconsistent states", all.inconsistent)
	}
}

// checkFaultRun judges one fault run strictly. A one-off fault (every kind
// but Outage) must be injected, then retried, and the export must succeed.
// An outage must be injected and end with 64 (nothing moved) or 65 (the tag
// step failed); only one that begins while lifecycle reads the run image
// (runRead) ends with lifecycle's own 1 (spec 9), and nothing else.
func checkFaultRun(t *testing.T, kind faultproxy.Kind, n int, o outcome, code int, injected, runRead bool) {
	t.Helper()
	if !injected {
		t.Errorf("fault %s at request %d was never injected: the export made fewer requests than the clean one", kind, n)
	}
	switch {
	case runRead:
		if code != codeStockFailed {
			t.Errorf("outage from request %d, in the run image's reads: exit %d (%s), want %d", n, code, o, codeStockFailed)
		}
	case kind == faultproxy.Outage:
		if code != platform.CodeRegistryFailed && code != platform.CodeTagsIncomplete {
			t.Errorf("outage from request %d: exit %d (%s), want %d or %d", n, code, o, platform.CodeRegistryFailed, platform.CodeTagsIncomplete)
		}
	case o != succeeded:
		t.Errorf("one-off fault %s at request %d: exit %d (%s), want 0: the fault must be retried and the export succeed", kind, n, code, o)
	}
}

// check says what is wrong with the totals of kind's runs, or "".
func (c tally) check(kind faultproxy.Kind) string {
	if c.runs == 0 {
		return "no run"
	}
	if c.injected != c.runs || c.inconsistent != 0 {
		return fmt.Sprintf("injected %d and inconsistent %d in %d runs, want %d and 0", c.injected, c.inconsistent, c.runs, c.runs)
	}
	if kind == faultproxy.Outage {
		if c.ok != 0 || c.clean+c.tagStep != c.runs || c.clean == 0 || c.tagStep == 0 {
			return fmt.Sprintf("ok=%d clean=%d tag-step=%d in %d runs, want no success and both failure kinds", c.ok, c.clean, c.tagStep, c.runs)
		}
		return ""
	}
	if c.ok != c.runs || c.retriedOK != c.runs {
		return fmt.Sprintf("ok=%d retried-ok=%d in %d runs, want every run retried and successful", c.ok, c.retriedOK, c.runs)
	}
	return ""
}

func faultedRequest(p *faultproxy.Proxy) string {
	for _, r := range p.Requests() {
		if r.Fault != faultproxy.None {
			return r.Method + " " + r.Path
		}
	}
	return "none"
}

// errorLine is the first line of out that reports an error.
func errorLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "ERROR") || strings.Contains(l, "failed") {
			return l
		}
	}
	return "(no error line)"
}

// Two exporters write to one repository, with the same tags, at once. Each
// report must match a complete set of manifests, and the tags must end at
// one of the two exports.
func TestConcurrentExports(t *testing.T) {
	reg := harness.StartDistribution(t)
	b := backend{host: reg.Host}
	// Both exporters go through the proxy, unarmed, as in the fault test.
	proxy, err := faultproxy.Start(reg.Host, faultStall)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	run := strings.Replace(fixture.PushRunImage(t, reg.Host+"/run"), reg.Host, proxy.Host, 1)
	var names []string
	for _, tag := range appTags {
		names = append(names, proxy.Host+"/app:"+tag)
	}
	const rounds = 3
	for _, tc := range []struct {
		name          string
		app, artifact [2]string
	}{
		{"different content", [2]string{"a", "b"}, [2]string{"a", "b"}},
		{"same app layers, different artifacts", [2]string{"s", "s"}, [2]string{"x", "y"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for round := 1; round <= rounds; round++ {
				var ws [2]*fixture.Workspace
				for j := range ws {
					ws[j] = fixture.New(t, run, nonceBuildpacks2(
						fmt.Sprintf("%s-%d-%s", tc.name, round, tc.app[j]),
						fmt.Sprintf("%s-%d-%s", tc.name, round, tc.artifact[j]))...)
				}
				var outs [2]string
				var codes [2]int
				t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
					for j := range ws {
						t.Run(fmt.Sprint(j), func(t *testing.T) {
							t.Parallel()
							outs[j], codes[j] = export(t, ws[j], false, "0.13", nil, names...)
						})
					}
				})
				checkConcurrent(t, b, ws, outs, codes)
			}
		})
	}
}

func checkConcurrent(t *testing.T, b backend, ws [2]*fixture.Workspace, outs [2]string, codes [2]int) {
	t.Helper()
	var reps []platform.Report
	for j, code := range codes {
		switch code {
		case 0:
		case platform.CodeRegistryFailed, platform.CodeTagsIncomplete:
			t.Logf("export %d: documented failure %d:\n%s", j, code, outs[j])
			continue
		default:
			t.Errorf("export %d: exit %d\n%s", j, code, outs[j])
			continue
		}
		rep, err := readReportFile(ws[j].Report)
		if err != nil {
			t.Errorf("export %d: %v", j, err)
			continue
		}
		for _, p := range b.checkPublished(rep, false) {
			t.Errorf("export %d (%s): %s", j, rep.Image.Digest, p)
		}
		reps = append(reps, rep)
	}
	if len(reps) == 0 {
		t.Fatal("neither export succeeded")
	}
	// The tags end at one of the exports: the app tags at a reported
	// digest, each artifact tag at a reported artifact with that tag.
	won := map[string]bool{}
	for _, tag := range appTags {
		d, err := b.digest(tag)
		if err != nil {
			t.Fatal(err)
		}
		ok := false
		for _, rep := range reps {
			if rep.Image.Digest == d {
				ok, won[d] = true, true
			}
		}
		if !ok {
			t.Errorf("app:%s = %q, which no export reported", tag, d)
		}
	}
	for _, tag := range artifactTags {
		d, err := b.digest(tag)
		if err != nil {
			t.Fatal(err)
		}
		ok := false
		for _, rep := range reps {
			for _, a := range rep.Artifacts {
				if a.Tag == tag && len(a.Refs) == 1 && strings.HasSuffix(a.Refs[0], "@"+d) {
					ok = true
				}
			}
		}
		if !ok {
			t.Errorf("app:%s = %q, which no export reported", tag, d)
		}
	}
	if len(won) > 1 {
		t.Logf("the app tags ended at different exports: %v", won)
	}
}
