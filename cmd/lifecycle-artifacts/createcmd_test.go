package main

import (
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/buildpacks/lifecycle/cmd"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/platform"
)

// fakeLifecycle writes, next to the test binary (where the creator looks
// for upstream's lifecycle), a lifecycle that logs the phase it is asked
// for and exits 0, or with code 7 for a phase whose fail-<phase> file is
// next to it (the phases as the CNB user get a filtered environment): the
// stock phases' work is already done by the fixture's workspace (group.toml,
// analyzed.toml, the layers), so the creator's own export runs on it.
func fakeLifecycle(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(filepath.Dir(self), "lifecycle")
	script := "#!/bin/sh\necho \"fake lifecycle $1\"\nif [ -e \"$(dirname \"$0\")/fail-$1\" ]; then exit 7; fi\nexit 0\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	return filepath.Dir(path)
}

// The create command in process, its stock phases faked: it runs them in
// the stock creator's order, a failing phase's exit code becomes its own,
// and it exports the artifacts like the exporter. Arguments: exactly one
// image name. Not parallel: the environment, the logger and the file next
// to the test binary are the process's.
func TestCreateCommand(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("the creator hands the volumes to the CNB user: run the unit tests as root, as CI does")
	}
	dir := fakeLifecycle(t)
	srv := httptest.NewServer(ggcrregistry.New())
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	run := fixture.PushRunImage(t, host+"/run")
	buf := captureLog(t)
	t.Setenv("HOME", os.Getenv("HOME")) // Privileges sets the CNB user's
	for _, tc := range []struct {
		name, fail string
		key        bool // CNB_ARTIFACTS_SIGNING_KEY set
		names      []string
		code       int
		artifacts  int
	}{
		{name: "artifacts published", names: []string{host + "/app:latest"}, artifacts: 3},
		{name: "detect fails", fail: "detect", names: []string{host + "/app:latest"}, code: 7},
		{name: "restore fails", fail: "restore", names: []string{host + "/app:latest"}, code: 7},
		{name: "build fails", fail: "build", names: []string{host + "/app:latest"}, code: 7},
		{name: "analyze fails", fail: "analyze", names: []string{host + "/app:latest"}, code: 7},
		{name: "two image names", names: []string{host + "/app:latest", host + "/app:v1"}, code: cmd.CodeForInvalidArgs},
		// The CNB user is this test's (root): a key it can read is refused
		// before any phase (R17-7).
		{name: "signing key readable by the build user", key: true, names: []string{host + "/app:latest"}, code: cmd.CodeForInvalidArgs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(platform.EnvSigningKey, "")
			if tc.key {
				t.Setenv(platform.EnvSigningKey, writeTestKey(t))
			}
			if tc.fail != "" {
				fail := filepath.Join(dir, "fail-"+tc.fail)
				if err := os.WriteFile(fail, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.Remove(fail) })
			}
			buf.Reset()
			w := fixture.New(t, run, append([]fixture.Buildpack{fixture.Plain()}, fixture.Samples()...)...)
			launcher := filepath.Join(w.Dir, "launcher")
			if err := os.WriteFile(launcher, []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			c := newCreateCmd("0.13")
			c.LayersDir, c.AppDir, c.LauncherPath = w.Layers, w.App, launcher
			c.GroupPath, c.AnalyzedPath, c.ReportPath = filepath.Join(w.Layers, "group.toml"), filepath.Join(w.Layers, "analyzed.toml"), w.Report
			c.RunPath = filepath.Join(w.Dir, "run.toml")
			c.UID, c.GID = os.Getuid(), os.Getgid()
			err := c.Args(len(tc.names), tc.names)
			if err == nil {
				if err = c.Privileges(); err == nil {
					err = c.Exec()
				}
			}
			if tc.code != 0 {
				var fail *cmd.ErrorFail
				if !errors.As(err, &fail) || fail.Code != tc.code {
					t.Fatalf("got %v, want exit code %d\n%s", err, tc.code, buf.String())
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, buf.String())
			}
			var rep platform.Report
			if _, err := toml.DecodeFile(w.Report, &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Image.Digest == "" || len(rep.Artifacts) != tc.artifacts {
				t.Fatalf("report: image %+v, %d artifacts, want %d\n%s", rep.Image, len(rep.Artifacts), tc.artifacts, buf.String())
			}
		})
	}
}
