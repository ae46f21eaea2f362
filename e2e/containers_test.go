//go:build e2e && (kpack || tekton)

package e2e

import (
	"strings"
	"testing"
)

func TestDockerArgs(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    container
		want string
		err  bool
	}{{
		name: "command replaces the entrypoint, args follow",
		c: container{Image: "img", Command: []string{"/cnb/lifecycle/analyzer"}, Args: []string{"-layers=/layers", "app"},
			User: "1000:1000", GroupAdd: []string{"1000"}, WorkingDir: "/workspace", Env: []string{"A=b"}},
		want: "run --name n --network host --pull missing --user 1000:1000 --group-add 1000 --workdir /workspace --env A=b --entrypoint /cnb/lifecycle/analyzer img -layers=/layers app",
	}, {
		name: "a restricted security context",
		c:    container{Image: "img", User: "1000:1000", CapDrop: []string{"ALL"}, NoNewPrivileges: true},
		want: "run --name n --network host --pull missing --user 1000:1000 --cap-drop ALL --security-opt no-new-privileges img",
	}, {
		name: "a command of several words keeps the rest before the args",
		c:    container{Image: "img", Command: []string{"/bin/sh", "-c"}, Args: []string{"true"}},
		want: "run --name n --network host --pull missing --entrypoint /bin/sh img -c true",
	}, {
		name: "volumes without copy-up, binds, read-only",
		c: container{Image: "img", Mounts: []mount{{Volume: "v", Target: "/layers"},
			{HostPath: "/tmp/s", Target: "/var/build-secrets/s", ReadOnly: true}}},
		want: "run --name n --network host --pull missing --mount type=volume,src=v,dst=/layers,volume-nocopy=true --mount type=bind,src=/tmp/s,dst=/var/build-secrets/s,readonly img",
	}, {
		name: "subPath is refused",
		c:    container{Image: "img", Mounts: []mount{{Volume: "v", Target: "/w", SubPath: "app"}}},
		err:  true,
	}, {
		name: "a mount without a source is refused",
		c:    container{Image: "img", Mounts: []mount{{Target: "/w"}}},
		err:  true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			args, err := tc.c.dockerArgs("n")
			if tc.err {
				if err == nil {
					t.Fatalf("want an error, got %v", args)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(args, " "); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}
