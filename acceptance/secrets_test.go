//go:build acceptance

package acceptance_test

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
)

// scanScript is prepended to a buildpack's bin/detect and bin/build: it
// copies every /proc/*/environ its user can read, and its own environment,
// into dump, and records which processes it could read (by command line).
// The buildpack runs as the CNB user, as any buildpack does.
func scanScript(dump string) string {
	return fmt.Sprintf(`#!/bin/sh
dump=%q
for f in /proc/[0-9]*/environ; do
	if cat "$f" >>"$dump.env" 2>/dev/null; then
		pid=${f#/proc/}; pid=${pid%%/environ}
		printf '%%s %%s\n' "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" >>"$dump.read"
	fi
done
env >>"$dump.env"
printf 'parent %%s %%s\n' "$PPID" "$(tr '\0' ' ' <"/proc/$PPID/cmdline" 2>/dev/null)" >>"$dump.read"
`, dump)
}

// No credential reaches a buildpack: with CNB_REGISTRY_AUTH set for the
// creator, a buildpack that reads every process environment its user can
// read, in detect and in build, finds no trace of it. Our creator runs
// upstream's detect and build as child processes of the CNB user, whose
// environments the buildpack can read (the test checks it did read its
// parent's); the stock creator, the baseline, runs them in its own process
// after dropping privileges.
func TestNoCredentialReachesBuildpacks(t *testing.T) {
	reg := harness.StartDistribution(t)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	secret := "canary-" + strings.Repeat("s3cr3t", 4)
	basic := base64.StdEncoding.EncodeToString([]byte("user:" + secret))
	auth := fmt.Sprintf(`CNB_REGISTRY_AUTH={%q:"Basic %s"}`, reg.Host, basic)
	for _, stock := range []bool{true, false} {
		t.Run(map[bool]string{true: "stock creator", false: "our creator"}[stock], func(t *testing.T) {
			b := fixture.NewBuild(t, run, fixture.Plain())
			bin := filepath.Join(b.Buildpacks, "examples_node", "1.0.0", "bin")
			for _, phase := range []string{"detect", "build"} {
				p := filepath.Join(bin, phase)
				orig, err := os.ReadFile(p)
				must(t, err)
				body := strings.TrimPrefix(string(orig), "#!/bin/sh\n")
				must(t, os.WriteFile(p, []byte(scanScript(filepath.Join(b.Dir, "scan-"+phase))+body), 0o755))
			}
			out, code := create(t, b, stock, "0.13", []string{auth}, reg.Host+"/app:latest")
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, out)
			}
			if strings.Contains(out, secret) || strings.Contains(out, basic) {
				t.Fatalf("the output holds the credential:\n%s", out)
			}
			for _, phase := range []string{"detect", "build"} {
				env, err := os.ReadFile(filepath.Join(b.Dir, "scan-"+phase+".env"))
				must(t, err)
				read, err := os.ReadFile(filepath.Join(b.Dir, "scan-"+phase+".read"))
				must(t, err)
				if !strings.Contains(string(env), "CNB_") && phase == "build" {
					t.Fatalf("%s: the scan read no environment at all (it sees at least its own)\n%s", phase, read)
				}
				if strings.Contains(string(env), basic) || strings.Contains(string(env), "CNB_REGISTRY_AUTH") {
					t.Fatalf("%s: a buildpack read the credential from a process environment; processes read:\n%s", phase, read)
				}
				// Our creator's phases are child processes of the CNB user:
				// the buildpack can read its parent's environment, the one
				// that used to carry the credential. (This checks our
				// creator's structure: another creator, judged by a
				// conformance run, may run its phases in process.)
				if !stock && harness.Ours() && !strings.Contains(string(read), "lifecycle "+phase) {
					t.Fatalf("%s: the scan did not read the environment of upstream's %s process; read:\n%s", phase, phase, read)
				}
				t.Logf("%s: processes whose environment the buildpack read:\n%s", phase, read)
			}
		})
	}
}
