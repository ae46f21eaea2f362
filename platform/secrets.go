package platform

import (
	"slices"
	"strings"

	"github.com/buildpacks/lifecycle/env"
)

// A phase that runs as the CNB user (our creator runs upstream's detect and
// build that way) shares that user with every buildpack, and a buildpack can
// read the environment of any process of its user (/proc/<pid>/environ). So
// such a phase gets an environment without anything secret in it: see
// docs/spec.md, "No secret reaches a buildpack".

// secretMarkers are the parts of a variable name that mark a credential or a
// pointer to one: CNB_REGISTRY_AUTH, DOCKER_AUTH_CONFIG, REGISTRY_AUTH_FILE,
// GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY, AZURE_CLIENT_SECRET, *_PASSWORD,
// GOOGLE_APPLICATION_CREDENTIALS, DOCKER_CONFIG (the directory of the
// docker config, credentials included).
var secretMarkers = []string{"AUTH", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "DOCKER_CONFIG", "_KEY"}

// IsSecretEnv reports whether the variable named key may hold a credential
// or say where one is.
func IsSecretEnv(key string) bool {
	k := strings.ToUpper(key)
	for _, m := range secretMarkers {
		if strings.Contains(k, m) {
			return true
		}
	}
	return false
}

// runtimeEnv are variables a process needs to run as any process does.
var runtimeEnv = []string{"LANG", "LANGUAGE", "LC_ALL", "TZ", "TMPDIR"}

// UserPhaseEnv is environ reduced to what a phase that runs as the CNB user
// may see: the CNB_* inputs, the variables lifecycle passes on to buildpacks
// (env.BuildEnvIncludelist and the POSIX build paths, env.POSIXBuildEnv),
// and LANG, LC_ALL, TZ, TMPDIR; never a variable IsSecretEnv names. The
// buildpacks of upstream's detect and build see exactly what they see under
// the stock creator, since lifecycle filters their environment down to
// those same variables.
func UserPhaseEnv(environ []string) []string {
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if IsSecretEnv(k) {
			continue
		}
		if strings.HasPrefix(k, "CNB_") || slices.Contains(env.BuildEnvIncludelist, k) || slices.Contains(runtimeEnv, k) || isBuildPath(k) {
			out = append(out, kv)
		}
	}
	return out
}

func isBuildPath(k string) bool {
	for _, vars := range env.POSIXBuildEnv {
		if slices.Contains(vars, k) {
			return true
		}
	}
	return false
}
