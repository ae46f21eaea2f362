//go:build acceptance

package acceptance_test

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// The cache is exported only after the image and its artifacts are
// committed, also with -parallel: a failed artifact push leaves the
// committed cache as it was.
func TestExportCacheOnlyAfterCommit(t *testing.T) {
	reg := harness.StartDistribution(t)
	proxy, host, auth := startAuthProxy(t, reg, "u", "p")
	run := strings.Replace(fixture.PushRunImage(t, reg.Host+"/run"), reg.Host, host, 1)
	env := []string{auth, "CNB_PARALLEL_EXPORT=true"}
	cacheDir := t.TempDir()
	args := []string{"-cache-dir", cacheDir, host + "/app:latest"}
	workspace := func(content string) *fixture.Workspace {
		deps := fixture.Buildpack{ID: "examples/deps", Version: "1.0.0", Layers: []fixture.Layer{{Name: "deps", Launch: true, Cache: true,
			Files: map[string][]byte{"deps.txt": []byte(content)}}}}
		return fixture.New(t, run, deps, fixture.Samples()[2])
	}

	if out, code := export(t, workspace("v1"), false, "0.13", env, args...); code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	before := snapshot(t, filepath.Join(cacheDir, "committed"))

	proxy.refuseArtifact.Store(true)
	out, code := export(t, workspace("v2"), false, "0.13", env, args...)
	if code != platform.CodeRegistryFailed {
		t.Fatalf("exit %d, want %d\n%s", code, platform.CodeRegistryFailed, out)
	}
	if after := snapshot(t, filepath.Join(cacheDir, "committed")); after != before {
		t.Fatalf("a failed export changed the committed cache\nbefore:\n%s\nafter:\n%s", before, after)
	}

	proxy.refuseArtifact.Store(false)
	if out, code := export(t, workspace("v2"), false, "0.13", env, args...); code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if after := snapshot(t, filepath.Join(cacheDir, "committed")); after == before {
		t.Fatal("a committed export with new cache content left the cache as it was (the test could not see a premature export)")
	}
}

// snapshot lists every file under dir with its content hash.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		c, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(&b, "%s %x\n", rel, sha256.Sum256(c))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
