//go:build acceptance

package acceptance_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/buildpacks/lifecycle/api"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// TestHarnessRegistries pushes a small random image to each registry and
// reads it back with every client tool the suites rely on.
func TestHarnessRegistries(t *testing.T) {
	starts := map[string]func(testing.TB) *harness.Registry{
		"distribution":  harness.StartDistribution,
		"distribution3": harness.StartDistribution3,
		"olareg":        harness.StartOlareg,
	}
	for regName, start := range starts {
		t.Run(regName, func(t *testing.T) {
			t.Parallel()
			reg := start(t)
			if reg.Name != regName || reg.PID <= 0 || !strings.HasPrefix(reg.Host, "127.0.0.1:") {
				t.Fatalf("unexpected registry %+v", reg)
			}

			img, err := random.Image(512, 2)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := name.ParseReference(reg.Host+"/harness/tiny:latest", name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(ref, img); err != nil {
				t.Fatalf("pushing to %s: %v\nregistry log:\n%s", reg.Name, err, reg.LogTail())
			}
			digest, err := img.Digest()
			if err != nil {
				t.Fatal(err)
			}
			want := digest.String()

			out := mustRun(t, exec.Command(harness.Tool(t, "crane"), "digest", "--insecure", ref.String()))
			if got := strings.TrimSpace(out); got != want {
				t.Errorf("crane digest = %q, want %q", got, want)
			}
			out = mustRun(t, exec.Command(harness.Tool(t, "oras"), "manifest", "fetch", "--plain-http", ref.String()))
			if got := sha256Digest(out); got != want {
				t.Errorf("oras manifest fetch: manifest digest %s, want %s", got, want)
			}
			out = mustRun(t, exec.Command(harness.Tool(t, "skopeo"), "inspect", "--raw", "--tls-verify=false", "docker://"+ref.String()))
			if got := sha256Digest(out); got != want {
				t.Errorf("skopeo inspect --raw: manifest digest %s, want %s", got, want)
			}

			if got := servesReferrers(t, reg, "harness/tiny", want); got != reg.Referrers {
				t.Errorf("referrers API served = %v, Registry.Referrers = %v", got, reg.Referrers)
			}
		})
	}
}

// TestHarnessTools checks that every tool runs.
func TestHarnessTools(t *testing.T) {
	for _, c := range []struct {
		tool string
		args []string
	}{
		{"oras", []string{"version"}},
		{"helm", []string{"version", "--short"}},
		{"crane", []string{"version"}},
		{"olareg", []string{"version"}},
		{"skopeo", []string{"--version"}},
	} {
		out := mustRun(t, exec.Command(harness.Tool(t, c.tool), c.args...))
		t.Logf("%s: %s", c.tool, strings.TrimSpace(out))
	}
}

// TestHarnessLifecycleDir checks the built directory against the pinned
// upstream module: its version in go.mod and its API lists.
func TestHarnessLifecycleDir(t *testing.T) {
	dir := harness.LifecycleDir(t)
	upstream := harness.PinnedLifecycleVersion(t)

	out := mustRun(t, exec.Command(filepath.Join(dir, "lifecycle"), "-version"))
	if got := strings.TrimSpace(out); got != upstream {
		t.Errorf("lifecycle -version = %q, want %q", got, upstream)
	}

	links := map[string]string{"exporter": "lifecycle-artifacts", "creator": "lifecycle-artifacts", "rebaser": "lifecycle-artifacts"}
	for _, p := range []string{"detector", "analyzer", "restorer", "builder", "extender"} {
		links[p] = "lifecycle"
	}
	for link, target := range links {
		got, err := os.Readlink(filepath.Join(dir, link))
		if err != nil || got != target {
			t.Errorf("%s -> %q (%v), want -> %q", link, got, err, target)
		}
	}
	for _, bin := range []string{"launcher", "lifecycle-artifacts"} {
		if info, err := os.Stat(filepath.Join(dir, bin)); err != nil || info.Mode()&0o111 == 0 {
			t.Errorf("%s is not an executable: %v", bin, err)
		}
	}

	var descriptor struct {
		APIs struct {
			Buildpack struct{ Supported, Deprecated []string }
			Platform  struct{ Supported, Deprecated []string }
		} `toml:"apis"`
		Lifecycle struct {
			Version string
		}
	}
	if _, err := toml.DecodeFile(filepath.Join(dir, "lifecycle.toml"), &descriptor); err != nil {
		t.Fatalf("parsing lifecycle.toml: %v", err)
	}
	if !slices.Contains(descriptor.APIs.Platform.Supported, "0.13") {
		t.Errorf("platform APIs %v do not include 0.13 (pack 0.38 needs it)", descriptor.APIs.Platform.Supported)
	}
	for _, c := range []struct {
		what      string
		got, want []string
	}{
		{"supported platform APIs", descriptor.APIs.Platform.Supported, strs(api.Platform.Supported)},
		{"deprecated platform APIs", descriptor.APIs.Platform.Deprecated, strs(api.Platform.Deprecated)},
		{"supported buildpack APIs", descriptor.APIs.Buildpack.Supported, strs(api.Buildpack.Supported)},
		{"deprecated buildpack APIs", descriptor.APIs.Buildpack.Deprecated, strs(api.Buildpack.Deprecated)},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("lifecycle.toml %s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if got, want := descriptor.Lifecycle.Version, upstream+platform.VersionSuffix; got != want {
		t.Errorf("lifecycle.toml version = %q, want %q", got, want)
	}
}

func strs(l api.List) []string {
	out := make([]string, len(l))
	for i, v := range l {
		out[i] = v.String()
	}
	return out
}

func mustRun(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	stdout, stderr, code := harness.Run(t, cmd)
	if code != 0 {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	return stdout
}

func sha256Digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// servesReferrers reports whether GET /v2/<repo>/referrers/<digest> answers 200.
func servesReferrers(t *testing.T, reg *harness.Registry, repo, digest string) bool {
	t.Helper()
	resp, err := http.Get("http://" + reg.Host + "/v2/" + repo + "/referrers/" + digest)
	if err != nil {
		t.Fatalf("referrers request: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
