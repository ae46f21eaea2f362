package platform

import (
	"runtime/debug"
	"testing"
)

func TestUpstreamVersion(t *testing.T) {
	t.Parallel()
	lifecycle := func(version string, replace *debug.Module) *debug.Module {
		return &debug.Module{Path: upstreamModule, Version: version, Replace: replace}
	}
	other := &debug.Module{Path: "github.com/google/go-containerregistry", Version: "v0.22.1"}
	for _, tc := range []struct {
		name string
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{"no build information", nil, false, "0.0.0"},
		{"lifecycle not a dependency", &debug.BuildInfo{Deps: []*debug.Module{other}}, true, "0.0.0"},
		{"required", &debug.BuildInfo{Deps: []*debug.Module{other, lifecycle("v0.21.17", nil)}}, true, "0.21.17"},
		{"replaced by a version", &debug.BuildInfo{Deps: []*debug.Module{lifecycle("v0.21.17", &debug.Module{Path: upstreamModule, Version: "v0.21.18"})}}, true, "0.21.18"},
		{"replaced by a directory", &debug.BuildInfo{Deps: []*debug.Module{lifecycle("v0.21.17", &debug.Module{Path: "../lifecycle"})}}, true, "0.21.17"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := upstreamVersion(tc.info, tc.ok); got != tc.want {
				t.Fatalf("upstreamVersion = %q, want %q", got, tc.want)
			}
		})
	}
}

// Version is the upstream version with the build metadata that marks us.
// (A test binary carries no module dependencies in its build information:
// the acceptance tests check the built binaries' version against go.mod.)
func TestVersion(t *testing.T) {
	t.Parallel()
	if got, want := Version(), UpstreamVersion()+"+artifacts"; got != want {
		t.Fatalf("Version() = %q, want %q", got, want)
	}
}
