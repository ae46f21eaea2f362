package platform

import (
	"slices"
	"testing"
)

func TestIsSecretEnv(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		key  string
		want bool
	}{
		{"CNB_REGISTRY_AUTH", true},
		{"CNB_REGISTRY_AUTH_KEYCHAIN_SKIP_AMAZON", true},
		{"DOCKER_CONFIG", true},
		{"DOCKER_AUTH_CONFIG", true},
		{"REGISTRY_AUTH_FILE", true},
		{"GITHUB_TOKEN", true},
		{"AWS_SECRET_ACCESS_KEY", true},
		{"AWS_ACCESS_KEY_ID", true},
		{"AZURE_CLIENT_SECRET", true},
		{"GOOGLE_APPLICATION_CREDENTIALS", true},
		{"registry_password", true},
		{"CNB_PLATFORM_API", false},
		{"CNB_LAYERS_DIR", false},
		{"PATH", false},
		{"HOME", false},
		{"HTTPS_PROXY", false},
	} {
		if got := IsSecretEnv(tc.key); got != tc.want {
			t.Errorf("IsSecretEnv(%q) = %v, want %v", tc.key, got, tc.want)
		}
	}
}

func TestUserPhaseEnv(t *testing.T) {
	t.Parallel()
	in := []string{
		"CNB_PLATFORM_API=0.13",
		`CNB_REGISTRY_AUTH={"r":"Basic eA=="}`,
		"CNB_REGISTRY_AUTH_KEYCHAIN_SKIP_AMAZON=true",
		"DOCKER_CONFIG=/root/.docker",
		"DOCKER_HOST=unix:///var/run/docker.sock",
		"AWS_SECRET_ACCESS_KEY=x",
		"SOURCE_DATE_EPOCH=0",
		"PATH=/usr/bin:/bin",
		"LD_LIBRARY_PATH=/lib",
		"HOME=/home/cnb",
		"HOSTNAME=builder",
		"http_proxy=http://proxy:3128",
		"TZ=UTC",
		"SOMETHING_ELSE=1",
	}
	want := []string{
		"CNB_PLATFORM_API=0.13",
		"PATH=/usr/bin:/bin",
		"LD_LIBRARY_PATH=/lib",
		"HOME=/home/cnb",
		"HOSTNAME=builder",
		"http_proxy=http://proxy:3128",
		"TZ=UTC",
	}
	if got := UserPhaseEnv(in); !slices.Equal(got, want) {
		t.Fatalf("UserPhaseEnv:\n got  %q\n want %q", got, want)
	}
}
