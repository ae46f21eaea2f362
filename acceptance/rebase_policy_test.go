//go:build acceptance

package acceptance_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnb-artifacts/lifecycle/acceptance/faultproxy"
	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// CNB_ARTIFACTS_POLICY=off holds for our rebaser as for the exporter: it
// rebases as stock, with no referrers request, even where the referrers
// endpoint hangs (a failure to read it would otherwise fail the rebase),
// and its report.toml is the stock rebaser's.
func TestRebaserPolicyOff(t *testing.T) {
	reg := harness.StartDistribution(t)
	proxy, err := faultproxy.Start(reg.Host, faultStall)
	must(t, err)
	t.Cleanup(proxy.Close)
	proxy.SetQuirks(faultproxy.Quirks{Referrers: faultproxy.ReferrersHang})
	runRef := fixture.PushRunImage(t, reg.Host+"/run")
	patched := strings.Replace(patchRunImage(t, runRef, reg.Host+"/run:patched"), reg.Host, proxy.Host, 1)
	w := fixture.New(t, runRef, append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...)...)
	if out, code := export(t, w, false, "0.13", nil, reg.Host+"/app:latest"); code != 0 {
		t.Fatalf("export: exit %d\n%s", code, out)
	}
	old := head(t, reg.Host+"/app:latest")

	report := filepath.Join(t.TempDir(), "report.toml")
	c := exec.Command(harness.Binary(t, "rebaser"), "-force", "-run-image", patched, "-report", report, proxy.Host+"/app:latest")
	c.Env = append(w.Env("0.13"), sourceDateEpoch, platform.EnvPolicy+"=off", platform.EnvRegistryTimeout+"=2s")
	proxy.Arm(0, faultproxy.None)
	stdout, stderr, code := harness.Run(t, c)
	if code != 0 {
		t.Fatalf("rebaser with policy off: exit %d, want 0 as stock\n%s%s", code, stdout, stderr)
	}
	for _, r := range proxy.Requests() {
		if strings.Contains(r.Path, "/referrers/") || strings.Contains(r.Path, "sha256-") {
			t.Errorf("policy off, yet the rebaser read the referrers: %s", r)
		}
	}
	rebased := head(t, reg.Host+"/app:latest")
	if rebased == old {
		t.Fatalf("the rebase kept the digest")
	}
	raw, err := os.ReadFile(report)
	must(t, err)
	if strings.Contains(string(raw), "[[artifacts]]") || !strings.Contains(string(raw), rebased.String()) {
		t.Errorf("report.toml is not the stock rebaser's:\n%s", raw)
	}
}

// The creator under policy off is the stock creator too: a rebuild (whose
// previous image has artifacts and a reused launch layer) through a
// registry whose referrers endpoint hangs succeeds, with no referrers
// request and no [[artifacts]] in report.toml.
func TestCreatorPolicyOff(t *testing.T) {
	reg := harness.StartDistribution(t)
	proxy, err := faultproxy.Start(reg.Host, faultStall)
	must(t, err)
	t.Cleanup(proxy.Close)
	run := strings.Replace(fixture.PushRunImage(t, reg.Host+"/run"), reg.Host, proxy.Host, 1)
	bps := append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...)
	app := proxy.Host + "/app:latest"
	if out, code := create(t, fixture.NewBuild(t, run, bps...), false, "0.13", nil, app); code != 0 {
		t.Fatalf("first build: exit %d\n%s", code, out)
	}
	proxy.SetQuirks(faultproxy.Quirks{Referrers: faultproxy.ReferrersHang})
	second := fixture.NewBuild(t, run, bps...)
	keep := "#!/bin/sh\nset -eu\nprintf '[types]\\n  launch = true\\n' > \"$1/chart.toml\"\n"
	must(t, os.WriteFile(filepath.Join(second.Buildpacks, "examples_helm", "1.0.0", "bin", "build"), []byte(keep), 0o755))
	proxy.Arm(0, faultproxy.None)
	out, code := create(t, second, false, "0.13", []string{platform.EnvPolicy + "=off", platform.EnvRegistryTimeout + "=2s"}, app)
	if code != 0 {
		t.Fatalf("second build with policy off: exit %d\n%s", code, out)
	}
	for _, r := range proxy.Requests() {
		if strings.Contains(r.Path, "/referrers/") || strings.Contains(r.Path, "sha256-") {
			t.Errorf("policy off, yet the creator read the referrers: %s", r)
		}
	}
	raw, err := os.ReadFile(second.Report)
	must(t, err)
	if strings.Contains(string(raw), "[[artifacts]]") {
		t.Errorf("report.toml lists artifacts under policy off:\n%s", raw)
	}
}
