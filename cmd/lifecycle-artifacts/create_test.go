package main

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The phases that run as the CNB user (detect, build) get no credential;
// those that start as root (analyze, restore) keep them, and every phase
// gets the creator's resolved inputs.
func TestPhaseEnv(t *testing.T) {
	t.Parallel()
	c := newCreateCmd("0.13")
	c.LayersDir, c.UID, c.GID = "/layers", 1000, 1000
	secret := `CNB_REGISTRY_AUTH={"127.0.0.1:5000":"Basic dTpw"}`
	c.rootEnv = []string{secret, "DOCKER_CONFIG=/root/.docker", "HOME=/root", "PATH=/bin", "CNB_LAYERS_DIR=/elsewhere"}
	c.userEnv = []string{secret, "DOCKER_CONFIG=/root/.docker", "HOME=/home/cnb", "PATH=/bin", "CNB_LAYERS_DIR=/elsewhere"}
	for _, tc := range []struct {
		asUser     bool
		want, deny []string
	}{
		{asUser: false, want: []string{secret, "DOCKER_CONFIG=/root/.docker", "HOME=/root", "CNB_LAYERS_DIR=/layers", "CNB_USER_ID=1000"}},
		{asUser: true, want: []string{"HOME=/home/cnb", "PATH=/bin", "CNB_LAYERS_DIR=/layers", "CNB_USER_ID=1000"},
			deny: []string{"CNB_REGISTRY_AUTH", "DOCKER_CONFIG", "/elsewhere"}},
	} {
		env := c.phaseEnv(tc.asUser)
		for _, w := range tc.want {
			if !slices.Contains(env, w) {
				t.Errorf("asUser=%v: %q missing from %q", tc.asUser, w, env)
			}
		}
		for _, d := range tc.deny {
			for _, kv := range env {
				if strings.Contains(kv, d) {
					t.Errorf("asUser=%v: %q holds %q", tc.asUser, kv, d)
				}
			}
		}
	}
}

func TestHideFromUser(t *testing.T) {
	t.Parallel()
	if err := hideFromUser(); err != nil {
		t.Fatal(err)
	}
	d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if err != nil || d != 0 {
		t.Fatalf("dumpable = %d, %v; want 0", d, err)
	}
}
