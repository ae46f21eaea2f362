package sbom

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildpacks/lifecycle/launch"

	"github.com/cnb-artifacts/lifecycle/artifacts"
)

var testGroup = []artifacts.Buildpack{{ID: "example/a", Version: "1.0.0"}, {ID: "example/b", Version: "2.0.0"}}

func testLauncher() Launcher {
	return Launcher{Dir: "testdata/launcher", Version: "0.21.17"}
}

// sourceList is a compact view of sources: ref format path, one a line.
func sourceList(srcs []Source) string {
	var b strings.Builder
	for _, s := range srcs {
		b.WriteString(s.Ref() + " " + s.Format.Name + " " + s.Path + "\n")
	}
	return b.String()
}

// Find lists the group's buildpack-level and layer SBOMs in group order,
// then the launcher's; it ignores buildpacksio_lifecycle (the launcher's
// files come from the launcher directory) and buildpacks outside the group.
func TestFind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		group    []artifacts.Buildpack
		launcher Launcher
		want     string
	}{
		{"group and launcher", testGroup, testLauncher(), `example/a@1.0.0 cdx sbom/launch/example_a/sbom.cdx.json
example/a@1.0.0:web cdx sbom/launch/example_a/web/sbom.cdx.json
example/a@1.0.0:web spdx sbom/launch/example_a/web/sbom.spdx.json
example/a@1.0.0:web syft sbom/launch/example_a/web/sbom.syft.json
example/b@2.0.0:deps cdx sbom/launch/example_b/deps/sbom.cdx.json
example/b@2.0.0:deps spdx sbom/launch/example_b/deps/sbom.spdx.json
buildpacksio/lifecycle@0.21.17:launcher cdx launcher.sbom.cdx.json
buildpacksio/lifecycle@0.21.17:launcher spdx launcher.sbom.spdx.json
buildpacksio/lifecycle@0.21.17:launcher syft launcher.sbom.syft.json
`},
		{"group order", []artifacts.Buildpack{testGroup[1], testGroup[0]}, Launcher{}, `example/b@2.0.0:deps cdx sbom/launch/example_b/deps/sbom.cdx.json
example/b@2.0.0:deps spdx sbom/launch/example_b/deps/sbom.spdx.json
example/a@1.0.0 cdx sbom/launch/example_a/sbom.cdx.json
example/a@1.0.0:web cdx sbom/launch/example_a/web/sbom.cdx.json
example/a@1.0.0:web spdx sbom/launch/example_a/web/sbom.spdx.json
example/a@1.0.0:web syft sbom/launch/example_a/web/sbom.syft.json
`},
		{"custom launcher directory", testGroup[1:], Launcher{Dir: "testdata/launcher", Custom: true, Version: "0.21.17"}, `example/b@2.0.0:deps cdx sbom/launch/example_b/deps/sbom.cdx.json
example/b@2.0.0:deps spdx sbom/launch/example_b/deps/sbom.spdx.json
buildpacksio/lifecycle@0.21.17:launcher cdx launcher.sbom.cdx.json
buildpacksio/lifecycle@0.21.17:launcher cdx lifecycle.sbom.cdx.json
buildpacksio/lifecycle@0.21.17:launcher spdx launcher.sbom.spdx.json
buildpacksio/lifecycle@0.21.17:launcher syft launcher.sbom.syft.json
`},
		{"lifecycle in the group is not counted twice", []artifacts.Buildpack{{ID: LifecycleID, Version: "1"}}, Launcher{}, ""},
		{"empty group", nil, Launcher{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srcs, err := Find("testdata/layers", tc.group, tc.launcher)
			if err != nil {
				t.Fatal(err)
			}
			if got := sourceList(srcs); got != tc.want {
				t.Errorf("Find:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// No SBOM directory: no sources, no error (a build without SBOMs).
func TestFindNoSBOMs(t *testing.T) {
	t.Parallel()
	srcs, err := Find(t.TempDir(), testGroup, Launcher{})
	if err != nil || len(srcs) != 0 {
		t.Fatalf("Find = %v, %v; want none, nil", srcs, err)
	}
}

// EscapeID is lifecycle's.
func TestEscapeID(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"a", "example/a", "a/b/c", "buildpacksio/lifecycle"} {
		if got, want := EscapeID(id), launch.EscapeID(id); got != want {
			t.Errorf("EscapeID(%q) = %q, want %q", id, got, want)
		}
	}
}

// A buildpack's directory or a layer directory that is a symbolic link is
// an error naming the buildpack and the path; the other buildpacks' sources
// are still found.
func TestFindHostileDirectories(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"sbom/launch/example_b/deps/sbom.cdx.json": "{}",
		"elsewhere/sbom.cdx.json":                  "{}",
	})
	launchDir := filepath.Join(dir, "sbom", "launch")
	must(t, os.Symlink(filepath.Join(dir, "elsewhere"), filepath.Join(launchDir, "example_a")))
	must(t, os.Symlink(filepath.Join(dir, "elsewhere"), filepath.Join(launchDir, "example_b", "web")))
	srcs, err := Find(dir, testGroup, Launcher{})
	if !errors.Is(err, ErrNotDir) {
		t.Fatalf("Find error = %v, want ErrNotDir", err)
	}
	for _, want := range []string{`buildpack "example/a@1.0.0": "sbom/launch/example_a"`, `buildpack "example/b@2.0.0", layer "web"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Find error %q does not name %s", err, want)
		}
	}
	if got, want := sourceList(srcs), "example/b@2.0.0:deps cdx sbom/launch/example_b/deps/sbom.cdx.json\n"; got != want {
		t.Errorf("Find sources:\n%s\nwant:\n%s", got, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

// The launcher's directory is the platform's: a custom one may be a
// mounted ConfigMap, whose files are symbolic links inside it; they are
// read. A link out of the directory is not.
func TestLauncherDirectoryLinks(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/launcher/launcher.sbom.cdx.json")
	must(t, err)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"outside/sbom.spdx.json": "{}"})
	launcherDir := filepath.Join(dir, "mounted")
	must(t, os.MkdirAll(filepath.Join(launcherDir, "..data"), 0o755))
	must(t, os.WriteFile(filepath.Join(launcherDir, "..data", "x.sbom.cdx.json"), data, 0o644))
	must(t, os.Symlink("..data/x.sbom.cdx.json", filepath.Join(launcherDir, "inside.sbom.cdx.json")))
	must(t, os.Symlink("../outside/sbom.spdx.json", filepath.Join(launcherDir, "out.sbom.spdx.json")))
	srcs, err := Find(t.TempDir(), nil, Launcher{Dir: launcherDir, Custom: true})
	must(t, err)
	docs, err := Merge(srcs, Options{})
	if got := formatNames(docs); got != "cdx" {
		t.Errorf("formats %q, want cdx (from the link inside the directory)", got)
	}
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Format != SPDX || !errors.Is(err, artifacts.ErrPathEscapes) {
		t.Errorf("Merge error = %v, want the spdx link out of the directory refused", err)
	}
}
