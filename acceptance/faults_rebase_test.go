//go:build acceptance

package acceptance_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cnb-artifacts/lifecycle/acceptance/faultproxy"
	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// codeRebaseFailed is lifecycle's rebase error (platform.RebaseError): the
// rebaser failed before writing anything.
const codeRebaseFailed = 72

// Re-attaching, and our rebaser, under the fault kinds of the export's
// matrix, at every faultRebaseStride-th request of a clean run (a sample:
// the export's matrix runs every request): every run
// ends in a state its exit code allows (judge, as for the export). For
// reattach, whose every request is ours, a one-off fault must also be
// retried and the run succeed; the rebaser's reads before the transaction
// are upstream's, so there only consistency is required.
func TestRebaseAndReattachUnderFaults(t *testing.T) {
	const faultRebaseStride = 6
	reg := harness.StartDistribution(t)
	proxy, err := faultproxy.Start(reg.Host, faultStall)
	must(t, err)
	t.Cleanup(proxy.Close)
	b := backend{host: reg.Host}
	runRef := fixture.PushRunImage(t, reg.Host+"/run")
	patched := patchRunImage(t, runRef, reg.Host+"/run:patched")
	dir := harness.LifecycleDir(t)
	env := []string{platform.EnvRegistryTimeout + "=" + faultTimeout.String()}
	var backendNames, proxyNames []string
	for _, tag := range appTags {
		backendNames = append(backendNames, reg.Host+"/app:"+tag)
		proxyNames = append(proxyNames, proxy.Host+"/app:"+tag)
	}

	for _, op := range []string{"reattach", "rebaser"} {
		t.Run(op, func(t *testing.T) {
			runNo := 0
			// one prepares a new image (an export, and for reattach a stock
			// rebase, straight to the registry), then runs op through the
			// proxy with the fault armed, and judges it.
			one := func(n int, kind faultproxy.Kind) (outcome, int, bool) {
				t.Helper()
				runNo++
				w := fixture.New(t, runRef, nonceBuildpacks(fmt.Sprintf("%s-%d", op, runNo))...)
				if out, code := export(t, w, false, "0.13", nil, backendNames...); code != 0 {
					t.Fatalf("export: exit %d\n%s", code, out)
				}
				old, err := b.digest(appTags[0])
				must(t, err)
				watched := append(append([]string(nil), appTags...), artifactTags...)
				watched = append(watched, fallbackTag(old))
				var c *exec.Cmd
				report := filepath.Join(t.TempDir(), "report.toml")
				if op == "reattach" {
					rb := exec.Command(filepath.Join(dir, "lifecycle"), append([]string{"rebase", "-force", "-run-image", patched, "-report", filepath.Join(t.TempDir(), "r.toml")}, backendNames...)...)
					rb.Env = append(w.Env("0.13"), sourceDateEpoch)
					if stdout, stderr, code := harness.Run(t, rb); code != 0 {
						t.Fatalf("stock rebase: exit %d\n%s%s", code, stdout, stderr)
					}
					c = exec.Command(harness.Binary(t, "lifecycle-artifacts"), append([]string{"reattach", "-from", proxy.Host + "/app@" + old, "-report", report}, proxyNames...)...)
				} else {
					c = exec.Command(harness.Binary(t, "rebaser"), append([]string{"-force", "-run-image", strings.Replace(patched, reg.Host, proxy.Host, 1), "-report", report}, proxyNames...)...)
				}
				c.Env = append(append(w.Env("0.13"), sourceDateEpoch), env...)
				before, err := b.snapshot(watched)
				must(t, err)
				proxy.Arm(n, kind)
				stdout, stderr, code := harness.Run(t, c)
				out := stdout + stderr
				injected := proxy.Injected()
				judged := code
				if code == codeRebaseFailed || code == platform.CodeExportFailed {
					judged = platform.CodeRegistryFailed // failed before writing: nothing may have moved
				}
				o, bad := b.judge(judged, out, report, proxy.Host, before)
				if o == inconsistent {
					t.Errorf("%s, fault %s at request %d: exit %d, inconsistent:\n  %s\noutput:\n%s", op, kind, n, code, strings.Join(bad, "\n  "), out)
				}
				return o, code, injected
			}

			if o, _, _ := one(0, faultproxy.None); o != succeeded {
				t.Fatalf("clean %s: %s", op, o)
			}
			k := proxy.Count()
			t.Logf("clean %s: K=%d requests", op, k)
			var lines []string
			for _, kind := range []faultproxy.Kind{faultproxy.Status500, faultproxy.Reset, faultproxy.Status429, faultproxy.Lost, faultproxy.Outage, faultproxy.Stall} {
				c := tally{}
				began := time.Now()
				for n := 1; n <= k; n += faultRebaseStride {
					o, code, injected := one(n, kind)
					c.count(o, injected)
					if op == "reattach" && kind != faultproxy.Outage && injected && o != succeeded {
						t.Errorf("reattach, one-off fault %s at request %d: exit %d (%s), want 0: the fault must be retried", kind, n, code, o)
					}
				}
				lines = append(lines, fmt.Sprintf("%s faults[%s]: runs=%d injected=%d ok=%d clean-failures=%d tag-step-failures=%d inconsistent=%d (%s)",
					op, kind, c.runs, c.injected, c.ok, c.clean, c.tagStep, c.inconsistent, time.Since(began).Round(time.Second)))
				if c.inconsistent > 0 || c.injected == 0 {
					t.Errorf("%s", lines[len(lines)-1])
				}
			}
			t.Logf("\n%s", strings.Join(lines, "\n"))
		})
	}
}
