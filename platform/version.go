package platform

import (
	"runtime/debug"
	"strings"
)

// upstreamModule is the lifecycle module this distribution is pinned to.
const upstreamModule = "github.com/buildpacks/lifecycle"

// VersionSuffix is the semver build metadata that marks this distribution.
// Build metadata does not change semver precedence, so tools that compare
// versions rank us equal to the upstream release we are pinned to.
const VersionSuffix = "+artifacts"

// UpstreamVersion is the version of the pinned lifecycle module, read from the
// build information of the running binary (go.mod is the single source of
// truth), without the leading "v". It is "0.0.0" when build information is
// unavailable, as lifecycle's own default is.
func UpstreamVersion() string {
	return upstreamVersion(debug.ReadBuildInfo())
}

func upstreamVersion(info *debug.BuildInfo, ok bool) string {
	if !ok {
		return "0.0.0"
	}
	for _, dep := range info.Deps {
		if dep.Path == upstreamModule {
			if dep.Replace != nil && dep.Replace.Version != "" {
				return strings.TrimPrefix(dep.Replace.Version, "v")
			}
			return strings.TrimPrefix(dep.Version, "v")
		}
	}
	return "0.0.0"
}

// Version is the version this distribution reports, e.g. "0.21.17+artifacts".
func Version() string {
	return UpstreamVersion() + VersionSuffix
}
