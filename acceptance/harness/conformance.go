package harness

import (
	"os"
	"path/filepath"
	"testing"
)

// Conformance runs (hack/conformance, `make conformance`) judge any
// lifecycle directory against docs/spec.md. They set:
//
//	CONFORMANCE=1       a binary missing from LIFECYCLE_DIR fails the test
//	                    with a message that says so ("no lifecycle-artifacts
//	                    in <dir>"): the lifecycle lacks a command the rule
//	                    requires, so it does not conform to it
//	CONFORMANCE_OURS=1  LIFECYCLE_DIR is this repository's build, so tests
//	                    that need more of it (Implementation) run too
const (
	EnvConformance     = "CONFORMANCE"
	EnvConformanceOurs = "CONFORMANCE_OURS"
)

// InConformance reports whether the test runs in a conformance run.
func InConformance() bool { return os.Getenv(EnvConformance) == "1" }

// Binary returns LIFECYCLE_DIR/<name>, an executable the test needs (a
// phase such as exporter or creator, lifecycle as the stock reference, or
// lifecycle-artifacts). When it is missing, the test fails: in a conformance
// run, saying that the lifecycle lacks the command the rule requires.
func Binary(t testing.TB, name string) string {
	t.Helper()
	dir := LifecycleDir(t)
	path := filepath.Join(dir, name)
	info, err := os.Stat(path)
	if err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
		return path
	}
	if err != nil && InConformance() {
		t.Fatalf("no %s in %s: the lifecycle lacks the command this rule requires", name, dir)
	}
	if err != nil {
		t.Fatalf("%v (run `make build`)", err)
	}
	t.Fatalf("%s is not an executable file", path)
	return ""
}

// Ours reports whether LIFECYCLE_DIR is this repository's build: always,
// except in a conformance run against another directory. Checks of our
// implementation's structure, beyond the rule a test checks, run only then.
func Ours() bool {
	return !InConformance() || os.Getenv(EnvConformanceOurs) == "1"
}

// Implementation marks a test that needs more of this repository's build
// than a lifecycle directory has (what, e.g. "out/demo"). A conformance run
// against another directory skips it.
func Implementation(t testing.TB, what string) {
	t.Helper()
	if !Ours() {
		t.Skipf("not applicable: implementation test, needs this repository's %s, not run against %s", what, LifecycleDir(t))
	}
}
