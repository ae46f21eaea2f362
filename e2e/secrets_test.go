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
// send home.
func scanBuildpack(t *testing.T) stack.Buildpack {
	t.Helper()
	dir := t.TempDir()
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
func (e *env) checkNoCredentialReachesBuildpacks(t *testing.T) {
	user, pass := "builder", "canary-"+strings.Repeat("p4ss", 5)
	host := basicAuthProxy(t, e.registry, user, pass)
	basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	dockerConfig := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dockerConfig, "config.json"),
		[]byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, basic)), 0o600))
	packEnv := []string{"PACK_HOME=" + e.packHome, "DOCKER_CONFIG=" + dockerConfig}

	res, err := stack.Create(context.Background(), stack.Options{
		Registry: e.registry + "/scan", LifecycleTarball: e.tarball, Buildpacks: []stack.Buildpack{scanBuildpack(t)}, Dir: t.TempDir(),
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
	for _, mode := range []struct {
		name   string
		flags  []string
		parent string // the phase process whose environment the buildpack can read
	}{
		{"trusted (creator)", []string{"--trust-builder"}, "lifecycle build"},
		{"untrusted (separate phases)", []string{"--lifecycle-image", e.lifecycleImage}, "/cnb/lifecycle/builder"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			image := host + "/" + appNamespace + "/scan-" + strings.Fields(mode.name)[0] + ":latest"
			args := append([]string{"build", image, "--builder", res.Builder, "--path", e.app, "--publish",
				"--network", "host", "--pull-policy", "if-not-present", "--verbose"}, mode.flags...)
			out, code := e.runPackEnv(t, packEnv, args...)
			if code != 0 {
				t.Fatalf("pack build: exit %d (the registry needs the docker config's credentials)%s", code, refusal(out))
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
