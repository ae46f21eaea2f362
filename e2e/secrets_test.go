//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/internal/stack"
)

// scanBuildpack is a buildpack that prints every process environment its
// user can read (in detect and in build), each line prefixed, and the
// command line of each process it read: what a hostile buildpack would
// send home. Then it searches every file it can read in its container
// (every top-level directory but /proc, /sys and /dev) for each of
// secrets and for scanControl, which a file of the buildpack holds, and
// prints "scan-found: <file>" for each file holding one, and "scan-grep:
// <exit code>". The secrets are split in the script's text, so the script
// does not hold them. No timeout(1) around grep: busybox's leaves a
// watcher process whose command line (the patterns) the next scan would
// read; pack's own timeout bounds the build, and the container's files
// are few.
func scanBuildpack(t *testing.T, secrets ...string) stack.Buildpack {
	t.Helper()
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "control"), []byte("x "+scanControl+" x\n"), 0o644))
	var pats strings.Builder
	for _, s := range append([]string{scanControl}, secrets...) {
		h := len(s) / 2
		fmt.Fprintf(&pats, " -e \"$(printf %%s '%s' '%s')\"", s[:h], s[h:])
	}
	must(t, os.WriteFile(filepath.Join(dir, "buildpack.toml"), []byte(`api = "0.10"

[buildpack]
  id = "examples/scan"
  version = "1.0.0"

[[targets]]
  os = "linux"
`), 0o644))
	scan := `#!/bin/sh
for f in /proc/[0-9]*/environ; do
	pid=${f#/proc/}; pid=${pid%/environ}
	if tr '\0' '\n' <"$f" >/tmp/scan.$$ 2>/dev/null; then
		echo "scan-read: $pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
		sed 's/^/scan-env: /' /tmp/scan.$$
	fi
done
rm -f /tmp/scan.$$
env | sed 's/^/scan-env: /'
set --
for d in /*; do
	case "$d" in /proc|/sys|/dev) ;; *) set -- "$@" "$d" ;; esac
done
grep -rlF` + pats.String() + ` "$@" >/tmp/scan-found.$$ 2>/dev/null
rc=$?
sed 's/^/scan-found: /' /tmp/scan-found.$$
rm -f /tmp/scan-found.$$
echo "scan-grep: $rc"
exit 0
`
	must(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	for _, p := range []string{"detect", "build"} {
		must(t, os.WriteFile(filepath.Join(dir, "bin", p), []byte(scan), 0o755))
	}
	bp, err := stack.ReadBuildpack(dir)
	must(t, err)
	return bp
}

// scanControl is the canary of the scan buildpack's own file "control":
// the file search must find it (else it did not search).
const scanControl = "scan-control-" + "c4n4ry-c0ntr0l"

// checkScanFiles fails the test unless the scan's file search, in out,
// found its control file and nothing else.
func checkScanFiles(t *testing.T, out string) {
	t.Helper()
	var found []string
	control := false
	for _, m := range regexp.MustCompile(`scan-found: ([^\n]*)`).FindAllStringSubmatch(out, -1) {
		if strings.HasSuffix(m[1], "/control") && strings.Contains(m[1], "examples_scan") {
			control = true
			continue
		}
		found = append(found, m[1])
	}
	if len(found) > 0 {
		t.Fatalf("a buildpack found the signing key, its password or their paths in files it can read: %q", found)
	}
	if !control {
		t.Fatalf("the scan's file search did not find its own control file: it did not search:\n%s", out)
	}
}

