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

// detect and build (asUser) start as the CNB user, with no supplementary
// group, when the creator runs as another user (root); as that user
// already, or for the phases that start as root, they keep the creator's.
func TestPhaseAttr(t *testing.T) {
	t.Parallel()
	c := newCreateCmd("0.13")
	c.UID, c.GID = 1000, 1001
	for _, tc := range []struct {
		name   string
		asUser bool
		uid    int // the creator's
		want   bool
	}{
		{name: "as the CNB user, creator root", asUser: true, uid: 0, want: true},
		{name: "as the CNB user, creator that user", asUser: true, uid: 1000},
		{name: "as root, creator root", asUser: false, uid: 0},
		{name: "as root, creator the CNB user", asUser: false, uid: 1000},
	} {
		attr := c.phaseAttr(tc.asUser, tc.uid)
		if !tc.want {
			if attr != nil {
				t.Errorf("%s: %+v, want none", tc.name, attr)
			}
			continue
		}
		if attr == nil || attr.Credential == nil {
			t.Fatalf("%s: no credential", tc.name)
		}
		if cr := attr.Credential; cr.Uid != 1000 || cr.Gid != 1001 || cr.Groups == nil || len(cr.Groups) != 0 {
			t.Errorf("%s: credential %+v, want 1000:1001 without groups", tc.name, cr)
		}
	}
}
