//go:build acceptance

package acceptance_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
)

// quickstartBlocks returns the ```sh blocks of the section "## Quickstart"
// of a Markdown file, in order.
func quickstartBlocks(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start := strings.Index(doc, "\n## Quickstart\n")
	if start < 0 {
		t.Fatalf("%s has no section ## Quickstart", path)
	}
	section := doc[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?ms)^```sh\n(.*?)^```$").FindAllStringSubmatch(section, -1) {
		blocks = append(blocks, m[1])
	}
	return blocks
}

// TestQuickstart runs the quickstart of docs/buildpack-authors.md exactly as
// written, with sh (busybox's, when it is there, as in the build image),
// from the repository root: it writes a buildpack, runs its bin/build,
// validates it and builds an app with it through `make demo`.
func TestQuickstart(t *testing.T) {
	demoBinary(t) // root, out/demo
	blocks := quickstartBlocks(t, "../docs/buildpack-authors.md")
	if len(blocks) < 3 {
		t.Fatalf("the quickstart has %d sh blocks, want at least 3", len(blocks))
	}
	script := strings.Join(blocks, "\n")
	shell := []string{"sh"}
	if _, err := os.Stat("/bin/busybox"); err == nil {
		shell = []string{"/bin/busybox", "sh"}
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(shell[0], append(shell[1:], "-eu", "-c", script)...)
	cmd.Dir = root
	// The demo's workspace goes under TMPDIR, and the phases write temporary
	// files there as the CNB user: a /tmp of its own (1777).
	tmp, err := os.MkdirTemp("", "quickstart-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	must(t, os.Chmod(tmp, 0o1777))
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	// make demo builds out/lifecycle as `make build` does: the acceptance
	// run points LIFECYCLE_DIR there already.
	if harness.LifecycleDir(t) != filepath.Join(root, "out", "lifecycle") {
		t.Skip("LIFECYCLE_DIR is not this repository's out/lifecycle, which make demo uses")
	}
	stdout, stderr, code := harness.Run(t, cmd)
	if code != 0 {
		t.Fatalf("the quickstart failed, exit %d\n%s\n%s", code, stdout, stderr)
	}
	out := stdout + stderr
	for _, want := range []string{
		"artifact notes (buildpack example/hello, layer notes, notes/artifacts.toml, artifact 1)", // step 2, validate
		"notes.txt  text/plain",
		"1 artifact, 0 warnings, 0 errors.",
		"/demo/app:notes\n", // step 3, the demo's tree
		"from    example/hello@0.1.0, layer notes",
		"referrers API lists all 1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}