// basicAuthProxy fronts registryHost and lets through only requests with
// the given Basic credentials, so a build succeeds only if pack handed them
// to the lifecycle.
func basicAuthProxy(t *testing.T, registryHost, user, pass string) string {
	t.Helper()
	backend, err := url.Parse("http://" + registryHost)
	must(t, err)
	next := httputil.NewSingleHostReverseProxy(backend)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="e2e"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// checkNoCredentialReachesBuildpacks builds with a builder whose buildpack
// scans every process environment it can read, publishing to a registry
// that requires credentials pack reads from a docker config: the build
// succeeds (so pack handed the credentials to the lifecycle), and nothing
// the buildpack printed holds them. Trusted (our creator, whose detect and
// build are child processes of the CNB user) and untrusted (separate
// phases: pack gives detect and build no credentials).
//
// Both builds also sign (issue 21), with the key given as docs/signing.md
// says: trusted, the builder's environment and a --volume of root-owned
// 0600 files; untrusted, a private lifecycle image that holds them. The
// buildpack's file search finds neither the key (a line of its
// ciphertext), its password nor the paths, its environment scan no
// CNB_ARTIFACTS_SIGNING_* variable, and report.toml has
// [image-signature].
func (e *env) checkNoCredentialReachesBuildpacks(t *testing.T) {
	user, pass := "builder", "canary-"+strings.Repeat("p4ss", 5)
	k := newSigningKey(t)
	keyLine := harness.CosignKeyCanary(t, k.key)
	host := basicAuthProxy(t, e.registry, user, pass)
	basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	dockerConfig := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dockerConfig, "config.json"),
		[]byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, basic)), 0o600))
	packEnv := []string{"PACK_HOME=" + e.packHome, "DOCKER_CONFIG=" + dockerConfig}

	res, err := stack.Create(context.Background(), stack.Options{
		Registry: e.registry + "/scan", LifecycleTarball: e.tarball, Buildpacks: []stack.Buildpack{scanBuildpack(t, k.password, keyLine, signingKeyPath, signingPasswordPath)}, Dir: t.TempDir(),
		Pack: func(ctx context.Context, args ...string) (string, error) {
			out, code := e.runPackEnv(t, packEnv, args...)
			if code != 0 {
				return out, fmt.Errorf("exit %d", code)
			}
			return out, nil
		},
	})
	if err != nil {
		t.Fatalf("making the scan builder: %v", err)
	}
	signingBuilder := withEnv(t, res.Builder, e.registry+"/scan/builder:signing", signingEnv...)
	signingLifecycle := withSigningKey(t, e.lifecycleImage, e.lifecycleImage+"-scan-signing", k)
	for _, mode := range []struct {
		name   string
		flags  []string
		parent string // the phase process whose environment the buildpack can read
	}{
		{"trusted (creator)", []string{"--trust-builder", "--builder", signingBuilder, "--volume", k.dir + ":" + signingDir + ":ro"}, "lifecycle build"},
		{"untrusted (separate phases)", []string{"--lifecycle-image", signingLifecycle}, "/cnb/lifecycle/builder"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			image := host + "/" + appNamespace + "/scan-" + strings.Fields(mode.name)[0] + ":latest"
			reportDir := t.TempDir()
			args := append([]string{"build", image, "--builder", res.Builder, "--path", e.app, "--publish",
				"--network", "host", "--pull-policy", "if-not-present", "--report-output-dir", reportDir, "--verbose"}, mode.flags...)
			out, code := e.runPackEnv(t, packEnv, args...)
			if code != 0 {
				t.Fatalf("pack build: exit %d (the registry needs the docker config's credentials)%s", code, refusal(out))
			}
			k.checkNoSecretInOutput(t, "pack build", out)
			if strings.Contains(out, keyLine) {
				t.Fatalf("pack's output holds the signing key's ciphertext")
			}
			if strings.Contains(out, "scan-env: CNB_ARTIFACTS_SIGNING") {
				t.Fatalf("a buildpack read a CNB_ARTIFACTS_SIGNING_* variable from a process environment:\n%s", out)
			}
			checkScanFiles(t, out)
			rep := harness.MustReadReport(t, filepath.Join(reportDir, "report.toml"))
			if rep.ImageSignature == nil || rep.ImageSignature.Signed != rep.Image.Digest {
				t.Fatalf("the build did not sign with the key it was given: [image-signature] %+v, image %s", rep.ImageSignature, rep.Image.Digest)
			}
			for _, s := range []string{pass, basic} {
				if strings.Contains(out, s) {
					t.Fatalf("the credential reached pack's output (a buildpack printed it?):\n%s", out)
				}
			}
			if strings.Contains(out, "scan-env: CNB_REGISTRY_AUTH") {
				t.Fatalf("a buildpack read CNB_REGISTRY_AUTH from a process environment:\n%s", out)
			}
			if !regexp.MustCompile(`scan-read: [0-9]+ [^\n]*` + regexp.QuoteMeta(mode.parent)).MatchString(out) {
				t.Fatalf("the scan did not read the environment of %q (it must see its own phase process):\n%s", mode.parent, out)
			}
		})
	}
}

// runPackEnv is runPack with extra environment variables for pack.
func (e *env) runPackEnv(t *testing.T, extra []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), packTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.pack, append(args, "--no-color")...)
	cmd.Env = append(os.Environ(), extra...)
	stdout, stderr, code := harness.Run(t, cmd)
	out := stdout + stderr
	t.Logf("pack output:\n%s", out)
	for _, n := range dockerNames.FindAllString(out, -1) {
		e.packNames[n] = true
	}
	return out, code
}
