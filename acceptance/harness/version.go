package harness

import (
	"os/exec"
	"strings"
	"testing"
)

// LifecycleModule is the upstream lifecycle module this distribution pins.
const LifecycleModule = "github.com/buildpacks/lifecycle"

// PinnedLifecycleVersion returns the lifecycle version go.mod pins, without
// the leading "v" (e.g. "0.21.17"). Test binaries carry no module build
// information, so platform.UpstreamVersion() reads "0.0.0" inside tests; this
// asks the go command instead.
func PinnedLifecycleVersion(t testing.TB) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to read go.mod: %v", err)
	}
	out, err := exec.Command(gobin, "list", "-m", "-f", "{{.Version}}", LifecycleModule).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", LifecycleModule, err)
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	if v == "" {
		t.Fatalf("go list -m %s printed no version", LifecycleModule)
	}
	return v
}
